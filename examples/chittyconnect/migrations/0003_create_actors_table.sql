-- Migration number: 0003 	 2025-10-21T00:00:00.000Z
-- actors: registry of every actor (humans, AI agents, services, the system itself).
CREATE TABLE actors (
  chitty_id    TEXT PRIMARY KEY,                                -- ChittyID from ChittyAuth
  actor_type   TEXT NOT NULL CHECK (actor_type IN ('human', 'ai', 'service', 'system')),
  capabilities TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(capabilities) AND json_type(capabilities) = 'array'), -- JSON array of permissions
  status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deleted')), -- soft delete
  created_at   TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at   TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_actors_type ON actors (actor_type);
CREATE INDEX idx_actors_status ON actors (status);          -- active records
CREATE INDEX idx_actors_created ON actors (created_at);     -- pagination
