package d1_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
)

// backend is one D1 the conformance suite runs against.
type backend struct {
	name   string
	client *d1.Client
	local  *d1local.Server // nil for real D1
}

// backends returns the local D1, always, and real D1 when CLOUDFLARE_ACCOUNT_ID,
// CLOUDFLARE_API_TOKEN and D1_DATABASE_ID are set (a nil client otherwise: the test skips it).
func backends(t *testing.T) []backend {
	out := []backend{localBackend(t, d1local.Options{})}
	real := backend{name: "cloudflare"}
	if os.Getenv(d1.EnvAccountID) != "" && os.Getenv(d1.EnvAPIToken) != "" && os.Getenv(d1.EnvDatabaseID) != "" {
		c, err := d1.NewClientFromEnv(d1.Options{})
		require.NoError(t, err)
		real.client = c
	}
	return append(out, real)
}

func localBackend(t *testing.T, opts d1local.Options) backend {
	t.Helper()
	srv, err := d1local.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(context.Background(), "conformance")
	require.NoError(t, err)
	token := opts.Token
	if token == "" {
		token = "local"
	}
	c, err := d1.NewClient("0123456789abcdef0123456789abcdef", id, token, d1.Options{
		BaseURL:    "http://d1local.invalid/client/v4",
		HTTPClient: &http.Client{Transport: srv.Transport()},
		Retry:      d1.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
		RateLimit:  d1.RateLimit{Disabled: true}, // the local D1 has no API limit to respect
	})
	require.NoError(t, err)
	return backend{name: "local", client: c, local: srv}
}

var tableSeq atomic.Int64

// table returns a fresh table name and drops the table when the test ends.
func table(t *testing.T, c *d1.Client) string {
	name := fmt.Sprintf("conf_%d_%d", time.Now().UnixNano()%1e9, tableSeq.Add(1))
	t.Cleanup(func() { c.Exec(context.Background(), "DROP TABLE IF EXISTS "+name) })
	return name
}

// TestConformance holds the assertions that must be true of D1 itself and of the local D1.
func TestConformance(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			if b.client == nil {
				t.Skipf("real D1 not configured: set %s, %s and %s to run this suite against it", d1.EnvAccountID, d1.EnvAPIToken, d1.EnvDatabaseID)
			}
			runConformance(t, b.client)
		})
	}
}

