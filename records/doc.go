// Package records keeps AI agents' records in D1 so that the database only ever holds
// ciphertext: typed collections of sealed records, sharing between agents, the agents
// registry and observability events, over the agent-records schema (package migrations).
//
// # Using it
//
//	store := records.NewStore(db, records.StoreOptions{})            // db is a *d1.Client
//	keys, _ := records.PublicKeys(agent)                              // agent is a *crypto.Agent
//	store.RegisterAgent(ctx, keys, nil)
//	notes, _ := records.NewCollection[Note](store, agent, "agent.memory.note", records.CollectionOptions[Note]{})
//	r, _ := notes.Create(ctx, Note{Text: "remember the milk"})       // sealed before it is sent
//	notes.Share(ctx, r.Ref.RKey, "did:plc:bob")
//	// as bob: bobNotes.Open(ctx, r.Ref)
//
// The Store applies the schema on first use (one read when it is current; StoreOptions.
// ManualSchema turns that off). Every operation acts as one agent: the Collection's.
//
// # Identifiers
//
// A record lives in an agent's repository, named by the agent's DID, in a collection named by
// an NSID, under a record key: did:plc:7iza6de2dwap2sbkpav7c6c6/com.example.note/3jzfcijpj2z2a.
// Ref holds those three parts and writes them in that id form (ParseID, Ref.ID), the records
// table's primary key as in the seed design, or as an AT-URI (ParseURI, Ref.URI). Record keys
// that d1seal issues are TIDs from package tid. Rows of the events table are named by EventIDs,
// ULIDs from an EventIDSource.
//
// The identifier types (DID, NSID, RecordKey, ATURI, Ref, EventID) are validated values
// following the AT Protocol specs (https://atproto.com/specs/did, /nsid, /record-key and
// /at-uri-scheme): their Parse functions and UnmarshalText methods accept exactly the spec's
// syntax and length limits, checked against the project's interop vectors, and return a
// *SyntaxError wrapping ErrSyntax otherwise. They never panic. Parsing keeps the text as
// given; NSID.Canonical and Ref.Canonical give the one spelling to use wherever a collection
// name feeds a cryptographic context, since an NSID's authority is case-insensitive:
// collections store and seal the canonical form.
//
// # What is stored where
//
// records (one row per record, its current version): id, did, collection, rkey in clear (they
// address the row); ciphertext, nonce, signature (crypto.Envelope: AES-256-GCM with a key
// commitment, bound to did/collection/rkey/version, signed by the owner); encrypted_dek and
// key_id (the data key wrapped for the owner's key, and that key's id); version; public;
// created_at and updated_at (in clear, and also sealed inside the record, so an altered
// column is caught); write_id (the token of the last write, also sealed).
// shared_records (one grant per recipient, always for the current version): record_id,
// recipient_did, encrypted_dek, version, key_id, shared_at. agents: the current public keys
// (X25519, Ed25519, optional X-Wing) and JSON metadata; agent_keys: every key an agent ever
// registered, with when it was retired. events: in clear, for queries (see Event).
//
// So the database sees, and can reveal: who owns records, in which collections, their keys,
// how many and how large, when they were written and changed, and with whom each is shared.
// It never sees a private record's content or its data key.
//
// # Writes: exactly once, never lost, never silently overwritten
//
// Every write is one atomic D1 request. A write whose response is lost (it may have committed)
// is not blindly sent again: its write id is looked up in record_writes, a log that triggers
// fill in the same transaction as every write of a records row (migration 0003, pruned after an
// hour), and the same request is resent only if it did not commit. The row's own write_id would
// not do: another writer may have changed the row since. So a create or update is never
// duplicated, lost, or reported as a conflict with itself. Reads, shares and deletes are
// idempotent and retried as they are.
//
// Update takes the version it read and refuses with ErrConflict if the record moved on, so
// concurrent updates never lose one another. An update re-wraps the new data key for every
// current recipient in the same request; its WHERE clause also checks that the set of
// recipients is the one it read, so that a share or unshare landing in between is never
// dropped (the update reads again and retries). A share is likewise bound to the version it
// wrapped.
//
// CreateMany writes 7 records per INSERT (D1 binds at most 100 parameters per statement; a
// row takes 13) and as many statements per request as the client's Limits allow, so that
// 10,000 records take 2 requests under the default limits.
//
// # Tamper evidence and its limits
//
// Reading a record verifies the owner's signature with the owner's registered key (from the
// agents registry, never from the row), decrypts under a context bound to the row's
// did/collection/rkey/version, and compares the sealed metadata with the row's columns. An
// altered column, a ciphertext or grant moved to another record or recipient, or a suite
// change fails with ErrTampered (wrapping crypto.ErrDecrypt where the cryptography caught
// it). A Store also remembers the highest version of each record it has seen and refuses an
// older one (ErrRollback), which catches a database replaying an old, validly signed row.
//
// What a hostile database can still do: withhold or delete rows (reads fail with ErrNotFound);
// serve an old version to a process that never saw a newer one (rollback protection lives in
// memory); and, because the agents registry is in the same database, substitute an agent's
// published keys for a process that has not pinned them. Pin the keys of agents you know out
// of band by registering them from your own configuration at start-up.
//
// # Revocation and rotation
//
// Unshare deletes the grant and, by default, re-keys the record in the same request (a new
// version under a new data key, wrapped for the remaining recipients). It cannot undo what the
// revoked agent already read or kept, nor old versions in backups, exports or D1 Time Travel.
// Store.RotateKeys replaces an agent's encryption keys and re-wraps its grants in bounded
// batches without touching content; after a key compromise, update the records instead.
package records
