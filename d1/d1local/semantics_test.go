package d1local_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/d1seal/d1seal/d1/d1local"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNumbersBindAsReal(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.sql(t, "CREATE TABLE t(s TEXT, i INTEGER, n NUMERIC, u)")
		e.sql(t, "INSERT INTO t VALUES (?, ?, ?, ?)", 5, 5, 5, 5)
		got := e.sql(t, "SELECT s, typeof(s) AS ts, i, typeof(i) AS ti, typeof(n) AS tn, typeof(u) AS tu FROM t")
		assert.Equal(t, []string{`{"s":"5.0","ts":"text","i":5,"ti":"integer","tn":"integer","tu":"real"}`}, got)

		assert.Equal(t, []string{`{"t":"real","h":2.5}`}, e.sql(t, "SELECT typeof(?) AS t, ?/2 AS h", 5, 5))
		assert.Equal(t, []string{`{"x":1}`}, e.sql(t, "SELECT 1 AS x UNION ALL SELECT 2 LIMIT ?", 1))
		assert.Equal(t, "datatype mismatch: SQLITE_MISMATCH", e.failSQL(t, "SELECT 1 LIMIT ?", 1.5))
		assert.Equal(t, []string{`{"a":"real","b":1,"c":0}`}, e.sql(t, "SELECT typeof(?) AS a, ? AS b, ? AS c", true, true, false))
	})
}

func TestValuesOfEachType(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.sql(t, "CREATE TABLE t(b BLOB, s TEXT, z)")
		e.sql(t, "INSERT INTO t VALUES (?, ?, ?)", []int{0, 255, 7}, "héllo \"q\"", nil)
		e.query(t, `{"sql":"INSERT INTO t VALUES (?, 'x', 1)","params":[[]]}`)
		got := e.sql(t, "SELECT b, typeof(b) AS tb, s, z FROM t ORDER BY rowid")
		assert.Equal(t, []string{
			`{"b":[0,255,7],"tb":"blob","s":"héllo \"q\"","z":null}`,
			`{"b":[],"tb":"blob","s":"x","z":1}`,
		}, got)
		assert.Equal(t, []string{`{"a":[0,255],"e":[]}`}, e.sql(t, "SELECT X'00FF' AS a, X'' AS e"))
	})
}

func TestNumbersFormattedAsJavaScript(t *testing.T) {
	e := newEnv(t, optsMemory())
	tests := []struct{ sql, want string }{
		{"SELECT 9007199254740993 AS v", `{"v":9007199254740992}`},
		{"SELECT 9223372036854775807 AS v", `{"v":9223372036854776000}`},
		{"SELECT -9223372036854775808 AS v", `{"v":-9223372036854776000}`},
		{"SELECT 0.1 + 0.2 AS v", `{"v":0.30000000000000004}`},
		{"SELECT 5.0 AS v", `{"v":5}`},
		{"SELECT 1e21 AS v", `{"v":1e+21}`},
		{"SELECT 1e20 AS v", `{"v":100000000000000000000}`},
		{"SELECT 1.5e-7 AS v", `{"v":1.5e-7}`},
		{"SELECT 0.000001 AS v", `{"v":0.000001}`},
		{"SELECT -0.0 AS v", `{"v":0}`},
		{"SELECT 1e999 AS v", `{"v":null}`},
		{"SELECT 123456789.125 AS v", `{"v":123456789.125}`},
	}
	for _, tt := range tests {
		assert.Equal(t, []string{tt.want}, e.sql(t, tt.sql), tt.sql)
	}
}

func TestRawResults(t *testing.T) {
	e := newEnv(t, optsMemory())
	e.sql(t, "CREATE TABLE t(a, b)")
	rs := e.raw(t, map[string]any{"sql": "INSERT INTO t VALUES (1, 'x'), (2, X'01'); SELECT a, b, a AS a FROM t"})
	require.Len(t, rs, 2)
	assert.Empty(t, rs[0].Results.Columns)
	assert.NotNil(t, rs[0].Results.Rows)
	assert.Empty(t, rs[0].Results.Rows)
	assert.Equal(t, []string{"a", "b", "a"}, rs[1].Results.Columns)
	var rows []string
	for _, r := range rs[1].Results.Rows {
		b, _ := json.Marshal(r)
		rows = append(rows, string(b))
	}
	assert.Equal(t, []string{`[1,"x",1]`, `[2,[1],2]`}, rows)

	// /query: a repeated column keeps its first position and takes the last value.
	assert.Equal(t, []string{`{"a":"last","b":2}`}, e.sql(t, "SELECT 1 AS a, 2 AS b, 'last' AS a"))
}

