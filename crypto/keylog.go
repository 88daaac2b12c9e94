package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
)

// An agent's key log is the history of its public keys: a chain of KeyEntry values, each
// signed by the signing key of the entry before it (the first, the genesis, by its own), and
// each naming the hash of the one before it. A reader that trusts one entry (pinned from
// configuration, or learned on first use) reaches the agent's current keys by verifying each
// later entry against the one before (KeyEntry.Verify); keys that are not reached that way
// are not the agent's. The records package stores the log and decides which head it trusts;
// this file defines the entries, their encoding and their signatures.

// KeySet is an agent's public keys at one point of its key history.
type KeySet struct {
	Recipient   *RecipientKey // X25519, required
	PostQuantum *RecipientKey // X-Wing, optional (nil when the agent has none)
	Verifying   *VerifyingKey // Ed25519, required
}

// Equal reports whether k and o hold the same keys (both without a post-quantum key, or
// both with the same one).
func (k KeySet) Equal(o KeySet) bool {
	return sameRecipientKey(k.Recipient, o.Recipient) &&
		sameRecipientKey(k.PostQuantum, o.PostQuantum) &&
		sameVerifyingKey(k.Verifying, o.Verifying)
}

func sameRecipientKey(a, b *RecipientKey) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

func sameVerifyingKey(a, b *VerifyingKey) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

// KeyIDs returns the id of every key in the set: the X25519 key, the X-Wing key if any, then
// the Ed25519 key. Missing keys are skipped.
func (k KeySet) KeyIDs() []KeyID {
	ids := make([]KeyID, 0, 3)
	if k.Recipient != nil {
		ids = append(ids, k.Recipient.id)
	}
	if k.PostQuantum != nil {
		ids = append(ids, k.PostQuantum.id)
	}
	if k.Verifying != nil {
		ids = append(ids, k.Verifying.id)
	}
	return ids
}

// check reports whether the set is complete and each key of the right kind.
func (k KeySet) check() error {
	switch {
	case k.Recipient == nil || k.Recipient.suite != SuiteX25519:
		return fmt.Errorf("key set without an X25519 key")
	case k.PostQuantum != nil && k.PostQuantum.suite != SuiteXWing:
		return fmt.Errorf("key set's post-quantum key is not X-Wing")
	case k.Verifying == nil:
		return fmt.Errorf("key set without an Ed25519 key")
	}
	return nil
}

// Keys returns the agent's public keys.
func (a *Agent) Keys() KeySet {
	return KeySet{Recipient: a.enc.pub, PostQuantum: a.PostQuantumKey(), Verifying: a.sign.pub}
}

// NewKeys returns a copy of a with all fresh keys (X25519, X-Wing if a has one, Ed25519 and
// the owner key) and the same DID: a full rotation, signing key included. Publish the new
// keys with a.KeyRotation(prev, next, ...), signed by a's signing key. Because the owner key
// is new, every owner grant must be re-wrapped (a.RewrapForOwner, or re-keyed after a
// compromise) and every beacon recomputed with next's index keys. (NewEncryptionKeys keeps
// the signing key and the owner key.)
func (a *Agent) NewKeys() (*Agent, error) {
	next, err := a.NewEncryptionKeys()
	if err != nil {
		return nil, err
	}
	next.owner = generateOwnerKey()
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	next.sign = newSigningKey(seed)
	clear(seed)
	return next, nil
}

// KeyChange says what a key log entry does.
type KeyChange uint8

const (
	// KeyGenesis is the agent's first keys, signed by its own signing key.
	KeyGenesis KeyChange = 1

	// KeyRotate is a routine rotation: the previous keys are retired. What they signed
	// before the rotation still verifies; nothing new should be wrapped for them.
	KeyRotate KeyChange = 2

	// KeyRevoke declares a compromise: the previous entry's keys, and any listed in
	// KeyEntry.Revoked, are revoked. Nothing they signed verifies any more, whenever it was
	// signed, and nothing may be wrapped for them.
	KeyRevoke KeyChange = 3
)

