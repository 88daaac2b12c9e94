-- Migration number: 0001 	 2025-10-21T00:00:00.000Z
-- contexts: context records with ChittyID tracking (ChittyConnect schema documentation).
-- owner_chitty_id references actors, created by 0003: SQLite checks a foreign key when rows
-- are written, not when the table is created, so the order of the files is the documented one.
CREATE TABLE contexts (
  chitty_id       TEXT PRIMARY KEY,                       -- ChittyID from id.chitty.cc
  name            TEXT NOT NULL UNIQUE,                   -- human-readable context name
  owner_chitty_id TEXT NOT NULL REFERENCES actors (chitty_id), -- context owner
  data            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(data) AND json_type(data) = 'array'),          -- JSON array
  systems         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(systems) AND json_type(systems) = 'array'),    -- JSON array
  tools           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tools) AND json_type(tools) = 'array'),        -- JSON array
  chitty_dna_id   TEXT,                                   -- DNA tracking reference
  status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'deleted')), -- soft delete
  created_at      TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at      TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_contexts_owner ON contexts (owner_chitty_id);   -- foreign key (owner lookups)
CREATE INDEX idx_contexts_status ON contexts (status);           -- active records
CREATE INDEX idx_contexts_created ON contexts (created_at);      -- pagination
