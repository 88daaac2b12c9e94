package d1sql_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1sql"
)

// open returns a *sql.DB on a fresh in-memory local D1, and the d1 client under it.
func open(t *testing.T, opts d1sql.Options) (*sql.DB, *d1.Client) {
	t.Helper()
	local, err := d1seal.OpenLocal(context.Background(), d1seal.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { local.Close() })
	db := sql.OpenDB(d1sql.NewConnector(local.Client, opts))
	t.Cleanup(func() { db.Close() })
	return db, local.Client
}

func TestValues(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t, d1sql.Options{ParseTime: true})
	_, err := db.ExecContext(ctx, `CREATE TABLE v (i INTEGER, r REAL, s TEXT, b BLOB, t TEXT, n TEXT);
		INSERT INTO v VALUES (9007199254740991, 2.5, 'x''CAFE''', X'CAFE', '2026-11-30 04:05:06', NULL)`)
	require.NoError(t, err)

	var (
		i  int64
		r  float64
		s  string
		b  []byte
		tm time.Time
		n  sql.NullString
	)
	require.NoError(t, db.QueryRowContext(ctx, "SELECT i, r, s, b, t, n FROM v").Scan(&i, &r, &s, &b, &tm, &n))
	assert.Equal(t, int64(9007199254740991), i, "2^53-1 decodes exactly, never through a float64")
	assert.Equal(t, 2.5, r)
	assert.Equal(t, "x'CAFE'", s, "text that looks like a BLOB stays text")
	assert.Equal(t, []byte{0xca, 0xfe}, b)
	assert.Equal(t, time.Date(2026, 11, 30, 4, 5, 6, 0, time.UTC), tm, "SQLite's date-time text as time.Time with ParseTime")
	assert.False(t, n.Valid, "NULL")

	// Arguments round trip through the client's encoding.
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	_, err = db.ExecContext(ctx, "INSERT INTO v (i, r, s, b, t) VALUES (?, ?, ?, ?, ?)", int64(1<<53-1), 0.25, "hé", []byte{0, 1}, at)
	require.NoError(t, err)
	var gotT time.Time
	var gotB []byte
	var ok bool
	require.NoError(t, db.QueryRowContext(ctx, "SELECT t, b, i = ? FROM v WHERE s = ?", int64(1<<53-1), "hé").Scan(&gotT, &gotB, &ok))
	assert.True(t, at.Equal(gotT), "got %v want %v", gotT, at)
	assert.Equal(t, []byte{0, 1}, gotB)
	assert.True(t, ok)

	// Past 2^53 D1 itself answers with a JavaScript double (the local D1 does as D1 does):
	// the client decodes exactly what D1 sent, which is already rounded. Keep such values as
	// TEXT.
	var big int64
	var bigText string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 9007199254740993, CAST(9007199254740993 AS TEXT)").Scan(&big, &bigText))
	assert.Equal(t, int64(9007199254740992), big, "D1 rounds 2^53+1 before it leaves D1")
	assert.Equal(t, "9007199254740993", bigText)

	// What D1 cannot carry is refused before sending, never rounded.
	_, err = db.ExecContext(ctx, "INSERT INTO v (i) VALUES (?)", int64(1<<53+1))
	require.Error(t, err)
	var argErr *d1.ArgError
	assert.ErrorAs(t, err, &argErr)

	// Named arguments are refused: D1 binds by position.
	_, err = db.ExecContext(ctx, "SELECT :a", sql.Named("a", 1))
	assert.ErrorIs(t, err, d1sql.ErrNamedArgs)

	// No rows is sql.ErrNoRows.
	err = db.QueryRowContext(ctx, "SELECT i FROM v WHERE s = 'nobody'").Scan(&i)
	assert.ErrorIs(t, err, sql.ErrNoRows)

	// SQL errors carry D1's message and its predicates.
	_, err = db.ExecContext(ctx, "SELECT * FROM missing")
	assert.ErrorContains(t, err, "no such table: missing")
}

