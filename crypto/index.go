package crypto

import (
	"fmt"
)

// Blind indexes: a beacon is a truncated HMAC-SHA256 of a field's value under an index key
// that only the owner (and whoever the owner shares it with) holds, so that the database can
// match equal values without learning them. The package docs ("Blind indexes") say what each
// beacon length leaks.

const (
	indexKeyLabel     = "d1seal index key v1\x00"
	indexKeyWrapLabel = "d1seal index key wrap v1\x00"

	// MinBeaconBits and MaxBeaconBits bound the beacon lengths IndexKey.Beacon accepts, in
	// multiples of 8.
	MinBeaconBits = 8
	MaxBeaconBits = 256
)

// IndexContext names one blind index: the owning agent's DID, the collection and the field.
// Each string is 1 to 2048 bytes, and, as in RecordContext, compared exactly: pass the
// canonical collection NSID and one fixed spelling of the field.
type IndexContext struct {
	DID        string // the owning agent's DID
	Collection string // canonical NSID
	Field      string // the field's name, as the records package spells it
}

// String returns the context as did/collection#field, for messages and logs.
func (ic IndexContext) String() string { return ic.DID + "/" + ic.Collection + "#" + ic.Field }

func (ic IndexContext) check() error {
	for _, f := range [...]struct{ name, v string }{{"did", ic.DID}, {"collection", ic.Collection}, {"field", ic.Field}} {
		if f.v == "" {
			return fmt.Errorf("crypto: index context %s: empty %s", ic, f.name)
		}
		if len(f.v) > maxContextField {
			return fmt.Errorf("crypto: index context: %s is %d bytes, limit %d", f.name, len(f.v), maxContextField)
		}
	}
	return nil
}

// appendIndexContext appends uint16 len(did) || did || uint16 len(collection) || collection
// || uint16 len(field) || field.
func appendIndexContext(b []byte, ic IndexContext) []byte {
	b = appendString16(b, ic.DID)
	b = appendString16(b, ic.Collection)
	return appendString16(b, ic.Field)
}

func indexContextSize(ic IndexContext) int {
	return 6 + len(ic.DID) + len(ic.Collection) + len(ic.Field)
}

// IndexKey is the key of one blind index (one owner, collection and field): it computes the
// beacons of that field's values. It never prints its secret (every fmt verb shows only its
// context) and is safe for concurrent use.
type IndexKey struct {
	ic  IndexContext
	key *[keySize]byte
}

// IndexKey returns the agent's index key for field of collection, derived from its owner key
// (HKDF-SHA256, see the package docs), so it needs no storage: the same agent always derives
// the same key, and an agent with a new owner key (NewKeys) derives new ones, whose beacons
// must replace the old. It returns an error when the agent has no owner key (HasOwnerKey:
// rotate it with NewEncryptionKeys to get one) or when collection or field is empty or
// longer than 2048 bytes.
func (a *Agent) IndexKey(collection, field string) (*IndexKey, error) {
	ic := IndexContext{DID: a.did, Collection: collection, Field: field}
	if err := ic.check(); err != nil {
		return nil, err
	}
	if a.owner == nil {
		return nil, fmt.Errorf("crypto: index key %s: agent %s has no owner key (read from a version 1 key file): rotate it with NewEncryptionKeys", ic, a.did)
	}
	info := appendIndexContext(make([]byte, 0, indexContextSize(ic)), ic)
	k := &IndexKey{ic: ic, key: new([keySize]byte)}
	a.owner.expand(k.key[:0], indexKeyLabel, info)
	return k, nil
}

// Context returns the index the key belongs to.
func (k *IndexKey) Context() IndexContext { return k.ic }

