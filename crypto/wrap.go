package crypto

import (
	"fmt"
)

const (
	wrapHeadSize = 1 + 1 + len(KeyID{}) // version, suite, recipient key id
	wrapCTSize   = keySize + tagSize    // the HPKE ciphertext of a 32-byte data key
	wrapLabel    = "d1seal wrap v1\x00"
)

// wrappedKeySize returns the size of a wrapped key of suite s: 98 bytes for SuiteX25519,
// 1186 for SuiteXWing and 78 for an owner grant (SuiteOwner), or 0 for an unknown suite.
func wrappedKeySize(s Suite) int {
	switch {
	case s == SuiteOwner:
		return ownerGrantSize
	case !s.known():
		return 0
	}
	return wrapHeadSize + s.encSize() + wrapCTSize
}

// wraps reports whether s is on the allow-list of wrapped key suites: the HPKE suites and
// SuiteOwner.
func (s Suite) wraps() bool { return s.known() || s == SuiteOwner }

// wrapInfo is the HPKE info of a wrapped key:
//
//	"d1seal wrap v1" || 0x00 || version (0x01) || suite || recipient key id (16)
//	  || recipient DID (2-byte length, bytes) || record context (appendContext)
func wrapInfo(rc RecordContext, recipientDID string, s Suite, id KeyID) []byte {
	info := make([]byte, 0, len(wrapLabel)+wrapHeadSize+2+len(recipientDID)+contextSize(rc))
	info = append(info, wrapLabel...)
	info = append(info, formatVersion, byte(s))
	info = append(info, id[:]...)
	info = appendString16(info, recipientDID)
	return appendContext(info, rc)
}

// Wrap encrypts the data key for a recipient (HPKE base mode, the recipient key's suite) and
// returns the grant to store. For the owner that is records.encrypted_dek; for anyone else a
// shared_records row.
func (k *DataKey) Wrap(to Recipient) (Grant, error) {
	if err := to.check(); err != nil {
		return Grant{}, fmt.Errorf("crypto: wrap: %w", err)
	}
	s, id := to.Key.suite, to.Key.id
	w := make([]byte, 0, wrappedKeySize(s))
	w = append(w, formatVersion, byte(s))
	w = append(w, id[:]...)
	enc, ct, err := hpkeSeal(to.Key.pub, wrapInfo(k.rc, to.DID, s, id), w, k.key[:])
	if err != nil {
		return Grant{}, fmt.Errorf("crypto: wrap for %s: %w", to.DID, err)
	}
	w = append(append(w, enc...), ct...)
	return Grant{RecipientDID: to.DID, KeyID: id, WrappedKey: w}, nil
}

// WrappedKeyID returns the suite and recipient key id written in a wrapped key, so that a
// reader can pick the key it was made for: for an owner grant (SuiteOwner) the id is the
// owner's OwnerKeyID. They are not authenticated until Unwrap succeeds.
func WrappedKeyID(wrapped []byte) (Suite, KeyID, error) {
	if err := checkWrapped("wrapped key id", wrapped); err != nil {
		return 0, KeyID{}, err
	}
	return Suite(wrapped[1]), KeyID(wrapped[2:wrapHeadSize]), nil
}

func checkWrapped(op string, w []byte) error {
	if len(w) < 2 {
		return malformed(op, "wrapped key is %d bytes, want %d, %d or %d", len(w), wrappedKeySize(SuiteOwner), wrappedKeySize(SuiteX25519), wrappedKeySize(SuiteXWing))
	}
	if w[0] != formatVersion {
		return unsupported(op, "wrapped key version %d, this package reads %d", w[0], formatVersion)
	}
	s := Suite(w[1])
	if !s.wraps() {
		return unsupported(op, "wrapping suite %d is not allowed", w[1])
	}
	if len(w) != wrappedKeySize(s) {
		return malformed(op, "%s wrapped key is %d bytes, want %d", s, len(w), wrappedKeySize(s))
	}
	return nil
}

// Unwrap decrypts a wrapped key made for this agent (records.encrypted_dek if it owns the
// record, else its shared_records.encrypted_dek) for the record version rc: an owner grant
// (SuiteOwner, under the agent's owner key) or an HPKE grant. It picks the agent's key by the
// suite and key id in the wrapped key; a grant for a key the agent does not hold (another
// agent's, or one rotated out) fails with ErrDecrypt.
func (a *Agent) Unwrap(rc RecordContext, wrapped []byte) (*DataKey, error) {
	const op = "unwrap"
	if err := rc.check(); err != nil {
		return nil, err
	}
	if err := checkWrapped(op, wrapped); err != nil {
		return nil, err
	}
	if Suite(wrapped[1]) == SuiteOwner {
		return a.unwrapOwner(rc, wrapped)
	}
	k := &DataKey{rc: rc, key: new([keySize]byte)}
	if err := a.hpkeUnwrap(op, wrapped, func(s Suite, id KeyID) []byte { return wrapInfo(rc, a.did, s, id) }, k.key); err != nil {
		return nil, err
	}
	return k, nil
}

// hpkeUnwrap opens an HPKE-wrapped 32-byte key (the layout of checkWrapped) with the agent's
// key of its suite, under the info that info returns for that suite and key id, into out.
// Every failure to authenticate matches ErrDecrypt.
func (a *Agent) hpkeUnwrap(op string, wrapped []byte, info func(Suite, KeyID) []byte, out *[keySize]byte) error {
	s, id := Suite(wrapped[1]), KeyID(wrapped[2:wrapHeadSize])
	dk := a.keyFor(s)
	if dk == nil {
		return fmt.Errorf("crypto: %s: wrapped for a %s key, agent %s has none: %w", op, s, a.did, ErrDecrypt)
	}
	if id != dk.pub.id {
		return fmt.Errorf("crypto: %s: wrapped for key %s, agent %s holds %s: %w", op, id, a.did, dk.pub.id, ErrDecrypt)
	}
	enc := wrapped[wrapHeadSize : wrapHeadSize+s.encSize()]
	ct := wrapped[wrapHeadSize+s.encSize():]
	key, err := hpkeOpen(dk.priv, enc, info(s, id), wrapped[:wrapHeadSize], ct)
	if err != nil || len(key) != keySize {
		return ErrDecrypt
	}
	copy(out[:], key)
	clear(key)
	return nil
}
