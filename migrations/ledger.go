package migrations

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/d1seal/d1seal/d1"
)

// DefaultTable is the ledger table wrangler uses when a binding sets no migrations_table.
const DefaultTable = "d1_migrations"

// ChecksumTable is the table where Apply records the checksum of each applied migration, keyed
// by ledger table and file name. It sits beside wrangler's ledger, which is never altered.
const ChecksumTable = "d1seal_migration_checksums"

// createLedgerSQL is wrangler's DDL for the ledger, byte for byte (wrangler 4.164,
// getCreateMigrationsTableQuery), so that the schema D1 stores is the one wrangler would store.
func createLedgerSQL(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + quoteIdent(table) + `(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);`
}

const createChecksumsSQL = `CREATE TABLE IF NOT EXISTS ` + ChecksumTable + ` (
	ledger      TEXT NOT NULL,
	name        TEXT NOT NULL,
	sha256      TEXT NOT NULL,
	recorded_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
	PRIMARY KEY (ledger, name)
)`

// claimSQL is wrangler's ledger INSERT, byte for byte (buildMigrationQuery).
func claimSQL(table, name string) string {
	return `INSERT INTO ` + quoteIdent(table) + ` (name)
values ('` + strings.ReplaceAll(name, "'", "''") + `');`
}

// recordChecksumSQL stores (or replaces) a migration's checksum; args: ledger, name, sha256.
const recordChecksumSQL = `INSERT OR REPLACE INTO ` + ChecksumTable + ` (ledger, name, sha256) VALUES (?, ?, ?)`

// recordMissingChecksumSQL stores a checksum only if none is recorded; args: ledger, name, sha256.
const recordMissingChecksumSQL = `INSERT OR IGNORE INTO ` + ChecksumTable + ` (ledger, name, sha256) VALUES (?, ?, ?)`

func readLedgerSQL(table string) string {
	return `SELECT m.id, m.name, m.applied_at, c.sha256 FROM ` + quoteIdent(table) + ` AS m
	LEFT JOIN ` + ChecksumTable + ` AS c ON c.ledger = ? AND c.name = m.name
	ORDER BY m.id`
}

func readLedgerOnlySQL(table string) string {
	return `SELECT id, name, applied_at, NULL AS sha256 FROM ` + quoteIdent(table) + ` ORDER BY id`
}

func quoteIdent(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

func checkTable(table string) error {
	if !tableName.MatchString(table) || strings.HasPrefix(strings.ToLower(table), "_cf_") ||
		strings.HasPrefix(strings.ToLower(table), "sqlite_") || table == ChecksumTable {
		return fmt.Errorf("migrations: ledger table name %q: use letters, digits and '_' (not _cf_*, sqlite_* or %s)", table, ChecksumTable)
	}
	return nil
}

// row is one ledger row joined with its recorded checksum.
type row struct {
	ID        int64
	Name      string
	AppliedAt time.Time
	Checksum  string // "" when none is recorded
}

// ledger is what the database says has been applied.
type ledger struct {
	exists    bool // the ledger table exists
	checksums bool // the checksum table exists
	rows      []row
	byName    map[string]row
}

// readLedger reads the ledger and the checksums in one read request when both tables exist.
// When the checksum table is missing it reads the ledger alone (a second request); when the
// ledger is missing it reports an empty one.
func readLedger(ctx context.Context, c *d1.Client, table string) (*ledger, error) {
	res, err := c.Query(ctx, readLedgerSQL(table), table)
	l := &ledger{exists: true, checksums: true}
	if err != nil && d1.IsNoSuchTable(err) && missingTable(err, ChecksumTable) {
		l.checksums = false
		res, err = c.Query(ctx, readLedgerOnlySQL(table))
	}
	if err != nil && d1.IsNoSuchTable(err) && missingTable(err, table) {
		return &ledger{byName: map[string]row{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrations: read ledger %s: %w", table, err)
	}
	return l, l.fill(res)
}

// ensureAndReadLedger creates the ledger (wrangler's DDL) and the checksum table if missing,
// and reads them, in one request.
func ensureAndReadLedger(ctx context.Context, c *d1.Client, table string) (*ledger, error) {
	rs, err := c.Batch(ctx,
		d1.Statement{SQL: createLedgerSQL(table), Idempotent: true},
		d1.Statement{SQL: createChecksumsSQL, Idempotent: true},
		d1.Statement{SQL: readLedgerSQL(table), Args: []any{table}},
	)
	if err != nil {
		return nil, fmt.Errorf("migrations: create ledger %s: %w", table, err)
	}
	l := &ledger{exists: true, checksums: true}
	return l, l.fill(rs[2])
}

func (l *ledger) fill(res *d1.Result) error {
	l.byName = make(map[string]row, res.Len())
	for _, r := range res.All() {
		var (
			id                 int64
			name, at, checksum *string
		)
		if err := r.Scan(&id, &name, &at, &checksum); err != nil {
			return fmt.Errorf("migrations: read ledger: %w", err)
		}
		if name == nil {
			continue // wrangler's name column allows NULL; such a row names no migration
		}
		w := row{ID: id, Name: *name}
		if at != nil {
			w.AppliedAt = parseTimestamp(*at)
		}
		if checksum != nil {
			w.Checksum = *checksum
		}
		l.rows = append(l.rows, w)
		l.byName[w.Name] = w
	}
	return nil
}

// parseTimestamp reads SQLite's CURRENT_TIMESTAMP ("2006-01-02 15:04:05", UTC) and the
// RFC 3339 forms other tools may have written; it returns the zero time for anything else.
func parseTimestamp(s string) time.Time {
	for _, layout := range []string{time.DateTime, time.RFC3339Nano, "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t
		}
	}
	return time.Time{}
}

// missingTable reports whether a "no such table" error names table.
func missingTable(err error, table string) bool {
	var e *d1.Error
	if !errors.As(err, &e) {
		return false
	}
	msg := strings.ToLower(e.Message)
	t := strings.ToLower(table)
	return strings.Contains(msg, "no such table: "+t) || strings.Contains(msg, "no such table: main."+t)
}

// isClaimConflict reports whether err is the ledger's UNIQUE(name) refusing a second row for
// the same migration: another runner (or an earlier attempt whose response was lost) applied it.
func isClaimConflict(err error, table string) bool {
	var e *d1.Error
	if !d1.IsUniqueViolation(err) || !errors.As(err, &e) {
		return false
	}
	return strings.Contains(strings.ToLower(e.Message), strings.ToLower(table)+".name")
}
