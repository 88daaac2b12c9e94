package sqlsplit

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string
	}{
		{"empty", "", nil},
		{"only white space", " \r\n\t\f ", nil},
		{"only semicolons", ";;; ;", nil},
		{"only comments", "-- a\n/* b */ ; -- c", nil},
		{"one without semicolon", "SELECT 1", []string{"SELECT 1"}},
		{"one with semicolon", "  SELECT 1 ;  ", []string{"SELECT 1"}},
		{"two", "SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"last without semicolon", "SELECT 1;\nSELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"empty between", "SELECT 1;;\n;SELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"CRLF", "SELECT 1;\r\nSELECT 2;\r\n", []string{"SELECT 1", "SELECT 2"}},
		{"semicolon in string", "SELECT 'a;b'; SELECT 2", []string{"SELECT 'a;b'", "SELECT 2"}},
		{"escaped quote", "SELECT 'it''s; here'; SELECT 2", []string{"SELECT 'it''s; here'", "SELECT 2"}},
		{"double-quoted identifier", `SELECT "a;b" FROM t; SELECT 2`, []string{`SELECT "a;b" FROM t`, "SELECT 2"}},
		{"backquoted identifier", "SELECT `a;b`; SELECT 2", []string{"SELECT `a;b`", "SELECT 2"}},
		{"bracketed identifier", "SELECT [a;b]; SELECT 2", []string{"SELECT [a;b]", "SELECT 2"}},
		{"line comment", "SELECT 1 -- x;y\n; SELECT 2", []string{"SELECT 1 -- x;y", "SELECT 2"}},
		{"block comment", "SELECT /* ; */ 1; SELECT 2", []string{"SELECT /* ; */ 1", "SELECT 2"}},
		{"leading comment kept", "-- init\nCREATE TABLE t(a);", []string{"-- init\nCREATE TABLE t(a)"}},
		{"trailing comment dropped", "SELECT 1; -- done", []string{"SELECT 1"}},
		{"minus and slash are operators", "SELECT 4-2/1; SELECT 2", []string{"SELECT 4-2/1", "SELECT 2"}},
		{
			"trigger",
			"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a=1; DELETE FROM u; END; SELECT 1",
			[]string{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a=1; DELETE FROM u; END", "SELECT 1"},
		},
		{
			"temp trigger, lower case",
			"create temp trigger tr after insert on t begin select 1; end;\nselect 2;",
			[]string{"create temp trigger tr after insert on t begin select 1; end", "select 2"},
		},
		{
			"temporary trigger",
			"CREATE TEMPORARY TRIGGER tr BEFORE DELETE ON t BEGIN SELECT 1; END;",
			[]string{"CREATE TEMPORARY TRIGGER tr BEFORE DELETE ON t BEGIN SELECT 1; END"},
		},
		{
			"explain create trigger",
			"EXPLAIN CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; SELECT 2",
			[]string{"EXPLAIN CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END", "SELECT 2"},
		},
		{
			"END inside trigger body that is not the last",
			"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN 2 END; END; SELECT 3",
			[]string{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN 2 END; END", "SELECT 3"},
		},
		{"trigger as a column name", "SELECT trigger FROM t; SELECT 2", []string{"SELECT trigger FROM t", "SELECT 2"}},
		{"create table is not a trigger", "CREATE TABLE t(a); SELECT 2", []string{"CREATE TABLE t(a)", "SELECT 2"}},
		{"unterminated string runs to the end", "SELECT 1; SELECT 'a;b", []string{"SELECT 1", "SELECT 'a;b"}},
		{"unterminated comment runs to the end", "SELECT 1 /* x; y", []string{"SELECT 1 /* x; y"}},
		{"lone unterminated comment is empty", "SELECT 1; /* x; y", []string{"SELECT 1"}},
		{"lone unterminated string is a statement", "SELECT 1; 'x; y", []string{"SELECT 1", "'x; y"}},
		{"NUL ends the script", "SELECT 1;\x00SELECT 2", []string{"SELECT 1"}},
		{"identifier with dollar and non-ASCII", "SELECT $créate; SELECT 2", []string{"SELECT $créate", "SELECT 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.sql)
			assert.Equal(t, tt.want, got, "Split(%q)", tt.sql)
		})
	}
}

// sqliteComplete asks SQLite's own sqlite3_complete.
func sqliteComplete(t testing.TB, tls *libc.TLS, sql string) bool {
	p, err := libc.CString(sql)
	require.NoError(t, err)
	defer libc.Xfree(tls, p)
	return sqlite3.Xsqlite3_complete(tls, p) != 0
}

func TestCompleteMatchesSQLite(t *testing.T) {
	tls := libc.NewTLS()
	defer tls.Close()
	for _, sql := range []string{
		"", ";", "SELECT 1", "SELECT 1;", "SELECT 1; -- x", "SELECT 1; -- x\n", "SELECT 'a;",
		"CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1;", "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END;",
		"/* a */;", "[x;", "EXPLAIN SELECT 1;",
	} {
		assert.Equal(t, sqliteComplete(t, tls, sql), complete(sql), "complete(%q)", sql)
	}
}

// FuzzSplit checks the port against SQLite itself: the state machine agrees with
// sqlite3_complete on every input, and a ';' ends a statement in Split exactly when SQLite
// considers the text up to and including it complete. It also checks that re-joining the
// statements and splitting again gives them back.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"SELECT 1; SELECT 2",
		"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a=1; END; SELECT 1",
		"SELECT 'a;''b'; -- c;\n/* d; */ SELECT [e;f], `g;h`, \"i;j\"",
		"create temp trigger x before delete on y begin select end; end;",
		"EXPLAIN CREATE TRIGGER a B BEGIN ; END ;",
	} {
		f.Add(s)
	}
	tls := libc.NewTLS()
	f.Cleanup(tls.Close)
	f.Fuzz(func(t *testing.T, sql string) {
		if strings.IndexByte(sql, 0) >= 0 || len(sql) > 2000 {
			t.Skip()
		}
		stmts := Split(sql)

		// The port agrees with sqlite3_complete on the whole text.
		require.Equal(t, sqliteComplete(t, tls, sql), complete(sql), "complete(%q)", sql)

		// Every ';' ends a statement exactly when SQLite says the prefix is complete.
		var cuts []int
		for i := 0; i < len(sql); i++ {
			if sql[i] != ';' {
				continue
			}
			if sqliteComplete(t, tls, sql[:i+1]) {
				cuts = append(cuts, i)
			}
		}
		var want []string
		start := 0
		for _, c := range append(cuts, len(sql)) {
			piece := trim(sql[start:c])
			if hasContent(piece) {
				want = append(want, piece)
			}
			start = c + 1
		}
		require.Equal(t, want, stmts, "Split(%q)", sql)

		// Statements are trimmed, never empty, and stable under re-joining.
		for _, s := range stmts {
			require.NotEmpty(t, s)
			require.Equal(t, trim(s), s)
		}
		// A newline before each ';' ends a trailing line comment; an unterminated string or
		// comment can only be in the last statement and would swallow what follows.
		joined := strings.Join(stmts, "\n;\n")
		if len(stmts) > 0 && complete(joined+"\n;") {
			require.Equal(t, stmts, Split(joined), "re-split of %q", sql)
		}
	})
}

// hasContent reports whether s holds a token other than white space, semicolons and
// comments.
func hasContent(s string) bool {
	sc := scanner{sql: s}
	for {
		tok, ok := sc.next()
		if !ok {
			return sc.openQuote
		}
		if tok != tkWS && tok != tkSemi {
			return true
		}
	}
}
