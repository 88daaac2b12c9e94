-- Migration number: 0004 	 2026-11-30T03:30:00.000Z
-- What the trust work adds: the database is no longer believed about who may read a record or
-- which keys an agent has. Every column is described in the records package documentation.

-- agent_key_log: each agent's signed key history (crypto.KeyEntry). Entry 0 is self-signed;
-- each later entry is signed by the previous signing key. Clients accept only keys reached
-- through valid signatures from a head they already trust (pinned or learned on first use).
CREATE TABLE agent_key_log (
  did TEXT NOT NULL,
  seq INTEGER NOT NULL,
  entry BLOB NOT NULL,                     -- crypto.KeyEntry.Marshal
  created_at TEXT NOT NULL,
  PRIMARY KEY (did, seq)
);

-- agents.metadata is signed by the agent (crypto.Agent.SignMetadata).
ALTER TABLE agents ADD COLUMN metadata_sig BLOB;

-- events: each event is signed by its agent and carries the hash of the agent's previous
-- event, so that an edited, reordered or deleted event is caught when the log is read.
ALTER TABLE events ADD COLUMN seq INTEGER;        -- 0, 1, 2, ... per agent
ALTER TABLE events ADD COLUMN prev_hash BLOB;     -- digest of the agent's event seq-1 (32 bytes; zeros for seq 0)
ALTER TABLE events ADD COLUMN signature BLOB;     -- crypto.Agent.SignEvent over the event's digest
CREATE UNIQUE INDEX idx_events_chain ON events(agent_did, seq);

-- Deleted records: the last version of each deleted record, so that re-creating it continues
-- its version numbers (readers that saw the old versions would otherwise take version 1 for a
-- replay). Advisory: a client's own state store is what refuses a resurrected row.
CREATE TABLE record_tombstones (
  id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  deleted_at TEXT NOT NULL
);
