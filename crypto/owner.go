package crypto

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// The owner keyring: an agent's own copy of each data key is wrapped under a symmetric
// owner key (a "branch key", as in the AWS Database Encryption SDK's hierarchical keyring)
// instead of HPKE, so that sealing a record for its owner costs no X25519 or X-Wing
// operation. The owner key is 32 random bytes, held only in the agent's key file and never
// published. Everything this package derives from it goes through one HKDF-SHA256 extract
// (salt empty) and then an expand with its own label:
//
//	PRK          = HKDF-Extract(salt = empty, ikm = owner key)
//	owner key id = HKDF-Expand(PRK, "d1seal owner key id v1" || 0x00, 16)
//	grant key    = HKDF-Expand(PRK, "d1seal owner wrap v1" || 0x00 || nonce || grant AAD, 32)
//	index key    = HKDF-Expand(PRK, "d1seal index key v1" || 0x00 || index context, 32)
//
// Each label ends in its only 0x00 byte, so no label is a prefix of another and no
// derivation can be made to equal another.

// SuiteOwner is the suite byte of an owner grant: the data key wrapped with AES-256-GCM
// under a per-grant key derived from the agent's owner key (see the package docs). It is not
// a public-key suite: no RecipientKey has it, and ParseRecipientKey refuses it.
const SuiteOwner Suite = 0x10

const (
	ownerKeyIDLabel = "d1seal owner key id v1\x00"
	ownerWrapLabel  = "d1seal owner wrap v1\x00"

	// ownerGrantSize: version, suite, owner key id, nonce, encrypted data key, tag.
	ownerGrantSize = wrapHeadSize + nonceSize + keySize + tagSize
)

// ownerKey is an agent's owner (branch) key. It keeps only the HKDF pseudorandom key derived
// from it, plus the raw key for the key file. It never prints its secret. Safe for
// concurrent use.
type ownerKey struct {
	raw *[keySize]byte
	prk *[sha256.Size]byte // HKDF-Extract(salt = empty, raw)
	id  KeyID
}

func generateOwnerKey() *ownerKey {
	var raw [keySize]byte
	rand.Read(raw[:])
	k := newOwnerKey(raw[:])
	clear(raw[:])
	return k
}

func newOwnerKey(raw []byte) *ownerKey {
	k := &ownerKey{raw: new([keySize]byte), prk: new([sha256.Size]byte)}
	copy(k.raw[:], raw)
	*k.prk = hmacSHA256(nil, k.raw[:], nil, 0) // HKDF-Extract, salt empty
	k.expand(k.id[:0], ownerKeyIDLabel)
	return k
}

// expand writes HKDF-Expand(PRK, label || parts..., cap(dst)) into dst[:cap(dst)]: pass an
// empty slice of an array of the output's size, so that no derived key lands on the heap.
func (k *ownerKey) expand(dst []byte, label string, parts ...[]byte) {
	var stack [hmacStackSize - 64 - sha256.Size - 1]byte
	n := len(label)
	for _, p := range parts {
		n += len(p)
	}
	info := stack[:0]
	if n > len(stack) {
		info = make([]byte, 0, n)
	}
	info = append(info, label...)
	for _, p := range parts {
		info = append(info, p...)
	}
	hkdfExpandSHA256(dst[:0], k.prk[:], info, cap(dst))
}

// String returns a redacted description: the key id, never the secret.
func (k ownerKey) String() string { return "crypto.OwnerKey(" + k.id.String() + ", REDACTED)" }

// GoString is String.
func (k ownerKey) GoString() string { return k.String() }

