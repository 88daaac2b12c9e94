package crypto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/d1seal/d1seal/syntax"
)

// formatVersion is the version byte at the start of every envelope, wrapped key, signature
// and key file this package writes. Readers refuse other values with ErrUnsupported.
const formatVersion = 1

// Errors callers branch on. Every call that opens or checks stored bytes (Agent.Open,
// Agent.Unwrap, Agent.RewrapForOwner, Agent.UnwrapIndexKey, DataKey.Open, VerifyingKey.Verify,
// VerifyPublic, VerifyMetadata and VerifyEvent, ParseKeyEntry, KeyEntry.Verify, ParseKeyFile,
// ReadKeyFile) fails closed: whatever was
// wrong with the stored bytes, the error matches ErrDecrypt. When the fault is structural and
// visible to anyone holding the bytes (a wrong length, an unknown version or suite byte), the
// error also matches ErrMalformed or ErrUnsupported and says what it saw; failures of the
// cryptography itself (a tag, commitment or signature that does not verify, a wrong key) are
// ErrDecrypt alone, with no detail, so that errors never act as an oracle.
var (
	// ErrDecrypt means that stored bytes did not authenticate: they were altered, truncated,
	// moved to another record, version or recipient, or the key offered is not the one they
	// were made for. It is the only error an attacker who can edit rows learns anything from,
	// and it says nothing about which check failed.
	ErrDecrypt = errors.New("crypto: decryption failed")

	// ErrMalformed means that input is not in the documented format (wrong length or shape).
	ErrMalformed = errors.New("crypto: malformed input")

	// ErrUnsupported means an unknown format version, suite or key-derivation setting, or
	// settings outside the caps this package accepts. A newer d1seal may read it.
	ErrUnsupported = errors.New("crypto: unsupported version or suite")

	// ErrKeyType means a key of one kind was offered where another is needed: an Ed25519
	// signing key where an encryption recipient is expected, or the reverse.
	ErrKeyType = errors.New("crypto: wrong key type")

	// ErrInvalidKey means a published public key failed validation: a low-order X25519
	// point, a small-order or non-canonical Ed25519 point, or an ML-KEM key out of range.
	ErrInvalidKey = errors.New("crypto: invalid public key")
)

// storedError reports a structural fault in stored bytes. It matches both its kind
// (ErrMalformed or ErrUnsupported) and ErrDecrypt, so that callers who only ask "did it
// open?" fail closed, while the message still says what was wrong. The detail holds only
// lengths and format bytes, never secret material.
type storedError struct {
	op     string
	kind   error
	detail string
}

func (e *storedError) Error() string {
	word := "malformed"
	if e.kind == ErrUnsupported {
		word = "unsupported"
	}
	return "crypto: " + e.op + ": " + word + ": " + e.detail
}

func (e *storedError) Unwrap() []error { return []error{e.kind, ErrDecrypt} }

func malformed(op, format string, args ...any) error {
	return &storedError{op: op, kind: ErrMalformed, detail: fmt.Sprintf(format, args...)}
}

func unsupported(op, format string, args ...any) error {
	return &storedError{op: op, kind: ErrUnsupported, detail: fmt.Sprintf(format, args...)}
}

// maxContextField bounds each string of a RecordContext. It is the AT Protocol's DID limit,
// the longest of the three identifiers (NSIDs stop at 317 bytes, record keys at 512).
const maxContextField = 2048

// RecordContext names one version of one record: the owning agent's DID, the collection, the
// record key and the record version. Every ciphertext, wrapped key and signature is bound to
// it, so that bytes moved to another row, another version or another recipient fail with
// ErrDecrypt. Build one with NewRecordContext from a syntax.Ref, or field by field from values
// that came from package syntax's parsers.
//
// The collection is bound in its canonical form (syntax.NSID.Canonical, authority in lower
// case): NSID authorities are case-insensitive, so Com.Example.note and com.example.note name
// one collection and seal to one context. DID and record key are case-sensitive and bound as
// given. Version must grow with every write of the record; package records stores it in the
// row's version column.
type RecordContext struct {
	DID        syntax.DID       // the owning agent's DID, the records.did column
	Collection syntax.NSID      // the collection, the records.collection column
	RKey       syntax.RecordKey // the record key, the records.rkey column
	Version    uint64           // the record version, the records.version column
}

// NewRecordContext returns the context of version of the record that ref names.
func NewRecordContext(ref syntax.Ref, version uint64) RecordContext {
	return RecordContext{DID: ref.DID, Collection: ref.Collection, RKey: ref.RKey, Version: version}
}

// String returns the context as did/collection/rkey@version, for messages and logs.
func (rc RecordContext) String() string {
	return string(rc.DID) + "/" + string(rc.Collection) + "/" + string(rc.RKey) + "@" + strconv.FormatUint(rc.Version, 10)
}

// check reports whether the context can be encoded: each string non-empty and at most
// maxContextField bytes.
func (rc RecordContext) check() error {
	for _, f := range [...]struct{ name, v string }{{"did", string(rc.DID)}, {"collection", string(rc.Collection)}, {"rkey", string(rc.RKey)}} {
		if f.v == "" {
			return fmt.Errorf("crypto: record context %s: empty %s", rc, f.name)
		}
		if len(f.v) > maxContextField {
			return fmt.Errorf("crypto: record context: %s is %d bytes, limit %d", f.name, len(f.v), maxContextField)
		}
	}
	return nil
}

// appendContext appends the canonical encoding of rc: three strings, each as a 2-byte
// big-endian length and its bytes (did, canonical collection, rkey), then the version as 8
// bytes big-endian. The length prefixes make the encoding injective: no two contexts share one.
func appendContext(b []byte, rc RecordContext) []byte {
	b = appendString16(b, string(rc.DID))
	b = appendString16(b, string(rc.Collection.Canonical()))
	b = appendString16(b, string(rc.RKey))
	return binary.BigEndian.AppendUint64(b, rc.Version)
}

func contextSize(rc RecordContext) int {
	return 2 + len(rc.DID) + 2 + len(rc.Collection.Canonical()) + 2 + len(rc.RKey) + 8
}

func appendString16(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