// String returns "genesis", "rotate" or "revoke".
func (c KeyChange) String() string {
	switch c {
	case KeyGenesis:
		return "genesis"
	case KeyRotate:
		return "rotate"
	case KeyRevoke:
		return "revoke"
	}
	return fmt.Sprintf("keychange(%d)", uint8(c))
}

func (c KeyChange) known() bool { return c >= KeyGenesis && c <= KeyRevoke }

// Bounds of a key log entry, checked by ParseKeyEntry before anything else.
const (
	// maxRevokedKeys bounds KeyEntry.Revoked.
	maxRevokedKeys = 1024

	// maxKeyEntrySize bounds the encoding of one key log entry (ParseKeyEntry refuses
	// longer input). The largest valid entry is about 20 KiB.
	maxKeyEntrySize = 32 << 10
)

// KeyEntry is one signed entry of an agent's key log. Make entries with Agent.KeyGenesis and
// Agent.KeyRotation, store them with Marshal, read them with ParseKeyEntry, and trust one
// only after Verify against the entry before it (or, for a genesis, against nil, and then
// only if the genesis itself is trusted: pinned or first seen).
//
// Encoding (Marshal; integers big-endian):
//
//	offset  size
//	0       1     format version 0x01
//	1       1     change: 0x01 genesis, 0x02 rotate, 0x03 revoke
//	2       8     Seq (uint64)
//	10      32    Prev: the Hash of entry Seq-1; 32 zero bytes for the genesis
//	42      8     Time: signed nanoseconds since 1970-01-01T00:00:00Z (int64)
//	50      2+d   DID: uint16 length d (1..2048), then the DID's bytes
//	        33    X25519 key, as RecipientKey.Bytes: 0x01 || 32 bytes
//	        1|1217 X-Wing key: 0x00 when there is none, else RecipientKey.Bytes: 0x02 || 1216 bytes
//	        33    Ed25519 key, as VerifyingKey.Bytes: 0x11 || 32 bytes
//	        2+16r Revoked: uint16 count r (0..1024), then r key ids in strictly ascending
//	              byte order (no duplicates); r = 0 unless change is revoke
//	        81    Signature
//	        81    Proof
//
// Everything before Signature is the body. Signature and Proof have the layout of
// Envelope.Signature: 0x01 || signer key id (16) || Ed25519 signature (64), over
//
//	Signature: "d1seal key log signature v1" || 0x00 || 0x01 || signer key id (16) || body
//	Proof:     "d1seal key log proof v1" || 0x00 || 0x01 || signer key id (16) || body
//
// Signature is made by the previous entry's Ed25519 key (for the genesis, by Keys.Verifying)
// and authorises the change; Proof is made by Keys.Verifying and proves that whoever
// published the entry holds the new signing key, so that no one can claim another agent's
// key as theirs. The labels differ from every other signature this package makes, so
// neither verifies as a record, public record, metadata or event signature, nor the other
// way round.
//
// Hash is SHA-256("d1seal key log entry v1" || 0x00 || Marshal()), signatures included.
type KeyEntry struct {
	DID       string
	Seq       uint64    // 0 for the genesis entry, +1 per entry
	Prev      [32]byte  // Hash of entry Seq-1; zero for the genesis
	Change    KeyChange // what the entry does
	Keys      KeySet    // the agent's keys from this entry on
	Revoked   []KeyID   // KeyRevoke only: ids of keys declared compromised; always includes the previous entry's keys
	Time      time.Time // the signer's clock: informational, not trusted (UTC, nanoseconds)
	Signature []byte    // by the previous entry's signing key (genesis: by Keys.Verifying)
	Proof     []byte    // by Keys.Verifying: possession of the new signing key
}

