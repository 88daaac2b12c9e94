-- Migration number: 0004 	 2025-10-21T00:00:00.000Z
-- connections: active connections between contexts (or actors) and services.
--
-- source_chitty_id is documented as a foreign key to "context or actor". One SQL foreign key
-- cannot point at two tables, so the key is enforced by triggers instead: a connection must
-- name an existing context or actor, and neither can be deleted while a connection names it
-- (soft delete, status = 'deleted', is the documented way to retire them).
CREATE TABLE connections (
  connection_id      TEXT PRIMARY KEY,                    -- UUID
  source_chitty_id   TEXT NOT NULL,                       -- the context or actor connected
  target_service     TEXT NOT NULL,                       -- service name
  credentials_kv_key TEXT,                                -- key into the API_KEYS KV store: never a credential
  status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'failed', 'disconnected')),
  created_at         TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at         TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_connections_source ON connections (source_chitty_id);   -- foreign key (source lookups)
CREATE INDEX idx_connections_target ON connections (target_service);
CREATE INDEX idx_connections_status ON connections (status);             -- active records
CREATE INDEX idx_connections_created ON connections (created_at);        -- pagination

CREATE TRIGGER connections_source_insert BEFORE INSERT ON connections
WHEN NOT EXISTS (SELECT 1 FROM contexts WHERE chitty_id = NEW.source_chitty_id)
 AND NOT EXISTS (SELECT 1 FROM actors WHERE chitty_id = NEW.source_chitty_id)
BEGIN
  SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: connections.source_chitty_id names no context or actor');
END;

CREATE TRIGGER connections_source_update BEFORE UPDATE OF source_chitty_id ON connections
WHEN NOT EXISTS (SELECT 1 FROM contexts WHERE chitty_id = NEW.source_chitty_id)
 AND NOT EXISTS (SELECT 1 FROM actors WHERE chitty_id = NEW.source_chitty_id)
BEGIN
  SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: connections.source_chitty_id names no context or actor');
END;

CREATE TRIGGER contexts_delete_connected BEFORE DELETE ON contexts
WHEN EXISTS (SELECT 1 FROM connections WHERE source_chitty_id = OLD.chitty_id)
BEGIN
  SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: a connection names this context');
END;

CREATE TRIGGER actors_delete_connected BEFORE DELETE ON actors
WHEN EXISTS (SELECT 1 FROM connections WHERE source_chitty_id = OLD.chitty_id)
BEGIN
  SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: a connection names this actor');
END;
