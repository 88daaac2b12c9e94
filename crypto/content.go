package crypto

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
)

// contentSuite is the envelope's suite byte: AES-256-GCM under a key derived with
// HKDF-SHA256 from the data key, with a 32-byte key commitment (see the package docs).
const contentSuite = 1

const (
	commitSize   = 32
	envelopeHead = 2 + commitSize // version, suite, commitment
	// minCiphertextSize is the size of Envelope.Ciphertext for an empty plaintext; it is
	// always plaintext length + minCiphertextSize.
	minCiphertextSize = envelopeHead + tagSize
)

// Envelope is a sealed record version as stored in its row. Each field is one column.
type Envelope struct {
	// Ciphertext is the records.ciphertext column: version (0x01), suite (0x01), the 32-byte
	// key commitment, then the AES-256-GCM ciphertext and 16-byte tag.
	Ciphertext []byte

	// Nonce is the records.nonce column: the 12-byte AES-GCM nonce, random per version.
	Nonce []byte

	// Signature is a new records.signature column: a record signature, version (0x01), the
	// signer's 16-byte key id, then the 64-byte Ed25519 signature (81 bytes); or a batch
	// signature (SealBatch), version (0x02), key id, the Ed25519 signature of the batch, the
	// record's leaf index and the tree size, then its audit path (85 + 32k bytes).
	Signature []byte
}

// DataKey is the 256-bit data key (DEK) of one record version, bound to that version's
// RecordContext: it opens the version's envelope and wraps for more recipients of that
// version only. A fresh DataKey is made for every written version (Seal, Rekey); it is never
// reused for another version. DataKey never prints its secret and is safe for concurrent use.
type DataKey struct {
	rc  RecordContext
	key *[keySize]byte
}

func newDataKey(rc RecordContext) *DataKey {
	k := new([keySize]byte)
	rand.Read(k[:])
	return &DataKey{rc: rc, key: k}
}

// Context returns the record version the key belongs to.
func (k *DataKey) Context() RecordContext { return k.rc }

// String returns a redacted description: the record context, never the key.
func (k DataKey) String() string { return "crypto.DataKey(" + k.rc.String() + ", REDACTED)" }

// GoString is String.
func (k DataKey) GoString() string { return k.String() }

// Format prints String for every verb.
func (k DataKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// appendContentAAD appends the additional data of the content AEAD: format version, suite,
// then the record context (see appendContext).
func appendContentAAD(b []byte, rc RecordContext) []byte {
	b = append(b, formatVersion, contentSuite)
	return appendContext(b, rc)
}

// contentKeys derives the AES-256-GCM key and the key commitment from the data key:
// HKDF-SHA256(ikm = DEK, salt = empty, info = "d1seal content v1" || 0x00 || nonce || aad),
// 64 bytes, the first 32 the AES key and the last 32 the commitment. aad is the content
// AAD, so both are bound to the format, suite, record context and nonce. The caller clears
// the result.
func contentKeys(dek *[keySize]byte, nonce, aad []byte) (okm [2 * keySize]byte) {
	const label = "d1seal content v1\x00"
	var stack [hmacStackSize - 64 - 32 - 1]byte
	info := stack[:0]
	if n := len(label) + len(nonce) + len(aad); n > len(stack) {
		info = make([]byte, 0, n)
	}
	info = append(append(append(info, label...), nonce...), aad...)
	prk := hmacSHA256(nil, dek[:], nil, 0) // HKDF-Extract, salt empty
	hkdfExpandSHA256(okm[:0], prk[:], info, len(okm))
	clear(prk[:])
	return okm
}

// sealContent encrypts plaintext under k with a fresh random nonce, appending the
// ciphertext column to ct and writing the nonce into nonce (nonceSize bytes).
func (k *DataKey) sealContent(ct, nonce, plaintext []byte) ([]byte, error) {
	rand.Read(nonce[:nonceSize])
	aad := appendContentAAD(make([]byte, 0, 2+contextSize(k.rc)), k.rc)
	okm := contentKeys(k.key, nonce, aad)
	defer clear(okm[:])
	ct = append(ct, formatVersion, contentSuite)
	ct = append(ct, okm[keySize:]...)
	return sealGCM(ct, okm[:keySize], nonce, plaintext, aad)
}

// checkEnvelope checks the shape of the ciphertext and nonce columns.
func checkEnvelope(op string, ciphertext, nonce []byte) error {
	if len(ciphertext) < 2 {
		return malformed(op, "ciphertext is %d bytes, want at least %d", len(ciphertext), minCiphertextSize)
	}
	if ciphertext[0] != formatVersion {
		return unsupported(op, "envelope version %d, this package reads %d", ciphertext[0], formatVersion)
	}
	if ciphertext[1] != contentSuite {
		return unsupported(op, "content suite %d, this package reads %d", ciphertext[1], contentSuite)
	}
	if len(ciphertext) < minCiphertextSize {
		return malformed(op, "ciphertext is %d bytes, want at least %d", len(ciphertext), minCiphertextSize)
	}
	if len(nonce) != nonceSize {
		return malformed(op, "nonce is %d bytes, want %d", len(nonce), nonceSize)
	}
	return nil
}

// openContent checks the commitment, then decrypts. It does not check the signature.
func (k *DataKey) openContent(ciphertext, nonce []byte) ([]byte, error) {
	const op = "open envelope"
	if err := checkEnvelope(op, ciphertext, nonce); err != nil {
		return nil, err
	}
	aad := appendContentAAD(make([]byte, 0, 2+contextSize(k.rc)), k.rc)
	okm := contentKeys(k.key, nonce, aad)
	defer clear(okm[:])
	if subtle.ConstantTimeCompare(okm[keySize:], ciphertext[2:envelopeHead]) != 1 {
		return nil, ErrDecrypt
	}
	body := ciphertext[envelopeHead:]
	pt, err := openGCM(make([]byte, 0, len(body)-tagSize), okm[:keySize], nonce, body, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