const (
	keyLogSignatureLabel = "d1seal key log signature v1\x00"
	keyLogProofLabel     = "d1seal key log proof v1\x00"
	keyLogHashLabel      = "d1seal key log entry v1\x00"
)

// KeyGenesis returns the first entry of a's key log: a's keys, self-signed, at time t (the
// signer's clock, recorded to the nanosecond in UTC).
func (a *Agent) KeyGenesis(t time.Time) (*KeyEntry, error) {
	const op = "crypto: key genesis"
	ts, err := entryTime(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	e := &KeyEntry{DID: a.did, Seq: 0, Change: KeyGenesis, Keys: a.Keys(), Time: ts}
	body := e.body()
	e.Signature = a.sign.signLabelled(keyLogSignatureLabel, body)
	e.Proof = a.sign.signLabelled(keyLogProofLabel, body)
	return e, nil
}

// KeyRotation returns the entry after prev that moves the agent from a to next, at time t.
// a must hold prev.Keys' signing key; next must have the same DID and is typically
// a.NewKeys() (or a.NewEncryptionKeys() to keep the signing key, for KeyRotate only). change
// is KeyRotate (a's keys are retired) or KeyRevoke (a's keys are compromised); for KeyRevoke,
// revoked lists further earlier key ids to revoke (prev's are always added), and none of
// next's keys may be among them. For KeyRotate, revoked must be empty.
func (a *Agent) KeyRotation(prev *KeyEntry, next *Agent, change KeyChange, revoked []KeyID, t time.Time) (*KeyEntry, error) {
	const op = "crypto: key rotation"
	switch {
	case prev == nil:
		return nil, fmt.Errorf("%s: no previous entry", op)
	case next == nil:
		return nil, fmt.Errorf("%s: no next agent", op)
	case prev.DID != a.did || next.did != a.did:
		return nil, fmt.Errorf("%s: entry, agent and next agent must share one DID (%q, %q, %q)", op, prev.DID, a.did, next.did)
	case !sameVerifyingKey(prev.Keys.Verifying, a.sign.pub):
		return nil, fmt.Errorf("%s: agent %s does not hold the signing key of entry %d", op, a.did, prev.Seq)
	case prev.Seq == math.MaxUint64:
		return nil, fmt.Errorf("%s: key log is full", op)
	}
	e := &KeyEntry{DID: a.did, Seq: prev.Seq + 1, Prev: prev.Hash(), Change: change, Keys: next.Keys()}
	switch change {
	case KeyRotate:
		if len(revoked) != 0 {
			return nil, fmt.Errorf("%s: revoked keys listed for a routine rotation (use KeyRevoke)", op)
		}
	case KeyRevoke:
		ids := append(append([]KeyID(nil), revoked...), prev.Keys.KeyIDs()...)
		slices.SortFunc(ids, func(x, y KeyID) int { return bytes.Compare(x[:], y[:]) })
		e.Revoked = slices.Compact(ids)
		if len(e.Revoked) > maxRevokedKeys {
			return nil, fmt.Errorf("%s: %d revoked keys, limit %d", op, len(e.Revoked), maxRevokedKeys)
		}
		for _, id := range e.Keys.KeyIDs() {
			if _, found := slices.BinarySearchFunc(e.Revoked, id, func(x, y KeyID) int { return bytes.Compare(x[:], y[:]) }); found {
				return nil, fmt.Errorf("%s: next agent's key %s is being revoked", op, id)
			}
		}
	default:
		return nil, fmt.Errorf("%s: change must be rotate or revoke, not %s", op, change)
	}
	var err error
	if e.Time, err = entryTime(t); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	body := e.body()
	e.Signature = a.sign.signLabelled(keyLogSignatureLabel, body)
	e.Proof = next.sign.signLabelled(keyLogProofLabel, body)
	return e, nil
}

// entryTime returns t in UTC without its monotonic reading, or an error when it does not fit
// in int64 nanoseconds (years 1678 to 2262).
func entryTime(t time.Time) (time.Time, error) {
	ns := t.UnixNano()
	u := time.Unix(0, ns).UTC()
	if !u.Equal(t) {
		return time.Time{}, fmt.Errorf("time %s outside the years 1678 to 2262", t.UTC().Format(time.RFC3339))
	}
	return u, nil
}

// body appends the entry's fields before Signature, as documented on KeyEntry. A missing key
// is written as a lone 0x00 byte, which ParseKeyEntry refuses.
func (e *KeyEntry) body() []byte {
	b := make([]byte, 0, e.bodySize()+2*signatureSize)
	b = append(b, formatVersion, byte(e.Change))
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = append(b, e.Prev[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	b = appendString16(b, e.DID)
	b = appendTagged(b, e.Keys.Recipient)
	b = appendTagged(b, e.Keys.PostQuantum)
	if e.Keys.Verifying == nil {
		b = append(b, 0)
	} else {
		b = append(b, e.Keys.Verifying.tagged...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(e.Revoked)))
	for _, id := range e.Revoked {
		b = append(b, id[:]...)
	}
	return b
}

func (e *KeyEntry) bodySize() int {
	n := 50 + 2 + len(e.DID) + 33 + 1 + 33 + 2 + 16*len(e.Revoked)
	if e.Keys.PostQuantum != nil {
		n += len(e.Keys.PostQuantum.tagged) - 1
	}
	return n
}

func appendTagged(b []byte, k *RecipientKey) []byte {
	if k == nil {
		return append(b, 0)
	}
	return append(b, k.tagged...)
}

// Marshal returns the entry's canonical encoding, signatures included (see KeyEntry). An
// entry made by KeyGenesis or KeyRotation, or returned by ParseKeyEntry, round-trips exactly.
func (e *KeyEntry) Marshal() []byte {
	b := e.body()
	b = append(b, e.Signature...)
	return append(b, e.Proof...)
}

// Hash returns SHA-256("d1seal key log entry v1" || 0x00 || e.Marshal()): the value the next
// entry's Prev must hold.
func (e *KeyEntry) Hash() [32]byte {
	h := sha256.New()
	h.Write([]byte(keyLogHashLabel))
	h.Write(e.Marshal())
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// ParseKeyEntry decodes an entry written by KeyEntry.Marshal, strictly: known version and
// change, exact lengths, keys valid as ParseRecipientKey and ParseVerifyingKey require, key
// ids in Revoked strictly ascending, no trailing bytes, and at most maxKeyEntrySize bytes.
// Every failure matches ErrDecrypt and ErrMalformed or ErrUnsupported. It checks no
// signature: call Verify.
func ParseKeyEntry(b []byte) (*KeyEntry, error) {
	const op = "parse key entry"
	if len(b) > maxKeyEntrySize {
		return nil, malformed(op, "%d bytes, limit %d", len(b), maxKeyEntrySize)
	}
	r := reader{b: b}
	version := r.byte()
	if r.short {
		return nil, malformed(op, "empty")
	}
	if version != formatVersion {
		return nil, unsupported(op, "key entry version %d, this package reads %d", version, formatVersion)
	}
	e := &KeyEntry{Change: KeyChange(r.byte())}
	if !r.short && !e.Change.known() {
		return nil, unsupported(op, "key change %d", uint8(e.Change))
	}
	e.Seq = r.uint64()
	copy(e.Prev[:], r.next(32))
	e.Time = time.Unix(0, int64(r.uint64())).UTC()
	n := int(r.uint16())
	e.DID = string(r.next(n))
	if r.short {
		return nil, malformed(op, "%d bytes, too short", len(b))
	}
	if err := checkDID(e.DID); err != nil {
		return nil, malformed(op, "%v", err)
	}

	// Cut the input into fields first and check the cheap things (lengths, order, no trailing
	// bytes); validate the keys, which costs milliseconds, last.
	x25519Key := r.next(1 + SuiteX25519.publicSize())
	var pqKey []byte
	switch tag := r.peek(); {
	case r.short:
	case tag == 0:
		r.next(1)
	case tag == tagXWing:
		pqKey = r.next(1 + SuiteXWing.publicSize())
	default:
		return nil, malformed(op, "post-quantum key type 0x%02x", tag)
	}
	edKey := r.next(1 + ed25519.PublicKeySize)
	count := int(r.uint16())
	if r.short {
		return nil, malformed(op, "%d bytes, too short", len(b))
	}
	if count > maxRevokedKeys {
		return nil, malformed(op, "%d revoked keys, limit %d", count, maxRevokedKeys)
	}
	if count > 0 && e.Change != KeyRevoke {
		return nil, malformed(op, "revoked keys in a %s entry", e.Change)
	}
	for i := range count {
		var id KeyID
		copy(id[:], r.next(len(id)))
		if i > 0 && bytes.Compare(e.Revoked[i-1][:], id[:]) >= 0 {
			return nil, malformed(op, "revoked key ids not strictly ascending")
		}
		e.Revoked = append(e.Revoked, id)
	}
	e.Signature = bytes.Clone(r.next(signatureSize))
	e.Proof = bytes.Clone(r.next(signatureSize))
	switch {
	case r.short:
		return nil, malformed(op, "%d bytes, too short", len(b))
	case len(r.b) != 0:
		return nil, malformed(op, "%d trailing bytes", len(r.b))
	}
	for _, sig := range [][]byte{e.Signature, e.Proof} {
		if err := checkSignature(op, sig); err != nil {
			return nil, err
		}
	}

	var err error
	if e.Keys.Recipient, err = ParseRecipientKey(x25519Key); err != nil {
		return nil, malformed(op, "X25519 key: %v", err)
	}
	if e.Keys.Recipient.suite != SuiteX25519 {
		return nil, malformed(op, "X25519 key: got a %s key", e.Keys.Recipient.suite)
	}
	if pqKey != nil {
		if e.Keys.PostQuantum, err = ParseRecipientKey(pqKey); err != nil {
			return nil, malformed(op, "X-Wing key: %v", err)
		}
	}
	if e.Keys.Verifying, err = ParseVerifyingKey(edKey); err != nil {
		return nil, malformed(op, "Ed25519 key: %v", err)
	}
	return e, nil
}

// reader consumes b from the front; a read past the end sets short and returns zeros.
type reader struct {
	b     []byte
	short bool
}

func (r *reader) next(n int) []byte {
	if r.short || n > len(r.b) {
		r.short = true
		r.b = nil
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) peek() byte {
	if r.short || len(r.b) == 0 {
		r.short = true
		return 0
	}
	return r.b[0]
}

func (r *reader) byte() byte     { return r.next(1)[0] }
func (r *reader) uint16() uint16 { return binary.BigEndian.Uint16(r.next(2)) }
func (r *reader) uint64() uint64 { return binary.BigEndian.Uint64(r.next(8)) }

// Verify checks e as the successor of prev, or, when prev is nil, as a genesis entry. It
// checks that:
//
//   - e is well formed (complete keys of the right kinds, a known change, signatures of the
//     right size, Revoked strictly ascending and within maxRevokedKeys);
//   - with prev nil: e.Change is KeyGenesis, e.Seq is 0, e.Prev is zero, and Signature is
//     by e.Keys.Verifying;
//   - otherwise: e.Change is KeyRotate or KeyRevoke, e.DID is prev.DID, e.Seq is
//     prev.Seq+1, e.Prev is prev.Hash(), and Signature is by prev.Keys.Verifying;
//   - Proof is by e.Keys.Verifying;
//   - Revoked is empty unless e.Change is KeyRevoke, and for KeyRevoke it includes every id
//     of prev.Keys and none of e.Keys.
//
// It returns nil or an error matching ErrDecrypt. Verify does not check prev itself, nor
// that e is the only successor of prev: two valid entries with the same Prev (a fork, which
// the holder of a stolen key can make) each verify, and the caller must refuse the log.
func (e *KeyEntry) Verify(prev *KeyEntry) error {
	const op = "verify key entry"
	if e == nil {
		return malformed(op, "no entry")
	}
	if err := e.check(op); err != nil {
		return err
	}
	signer := e.Keys.Verifying
	if prev == nil {
		switch {
		case e.Change != KeyGenesis:
			return fmt.Errorf("crypto: %s: a %s entry needs a previous entry: %w", op, e.Change, ErrDecrypt)
		case e.Seq != 0 || e.Prev != [32]byte{}:
			return fmt.Errorf("crypto: %s: genesis with seq %d or a previous hash: %w", op, e.Seq, ErrDecrypt)
		}
	} else {
		switch {
		case e.Change == KeyGenesis:
			return fmt.Errorf("crypto: %s: genesis entry after entry %d: %w", op, prev.Seq, ErrDecrypt)
		case e.DID != prev.DID:
			return fmt.Errorf("crypto: %s: entry for %s follows one for %s: %w", op, e.DID, prev.DID, ErrDecrypt)
		case prev.Seq == math.MaxUint64 || e.Seq != prev.Seq+1:
			return fmt.Errorf("crypto: %s: seq %d does not follow %d: %w", op, e.Seq, prev.Seq, ErrDecrypt)
		case e.Prev != prev.Hash():
			return fmt.Errorf("crypto: %s: entry %d does not name the hash of entry %d: %w", op, e.Seq, prev.Seq, ErrDecrypt)
		case prev.Keys.Verifying == nil:
			return fmt.Errorf("crypto: %s: previous entry has no signing key: %w", op, ErrDecrypt)
		}
		signer = prev.Keys.Verifying
		if e.Change == KeyRevoke {
			for _, id := range prev.Keys.KeyIDs() {
				if !slices.Contains(e.Revoked, id) {
					return fmt.Errorf("crypto: %s: revocation does not revoke previous key %s: %w", op, id, ErrDecrypt)
				}
			}
		}
	}
	body := e.body()
	if err := signer.verifyLabelled(op, keyLogSignatureLabel, body, e.Signature); err != nil {
		return err
	}
	return e.Keys.Verifying.verifyLabelled(op, keyLogProofLabel, body, e.Proof)
}

// check reports structural faults of an entry built by hand or parsed; it matches
// ErrDecrypt and ErrMalformed.
func (e *KeyEntry) check(op string) error {
	if err := checkDID(e.DID); err != nil {
		return malformed(op, "%v", err)
	}
	if !e.Change.known() {
		return unsupported(op, "key change %d", uint8(e.Change))
	}
	if err := e.Keys.check(); err != nil {
		return malformed(op, "%v", err)
	}
	if len(e.Revoked) > maxRevokedKeys {
		return malformed(op, "%d revoked keys, limit %d", len(e.Revoked), maxRevokedKeys)
	}
	if len(e.Revoked) > 0 && e.Change != KeyRevoke {
		return malformed(op, "revoked keys in a %s entry", e.Change)
	}
	for i := 1; i < len(e.Revoked); i++ {
		if bytes.Compare(e.Revoked[i-1][:], e.Revoked[i][:]) >= 0 {
			return malformed(op, "revoked key ids not strictly ascending")
		}
	}
	for _, id := range e.Keys.KeyIDs() {
		if slices.Contains(e.Revoked, id) {
			return malformed(op, "entry revokes its own key %s", id)
		}
	}
	if _, err := entryTime(e.Time); err != nil {
		return malformed(op, "%v", err)
	}
	for _, sig := range [][]byte{e.Signature, e.Proof} {
		if err := checkSignature(op, sig); err != nil {
			return err
		}
	}
	return nil
}