func TestParseTimeOff(t *testing.T) {
	db, _ := open(t, d1sql.Options{})
	var s string
	require.NoError(t, db.QueryRow("SELECT '2026-11-30 04:05:06'").Scan(&s))
	assert.Equal(t, "2026-11-30 04:05:06", s, "without ParseTime date-time text stays as written")
	var tm time.Time
	assert.Error(t, db.QueryRow("SELECT '2026-11-30 04:05:06'").Scan(&tm), "and does not scan into time.Time")
}

func TestExecResult(t *testing.T) {
	db, _ := open(t, d1sql.Options{})
	_, err := db.Exec("CREATE TABLE n (id INTEGER PRIMARY KEY, body TEXT)")
	require.NoError(t, err)
	res, err := db.Exec("INSERT INTO n (body) VALUES (?), (?)", "a", "b")
	require.NoError(t, err)
	id, err := res.LastInsertId()
	require.NoError(t, err)
	assert.Equal(t, int64(2), id)
	nr, err := res.RowsAffected()
	require.NoError(t, err)
	assert.Equal(t, int64(2), nr)

	// Prepared statements run again with new arguments.
	st, err := db.Prepare("SELECT body FROM n WHERE id = ?")
	require.NoError(t, err)
	defer st.Close()
	var body string
	require.NoError(t, st.QueryRow(2).Scan(&body))
	assert.Equal(t, "b", body)
	require.NoError(t, db.Ping())
}

func TestTransactionCommitsAsOneBatch(t *testing.T) {
	ctx := context.Background()
	db, client := open(t, d1sql.Options{})
	_, err := db.Exec("CREATE TABLE acct (id TEXT PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0))")
	require.NoError(t, err)
	_, err = db.Exec("INSERT INTO acct VALUES ('a', 100), ('b', 0)")
	require.NoError(t, err)

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	var bal int64
	require.NoError(t, tx.QueryRow("SELECT balance FROM acct WHERE id = 'a'").Scan(&bal), "a read before any write runs")
	r1, err := tx.Exec("UPDATE acct SET balance = balance - 60 WHERE id = 'a'")
	require.NoError(t, err)
	_, err = r1.RowsAffected()
	assert.ErrorIs(t, err, d1sql.ErrNotCommitted)
	r2, err := tx.Exec("UPDATE acct SET balance = balance + 60 WHERE id = 'b'")
	require.NoError(t, err)

	// Nothing is sent before Commit: another reader sees the old balances.
	b, err := d1.QueryOne[int64](ctx, client, "SELECT balance FROM acct WHERE id = 'b'")
	require.NoError(t, err)
	assert.Zero(t, b)

	// A read that would need to see the buffered writes is an error, not a stale answer.
	err = tx.QueryRow("SELECT balance FROM acct WHERE id = 'b'").Scan(&bal)
	assert.ErrorIs(t, err, d1sql.ErrReadAfterWrite)

	require.NoError(t, tx.Commit())
	n, err := r1.RowsAffected()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	n, err = r2.RowsAffected()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	b, err = d1.QueryOne[int64](ctx, client, "SELECT balance FROM acct WHERE id = 'b'")
	require.NoError(t, err)
	assert.Equal(t, int64(60), b)

	// Atomic: a failing statement (the CHECK) undoes the whole transaction.
	tx, err = db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec("UPDATE acct SET balance = balance + 1000 WHERE id = 'b'")
	require.NoError(t, err)
	r3, err := tx.Exec("UPDATE acct SET balance = balance - 1000 WHERE id = 'a'")
	require.NoError(t, err)
	err = tx.Commit()
	require.Error(t, err)
	assert.True(t, d1.IsConstraint(err), "CHECK constraint: %v", err)
	_, err = r3.RowsAffected()
	assert.ErrorIs(t, err, d1sql.ErrNotCommitted)
	b, err = d1.QueryOne[int64](ctx, client, "SELECT balance FROM acct WHERE id = 'b'")
	require.NoError(t, err)
	assert.Equal(t, int64(60), b, "the first statement was rolled back with the second")

	// Rollback sends nothing.
	tx, err = db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec("DELETE FROM acct")
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	c, err := d1.QueryOne[int64](ctx, client, "SELECT count(*) FROM acct")
	require.NoError(t, err)
	assert.Equal(t, int64(2), c)
}

