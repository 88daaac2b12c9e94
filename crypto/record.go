package crypto

import (
	"fmt"
)

// Grant is one wrapped data key: the right of one recipient key to read one record version.
type Grant struct {
	// RecipientDID is the recipient: records.did for the owner's grant,
	// shared_records.recipient_did otherwise. The wrapped key is bound to it.
	RecipientDID string

	// KeyID is the recipient key the data key is wrapped for. It is also inside WrappedKey;
	// store it in a new key_id column (BLOB, 16 bytes) to find the grants of a key when it
	// is rotated.
	KeyID KeyID

	// WrappedKey is the encrypted_dek column: version (0x01), suite, the 16-byte recipient
	// key id, the HPKE encapsulated key (32 or 1120 bytes), then the 48-byte HPKE ciphertext
	// of the data key. It is wrappedKeySize(suite) bytes.
	WrappedKey []byte
}

// Sealed is a freshly sealed record version: its row and its grants.
type Sealed struct {
	Envelope

	// Owner is the owner's grant, the records.encrypted_dek column.
	Owner Grant

	// Shared holds one grant per recipient passed to Seal or Rekey, in order: one
	// shared_records row each.
	Shared []Grant
}

// Seal encrypts plaintext as the record version rc under a fresh data key, wraps that key
// for a, the owner, and for each of shareWith, and signs the envelope with a's signing key.
// a must be the agent named by rc.DID. The owner's grant is an owner grant under a's owner
// key (SuiteOwner, no public-key operation) when a has one (HasOwnerKey), else an HPKE grant
// for a.Recipient(); the others' are HPKE grants.
// rc.Version must not have been sealed before: the records package gives each write a new
// version.
func (a *Agent) Seal(rc RecordContext, plaintext []byte, shareWith ...Recipient) (*Sealed, error) {
	if err := rc.check(); err != nil {
		return nil, err
	}
	if a == nil || a.did != string(rc.DID) {
		return nil, fmt.Errorf("crypto: seal %s: the owner agent must be %s", rc, rc.DID)
	}
	for _, r := range shareWith {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("crypto: seal %s: %w", rc, err)
		}
	}
	return seal(newDataKey(rc), plaintext, a, shareWith)
}

func seal(k *DataKey, plaintext []byte, owner *Agent, shareWith []Recipient) (*Sealed, error) {
	s, err := sealUnsigned(k, plaintext, owner, shareWith, signatureSize)
	if err != nil {
		return nil, err
	}
	s.Signature = owner.sign.appendEnvelopeSignature(s.Signature, k.rc, s.Ciphertext, s.Nonce)
	return s, nil
}

// sealUnsigned is seal without the signature: s.Signature is empty, with room for sigSize
// bytes.
func sealUnsigned(k *DataKey, plaintext []byte, owner *Agent, shareWith []Recipient, sigSize int) (*Sealed, error) {
	// One allocation holds the ciphertext, nonce and signature columns and the owner grant,
	// each capped so that appending to one never overwrites the next.
	ctSize := minCiphertextSize + len(plaintext)
	ownerSize := wrappedKeySize(SuiteOwner)
	if owner.owner == nil {
		ownerSize = 0
	}
	buf := make([]byte, 0, ctSize+nonceSize+sigSize+ownerSize)
	nonce := buf[ctSize : ctSize+nonceSize : ctSize+nonceSize]
	ct, err := k.sealContent(buf[:0:ctSize], nonce, plaintext)
	if err != nil {
		return nil, fmt.Errorf("crypto: seal %s: %w", k.rc, err)
	}
	sigAt := ctSize + nonceSize
	s := &Sealed{Envelope: Envelope{Ciphertext: ct, Nonce: nonce, Signature: buf[sigAt : sigAt : sigAt+sigSize]}}
	if owner.owner != nil {
		s.Owner, err = k.appendOwnerGrant(buf[sigAt+sigSize:sigAt+sigSize:cap(buf)], owner)
	} else {
		s.Owner, err = k.Wrap(owner.Recipient())
	}
	if err != nil {
		return nil, err
	}
	if len(shareWith) > 0 {
		s.Shared = make([]Grant, 0, len(shareWith))
	}
	for _, r := range shareWith {
		g, err := k.Wrap(r)
		if err != nil {
			return nil, err
		}
		s.Shared = append(s.Shared, g)
	}
	return s, nil
}