func TestForeignKeys(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.sql(t, "CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(pid INTEGER REFERENCES p(id))")
		msg := e.failSQL(t, "INSERT INTO c VALUES (1)")
		assert.Equal(t, "FOREIGN KEY constraint failed: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_FOREIGNKEY)", msg)

		// PRAGMA foreign_keys=OFF is accepted and changes nothing.
		e.sql(t, "PRAGMA foreign_keys = OFF")
		assert.Equal(t, []string{`{"foreign_keys":1}`}, e.sql(t, "PRAGMA foreign_keys"))
		e.failSQL(t, "INSERT INTO c VALUES (1)")
		status, _, msg := e.fail(t, batch("PRAGMA foreign_keys = OFF", "INSERT INTO c VALUES (1)"))
		assert.Equal(t, 400, status)
		assert.Contains(t, msg, "SQLITE_CONSTRAINT_FOREIGNKEY")

		// defer_foreign_keys holds the check until the end of the request...
		e.query(t, batch("PRAGMA defer_foreign_keys = ON", "INSERT INTO c VALUES (1)", "INSERT INTO p VALUES (1)"))
		// ...and fails the whole request when the violation remains at its end, as D1 does: with
		// an internal error (HTTP 500), not a constraint error.
		status, _, msg = e.fail(t, batch("PRAGMA defer_foreign_keys = ON", "INSERT INTO c VALUES (2)", "INSERT INTO p VALUES (3)"))
		assert.Equal(t, 500, status)
		assert.Regexp(t, `^internal error; reference = [0-9a-z]{24}$`, msg)
		assert.Equal(t, []string{`{"n":1,"m":1}`}, e.sql(t, "SELECT (SELECT count(*) FROM c) AS n, (SELECT count(*) FROM p) AS m"))
		// It does not outlive its request.
		e.failSQL(t, "INSERT INTO c VALUES (4)")
		assert.Equal(t, []string{`{"defer_foreign_keys":0}`}, e.sql(t, "PRAGMA defer_foreign_keys"))
	})
}

// batch makes a batch body of statements without parameters.
func batch(sqls ...string) map[string]any {
	var items []map[string]any
	for _, s := range sqls {
		items = append(items, map[string]any{"sql": s})
	}
	return map[string]any{"batch": items}
}

func TestRequestsAreAtomic(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.sql(t, "CREATE TABLE t(a UNIQUE)")
		e.fail(t, batch("INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)", "INSERT INTO t VALUES (1)"))
		e.fail(t, map[string]any{"sql": "INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)"})
		e.fail(t, map[string]any{"sql": "INSERT INTO t VALUES (7); SELECT * FROM nope"})
		assert.Equal(t, []string{`{"n":0}`}, e.sql(t, "SELECT count(*) AS n FROM t"))
		rs := e.query(t, batch("INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)", "SELECT count(*) AS n FROM t"))
		require.Len(t, rs, 3)
		assert.Equal(t, `{"n":2}`, string(rs[2].Results[0]))
	})
}

// msgTxn is the answer of workerd's D1 to transaction control (checked by the differential
// test in internal/d1test).
const msgTxn = "To execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. The JavaScript API is safer because it will automatically roll back on exceptions, and because it interacts correctly with Durable Objects' automatic atomic write coalescing."

