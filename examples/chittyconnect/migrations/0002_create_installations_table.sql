-- Migration number: 0002 	 2025-10-21T00:00:00.000Z
-- installations: GitHub App installations. They relate to contexts through the GitHub
-- integration, not through a column, so there is no foreign key between the two.
CREATE TABLE installations (
  installation_id      INTEGER PRIMARY KEY,               -- GitHub's installation ID
  chitty_id            TEXT NOT NULL UNIQUE,              -- ChittyID of this installation
  account_id           INTEGER NOT NULL,                  -- GitHub account id
  account_login        TEXT NOT NULL,                     -- GitHub account login
  repository_selection TEXT NOT NULL DEFAULT 'all' CHECK (repository_selection IN ('all', 'selected')),
  permissions          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(permissions) AND json_type(permissions) = 'object'), -- JSON configuration
  events               TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(events) AND json_type(events) = 'array'),               -- JSON configuration
  created_at           TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at           TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  uninstalled_at       TEXT                               -- NULL while the installation is active
);

CREATE INDEX idx_installations_account ON installations (account_id);          -- account lookups
CREATE INDEX idx_installations_uninstalled ON installations (uninstalled_at);  -- active installations
CREATE INDEX idx_installations_created ON installations (created_at);          -- pagination
