-- Migration number: 0006 	 2026-11-30T04:00:00.000Z
-- Search over sealed records (records.Collection.Find): blind indexes. A beacon is a truncated
-- HMAC of one value of one field, under a key derived from the owner's keys for that
-- collection and field; the database learns which records share a value, never the value.

CREATE TABLE record_beacons (
  record_id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
  field_tag BLOB NOT NULL,                 -- 16 bytes naming (owner, collection, field), not the field
  beacon BLOB NOT NULL,                    -- truncated HMAC-SHA256 of one value of the field
  PRIMARY KEY (record_id, field_tag, beacon)
);
CREATE INDEX idx_record_beacons ON record_beacons(field_tag, beacon);

-- An owner's index key for one field, wrapped for an agent it chose to let search what the
-- owner shared with it (Collection.ShareIndex).
CREATE TABLE index_keys (
  owner_did TEXT NOT NULL,
  collection TEXT NOT NULL,
  field_tag BLOB NOT NULL,
  recipient_did TEXT NOT NULL,
  wrapped_key BLOB NOT NULL,
  shared_at TEXT NOT NULL,
  PRIMARY KEY (owner_did, collection, field_tag, recipient_did)
);
