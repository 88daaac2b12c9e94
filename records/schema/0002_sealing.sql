-- Migration number: 0002 	 2026-11-22T23:00:00.000Z
-- What sealing adds to the seed's schema (0001). Every column is described in the records
-- package documentation; nothing here holds plaintext of a private record.

-- records: one row per record, its current version sealed.
ALTER TABLE records ADD COLUMN version INTEGER NOT NULL DEFAULT 1; -- grows with every write; bound into the AAD and signature
ALTER TABLE records ADD COLUMN signature BLOB;                     -- owner's Ed25519 signature (crypto.Envelope.Signature)
ALTER TABLE records ADD COLUMN key_id BLOB;                        -- owner key the encrypted_dek is wrapped for (16 bytes)
ALTER TABLE records ADD COLUMN write_id TEXT;                      -- token of the last write, to recognise a retried write
CREATE INDEX idx_records_key ON records(key_id);
CREATE INDEX idx_records_write ON records(write_id);

-- shared_records: one grant per recipient, always for the record's current version.
ALTER TABLE shared_records ADD COLUMN version INTEGER NOT NULL DEFAULT 1; -- record version the grant opens
ALTER TABLE shared_records ADD COLUMN key_id BLOB;                        -- recipient key the grant is wrapped for
CREATE INDEX idx_shared_key ON shared_records(key_id);

-- agents: public_key and signing_key hold the current keys (crypto's tagged encodings);
-- pq_key the optional X-Wing key. Every key an agent ever registered stays in agent_keys, so
-- that signatures made before a rotation still verify and grants can be found by key.
ALTER TABLE agents ADD COLUMN pq_key BLOB;
CREATE TABLE agent_keys (
  key_id BLOB PRIMARY KEY,                 -- 16-byte key id (crypto.KeyID)
  did TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('x25519', 'xwing', 'ed25519')),
  public_key BLOB NOT NULL,
  created_at TEXT NOT NULL,
  retired_at TEXT,                         -- set when rotated out: no new grants for it
  FOREIGN KEY (did) REFERENCES agents(did)
);
CREATE INDEX idx_agent_keys_did ON agent_keys(did);
