package crypto

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"

	"filippo.io/edwards25519"
)

// Suite names the HPKE ciphersuite of a recipient key and of the wrapped keys made for it.
// Both suites use HKDF-SHA256 and AES-256-GCM; they differ in the KEM.
type Suite uint8

const (
	// SuiteX25519 is HPKE base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
	// AES-256-GCM (RFC 9180 ids 0x0020, 0x0001, 0x0002). Every agent has such a key.
	SuiteX25519 Suite = 1

	// SuiteXWing is HPKE base mode with MLKEM768-X25519 (X-Wing, draft-ietf-hpke-pq id
	// 0x647a), HKDF-SHA256 and AES-256-GCM: a post-quantum hybrid that stays as strong as
	// X25519 if ML-KEM falls. Agents generated with GenerateOptions.PostQuantum have one.
	SuiteXWing Suite = 2
)

// String returns the suite's short name.
func (s Suite) String() string {
	switch s {
	case SuiteX25519:
		return "x25519"
	case SuiteXWing:
		return "xwing"
	case SuiteOwner:
		return "owner"
	}
	return fmt.Sprintf("suite(%d)", uint8(s))
}

// known is the allow-list: the only suites this package wraps to or unwraps from.
func (s Suite) known() bool { return s == SuiteX25519 || s == SuiteXWing }

func (s Suite) kem() hpke.KEM {
	if s == SuiteXWing {
		return hpke.MLKEM768X25519()
	}
	return hpke.DHKEM(ecdh.X25519())
}

// publicSize is the size of the raw KEM public key; encSize of its encapsulation.
func (s Suite) publicSize() int {
	if s == SuiteXWing {
		return 1216
	}
	return 32
}

func (s Suite) encSize() int {
	if s == SuiteXWing {
		return 1120
	}
	return 32
}

// Type tags: the first byte of a published public key says what it is, so that a signing key
// read from the wrong column can never be taken for an encryption key (both are 32 bytes).
const (
	tagX25519  = byte(SuiteX25519) // 0x01 || 32-byte X25519 u-coordinate
	tagXWing   = byte(SuiteXWing)  // 0x02 || 1216-byte X-Wing encapsulation key
	tagEd25519 = 0x11              // 0x11 || 32-byte Ed25519 point
)

// KeyID names a public key: the first 16 bytes of SHA-256("d1seal key id v1" || 0x00 ||
// the key's tagged encoding). It is stable, public, and distinct for keys of different types
// even when their raw bytes coincide. Wrapped keys and signatures carry the id of the key they
// were made for, so that a reader picks the right key after rotation.
type KeyID [16]byte

func keyIDOf(tagged []byte) KeyID {
	h := sha256.New()
	h.Write([]byte("d1seal key id v1\x00"))
	h.Write(tagged)
	var id KeyID
	copy(id[:], h.Sum(nil))
	return id
}

// String returns the id in lower-case hex (32 characters).
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText returns the id in lower-case hex.
func (id KeyID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses 32 hex characters.
func (id *KeyID) UnmarshalText(text []byte) error {
	if len(text) != 2*len(id) {
		return fmt.Errorf("crypto: key id: %d characters, want %d: %w", len(text), 2*len(id), ErrMalformed)
	}
	var out KeyID
	if _, err := hex.Decode(out[:], text); err != nil {
		return fmt.Errorf("crypto: key id: not hex: %w", ErrMalformed)
	}
	*id = out
	return nil
}

// RecipientKey is an agent's public encryption key (X25519, or X-Wing): what others wrap
// data keys for. It is immutable and safe for concurrent use.
type RecipientKey struct {
	suite  Suite
	pub    hpke.PublicKey
	tagged []byte
	id     KeyID
}

// ParseRecipientKey parses and validates a published encryption key as written by
// RecipientKey.Bytes (the agents.public_key column). It returns ErrKeyType for an Ed25519
// verifying key, ErrUnsupported for an unknown type byte, ErrMalformed for a wrong length and
// ErrInvalidKey for a low-order or non-canonical X25519 point or an invalid ML-KEM key.
// Call it when an agent registers, and reject the agent on error.
func ParseRecipientKey(b []byte) (*RecipientKey, error) {
	const op = "parse recipient key"
	if len(b) == 0 {
		return nil, fmt.Errorf("crypto: %s: empty: %w", op, ErrMalformed)
	}
	s := Suite(b[0])
	switch {
	case b[0] == tagEd25519:
		return nil, fmt.Errorf("crypto: %s: got an Ed25519 signing key, want an encryption key: %w", op, ErrKeyType)
	case !s.known():
		return nil, fmt.Errorf("crypto: %s: unknown key type 0x%02x: %w", op, b[0], ErrUnsupported)
	case len(b) != 1+s.publicSize():
		return nil, fmt.Errorf("crypto: %s: %s key is %d bytes, want %d: %w", op, s, len(b), 1+s.publicSize(), ErrMalformed)
	}
	raw := b[1:]
	// Both suites end in an X25519 share: X-Wing's key is ML-KEM-768's (1184 bytes), then X25519's.
	if err := checkX25519Public(raw[len(raw)-32:]); err != nil {
		return nil, fmt.Errorf("crypto: %s: %w", op, err)
	}
	pub, err := s.kem().NewPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("crypto: %s: %s key rejected: %w", op, s, ErrInvalidKey)
	}
	return newRecipientKey(s, pub), nil
}