// Format prints String for every verb.
func (k ownerKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// OwnerKeyID returns the id of the agent's owner key: the key id inside its owner grants
// (Grant.KeyID, WrappedKeyID), and so the records.key_id column of the records it owns.
// It is derived from the key with HKDF under its own label and reveals nothing about it.
// It returns the zero KeyID when the agent has no owner key (HasOwnerKey).
func (a *Agent) OwnerKeyID() KeyID {
	if a.owner == nil {
		return KeyID{}
	}
	return a.owner.id
}

// HasOwnerKey reports whether the agent has an owner key. Agents from GenerateAgent, NewKeys
// and NewEncryptionKeys have one; an agent read from a version 1 key file does not, and its
// own grants stay HPKE grants for a.Recipient() until it is rotated.
func (a *Agent) HasOwnerKey() bool { return a.owner != nil }

// ownerGrantAAD is the additional data of an owner grant: its first 18 bytes (version,
// suite, owner key id), the owner's DID (2-byte length, bytes) and the record context.
func ownerGrantAAD(head []byte, did string, rc RecordContext) []byte {
	aad := make([]byte, 0, wrapHeadSize+2+len(did)+contextSize(rc))
	aad = append(aad, head[:wrapHeadSize]...)
	aad = appendString16(aad, did)
	return appendContext(aad, rc)
}

// grantKey derives the AES-256-GCM key of one owner grant from its nonce and AAD.
func (k *ownerKey) grantKey(key *[keySize]byte, nonce, aad []byte) {
	k.expand(key[:0], ownerWrapLabel, nonce, aad)
}

// wrapOwner wraps the data key for its record's owner, the agent a, under a's owner key.
func (k *DataKey) wrapOwner(a *Agent) (Grant, error) {
	return k.appendOwnerGrant(make([]byte, 0, ownerGrantSize), a)
}

// appendOwnerGrant is wrapOwner writing the grant into w, an empty slice with room for
// ownerGrantSize bytes.
func (k *DataKey) appendOwnerGrant(w []byte, a *Agent) (Grant, error) {
	if a.did != string(k.rc.DID) {
		return Grant{}, fmt.Errorf("crypto: wrap for owner: %s is not the owner of %s", a.did, k.rc)
	}
	o := a.owner
	w = append(w, formatVersion, byte(SuiteOwner))
	w = append(w, o.id[:]...)
	w = w[:wrapHeadSize+nonceSize]
	nonce := w[wrapHeadSize:]
	rand.Read(nonce)
	aad := ownerGrantAAD(w, a.did, k.rc)
	var key [keySize]byte
	o.grantKey(&key, nonce, aad)
	w, err := sealGCM(w, key[:], nonce, k.key[:], aad)
	clear(key[:])
	if err != nil {
		return Grant{}, fmt.Errorf("crypto: wrap for owner %s: %w", a.did, err)
	}
	return Grant{RecipientDID: a.did, KeyID: o.id, WrappedKey: w}, nil
}

// unwrapOwner opens an owner grant, whose shape checkWrapped has checked.
func (a *Agent) unwrapOwner(rc RecordContext, w []byte) (*DataKey, error) {
	const op = "unwrap"
	id := KeyID(w[2:wrapHeadSize])
	if a.owner == nil {
		return nil, fmt.Errorf("crypto: %s: owner grant for key %s, agent %s has no owner key: %w", op, id, a.did, ErrDecrypt)
	}
	if id != a.owner.id {
		return nil, fmt.Errorf("crypto: %s: owner grant for key %s, agent %s holds %s: %w", op, id, a.did, a.owner.id, ErrDecrypt)
	}
	nonce := w[wrapHeadSize : wrapHeadSize+nonceSize]
	aad := ownerGrantAAD(w, a.did, rc)
	var key [keySize]byte
	a.owner.grantKey(&key, nonce, aad)
	defer clear(key[:])
	k := &DataKey{rc: rc, key: new([keySize]byte)}
	if _, err := openGCM(k.key[:0], key[:], nonce, w[wrapHeadSize+nonceSize:], aad); err != nil {
		return nil, ErrDecrypt
	}
	return k, nil
}

// wrapForOwner wraps k for its owner a: under a's owner key when a has one, else with HPKE
// for a.Recipient().
func (k *DataKey) wrapForOwner(a *Agent) (Grant, error) {
	if a.owner != nil {
		return k.wrapOwner(a)
	}
	return k.Wrap(a.Recipient())
}

// RewrapForOwner unwraps one of a's grants for its own record version rc (an owner grant or
// an HPKE grant, as Unwrap) and wraps the same data key for next, the same agent with new
// keys (a.NewKeys or a.NewEncryptionKeys): under next's owner key, or with HPKE for
// next.Recipient() if next has none. This is rotation of the owner's grants
// (records.encrypted_dek): store the result, with its KeyID in key_id, in place of the old
// grant. Content is untouched. After a compromise, re-key instead (Agent.Rekey): the old
// keys may already have unwrapped every data key they had grants for.
func (a *Agent) RewrapForOwner(rc RecordContext, wrapped []byte, next *Agent) (Grant, error) {
	if next == nil || next.did != a.did || next.did != string(rc.DID) {
		return Grant{}, fmt.Errorf("crypto: rewrap for owner %s: a, next and the record's owner must be the same agent", rc)
	}
	k, err := a.Unwrap(rc, wrapped)
	if err != nil {
		return Grant{}, err
	}
	return k.wrapForOwner(next)
}
