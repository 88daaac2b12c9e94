// Package records keeps AI agents' records in D1 so that the database only ever holds
// ciphertext: typed collections of sealed records, sharing between agents, the agents
// registry and observability events, over the agent-records schema (Schema).
//
// # Using it
//
//	store, _ := records.OpenStore(db, ".d1seal", records.StoreOptions{}) // db is a *d1.Client
//	store.RegisterAgent(ctx, agent, nil)                              // agent is a *crypto.Agent
//	store.Pin(bobKeys)                                                // bob's public keys, from your configuration
//	notes, _ := records.NewCollection[Note](store, agent, "agent.memory.note", records.CollectionOptions[Note]{})
//	r, _ := notes.Create(ctx, Note{Text: "remember the milk"})       // sealed before it is sent
//	notes.Share(ctx, r.Ref.RKey, "did:plc:bob")
//	// as bob: bobNotes.Open(ctx, r.Ref)
//
// OpenStore keeps what the Store trusts (agents' keys) and has seen (record versions and
// deletions) in files of a folder, so that a change in the database is caught across
// restarts too; NewStore keeps them in memory unless given StoreOptions.Trust and State. The
// Store applies the schema on first use (one read when it is current; StoreOptions.
// ManualSchema turns that off). Every operation acts as one agent: the Collection's.
//
// # Identifiers
//
// A record lives in an agent's repository, named by the agent's DID, in a collection named by
// an NSID, under a record key: did:plc:7iza6de2dwap2sbkpav7c6c6/com.example.note/3jzfcijpj2z2a.
// Ref holds those three parts and writes them in that id form (Ref.ID), the records table's
// primary key, or as an AT-URI (Ref.URI). Record keys that d1seal issues are TIDs from package
// tid. Rows of the events table are named by EventIDs, ULIDs from an EventIDSource.
//
// DID, NSID, RecordKey and Ref are aliases of the types in package syntax, which parses and
// validates them against the AT Protocol specs (syntax.ParseDID, syntax.ParseID,
// syntax.ParseURI, ...; errors wrap syntax.ErrSyntax). They are aliases, not moved out of this
// package's API, because nearly every call here takes or returns them: records.Ref reads
// better beside records.Collection than a second import would. Collections store and seal
// the canonical form of their NSID (syntax.NSID.Canonical), since an NSID's authority is
// case-insensitive. ParseEventID validates event IDs, with the same error type
// (*syntax.SyntaxError, kind "event ID").
//
// # What is stored where
//
// records (one row per record, its current version): id, did, collection, rkey in clear (they
// address the row); ciphertext, nonce, signature (crypto.Envelope: AES-256-GCM with a key
// commitment, bound to did/collection/rkey/version, signed by the owner); encrypted_dek and
// key_id (the data key wrapped for the owner's key, and that key's id); version; public;
// created_at and updated_at (in clear, and also sealed inside the record, so an altered
// column is caught); write_id (the token of the last write, also sealed). Sealed with the
// value: the version's access list, the agents other than the owner its data key is wrapped
// for (see Record.SharedWith).
// shared_records (one grant per recipient, always for the current version): record_id,
// recipient_did, encrypted_dek, version, key_id, shared_at. agents: the current public keys
// (X25519, Ed25519, optional X-Wing), JSON metadata and the agent's signature of it;
// agent_key_log: each agent's signed key history (crypto.KeyEntry); agent_keys: every key an
// agent ever registered, with when it was retired (kept for queries; never believed). events:
// in clear, for queries, each signed by its agent and chained (see Event). record_tombstones:
// the last version of each deleted record; record_writes: the write log.
//
// So the database sees, and can reveal: who owns records, in which collections, their keys,
// how many and how large, when they were written and changed, and with whom each is shared
// (the grant rows). It never sees a private record's content or its data key.
//
// # Trust: what the database is not believed about
//
// The database is not a source of truth for who may read a record, who wrote it, or which
// keys an agent has. A Store believes only what it can verify from its TrustStore:
//
//   - Keys. Each agent's keys form a signed log in agent_key_log: the first entry is signed by
//     the agent's own keys, each rotation by the previous signing key (crypto.KeyEntry). A
//     Store uses only keys reached through valid signatures from what its TrustStore holds:
//     keys pinned from the service's configuration (Store.Pin, StoreOptions.RequirePinned),
//     or, for agents not pinned, the log as first seen (trust on first use), kept in the
//     TrustStore so that a later change is caught across restarts (OpenStore). A log that
//     does not verify, a fork of a log already trusted, or keys that differ from a pin are
//     ErrUntrusted, naming the agent; the agents row is never read for keys. A key rotated
//     out routinely is retired (what it signed before still verifies); one revoked as
//     compromised (RotateOptions.Compromised) verifies nothing any more. Once an agent has a
//     post-quantum key, a rotation that drops it is refused, and grants for it are X-Wing.
//   - Readers. The owner's signature covers each version's access list (sealed with the
//     value). Readers check they are on it; Update, Share, Unshare and rotation derive the
//     next version's recipients only from the verified list of the version they read. Grant
//     rows outside the list are ignored, reported to StoreOptions.Logger, and deleted by the
//     next write.
//   - Visibility. Only CreatePublic and PutPublic write in clear; Put and Update never change
//     a record's visibility (ErrVisibility).
//   - Versions and deletions. A Store remembers the highest version of each record it read or
//     wrote, and the records it deleted (StoreOptions.State keeps them across restarts), and
//     refuses an older version or a deleted record served again (ErrRollback). Share opens and
//     verifies the current version (rollback included) before re-wrapping it.
//   - Events and metadata. Each event is signed by its agent and carries the digest of that
//     agent's previous event, so Store.VerifyEvents catches an edited, reordered, inserted or
//     deleted event, and a shortened log when this client saw it longer; Events checks each
//     event's signature. An agent's metadata is signed by the agent.
//
// What a hostile database (anyone with a D1 API token) can still do: withhold or delete rows
// (reads fail with ErrNotFound, a deleted last event goes unnoticed by a client that never saw
// it); serve an old version, or an agent's old key log, to a client that never saw the newer
// one (rollback protection and trust live in each client's stores, so a new client with empty
// stores trusts what it is first shown, unless its configuration pins the keys); withhold a
// rotation from a client (it keeps the keys it trusts); see all the metadata above. It cannot
// read a private record, make a client accept a record, event or metadata that the agent did
// not sign with a key the client trusts, add a reader to a record, or make an owner write a
// private value in clear.
//
// # Writes: exactly once, never lost, never silently overwritten
//
// Every write is one atomic D1 request. A write whose response is lost (it may have committed)
// is not blindly sent again: its write id is looked up in record_writes, a log that triggers
// fill in the same transaction as every write of a records row (migration 0003, pruned after an
// hour), and the same request is resent only if it did not commit. The row's own write_id would
// not do: another writer may have changed the row since. So a create or update is never
// duplicated, lost, or reported as a conflict with itself. A create's insert does nothing when
// its write id is already logged, so a late copy of it cannot bring back a record deleted
// since. Reads and deletes are idempotent and retried as they are.
//
// Update takes the version it read and refuses with ErrConflict if the record moved on, so
// concurrent updates never lose one another. An update re-wraps the new data key for every
// agent on the access list in the same request. Share and Unshare write a new version too (a
// new data key, the new access list), read again and retried if the record moved on.
//
// CreateMany writes 7 records per INSERT (D1 binds at most 100 parameters per statement; a
// row takes 13) and as many statements per request as the client's Limits allow, so that
// 10,000 records take 2 requests under the default limits. It signs each group of 16 records
// once (crypto.Agent.SealBatch: one Ed25519 signature over a Merkle tree of them, each row
// holding its path), which halves the client's CPU per record for 132 more bytes per row;
// every record still verifies alone, and the first write to it after that (an update, a
// share) signs it on its own again.
//
// # Tamper evidence
//
// Reading a record verifies the owner's signature with a key of the owner's verified key log
// (never one read from the row or the registry), decrypts under a context bound to the row's
// did/collection/rkey/version, and compares the sealed metadata with the row's columns. An
// altered column, a ciphertext or grant moved to another record or recipient, or a suite
// change fails with ErrTampered (wrapping crypto.ErrDecrypt where the cryptography caught
// it).
//
// # Upgrading a database written before the key log
//
// Migration 0004 adds the key log empty. Each agent registers again (RegisterAgent is
// idempotent and writes the missing first entry); until it does, its records and events do
// not verify (ErrUnknownAgent). Records written before carry no access list: they read as
// before, and their next version is shared only with the agents it is explicitly shared with
// again (grant rows are never believed). Events written before are unsigned and fail Events
// and VerifyEvents with ErrTampered: export them first if you need them.
//
// # Revocation and rotation
//
// Unshare writes a new version under a new data key, wrapped for the remaining recipients
// only, and deletes the revoked grant in the same request. It cannot undo what the revoked
// agent already read or kept, nor old versions in backups, exports or D1 Time Travel.
// Store.RotateKeys appends a signed entry to the agent's key log and re-wraps its grants in
// bounded batches without touching content; after a key compromise, RotateOptions.Compromised
// revokes the old keys and seals every record of the agent again under new data keys.
package records