func TestRefusedStatements(t *testing.T) {
	e := newEnv(t, optsMemory())
	e.sql(t, "CREATE TABLE t(a)")
	tests := []struct{ sql, want string }{
		{"BEGIN", msgTxn},
		{"BEGIN TRANSACTION", msgTxn},
		{"COMMIT", msgTxn},
		{"ROLLBACK", msgTxn},
		{"SAVEPOINT a", msgTxn},
		{"RELEASE a", msgTxn},
		{"ATTACH 'x.db' AS x", "not authorized: SQLITE_AUTH"},
		{"DETACH x", "not authorized: SQLITE_AUTH"},
		{"CREATE TEMP TABLE x(a)", "not authorized: SQLITE_AUTH"},
		{"CREATE TEMPORARY VIEW v AS SELECT 1", "not authorized: SQLITE_AUTH"},
		{"CREATE TABLE _cf_x(a)", "not authorized: SQLITE_AUTH"},
		{"CREATE TABLE _CF_KV(a)", "not authorized: SQLITE_AUTH"},
		{"PRAGMA journal_mode = OFF", "not authorized: SQLITE_AUTH"},
		{"PRAGMA writable_schema = ON", "not authorized: SQLITE_AUTH"},
		{"SELECT sqlite_version()", "not authorized to use function: sqlite_version at offset 7: SQLITE_ERROR"},
		{"SELECT 1, load_extension('x')", "not authorized: SQLITE_ERROR"},
		{"SELECT log10(100)", "not authorized to use function: log10 at offset 7: SQLITE_ERROR"},
		{"SELECT soundex('x')", "no such function: soundex at offset 7: SQLITE_ERROR"},
		{"CREATE VIRTUAL TABLE f USING fts4(a)", "not authorized: SQLITE_AUTH"},
		{"PRAGMA page_size = 8192", "not authorized: SQLITE_AUTH"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, e.failSQL(t, tt.sql), tt.sql)
	}
	// A refusal inside a batch rolls back what came before it.
	e.fail(t, batch("INSERT INTO t VALUES (1)", "COMMIT"))
	assert.Equal(t, []string{`{"n":0}`}, e.sql(t, "SELECT count(*) AS n FROM t"))
	// What D1 allows still works.
	e.sql(t, "SELECT unhex('00'), json_object('a', 1), abs(-1)")
	e.sql(t, "PRAGMA table_info(t)")
	e.sql(t, "CREATE VIRTUAL TABLE f USING fts5(body)")
	e.sql(t, "INSERT INTO f VALUES ('hello world')")
	assert.Equal(t, []string{`{"body":"hello world"}`}, e.sql(t, "SELECT body FROM f WHERE f MATCH 'hello'"))
}

func TestStatementsAndParameters(t *testing.T) {
	e := newEnv(t, optsMemory())
	for _, sql := range []string{"", "   ", "-- only a comment", ";;"} {
		assert.Equal(t, "No SQL statements detected.", e.failSQL(t, sql), "%q", sql)
	}
	assert.Equal(t, "Wrong number of parameter bindings for SQL query.", e.failSQL(t, "SELECT ?, ?", 1))
	assert.Equal(t, "Wrong number of parameter bindings for SQL query.", e.failSQL(t, "SELECT ?", 1, 2))
	assert.Equal(t, []string{`{"a":"x","b":"y","c":"y","d":"x"}`}, e.sql(t, "SELECT ?1 AS a, ?2 AS b, ?2 AS c, ?1 AS d", "x", "y"))
	assert.Equal(t, []string{`{"a":1,"b":2,"c":3,"d":1}`}, e.sql(t, "SELECT :x AS a, @y AS b, $z AS c, :x AS d", 1, 2, 3))
	_, _, msg := e.fail(t, map[string]any{"sql": "SELECT ?; SELECT ?", "params": []any{1}})
	assert.Contains(t, msg, "multiple SQL statements")
	// A trigger's body is one statement.
	e.sql(t, "CREATE TABLE t(a); CREATE TABLE log(a); CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.a); INSERT INTO log VALUES (-new.a); END")
	e.sql(t, "INSERT INTO t VALUES (?)", 3)
	assert.Equal(t, []string{`{"n":2}`}, e.sql(t, "SELECT count(*) AS n FROM log"))
}

func TestLimits(t *testing.T) {
	e := newEnv(t, optsMemory())
	params := make([]any, 101)
	for i := range params {
		params[i] = i
	}
	sql := "SELECT " + strings.TrimSuffix(strings.Repeat("?,", 101), ",")
	assert.Contains(t, e.failSQL(t, sql, params...), "too many SQL variables")
	sql100 := "SELECT " + strings.TrimSuffix(strings.Repeat("?,", 100), ",")
	e.sql(t, sql100, params[:100]...)

	long := "SELECT '" + strings.Repeat("x", 100_000) + "'"
	assert.Equal(t, "statement too long: SQLITE_TOOBIG", e.failSQL(t, long))
	assert.Contains(t, e.failSQL(t, "SELECT ?", strings.Repeat("x", 2_000_001)), "SQLITE_TOOBIG")
	assert.Contains(t, e.failSQL(t, "SELECT zeroblob(2000001)"), "SQLITE_TOOBIG")
	e.sql(t, "SELECT length(?) AS n", strings.Repeat("x", 99_000))
}