// Open verifies and decrypts the record version rc for this agent: it checks env.Signature
// against author, the owner's registered verifying key (from the agents table, never from
// the row), unwraps wrappedKey (the agent's own grant) and decrypts. Every failure to
// authenticate is ErrDecrypt.
func (a *Agent) Open(rc RecordContext, env Envelope, wrappedKey []byte, author *VerifyingKey) ([]byte, error) {
	if author == nil {
		return nil, fmt.Errorf("crypto: open %s: no author key to verify with", rc)
	}
	if err := author.Verify(rc, env); err != nil {
		return nil, err
	}
	k, err := a.Unwrap(rc, wrappedKey)
	if err != nil {
		return nil, err
	}
	return k.openContent(env.Ciphertext, env.Nonce)
}

// Open verifies env.Signature against author (as VerifyingKey.Verify) and decrypts the
// envelope of the key's record version.
func (k *DataKey) Open(env Envelope, author *VerifyingKey) ([]byte, error) {
	if author == nil {
		return nil, fmt.Errorf("crypto: open %s: no author key to verify with", k.rc)
	}
	if err := author.Verify(k.rc, env); err != nil {
		return nil, err
	}
	return k.openContent(env.Ciphertext, env.Nonce)
}

// Rewrap unwraps one of this agent's grants for the record version rc and wraps the same
// data key for to, without touching the content. It serves two purposes:
//
//   - Sharing: the owner (or any reader) grants the version to another agent; store the
//     result as a shared_records row.
//   - Rotation: a is the agent with its old keys and to is its new key
//     (next.Recipient() after Agent.NewEncryptionKeys); replace each of its grants
//     (encrypted_dek) with the result, then retire the old keys. Rotation protects future
//     reads from a lost old key only if the old key was not compromised: after a compromise,
//     Rekey the records instead, since the old key could already have unwrapped their data
//     keys.
func (a *Agent) Rewrap(rc RecordContext, wrappedKey []byte, to Recipient) (Grant, error) {
	k, err := a.Unwrap(rc, wrappedKey)
	if err != nil {
		return Grant{}, err
	}
	return k.Wrap(to)
}

// Rekey re-encrypts a record under a fresh data key as version (which must be greater than
// rc.Version), re-signs it and wraps the new key for the owner and for keep only: the way to
// revoke a recipient. a must be the owner; the old envelope must verify under a's current
// signing key. Replace the row and all its grants with the result in one batch, deleting
// the shared_records rows of everyone not in keep.
//
// Revocation protects later versions only: a revoked recipient keeps whatever it already
// read or stored, including the old data key, which opens the old ciphertext wherever it
// survives (backups, D1 Time Travel, exports, caches).
func (a *Agent) Rekey(rc RecordContext, env Envelope, wrappedKey []byte, version uint64, keep ...Recipient) (*Sealed, error) {
	if a.did != string(rc.DID) {
		return nil, fmt.Errorf("crypto: rekey %s: only the owner %s can re-key, not %s", rc, rc.DID, a.did)
	}
	if version <= rc.Version {
		return nil, fmt.Errorf("crypto: rekey %s: new version %d must be greater than %d", rc, version, rc.Version)
	}
	plaintext, err := a.Open(rc, env, wrappedKey, a.sign.pub)
	if err != nil {
		return nil, err
	}
	defer clear(plaintext)
	next := rc
	next.Version = version
	return a.Seal(next, plaintext, keep...)
}
