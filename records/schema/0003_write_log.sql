-- Migration number: 0003 	 2026-11-22T23:55:00.000Z
-- The log of recent writes. Every write of a records row (a create, an update, a re-key) sets
-- the row's write_id to a fresh token; these triggers log that token in the same transaction.
-- After a lost response a client asks this log whether its write committed: the row itself
-- cannot answer once another writer has changed it since. Entries older than an hour, by D1's
-- clock, are pruned as new ones arrive.
CREATE TABLE record_writes (
  write_id TEXT PRIMARY KEY,
  record_id TEXT NOT NULL,
  written_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_record_writes_at ON record_writes(written_at);

CREATE TRIGGER records_log_insert AFTER INSERT ON records WHEN NEW.write_id IS NOT NULL
BEGIN
  DELETE FROM record_writes WHERE written_at < datetime('now', '-1 hour');
  INSERT OR IGNORE INTO record_writes (write_id, record_id) VALUES (NEW.write_id, NEW.id);
END;

CREATE TRIGGER records_log_update AFTER UPDATE OF write_id ON records
WHEN NEW.write_id IS NOT NULL AND NEW.write_id IS NOT OLD.write_id
BEGIN
  DELETE FROM record_writes WHERE written_at < datetime('now', '-1 hour');
  INSERT OR IGNORE INTO record_writes (write_id, record_id) VALUES (NEW.write_id, NEW.id);
END;
