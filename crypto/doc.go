// Package crypto seals d1seal's records so that the database only ever holds ciphertext.
//
// Every written version of a record is encrypted on the client under a fresh 256-bit data
// key (DEK) with AES-256-GCM; the DEK is wrapped for the owning agent under its own
// symmetric owner key (the owner keyring: no public-key operation) and with HPKE (RFC 9180)
// for each agent the record is shared with; the owner signs the stored bytes with Ed25519.
// Fields the records package indexes for search get beacons (truncated HMACs under per-field
// index keys). The records package stores the results in D1 and calls this package; this
// package does no I/O except for key files.
//
//	s, err := crypto.Seal(rc, plaintext, owner, bob.Recipient())     // write
//	pt, err := bob.Open(rc, s.Envelope, grant, ownerVerifyingKey)    // read
//	g, err := owner.Rewrap(rc, s.Owner.WrappedKey, carol.Recipient()) // share
//	s2, err := owner.Rekey(rc, s.Envelope, s.Owner.WrappedKey, rc.Version+1, carol.Recipient()) // revoke bob
//	g, err := owner.RewrapForOwner(rc, s.Owner.WrappedKey, next)     // rotate the owner's grant
//	k, err := owner.IndexKey(rc.Collection, "tag")                   // search
//	b, err := k.Beacon([]byte("groceries"), 32)
//
// # Threat model
//
// D1, Cloudflare, anyone holding a D1 API token, and every backup, export and Time Travel
// copy may read the database, and may reorder, swap, replay, truncate, edit, insert or delete
// its rows. A compromised client (its memory, its key file and passphrase) is out of scope.
//
// What this package guarantees by itself: row contents stay confidential; any change to a
// stored envelope, wrapped key, signature or key log entry, or any of them moved to another
// record, version, recipient or agent, fails with ErrDecrypt; and a record, public record,
// metadata, event or key log signature verifies only under the key that made it, only as the
// kind of statement it was made as (each has its own label), and only for the DID and
// context it names.
//
// What it lets the caller guarantee, provided that the caller takes keys only from a key log
// verified (KeyEntry.Verify) from a head it trusts for other reasons (pinned in
// configuration, or remembered from first use), never from a column it read: the database
// cannot substitute or add an agent's keys, because a new key needs an entry signed by the
// agent's previous signing key (and a proof by the new one); it cannot forge a writer,
// because signatures are checked against those keys only; and after a KeyRevoke, nothing the
// revoked keys signed verifies. The records package does this bookkeeping (trust store,
// access lists, version and deletion high-water marks); this package has no state and
// cannot do it alone.
//
// What a hostile database can still do, whatever the caller does:
//
//   - withhold or delete rows, including key log entries: a reader that has never seen a
//     rotation or revocation keeps using the keys it last verified (a revocation protects
//     only readers that receive it), and a writer that has not seen a recipient's rotation
//     keeps wrapping for the retired key;
//   - serve an older version of a record whole (old ciphertext, version, signature and
//     grants together still verify as that old version), unless the reader remembers a
//     newer one: the records package compares versions with what it has seen;
//   - see everything listed under "What the database still sees" below.
//
// A thief of a signing key, not the database, is what a KeyRevoke answers, and only in part:
// the revocation is signed with the compromised key, which the thief also holds, so the thief
// can sign a competing successor. Both entries verify individually (KeyEntry.Verify checks
// one link); a reader that sees two successors of one entry (a fork) must refuse the log, and
// a reader shown only the thief's branch accepts it. Revoke early and publish the revocation
// where readers look; pinning a later head is the remedy for readers who were misled.
//
// # What the database still sees
//
// Row metadata in the clear, by design: the owner DID, collection and record key, the record
// version, the recipient DIDs and key ids of every grant, which agents registered which
// public keys and every key log entry (public keys, times of rotation and revocation, which
// key ids were declared compromised), agent metadata and events if the records package stores
// them in clear (this package only signs them), timestamps, and sizes: the ciphertext is exactly MinCiphertextSize (50)
// bytes longer than the plaintext, so plaintext lengths are exact. Callers who need to hide
// lengths pad the plaintext before sealing. Who shares with whom, when, and how often
// records change are all visible. The owner key id in each owner grant is the same for all
// of an owner's records until NewKeys, which shows when the owner key changed (the DID
// already links the records). Beacons, where the records package stores them, leak equality
// patterns and frequencies as "Blind indexes" below says.
//
// # Keys
//
// An Agent holds independent keys: an X25519 key that receives wrapped DEKs (HPKE
// suite SuiteX25519), an Ed25519 signing key, optionally an X-Wing key (ML-KEM-768 +
// X25519, SuiteXWing) for post-quantum wrapping, and a secret 32-byte owner key (see Owner
// keyring; agents read from version 1 key files have none). None is derived from another. The types keep
// them apart (a *VerifyingKey cannot be passed where a *RecipientKey is wanted) and so do
// their published encodings, which begin with a type byte, so that a signing key read from
// the wrong column is refused with ErrKeyType rather than used as an X25519 key (both are
// 32 bytes):
//
//	0x01 || X25519 public key (32)             RecipientKey.Bytes, agents.public_key (33 bytes)
//	0x02 || X-Wing encapsulation key (1216)    RecipientKey.Bytes, new agents.pq_public_key (1217 bytes)
//	0x11 || Ed25519 public key (32)            VerifyingKey.Bytes, agents.signing_key (33 bytes)
//
// A key id (KeyID) is the first 16 bytes of SHA-256("d1seal key id v1" || 0x00 || encoding
// above). ParseRecipientKey and ParseVerifyingKey validate what an agent publishes: X25519
// points must be canonical and not of low order (a grant wrapped to a low-order point is
// readable by anyone); Ed25519 points must be canonical, on the curve, and of prime order
// (no small-order points and no small-order component).
//
// # Record context
//
// Everything is bound to a RecordContext (DID, collection, rkey, version), encoded
// canonically as
//
//	uint16 len(did) || did || uint16 len(collection) || collection || uint16 len(rkey) || rkey || uint64 version
//
// (big-endian; each string 1 to 2048 bytes). The length prefixes make the encoding
// injective. The collection is encoded in canonical form, its authority lower-cased
// (syntax.NSID.Canonical), so that both spellings of one NSID seal to one context.
//
// # Envelope (records.ciphertext, records.nonce)
//
// The ciphertext column (Envelope.Ciphertext):
//
//	offset size
//	0      1    format version 0x01
//	1      1    content suite 0x01: AES-256-GCM with an HKDF-SHA256-derived key and commitment
//	2      32   key commitment
//	34     n    AES-256-GCM ciphertext of the n-byte plaintext
//	34+n   16   AES-256-GCM tag
//
// The nonce column (Envelope.Nonce) is the 12-byte GCM nonce, random per version (no API
// takes a nonce). From the DEK, the nonce and the additional data
//
//	AAD = 0x01 (format) || 0x01 (suite) || record context
//
// HKDF-SHA256 (salt empty, info "d1seal content v1" || 0x00 || nonce || AAD) derives 64
// bytes: the AES-256-GCM key, then the 32-byte commitment. Opening recomputes the
// commitment and compares it (in constant time) before decrypting. Improvement over the
// design notes' "a key commitment": the commitment and the encryption key both come from one
// derivation that also binds the nonce and context, so a ciphertext opens under one data key
// only (several recipients share one ciphertext, and AES-GCM alone lets a key holder craft a
// ciphertext that opens under two keys), and a fresh per-version AES key means a DEK is never
// used directly as an AES key.
//
// # Wrapped key (records.encrypted_dek, shared_records.encrypted_dek)
//
//	offset size
//	0      1    format version 0x01
//	1      1    suite: 0x01 SuiteX25519, 0x02 SuiteXWing (the allow-list; anything else is ErrUnsupported)
//	2      16   recipient key id
//	18     e    HPKE encapsulated key: 32 bytes (X25519) or 1120 (X-Wing)
//	18+e   48   HPKE ciphertext of the 32-byte DEK (AES-256-GCM, 16-byte tag)
//
// 98 bytes for X25519, 1186 for X-Wing (WrappedKeySize); the length is checked exactly before
// decapsulating. HPKE runs in base mode with HKDF-SHA256 and AES-256-GCM, the AAD is bytes
// 0..17 above, and the info is
//
//	"d1seal wrap v1" || 0x00 || 0x01 || suite || recipient key id || uint16 len(recipient DID) || recipient DID || record context
//
// so a wrapped key moved to another record, version, recipient DID or key, or relabelled
// with another suite, does not open. The owner's grant goes in records.encrypted_dek (an
// owner grant, below, unless the owner has no owner key); each other recipient's in a
// shared_records row (recipient_did = Grant.RecipientDID). Grant.KeyID is also worth a
// key_id column (BLOB 16) so that rotation can find an old key's grants.
//
// # Owner keyring: owner grants (records.encrypted_dek)
//
// Sealing for the owner itself needs no public-key encryption: an agent has a 32-byte
// random owner key (a "branch key" in the AWS Database Encryption SDK's hierarchical
// keyring), kept in its key file and never published, and Seal wraps the owner's copy of
// the DEK under it. An owner grant costs one HMAC-SHA256 (an HKDF-Expand) and one AES-GCM
// encryption of 32 bytes (BenchmarkWrap: about 1 µs) instead of an X25519 key generation and
// Diffie-Hellman (about 80 µs) or an ML-KEM encapsulation. It has the layout of a wrapped key
// with its own suite byte:
//
//	offset size
//	0      1    format version 0x01
//	1      1    suite 0x10 SuiteOwner (not a public-key suite: ParseRecipientKey refuses it)
//	2      16   owner key id (Agent.OwnerKeyID)
//	18     12   nonce, random per grant
//	30     32   AES-256-GCM ciphertext of the DEK
//	62     16   AES-256-GCM tag
//
// 78 bytes (WrappedKeySize(SuiteOwner)), checked exactly. With PRK = HKDF-Extract(salt
// empty, owner key) (HKDF-SHA256),
//
//	owner key id = HKDF-Expand(PRK, "d1seal owner key id v1" || 0x00, 16)
//	AAD          = bytes 0..17 || uint16 len(owner DID) || owner DID || record context
//	grant key    = HKDF-Expand(PRK, "d1seal owner wrap v1" || 0x00 || nonce || AAD, 32)
//
// and the DEK is sealed with AES-256-GCM under the grant key, with the nonce and the AAD
// above. The owner DID is the unwrapping agent's own, so a grant moved to another record,
// version or owner, or relabelled with an HPKE suite (or an HPKE grant relabelled as an
// owner grant), does not open. The key id is an HKDF output under its own label: it names
// the key without revealing anything about it, and it is what WrappedKeyID, Grant.KeyID
// and so records.key_id hold for owner grants. Every label derived from the PRK ends in its
// only 0x00 byte, so no derivation can equal another.
//
// Why AES-256-GCM with a derived key rather than AES key wrap (RFC 3394): GCM is in the
// standard library (constant-time, already checked here against Wycheproof), takes the
// context as additional data directly and has a 128-bit tag, where AES-KW would be a
// hand-written primitive with a 64-bit integrity check that binds no context unless the
// key is derived per context anyway. Deriving a key per grant from a random nonce and the
// context, as the content key is derived, keeps the owner key itself from ever being an
// AES key and lifts GCM's limit of about 2^32 random nonces per key: a key and nonce
// could repeat only if a 96-bit random nonce repeats within one record version. The cost
// over AES-KW is 38 bytes per grant.
//
// An agent without an owner key (read from a version 1 key file) keeps writing HPKE grants
// for Agent.Recipient() and cannot derive index keys; NewEncryptionKeys or NewKeys gives the
// next agent one, and RewrapForOwner moves its grants over. NewEncryptionKeys keeps an
// existing owner key, since a routine rotation retires published keys and the owner key was
// never published: no owner grant or beacon has to change. NewKeys makes a new one: every
// owner grant must then be re-wrapped with RewrapForOwner (or re-keyed after a compromise)
// and every beacon recomputed.
//
// # Blind indexes (index keys and beacons)
//
// For equality search over sealed fields, Agent.IndexKey derives one key per owner,
// collection and field from the owner key,
//
//	index context = uint16 len(owner DID) || owner DID || uint16 len(collection) || collection
//	                || uint16 len(field) || field
//	index key     = HKDF-Expand(PRK, "d1seal index key v1" || 0x00 || index context, 32)
//
// and IndexKey.Beacon(value, bits) is the first bits/8 bytes of HMAC-SHA256(index key,
// value), bits a multiple of 8 from 8 to 256. The records package stores beacons beside
// the record and queries by them. An owner lets another agent search one index by wrapping
// its index key for it (IndexKey.Wrap, opened with Agent.UnwrapIndexKey): the layout of an
// HPKE wrapped key above, with the info
//
//	"d1seal index key wrap v1" || 0x00 || 0x01 || suite || recipient key id || uint16 len(recipient DID)
//	  || recipient DID || index context
//
// whose label keeps wrapped index keys and wrapped data keys from opening as each other.
//
// What beacons leak. The index key is a 256-bit secret, so without it the database cannot
// test guesses of a value (no dictionary attack), and beacons of different owners,
// collections or fields are under independent keys and cannot be linked. Within one index
// the beacon is a deterministic function of the value, so the database learns:
//
//   - equality: records with the same value always share a beacon, and records with
//     different values share one with probability 2^-bits, so the database sees a partition
//     of the records in which every class is a union of the true classes of equal values;
//   - frequencies: the size of each class, i.e. the histogram of values, which against a
//     known distribution (common tags, enumerations, names) identifies the frequent values
//     whatever the length;
//   - changes: an update that changes the value changes the beacon, one that keeps it keeps
//     it, and a re-index after NewKeys maps each old class onto its new beacon;
//   - queries: which beacon each Find asks for, when and how often, and which records it
//     returns (so a query is tied to its class and its frequency).
//
// Truncation is the only thing that blurs the partition: with D distinct values in an index,
// two given values share a beacon with probability 2^-bits, some pair shares one once D
// approaches 2^(bits/2), and beyond D ≈ 2^bits each beacon stands for about D/2^bits values.
// The price is false positives: a Find over N records returns about N·2^-bits records with
// other values, which the records package opens and discards. By length:
//
//	bits  beacons     two values collide  merging starts at  false positives per 10,000 records
//	8     256         1/256               D ≈ 16             39
//	16    65,536      1.5e-5              D ≈ 256            0.15
//	24    1.7e7       6.0e-8              D ≈ 4,096          6e-4
//	32    4.3e9       2.3e-10             D ≈ 65,536         2e-6
//	64+   1.8e19+     none in practice    never              none
//
// So from 32 bits on the database sees the exact equality pattern and histogram of every
// realistic index; 8 or 16 bits hide which of several values a record holds only when the
// field has many more distinct values than 2^bits, and never hide a value that dominates
// its bucket. Fields with few possible values (booleans, statuses, small enumerations)
// leak their whole histogram at every length: do not index them unless that is acceptable.
// Whoever holds an index key (the owner, and any agent it was shared with) can compute the
// beacon of any guess and find every record of the index holding it, including records not
// shared with that agent; share an index key only where that is acceptable. A shared index
// key cannot be taken back: it stops matching only when the owner replaces its owner key
// (NewKeys) and the records package recomputes every beacon, and its holder can still test
// guesses against any old beacons it kept.
//
// # Signature (new column records.signature)
//
//	offset size
//	0      1    format version 0x01
//	1      16   signer key id
//	17     64   Ed25519 signature
//
// The signed message is
//
//	"d1seal record signature v1" || 0x00 || 0x01 || signer key id || record context
//	  || SHA-256(uint32 len(ciphertext) || ciphertext || nonce)
//
// HPKE base mode does not authenticate the sender, and any recipient holds the DEK and so
// could write a different ciphertext; the owner's signature over a collision-resistant hash
// of the exact stored bytes is what proves who wrote them. Verify it with a key of the owner
// reached through the owner's verified key log, never with a key read from the same row, nor
// one taken on trust from the agents table (Agent.Open and DataKey.Open take it as an
// argument). SignatureKeyID tells which of the owner's keys to use.
//
// # Key log (KeyEntry)
//
// An agent's public keys change only through its key log: a chain of entries, each one the
// agent's complete KeySet from that entry on. The genesis entry (Seq 0, Prev zero) is
// self-signed; every later entry has Seq one more than the entry before, Prev = the Hash of
// the entry before, a Signature by the previous entry's Ed25519 key, which authorises the
// change, and a Proof by its own Ed25519 key, which proves that the publisher holds it. An
// entry is encoded (KeyEntry.Marshal; integers big-endian) as
//
//	offset  size
//	0       1      format version 0x01
//	1       1      change: 0x01 genesis, 0x02 rotate, 0x03 revoke
//	2       8      Seq (uint64)
//	10      32     Prev: Hash of entry Seq-1, or 32 zero bytes for the genesis
//	42      8      time: signed nanoseconds since the Unix epoch, UTC (int64); not trusted
//	50      2+d    uint16 d (1..2048) || DID
//	        33     X25519 key: 0x01 || 32 bytes (RecipientKey.Bytes)
//	        1|1217 X-Wing key: 0x00 for none, or 0x02 || 1216 bytes (RecipientKey.Bytes)
//	        33     Ed25519 key: 0x11 || 32 bytes (VerifyingKey.Bytes)
//	        2+16r  uint16 r (0..1024) || r revoked key ids, strictly ascending; r = 0 unless revoke
//	        81     Signature: 0x01 || signer key id (16) || Ed25519 signature (64)
//	        81     Proof, in the same layout
//
// Everything before Signature is the body, and the two signatures are over
//
//	"d1seal key log signature v1" || 0x00 || 0x01 || signer key id || body
//	"d1seal key log proof v1" || 0x00 || 0x01 || signer key id || body
//
// Hash = SHA-256("d1seal key log entry v1" || 0x00 || the whole encoding, signatures
// included). ParseKeyEntry refuses anything else: unknown version or change, wrong lengths,
// trailing bytes, keys that ParseRecipientKey or ParseVerifyingKey refuse, more than
// MaxRevokedKeys ids or MaxKeyEntrySize bytes.
//
// A rotation retires the previous keys: what they signed before stays valid (old record
// versions still verify), but writers must stop wrapping for them and signing with them.
// Retiring does not help against a thief of the old key, whose new forgeries still carry a
// valid signature: if a key may have leaked, revoke it. A revocation (KeyRevoke) declares
// the previous entry's keys, and any earlier key ids listed in Revoked, compromised: nothing
// they signed verifies any more, whenever it claims to have been signed (the time field and
// record versions are the signer's say-so, which a thief controls), and nothing may be
// wrapped for them. Records signed only by a revoked key must be re-signed by their owner
// with a current key to be readable again, and data keys wrapped for a revoked encryption
// key should be considered read (re-key those records). Each entry's Proof stops anyone from
// claiming another agent's signing key as theirs; encryption keys cannot sign, so an agent
// can list someone else's encryption key, which only lets that other key read what is
// shared with the agent.
//
// # Metadata and event signatures
//
// An agent signs its metadata (Agent.SignMetadata) and each event of its audit log
// (Agent.SignEvent, over a digest the records package computes from the event's fields and
// the hash of the agent's previous event, which chains the log). Both signatures have the
// layout above (0x01 || signer key id || Ed25519 signature, SignatureSize bytes) over
//
//	"d1seal agent metadata signature v1" || 0x00 || 0x01 || signer key id || uint16 len(did) || did
//	  || 0x00 (nil metadata) or 0x01 || SHA-256(metadata) (any other, empty included)
//	"d1seal event signature v1" || 0x00 || 0x01 || signer key id || uint16 len(did) || did || digest (32)
//
// Every label this package signs under ends in its only 0x00 byte, so none is a prefix of
// another and no signature verifies as another kind.
//
// # Columns to add by migration
//
//	records.version        INTEGER NOT NULL  RecordContext.Version
//	records.signature      BLOB NOT NULL     Envelope.Signature (81 bytes)
//	records.key_id         BLOB              Sealed.Owner.KeyID (16 bytes: Agent.OwnerKeyID for owner grants)
//	shared_records.key_id  BLOB              Grant.KeyID (16 bytes, optional)
//	agents.pq_public_key   BLOB              PostQuantumKey().Bytes() (1217 bytes, optional)
//
// The format version and suites live inside the BLOBs, so no column is needed for them.
// records.public (the seed's plaintext records) is outside this package.
//
// # Sharing, revocation, rotation
//
// Sharing (Agent.Rewrap) unwraps the sharer's grant (an owner grant or an HPKE grant) and
// wraps the same DEK for the new recipient with HPKE; content is untouched. Revocation is Agent.Rekey: a new version under a fresh
// DEK, re-encrypted, re-signed and wrapped for the owner and the remaining recipients; the
// revoked recipient's shared_records row is deleted in the same batch. (This is revoking a
// reader's access; revoking a compromised key is KeyRevoke, under Key log.) Revocation cannot undo
// anything already done: a revoked agent keeps what it read and may have kept the old DEK,
// which still opens the old ciphertext wherever that survives (backups, exports, D1 Time
// Travel, caches). It only protects versions written afterwards. Rotation (Agent.NewKeys,
// or Agent.NewEncryptionKeys to keep the signing key and the owner key; Agent.KeyRotation to
// publish the new keys in the key log; then Agent.Rewrap of each grant others made for the
// agent to its new key, and Agent.RewrapForOwner of each grant of its own records whose key
// id is not the next agent's OwnerKeyID) moves grants to a new key without touching
// content; it is enough when an old key is retired, but after a compromise the old key may
// already have unwrapped every DEK it had grants for, so revoke it (KeyRevoke) and re-key
// those records instead. Beacons depend on the owner key alone: after NewKeys they must be
// recomputed with the new agent's index keys, after NewEncryptionKeys they stay.
//
// # Key files
//
// WriteKeyFile stores an agent's private keys under a passphrase:
//
//	offset size
//	0      8    magic "d1sealK\n"
//	8      1    format version 0x02 (written; 0x01 is still read)
//	9      1    key derivation 0x01: argon2id (version 0x13)
//	10     4    passes (uint32)
//	14     4    memory in KiB (uint32)
//	18     1    lanes
//	19     16   salt, random per file
//	35     12   AES-GCM nonce, random per file
//	47     m+16 AES-256-GCM of the payload under argon2id(passphrase, salt), AAD = bytes 0..46
//
// and the payload is uint16 len(did) || did || X25519 private key (32) || Ed25519 seed (32)
// || 0x00, or 0x01 || X-Wing seed (32), then (version 2 only) 0x00, or 0x01 || owner key
// (32); nothing may follow, and in version 2 the X25519 key must be clamped (as crypto/hpke
// writes it), so each agent has one payload. A version 1 file has no owner key; WriteKeyFile always writes
// version 2 (an agent without an owner key is written with 0x00 there). The defaults are 3 passes over 64 MiB with 4 lanes;
// the whole header is additional data, so a changed parameter fails like a wrong passphrase.
// MarshalKeyFile and WriteKeyFile refuse settings below MinKeyFileTime (2) passes over
// MinKeyFileMemory (19 MiB), OWASP's minimum for argon2id; reading still accepts older,
// weaker files. Parameters above MaxKeyFileTime, MaxKeyFileMemory and MaxKeyFileThreads are
// refused before any work. Files are written to a temporary file with mode 0600, synced
// and renamed into place; on Unix, ReadKeyFile refuses a file its group or others may read
// or write (ErrKeyFilePermissions, whose message gives the chmod to run), like ssh.
//
// # Errors
//
// Every failure to open stored bytes matches ErrDecrypt; structural faults visible to anyone
// (lengths, version and suite bytes) also match ErrMalformed or ErrUnsupported and say what
// they saw, while cryptographic failures say nothing more. KeyEntry.Verify and the Verify*
// methods of VerifyingKey also match ErrDecrypt, with a detail when the fault is in public
// fields (a Seq or Prev that does not follow, another signer's key id). Wrong key kinds are
// ErrKeyType and rejected public keys ErrInvalidKey; a key file open to others is
// ErrKeyFilePermissions. No error, String or fmt verb ever shows a private key,
// a data key, an owner or index key, or plaintext: an Agent, its private keys, a DataKey and
// an IndexKey print only DIDs, key ids and record or index contexts, whatever the verb.
// Beacon refuses a bad length with an error that names the length, never the value.
//
// # Versions
//
// Every format starts with version 0x01, except key files, now at 0x02.
// testdata/golden_v1.json holds frozen version-1 rows (with HPKE owner grants) and a version
// 1 key file that every later release must still open; testdata/owner_v1.json frozen owner
// grants, records sealed with them, a version 2 key file, beacons and a wrapped index key
// (beacons are recomputed, so the derivation of index keys is frozen too); and
// testdata/keylog_v1.json a frozen key log (genesis, rotation, revocation) and metadata and
// event signatures that it must still verify.
package crypto