func TestTransactionRefusals(t *testing.T) {
	ctx := context.Background()
	db, _ := open(t, d1sql.Options{})
	_, err := db.Exec("CREATE TABLE n (id INTEGER PRIMARY KEY, body TEXT)")
	require.NoError(t, err)

	tx, err := db.Begin()
	require.NoError(t, err)
	err = tx.QueryRow("INSERT INTO n (body) VALUES ('x') RETURNING id").Scan(new(int64))
	assert.ErrorIs(t, err, d1sql.ErrReadAfterWrite, "a write that returns rows cannot be buffered")
	require.NoError(t, tx.Rollback())

	tx, err = db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	require.NoError(t, err)
	_, err = tx.Exec("DELETE FROM n")
	assert.ErrorContains(t, err, "read-only transaction")
	require.NoError(t, tx.Rollback())

	_, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	assert.ErrorContains(t, err, "isolation")
}

func TestDataSourceNames(t *testing.T) {
	for _, v := range []string{d1.EnvAccountID, d1.EnvAPIToken, d1.EnvDatabaseID, d1.EnvBaseURL} {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	db, err := sql.Open(d1sql.DriverName, "local:"+filepath.Join(dir, "d1")+"?parse_time=1")
	require.NoError(t, err)
	_, err = db.Exec("CREATE TABLE t (at TEXT); INSERT INTO t VALUES (CURRENT_TIMESTAMP)")
	require.NoError(t, err)
	var at time.Time
	require.NoError(t, db.QueryRow("SELECT at FROM t").Scan(&at))
	assert.WithinDuration(t, time.Now(), at, time.Minute)
	require.NoError(t, db.Close())

	// The same folder again: the data is still there.
	db, err = sql.Open(d1sql.DriverName, "local:"+filepath.Join(dir, "d1"))
	require.NoError(t, err)
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM t").Scan(&n))
	assert.Equal(t, 1, n)
	require.NoError(t, db.Close())

	for dsn, want := range map[string]string{
		"env:":                           "CLOUDFLARE_ACCOUNT_ID",
		"cloudflare:acct/db":             "needs CLOUDFLARE_API_TOKEN",
		"cloudflare:acct":                "want cloudflare:ACCOUNT_ID/DATABASE_ID",
		"local:x?token=s3cr3t":           "keep the API token out",
		"local:x?frob=1":                 `unknown data source parameter "frob"`,
		"postgres://user:s3cr3t@host/db": "unknown kind",
		"nonsense":                       "want env:",
	} {
		db, err := sql.Open(d1sql.DriverName, dsn)
		if err == nil {
			err = db.Ping()
		}
		require.Error(t, err, dsn)
		assert.Contains(t, err.Error(), want, dsn)
		assert.NotContains(t, err.Error(), "s3cr3t", "a data source name's secret never reaches an error")
	}
}

func TestDriverNameIsOurs(t *testing.T) {
	assert.Contains(t, sql.Drivers(), "d1seal")
	var ok bool
	for _, d := range sql.Drivers() {
		if d == "d1" || d == "cloudflare" || d == "sqlite" {
			ok = true
		}
	}
	assert.False(t, ok, "no generic name that another D1 or SQLite driver would claim")
	assert.False(t, errors.Is(d1sql.ErrReadAfterWrite, d1sql.ErrNotCommitted))
}
