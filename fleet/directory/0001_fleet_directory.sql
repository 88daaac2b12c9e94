-- The directory of a d1seal fleet (package fleet): its databases, the signed route of each
-- tenant, migrate-all status, moves in progress and the index of shares across databases.
CREATE TABLE fleet_databases (
  id TEXT PRIMARY KEY,                 -- D1 database uuid
  name TEXT NOT NULL UNIQUE,
  seq INTEGER NOT NULL UNIQUE,         -- 1, 2, 3, ... in order of creation; fills the name pattern
  location_hint TEXT,
  jurisdiction TEXT,
  tenants INTEGER NOT NULL DEFAULT 0,  -- tenants routed to it
  bytes INTEGER NOT NULL DEFAULT 0,    -- size when last measured
  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'closed')),
  created_at TEXT NOT NULL
);

CREATE TABLE fleet_tenants (
  tenant TEXT PRIMARY KEY,             -- for records, the owning agent's DID
  database_id TEXT NOT NULL REFERENCES fleet_databases(id),
  epoch INTEGER NOT NULL,              -- grows by one with every move
  signature BLOB NOT NULL,             -- crypto.Agent.SignDirectoryEntry by the operator
  updated_at TEXT NOT NULL
);
CREATE INDEX idx_fleet_tenants_database ON fleet_tenants(database_id);

CREATE TABLE fleet_migrations (
  database_id TEXT NOT NULL,
  set_digest TEXT NOT NULL,            -- which migration set (names and checksums)
  state TEXT NOT NULL,                 -- applied, failed, drifted
  applied TEXT,                        -- JSON array of the names this run applied
  error TEXT,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (database_id, set_digest)
);

CREATE TABLE fleet_moves (
  tenant TEXT PRIMARY KEY,
  from_db TEXT NOT NULL,
  to_db TEXT NOT NULL,
  step TEXT NOT NULL,                  -- the next step to run: copy, fence, sync, verify, switch, delete
  started_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE fleet_shares (
  recipient TEXT NOT NULL,
  collection TEXT NOT NULL,
  database_id TEXT NOT NULL,
  record_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  shared_at TEXT NOT NULL,
  PRIMARY KEY (recipient, collection, database_id, record_id)
);
CREATE INDEX idx_fleet_shares_owner ON fleet_shares(owner);