func runConformance(t *testing.T, c *d1.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("types round trip", func(t *testing.T) {
		tb := table(t, c)
		_, err := c.Exec(ctx, "CREATE TABLE "+tb+" (i INTEGER, r REAL, s TEXT, b BLOB, n, t TEXT)")
		require.NoError(t, err)
		blob := []byte{0, 1, 127, 128, 255}
		_, err = c.Exec(ctx, "INSERT INTO "+tb+" VALUES (?, ?, ?, ?, ?, ?)", int64(1<<53-1), 2.5, "héllo\n\"q\"\x00", blob, nil, 5)
		require.NoError(t, err)
		_, err = c.Exec(ctx, "INSERT INTO "+tb+" VALUES (?, ?, ?, ?, ?, ?)", -(int64(1)<<53 - 1), -0.125, "", []byte{}, true, false)
		require.NoError(t, err)
		res, err := c.Query(ctx, "SELECT i, r, s, b, n, t, typeof(i), typeof(n), typeof(b) FROM "+tb+" ORDER BY rowid")
		require.NoError(t, err)
		require.Equal(t, 2, res.Len())
		assert.Equal(t, []any{int64(1<<53 - 1), 2.5, "héllo\n\"q\"\x00", blob, nil, "5.0", "integer", "null", "blob"}, res.Row(0).Values(),
			"a JSON number is bound as REAL: 5 into a TEXT column is stored as '5.0'")
		assert.Equal(t, []any{-(int64(1)<<53 - 1), -0.125, "", []byte{}, int64(1), "0.0", "integer", "real", "blob"}, res.Row(1).Values(),
			"booleans arrive as 1/0 numbers, so REAL in an untyped column")
	})

	t.Run("numbers bind as REAL", func(t *testing.T) {
		res, err := c.Query(ctx, "SELECT typeof(?), ? / 2, typeof(?)", 5, 5, "5")
		require.NoError(t, err)
		assert.Equal(t, []any{"real", 2.5, "text"}, res.Row(0).Values())
		res, err = c.Query(ctx, "SELECT value FROM json_each('[1,2,3]') LIMIT ?", 2)
		require.NoError(t, err)
		assert.Equal(t, 2, res.Len())
		_, err = c.Query(ctx, "SELECT value FROM json_each('[1,2,3]') LIMIT ?", 1.5)
		var e *d1.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "SQLITE_MISMATCH", e.SQLiteCode)
	})

	t.Run("meta", func(t *testing.T) {
		tb := table(t, c)
		_, err := c.Exec(ctx, "CREATE TABLE "+tb+" (id INTEGER PRIMARY KEY, v TEXT)")
		require.NoError(t, err)
		m, err := c.Exec(ctx, "INSERT INTO "+tb+" (v) VALUES ('a'), ('b'), ('c')")
		require.NoError(t, err)
		assert.Equal(t, int64(3), m.Changes)
		assert.Equal(t, int64(3), m.LastRowID)
		assert.True(t, m.ChangedDB)
		assert.Positive(t, m.SizeAfter)
		m, err = c.Exec(ctx, "UPDATE "+tb+" SET v = 'z' WHERE id > 1")
		require.NoError(t, err)
		assert.Equal(t, int64(2), m.Changes)
		res, err := c.Query(ctx, "SELECT * FROM "+tb)
		require.NoError(t, err)
		assert.False(t, res.Meta.ChangedDB)
		assert.Equal(t, int64(0), res.Meta.Changes)
		assert.Positive(t, res.Meta.RowsRead)
	})

	t.Run("batch is atomic", func(t *testing.T) {
		tb := table(t, c)
		_, err := c.Exec(ctx, "CREATE TABLE "+tb+" (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
		require.NoError(t, err)
		rs, err := c.Batch(ctx,
			d1.Statement{SQL: "INSERT INTO " + tb + " (name) VALUES (?)", Args: []any{"a"}},
			d1.Statement{SQL: "SELECT count(*) AS n FROM " + tb},
		)
		require.NoError(t, err)
		require.Len(t, rs, 2)
		n, err := d1.CollectOne[int](rs[1])
		require.NoError(t, err)
		assert.Equal(t, 1, n, "later statements see earlier ones")

		_, err = c.Batch(ctx,
			d1.Statement{SQL: "INSERT INTO " + tb + " (name) VALUES (?)", Args: []any{"b"}},
			d1.Statement{SQL: "INSERT INTO " + tb + " (name) VALUES (?)", Args: []any{"a"}},
		)
		require.Error(t, err)
		assert.True(t, d1.IsUniqueViolation(err), "got %v", err)
		n, err = d1.QueryOne[int](ctx, c, "SELECT count(*) FROM "+tb)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "the failed batch left nothing behind")
	})

	t.Run("script with a trigger", func(t *testing.T) {
		tb := table(t, c)
		t.Cleanup(func() { c.Exec(context.Background(), "DROP TABLE IF EXISTS "+tb+"_log") })
		rs, err := c.ExecScript(ctx, "CREATE TABLE "+tb+" (v TEXT); -- first\r\n"+
			"CREATE TABLE "+tb+"_log (v TEXT);\r\n"+
			"CREATE TRIGGER "+tb+"_trg AFTER INSERT ON "+tb+" BEGIN INSERT INTO "+tb+"_log VALUES ('a;b'); END;\n"+
			"/* a; comment */ INSERT INTO "+tb+" VALUES ('x;y');\n"+
			"SELECT v FROM "+tb+"_log")
		require.NoError(t, err)
		require.Len(t, rs, 5)
		assert.Equal(t, "a;b", rs[4].Row(0).Value(0))
	})

	t.Run("errors", func(t *testing.T) {
		_, err := c.Query(ctx, "SELECT * FROM no_such_table_here")
		assert.True(t, d1.IsNoSuchTable(err), "got %v", err)
		var e *d1.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, 400, e.StatusCode)
		assert.Equal(t, []int{7500}, e.Codes)
		assert.Equal(t, "SQLITE_ERROR", e.SQLiteCode)

		_, err = c.Exec(ctx, "BEGIN TRANSACTION")
		require.Error(t, err, "D1 refuses transaction control")

		_, err = c.Query(ctx, "SELECT ?, ?", 1)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Wrong number of parameter bindings")

		tb := table(t, c)
		_, err = c.ExecScript(ctx, "CREATE TABLE "+tb+"_p (id INTEGER PRIMARY KEY); CREATE TABLE "+tb+" (p INTEGER REFERENCES "+tb+"_p(id))")
		require.NoError(t, err)
		t.Cleanup(func() { c.Exec(context.Background(), "DROP TABLE IF EXISTS "+tb+"_p") })
		_, err = c.Batch(ctx, d1.Statement{SQL: "PRAGMA foreign_keys = OFF"}, d1.Statement{SQL: "INSERT INTO " + tb + " VALUES (42)"})
		require.Error(t, err, "foreign keys are on and cannot be turned off")
		assert.True(t, d1.IsConstraint(err), "got %v", err)
	})

	t.Run("columns keep order and duplicates", func(t *testing.T) {
		res, err := c.Query(ctx, "SELECT 1 AS a, 2 AS b, 3 AS a")
		require.NoError(t, err)
		assert.Equal(t, []string{"a", "b", "a"}, res.Columns)
		assert.Equal(t, []any{int64(1), int64(2), int64(3)}, res.Row(0).Values())
	})

	t.Run("database info", func(t *testing.T) {
		db, err := c.GetDatabase(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, c.DatabaseID(), db.ID)
		assert.NotEmpty(t, db.Name)
		dbs, err := c.ListDatabases(ctx, db.Name)
		require.NoError(t, err)
		var found bool
		for _, d := range dbs {
			found = found || d.ID == db.ID
		}
		assert.True(t, found, "list by name finds the database")
	})

	t.Run("export", func(t *testing.T) {
		tb := table(t, c)
		_, err := c.ExecScript(ctx, "CREATE TABLE "+tb+" (id INTEGER PRIMARY KEY, v TEXT, b BLOB); INSERT INTO "+tb+" VALUES (1, 'it''s', X'00FF')")
		require.NoError(t, err)
		var dump bytes.Buffer
		var phases []string
		info, err := c.Export(ctx, &dump, d1.ExportOptions{Tables: []string{tb}, PollInterval: 10 * time.Millisecond,
			Progress: func(p d1.Progress) { phases = append(phases, p.Phase) }})
		require.NoError(t, err)
		assert.Equal(t, int64(dump.Len()), info.Bytes)
		assert.Contains(t, dump.String(), "CREATE TABLE "+tb)
		assert.Contains(t, dump.String(), "'it''s'")
		assert.Contains(t, phases, "complete")
	})

	t.Run("time travel", func(t *testing.T) {
		tb := table(t, c)
		_, err := c.Exec(ctx, "CREATE TABLE "+tb+" (v TEXT)")
		require.NoError(t, err)
		before, err := c.Bookmark(ctx, time.Time{})
		require.NoError(t, err)
		require.NotEmpty(t, before)
		_, err = c.Exec(ctx, "INSERT INTO "+tb+" VALUES ('after')")
		require.NoError(t, err)
		restored, err := c.Restore(ctx, before)
		require.NoError(t, err)
		assert.NotEmpty(t, restored.Bookmark)
		require.NotEmpty(t, restored.Undo)
		assert.Less(t, before, restored.Undo, "bookmarks sort in time order")
		n, err := d1.QueryOne[int](ctx, c, "SELECT count(*) FROM "+tb)
		require.NoError(t, err)
		assert.Equal(t, 0, n, "the insert is undone")
		_, err = c.Restore(ctx, restored.Undo)
		require.NoError(t, err)
		n, err = d1.QueryOne[int](ctx, c, "SELECT count(*) FROM "+tb)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "restoring the undo bookmark brings it back")
	})
}