func newRecipientKey(s Suite, pub hpke.PublicKey) *RecipientKey {
	tagged := append([]byte{byte(s)}, pub.Bytes()...)
	return &RecipientKey{suite: s, pub: pub, tagged: tagged, id: keyIDOf(tagged)}
}

// checkX25519Public rejects a u-coordinate that is not canonical (top bit set, or not below
// 2^255-19) or that has low order: X25519 with it gives the all-zero output for every
// private key, so a grant "wrapped" to it would be readable by anyone. The test multiplies it
// by a fixed scalar; clamping makes every scalar a multiple of the cofactor 8, so the output
// is zero exactly for the low-order points.
func checkX25519Public(u []byte) error {
	if u[31]&0x80 != 0 || !lessThanP(u) {
		return fmt.Errorf("non-canonical X25519 point: %w", ErrInvalidKey)
	}
	scalar := [32]byte{9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}
	if _, err := x25519(scalar[:], u); err != nil {
		return fmt.Errorf("low-order X25519 point: %w", ErrInvalidKey)
	}
	return nil
}

// lessThanP reports whether the 255-bit little-endian value (top bit ignored) is below
// p = 2^255 - 19.
func lessThanP(le []byte) bool {
	if le[31]&0x7f != 0x7f {
		return true
	}
	for i := 30; i >= 1; i-- {
		if le[i] != 0xff {
			return true
		}
	}
	return le[0] < 0xed
}

// Suite returns the key's suite.
func (k *RecipientKey) Suite() Suite { return k.suite }

// KeyID returns the key's id.
func (k *RecipientKey) KeyID() KeyID { return k.id }

// Bytes returns the key's published encoding: a type byte (0x01 X25519, 0x02 X-Wing), then
// the raw public key (32 or 1216 bytes). Store it in agents.public_key (X25519) or a new
// agents.pq_public_key column (X-Wing).
func (k *RecipientKey) Bytes() []byte { return append([]byte(nil), k.tagged...) }

// Equal reports whether k and o are the same key.
func (k *RecipientKey) Equal(o *RecipientKey) bool {
	return o != nil && subtle.ConstantTimeCompare(k.tagged, o.tagged) == 1
}

// String returns the suite and key id, e.g. "x25519:6f1c…".
func (k *RecipientKey) String() string { return k.suite.String() + ":" + k.id.String() }

// decryptionKey is an agent's private encryption key (X25519 or X-Wing). It never prints its
// secret: every fmt verb shows only the suite and key id. Safe for concurrent use.
type decryptionKey struct {
	priv hpke.PrivateKey
	pub  *RecipientKey
}

func generateDecryptionKey(s Suite) (*decryptionKey, error) {
	priv, err := s.kem().GenerateKey()
	if err != nil {
		return nil, err
	}
	return &decryptionKey{priv: priv, pub: newRecipientKey(s, priv.PublicKey())}, nil
}

func newDecryptionKey(s Suite, secret []byte) (*decryptionKey, error) {
	priv, err := s.kem().NewPrivateKey(secret)
	if err != nil {
		return nil, err
	}
	if s == SuiteX25519 {
		// A private scalar whose public key is low order cannot exist (clamping), but check
		// the public half the same way a registry would.
		if err := checkX25519Public(priv.PublicKey().Bytes()); err != nil {
			return nil, err
		}
	}
	return &decryptionKey{priv: priv, pub: newRecipientKey(s, priv.PublicKey())}, nil
}

// Public returns the matching public key.
func (k *decryptionKey) Public() *RecipientKey { return k.pub }

// Suite returns the key's suite.
func (k *decryptionKey) Suite() Suite { return k.pub.suite }

// String returns a redacted description: the suite and key id, never the secret.
func (k decryptionKey) String() string {
	if k.pub == nil {
		return "crypto.DecryptionKey(REDACTED)"
	}
	return "crypto.DecryptionKey(" + k.pub.String() + ", REDACTED)"
}

// GoString is String, so that %#v does not print the secret either.
func (k decryptionKey) GoString() string { return k.String() }