// Beacon returns the beacon of value: the first bits/8 bytes of HMAC-SHA256(index key,
// value). bits must be a multiple of 8 from MinBeaconBits (8) to MaxBeaconBits (256); choose
// it from the leakage table in the package docs, and keep it fixed for an index (a beacon
// of n bits is the prefix of the beacon of more). Equal values always give equal beacons;
// different values give equal beacons with probability 2^-bits, so a match must be
// confirmed on the opened record.
func (k *IndexKey) Beacon(value []byte, bits int) ([]byte, error) {
	if bits < MinBeaconBits || bits > MaxBeaconBits || bits%8 != 0 {
		return nil, fmt.Errorf("crypto: beacon for %s: %d bits: want a multiple of 8 from %d to %d", k.ic, bits, MinBeaconBits, MaxBeaconBits)
	}
	sum := hmacSHA256(k.key[:], value, nil, 0)
	b := append([]byte(nil), sum[:bits/8]...)
	clear(sum[:])
	return b, nil
}

// String returns a redacted description: the index context, never the key.
func (k IndexKey) String() string { return "crypto.IndexKey(" + k.ic.String() + ", REDACTED)" }

// GoString is String.
func (k IndexKey) GoString() string { return k.String() }

// Format prints String for every verb.
func (k IndexKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// wrappedIndexKeySize returns the size of an index key wrapped for a recipient key of suite
// s: the same as a wrapped data key (98 bytes for SuiteX25519, 1186 for SuiteXWing), or 0.
func wrappedIndexKeySize(s Suite) int {
	if !s.known() {
		return 0
	}
	return wrappedKeySize(s)
}

// indexWrapInfo is the HPKE info of a wrapped index key:
//
//	"d1seal index key wrap v1" || 0x00 || version (0x01) || suite || recipient key id (16)
//	  || recipient DID (2-byte length, bytes) || index context (appendIndexContext)
//
// Its label differs from wrapInfo's, so a wrapped data key never opens as an index key, nor
// the reverse.
func indexWrapInfo(ic IndexContext, recipientDID string, s Suite, id KeyID) []byte {
	info := make([]byte, 0, len(indexKeyWrapLabel)+wrapHeadSize+2+len(recipientDID)+indexContextSize(ic))
	info = append(info, indexKeyWrapLabel...)
	info = append(info, formatVersion, byte(s))
	info = append(info, id[:]...)
	info = appendString16(info, recipientDID)
	return appendIndexContext(info, ic)
}

// Wrap encrypts the index key for a recipient with HPKE (the recipient key's suite), bound
// to the index context and to the recipient's DID and key: the way an owner lets another
// agent search one field of one collection. The recipient opens it with
// Agent.UnwrapIndexKey. The result has the layout of a wrapped data key (version, suite,
// recipient key id, encapsulated key, HPKE ciphertext; wrappedIndexKeySize bytes).
//
// Sharing an index key lets the recipient compute the beacon of any value it guesses and
// compare it with the beacons of every record of the index, including records not shared
// with it: it learns which records hold each value it guesses. Share it only with agents
// trusted with that.
func (k *IndexKey) Wrap(to Recipient) ([]byte, error) {
	if err := to.check(); err != nil {
		return nil, fmt.Errorf("crypto: wrap index key: %w", err)
	}
	s, id := to.Key.suite, to.Key.id
	w := make([]byte, 0, wrappedKeySize(s))
	w = append(w, formatVersion, byte(s))
	w = append(w, id[:]...)
	enc, ct, err := hpkeSeal(to.Key.pub, indexWrapInfo(k.ic, to.DID, s, id), w, k.key[:])
	if err != nil {
		return nil, fmt.Errorf("crypto: wrap index key for %s: %w", to.DID, err)
	}
	return append(append(w, enc...), ct...), nil
}

// UnwrapIndexKey decrypts an index key that the owner of ic wrapped for this agent
// (IndexKey.Wrap). Every failure to authenticate (altered bytes, another index, another
// recipient, a key the agent does not hold) matches ErrDecrypt.
func (a *Agent) UnwrapIndexKey(ic IndexContext, wrapped []byte) (*IndexKey, error) {
	const op = "unwrap index key"
	if err := ic.check(); err != nil {
		return nil, err
	}
	if err := checkWrapped(op, wrapped); err != nil {
		return nil, err
	}
	k := &IndexKey{ic: ic, key: new([keySize]byte)}
	if err := a.hpkeUnwrap(op, wrapped, func(s Suite, id KeyID) []byte { return indexWrapInfo(ic, a.did, s, id) }, k.key); err != nil {
		return nil, err
	}
	return k, nil
}
