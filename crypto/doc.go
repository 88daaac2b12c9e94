// Package crypto seals d1seal's records so that the database only ever holds ciphertext.
//
// Every written version of a record is encrypted on the client under a fresh 256-bit data
// key with AES-256-GCM; the data key is wrapped for the owning agent under its own secret
// owner key and with HPKE (RFC 9180) for each agent the record is shared with; the owner
// signs the stored bytes with Ed25519 (one signature per record, or one per batch of records
// over a Merkle tree of them, SealBatch). Fields the records package indexes for search get
// beacons (truncated HMACs under per-field index keys). Package records stores the results in
// D1 and calls this package; this package keeps no state and does no I/O except for key files.
//
//	s, err := owner.Seal(rc, plaintext, bob.Recipient())              // write
//	pt, err := bob.Open(rc, s.Envelope, grant, ownerVerifyingKey)     // read
//	g, err := owner.Rewrap(rc, s.Owner.WrappedKey, carol.Recipient()) // share
//	s2, err := owner.Rekey(rc, s.Envelope, s.Owner.WrappedKey, rc.Version+1, carol.Recipient()) // revoke bob
//	g, err := owner.RewrapForOwner(rc, s.Owner.WrappedKey, next)      // rotate the owner's grant
//	k, err := owner.IndexKey(rc.Collection, "tag")                    // search
//	b, err := k.Beacon([]byte("groceries"), 32)
//
// Everything is bound to a RecordContext (owner DID, collection, record key, version; see
// NewRecordContext): stored bytes that are altered, or moved to another record, version,
// recipient or agent, fail with ErrDecrypt. Signatures verify only under the key that made
// them and only as the kind of statement they were made as. An agent's public keys change
// only through its signed key log (KeyEntry); verify keys through it (KeyEntry.Verify), from
// a head you trust for other reasons, never from a column you read. What a hostile database
// can still do (withhold rows, serve an older version whole) and what it sees in clear (who
// owns and shares what, sizes, times, and the equality patterns of beacons) is set out in the
// specification.
//
// # Specification
//
// The byte formats (record context, envelope, wrapped keys and owner grants, index keys and
// beacons, record, batch, public record, metadata, event and directory signatures, key log
// entries, key files), the threat model and the leakage of beacons are specified in SPEC.md beside
// this file (https://github.com/d1seal/d1seal/blob/main/crypto/SPEC.md), so that other
// implementations can read d1seal's records. The golden files in testdata are its test
// vectors: every release must still open them.
//
// # Errors
//
// Every failure to open or verify stored bytes matches ErrDecrypt; structural faults visible
// to anyone (lengths, version and suite bytes) also match ErrMalformed or ErrUnsupported and
// say what they saw, while cryptographic failures say nothing more. Wrong key kinds are
// ErrKeyType, rejected public keys ErrInvalidKey, and a key file open to others is
// ErrKeyFilePermissions. No error, String or fmt verb ever shows a private key, a data key,
// an owner or index key, or plaintext.
package crypto
