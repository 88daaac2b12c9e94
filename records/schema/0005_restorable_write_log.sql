-- Migration number: 0005 	 2026-11-30T04:00:00.000Z
-- Backups restore. A data-only dump (d1seal export -no-schema, wrangler d1 export --no-schema)
-- replayed into a database that already has this schema inserts each records row, whose
-- trigger logs its write id in record_writes, and then the dump's own record_writes rows,
-- which failed with "UNIQUE constraint failed: record_writes.write_id". The write log's key
-- now resolves such a conflict by keeping the later row (ON CONFLICT REPLACE): both rows say
-- the same thing (this write id committed for this record). The triggers still insert with
-- OR IGNORE, so a write's first logged time is kept. Recreated here because SQLite cannot
-- change a column's conflict clause in place; the triggers are dropped and made again around
-- it, unchanged. (Copied through a scratch table rather than renamed: D1 refuses ALTER TABLE
-- ... RENAME here, with "access to temp.sqlite_temp_master.sql is prohibited".)
DROP TRIGGER IF EXISTS records_log_insert;
DROP TRIGGER IF EXISTS records_log_update;

CREATE TABLE record_writes_0005 AS SELECT write_id, record_id, written_at FROM record_writes;
DROP TABLE record_writes;
CREATE TABLE record_writes (
  write_id TEXT PRIMARY KEY ON CONFLICT REPLACE,
  record_id TEXT NOT NULL,
  written_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO record_writes (write_id, record_id, written_at)
  SELECT write_id, record_id, written_at FROM record_writes_0005;
DROP TABLE record_writes_0005;
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