// TestImportIntoFreshDatabase exports one local database and imports the dump into another,
// checking they hold the same rows.
func TestImportIntoFreshDatabase(t *testing.T) {
	b := localBackend(t, d1local.Options{Dir: t.TempDir()})
	ctx := context.Background()
	c := b.client
	_, err := c.ExecScript(ctx, `CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT, data BLOB);
		INSERT INTO notes (body, data) VALUES ('one', X'01'), ('two
lines', NULL), ('it''s', X'');
		CREATE INDEX notes_body ON notes(body);`)
	require.NoError(t, err)
	var dump bytes.Buffer
	_, err = c.Export(ctx, &dump, d1.ExportOptions{PollInterval: time.Millisecond})
	require.NoError(t, err)

	db2, err := c.CreateDatabase(ctx, "copy")
	require.NoError(t, err)
	c2, err := c.WithDatabase(db2.ID)
	require.NoError(t, err)
	var uploaded int64
	info, err := c2.Import(ctx, bytes.NewReader(dump.Bytes()), d1.ImportOptions{PollInterval: time.Millisecond,
		Progress: func(p d1.Progress) {
			if p.Phase == "uploading" {
				uploaded = p.Bytes
			}
		}})
	require.NoError(t, err)
	assert.NotEmpty(t, info.Bookmark)
	assert.Positive(t, info.NumQueries)
	assert.Equal(t, int64(dump.Len()), uploaded)

	q := "SELECT id, body, data FROM notes ORDER BY id"
	want, err := c.Query(ctx, q)
	require.NoError(t, err)
	got, err := c2.Query(ctx, q)
	require.NoError(t, err)
	require.Equal(t, 3, got.Len())
	for i := range want.Len() {
		assert.Equal(t, want.Row(i).Values(), got.Row(i).Values())
	}

	// A reader that cannot seek is spooled; a dump with BEGIN is refused by D1 and changes nothing.
	_, err = c2.Import(ctx, strings.NewReader("BEGIN; INSERT INTO notes (body) VALUES ('x'); COMMIT;"), d1.ImportOptions{PollInterval: time.Millisecond})
	require.Error(t, err)
	n, err := d1.QueryOne[int](ctx, c2, "SELECT count(*) FROM notes")
	require.NoError(t, err)
	assert.Equal(t, 3, n)

	require.NoError(t, c.DeleteDatabase(ctx, db2.ID))
	_, err = c2.Query(ctx, "SELECT 1")
	assert.True(t, d1.IsNotFound(err), "got %v", err)
}