// Format prints String for every verb (%v, %+v, %#v, %s, %x, %d, ...).
func (k decryptionKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// VerifyingKey is an agent's public Ed25519 signing key, as registered. The key is immutable;
// it remembers the last batch roots it verified (see Verify). It is safe for concurrent use.
// It cannot be used to encrypt.
type VerifyingKey struct {
	pub    ed25519.PublicKey
	tagged []byte
	id     KeyID
	roots  *rootCache // batch roots this key has verified
}

// ParseVerifyingKey parses and validates a published signing key as written by
// VerifyingKey.Bytes (the agents.signing_key column). It returns ErrKeyType for an
// encryption key, ErrMalformed for a wrong length, and ErrInvalidKey for a point that is not
// canonical, not on the curve, of small order, or with a small-order component (honest
// Ed25519 keys are never any of these). Call it when an agent registers.
func ParseVerifyingKey(b []byte) (*VerifyingKey, error) {
	const op = "parse verifying key"
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("crypto: %s: empty: %w", op, ErrMalformed)
	case Suite(b[0]).known():
		return nil, fmt.Errorf("crypto: %s: got a %s encryption key, want an Ed25519 signing key: %w", op, Suite(b[0]), ErrKeyType)
	case b[0] != tagEd25519:
		return nil, fmt.Errorf("crypto: %s: unknown key type 0x%02x: %w", op, b[0], ErrUnsupported)
	case len(b) != 1+ed25519.PublicKeySize:
		return nil, fmt.Errorf("crypto: %s: %d bytes, want %d: %w", op, len(b), 1+ed25519.PublicKeySize, ErrMalformed)
	}
	if err := checkEd25519Public(b[1:]); err != nil {
		return nil, fmt.Errorf("crypto: %s: %w", op, err)
	}
	return newVerifyingKey(ed25519.PublicKey(append([]byte(nil), b[1:]...))), nil
}

func newVerifyingKey(pub ed25519.PublicKey) *VerifyingKey {
	tagged := append([]byte{tagEd25519}, pub...)
	return &VerifyingKey{pub: pub, tagged: tagged, id: keyIDOf(tagged), roots: new(rootCache)}
}

// KeyID returns the key's id.
func (k *VerifyingKey) KeyID() KeyID { return k.id }

// Bytes returns the key's published encoding: 0x11, then the 32-byte Ed25519 public key.
// Store it in agents.signing_key.
func (k *VerifyingKey) Bytes() []byte { return append([]byte(nil), k.tagged...) }

// Equal reports whether k and o are the same key.
func (k *VerifyingKey) Equal(o *VerifyingKey) bool {
	return o != nil && subtle.ConstantTimeCompare(k.tagged, o.tagged) == 1
}

// String returns "ed25519:" and the key id.
func (k *VerifyingKey) String() string { return "ed25519:" + k.id.String() }

// signingKey is an agent's private Ed25519 key. It never prints its secret. Safe for
// concurrent use.
type signingKey struct {
	priv ed25519.PrivateKey
	pub  *VerifyingKey
}

func newSigningKey(seed []byte) *signingKey {
	priv := ed25519.NewKeyFromSeed(seed)
	return &signingKey{priv: priv, pub: newVerifyingKey(priv.Public().(ed25519.PublicKey))}
}

// Public returns the matching verifying key.
func (k *signingKey) Public() *VerifyingKey { return k.pub }

// String returns a redacted description: the key id, never the secret.
func (k signingKey) String() string {
	if k.pub == nil {
		return "crypto.SigningKey(REDACTED)"
	}
	return "crypto.SigningKey(" + k.pub.String() + ", REDACTED)"
}

// GoString is String.
func (k signingKey) GoString() string { return k.String() }

// Format prints String for every verb.
func (k signingKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// checkEd25519Public accepts only a canonical encoding of a curve point of prime order ℓ:
// y below p, the sign bit not set on x = 0, the point on the curve, and ℓ·P the identity.
// That rejects the eight small-order points and every point with a small-order component,
// which let one signature verify differently under different (cofactored or cofactorless)
// verifiers. It uses filippo.io/edwards25519's field arithmetic (about 100 µs), so that a
// registry serving many keys cannot cost seconds of CPU.
func checkEd25519Public(b []byte) error {
	pt, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return fmt.Errorf("Ed25519 point not on the curve: %w", ErrInvalidKey)
	}
	// SetBytes takes non-canonical encodings too: the canonical one must be b itself.
	if !bytes.Equal(pt.Bytes(), b) {
		return fmt.Errorf("non-canonical Ed25519 point: %w", ErrInvalidKey)
	}
	identity := edwards25519.NewIdentityPoint()
	if new(edwards25519.Point).MultByCofactor(pt).Equal(identity) == 1 {
		return fmt.Errorf("small-order Ed25519 point: %w", ErrInvalidKey)
	}
	// ℓ·P = (ℓ-1)·P + P, with ℓ-1 the scalar -1.
	lp := new(edwards25519.Point).ScalarMult(minusOne, pt)
	if lp.Add(lp, pt).Equal(identity) != 1 {
		return fmt.Errorf("Ed25519 point with a small-order component: %w", ErrInvalidKey)
	}
	return nil
}

// minusOne is the scalar ℓ-1.
var minusOne = func() *edwards25519.Scalar {
	one, err := edwards25519.NewScalar().SetCanonicalBytes(append([]byte{1}, make([]byte, 31)...))
	if err != nil {
		panic(err)
	}
	return edwards25519.NewScalar().Negate(one)
}()
