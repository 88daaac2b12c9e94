package crypto

import (
	"encoding/binary"
	"fmt"
)

// A fleet's directory (package fleet) maps each tenant to the D1 database that holds its
// records. The directory lives in a D1 database, so it is signed: an operator key (an Agent's
// signing key, pinned by every client out of band) signs each entry, and clients route a
// tenant only through an entry that verifies. The signature has the layout of
// Envelope.Signature (signatureSize bytes: 0x01, the signer's key id, the Ed25519 signature)
// over:
//
//	"d1seal fleet directory entry v1" || 0x00 || 0x01 || signer key id (16)
//	  || uint16 len(fleet) || fleet || uint16 len(tenant) || tenant
//	  || uint16 len(database) || database || uint64 epoch
//
// The label ends in 0x00 and contains no other 0x00, like every other label of this package,
// so a directory signature never verifies as a record, key log, metadata or event signature.
const directoryLabel = "d1seal fleet directory entry v1\x00"

// DirectoryEntry is one signed route of a fleet's directory: tenant's records live in the
// database with id Database of the fleet named Fleet. Epoch grows by one each time the tenant
// is moved, so that a client that has seen epoch n refuses any entry older than n.
type DirectoryEntry struct {
	Fleet    string // the fleet's name, so an entry of one fleet is refused by another
	Tenant   string // the tenant, for records the owning agent's DID
	Database string // the D1 database id (a UUID)
	Epoch    uint64
}

func (e DirectoryEntry) check() error {
	for _, f := range [...]struct{ name, v string }{{"fleet", e.Fleet}, {"tenant", e.Tenant}, {"database", e.Database}} {
		if f.v == "" {
			return fmt.Errorf("empty %s", f.name)
		}
		if len(f.v) > maxContextField {
			return fmt.Errorf("%s is %d bytes, limit %d", f.name, len(f.v), maxContextField)
		}
	}
	return nil
}

func (e DirectoryEntry) message() []byte {
	b := appendString16(nil, e.Fleet)
	b = appendString16(b, e.Tenant)
	b = appendString16(b, e.Database)
	return binary.BigEndian.AppendUint64(b, e.Epoch)
}

// SignDirectoryEntry signs e with the agent's signing key, as a fleet operator. It fails only
// when a field of e is empty or longer than a DID may be.
func (a *Agent) SignDirectoryEntry(e DirectoryEntry) ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, fmt.Errorf("crypto: sign directory entry: %w", err)
	}
	return a.sign.signLabelled(directoryLabel, e.message()), nil
}

// VerifyDirectoryEntry checks sig, made by SignDirectoryEntry, against this key (the fleet
// operator's, pinned by the caller, never read from the directory itself) for e. It returns
// nil or an error matching ErrDecrypt.
func (k *VerifyingKey) VerifyDirectoryEntry(e DirectoryEntry, sig []byte) error {
	const op = "verify directory entry"
	if err := e.check(); err != nil {
		return malformed(op, "%v", err)
	}
	return k.verifyLabelled(op, directoryLabel, e.message(), sig)
}