// TestHexBlobs sends BLOBs as hex text through unhex(?) and reads them back with hex().
func TestHexBlobs(t *testing.T) {
	b := localBackend(t, d1local.Options{})
	ctx := context.Background()
	c := b.client
	_, err := c.Exec(ctx, "CREATE TABLE h (b BLOB)")
	require.NoError(t, err)
	want := []byte{0, 1, 0x7f, 0x80, 0xff}
	_, err = c.Exec(ctx, "INSERT INTO h VALUES (unhex(?)), (unhex(?)), (?)", d1.Hex(want), d1.Hex{}, d1.Hex(nil))
	require.NoError(t, err)
	res, err := c.Query(ctx, "SELECT typeof(b), b, hex(b) FROM h ORDER BY rowid")
	require.NoError(t, err)
	var typ string
	var raw []byte
	var viaHex d1.Hex
	require.NoError(t, res.Row(0).Scan(&typ, &raw, &viaHex))
	assert.Equal(t, "blob", typ, "unhex stores a BLOB")
	assert.Equal(t, want, raw)
	assert.Equal(t, d1.Hex(want), viaHex)
	require.NoError(t, res.Row(1).Scan(&typ, &raw, &viaHex))
	assert.Equal(t, "blob", typ)
	assert.Empty(t, viaHex)
	require.NoError(t, res.Row(2).Scan(&typ, &raw, &viaHex))
	assert.Equal(t, "null", typ)
	assert.Nil(t, raw)
	assert.Equal(t, d1.Hex{}, viaHex, "SQLite's hex(NULL) is '', not NULL")
	res, err = c.Query(ctx, "SELECT iif(b IS NULL, NULL, hex(b)) FROM h WHERE b IS NULL")
	require.NoError(t, err)
	require.NoError(t, res.Row(0).Scan(&viaHex))
	assert.Nil(t, viaHex, "iif keeps NULL")

	// A Hex counts two bytes per byte against D1's 2,000,000-byte value limit.
	_, err = c.Exec(ctx, "INSERT INTO h VALUES (unhex(?))", d1.Hex(make([]byte, 1_000_001)))
	var le *d1.LimitError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, 2_000_002, le.Got)
	_, err = c.Exec(ctx, "INSERT INTO h VALUES (unhex(?))", d1.Hex(make([]byte, 1_000_000)))
	require.NoError(t, err)
}
