package d1test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
)

var tableSeq atomic.Int64

// Table returns a fresh table name and drops the table when the test ends.
func Table(t testing.TB, c *d1.Client) string {
	name := fmt.Sprintf("conf_%d_%d", time.Now().UnixNano()%1e9, tableSeq.Add(1))
	t.Cleanup(func() { c.Exec(context.Background(), "DROP TABLE IF EXISTS "+name) })
	return name
}

// adminOnly skips t on a backend without administration, after checking that the client
// says which REST path the call needs.
func adminOnly(t *testing.T, b *Backend, c *d1.Client) {
	t.Helper()
	if b.Admin {
		return
	}
	_, err := c.Bookmark(context.Background(), time.Time{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/accounts/{account_id}/d1/database/{database_id}/time_travel/bookmark", "the error names the REST path")
	t.Skipf("%s carries statements only: export, import, Time Travel and administration need the REST API", b.Name)
}

// Conformance holds the assertions that must be true of D1 itself and of every backend. Run it
// with Run: d1test.Run(t, d1test.Conformance).
func Conformance(t *testing.T, b *Backend) {
	c := b.Open(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("types round trip", func(t *testing.T) {
		tb := Table(t, c)
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
		tb := Table(t, c)
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
		tb := Table(t, c)
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
		tb := Table(t, c)
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

		tb := Table(t, c)
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
		adminOnly(t, b, c)
		db, err := c.Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, c.DatabaseID(), db.ID)
		assert.NotEmpty(t, db.Name)
		dbs, err := c.Account().ListDatabases(ctx, db.Name)
		require.NoError(t, err)
		var found bool
		for _, d := range dbs {
			found = found || d.ID == db.ID
		}
		assert.True(t, found, "list by name finds the database")
	})

	t.Run("export", func(t *testing.T) {
		adminOnly(t, b, c)
		tb := Table(t, c)
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
		adminOnly(t, b, c)
		tb := Table(t, c)
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