func TestErrorMessages(t *testing.T) {
	e := newEnv(t, optsMemory())
	e.sql(t, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, CHECK (length(name) < 5))")
	e.sql(t, "INSERT INTO t(name) VALUES ('a')")
	tests := []struct{ sql, want string }{
		{"SELECT * FROM nope", "no such table: nope: SQLITE_ERROR"},
		{"INSERT INTO t(name) VALUES ('a')", "UNIQUE constraint failed: t.name: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)"},
		{"INSERT INTO t(id, name) VALUES (1, 'b')", "UNIQUE constraint failed: t.id: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_PRIMARYKEY)"},
		{"INSERT INTO t(name) VALUES (NULL)", "NOT NULL constraint failed: t.name: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_NOTNULL)"},
		{"INSERT INTO t(name) VALUES ('toolong')", "CHECK constraint failed: length(name) < 5: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_CHECK)"},
		{"SELECT nope FROM t", "no such column: nope at offset 7: SQLITE_ERROR"},
		{"SELEC 1", `near "SELEC": syntax error at offset 0: SQLITE_ERROR`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, e.failSQL(t, tt.sql), tt.sql)
	}
}

func TestMeta(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		rs := e.query(t, map[string]any{"sql": "CREATE TABLE t(id INTEGER PRIMARY KEY, v)"})
		m := rs[0].Meta
		assert.True(t, m.ChangedDB, "CREATE TABLE grows the file")
		assert.Positive(t, m.SizeAfter)
		assert.Zero(t, m.SizeAfter%512, "size_after is page_count*page_size")
		assert.Equal(t, "d1local", m.ServedBy)
		assert.True(t, m.ServedByPrimary)
		assert.NotEmpty(t, m.ServedByRegion)
		assert.NotEmpty(t, m.ServedByColo)
		assert.Equal(t, 1, m.TotalAttempts)
		require.NotNil(t, m.Timings)
		assert.Equal(t, m.Duration, m.Timings.SQLDurationMS)

		rs = e.query(t, map[string]any{"sql": "INSERT INTO t(v) VALUES (1), (2), (3)"})
		m = rs[0].Meta
		assert.Equal(t, int64(3), m.Changes)
		assert.Equal(t, int64(3), m.RowsWritten)
		assert.Equal(t, int64(3), m.LastRowID)
		assert.True(t, m.ChangedDB)

		// last_row_id persists across later selects; a select changes nothing.
		rs = e.query(t, map[string]any{"sql": "SELECT * FROM t"})
		m = rs[0].Meta
		assert.Equal(t, int64(3), m.LastRowID)
		assert.Zero(t, m.Changes)
		assert.False(t, m.ChangedDB)
		assert.Equal(t, int64(3), m.RowsRead)

		rs = e.query(t, map[string]any{"sql": "SELECT sum(v) FROM t"})
		assert.GreaterOrEqual(t, rs[0].Meta.RowsRead, int64(3), "a full scan reads every row")
		rs = e.query(t, map[string]any{"sql": "SELECT v FROM t WHERE id = 2"})
		assert.Equal(t, int64(1), rs[0].Meta.RowsRead)

		rs = e.query(t, map[string]any{"sql": "UPDATE t SET v = v + 1 WHERE id > 1"})
		assert.Equal(t, int64(2), rs[0].Meta.Changes)
		assert.True(t, rs[0].Meta.ChangedDB)
	})
}

func TestQueryTimeout(t *testing.T) {
	e := newEnv(t, d1local.Options{QueryTimeout: 50 * time.Millisecond})
	msg := e.failSQL(t, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
	assert.Equal(t, "interrupted: SQLITE_INTERRUPT", msg)
	e.sql(t, "SELECT 1") // the connection is usable afterwards
}
