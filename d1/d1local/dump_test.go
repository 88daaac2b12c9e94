package d1local_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/d1seal/d1seal/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestDumpGolden pins the export format to miniflare's dumpSql (the code behind D1's export in
// wrangler 4.164.0): testdata/dump.golden.sql was checked byte for byte against that function
// run under Node on a database built from the same testdata/dump-schema.sql. The dump then
// imports into a fresh database that exports identically and holds the same values.
func TestDumpGolden(t *testing.T) {
	schema, err := os.ReadFile(filepath.Join("testdata", "dump-schema.sql"))
	require.NoError(t, err)
	backends(t, func(t *testing.T, e *env) {
		e.sql(t, string(schema))
		dump := export(t, e, nil)
		golden := filepath.Join("testdata", "dump.golden.sql")
		if *update {
			require.NoError(t, os.WriteFile(golden, []byte(dump), 0o644))
		}
		want, err := os.ReadFile(golden)
		require.NoError(t, err)
		assert.Equal(t, string(want), dump)

		other, err := e.srv.CreateDatabase(context.Background(), "copy")
		require.NoError(t, err)
		dst := &env{srv: e.srv, id: other, http: e.http, base: e.base}
		imp := importSQL(t, dst, dump)
		require.Equal(t, "complete", imp.Status, "import: %s", imp.Error)
		assert.Equal(t, dump, export(t, dst, nil), "the copy exports the same dump")
		for _, q := range []string{
			"SELECT *, typeof(s), typeof(r), typeof(n), typeof(b) FROM plain ORDER BY id",
			`SELECT * FROM "quoted ""name"""`,
			"SELECT * FROM single",
			"SELECT * FROM gen",
			"SELECT * FROM v ORDER BY id",
			"SELECT * FROM sqlite_sequence",
			"SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name",
		} {
			assert.Equal(t, e.sql(t, q), dst.sql(t, q), q)
		}
		assert.Equal(t, []string{`{"s":"two\nlines"}`, `{"s":"cr\rlf\ncrlf\r\nend"}`, `{"s":"\n"}`},
			dst.sql(t, "SELECT s FROM plain WHERE id IN (2, 3, 6) ORDER BY id"), "LF and CR survive the round trip")

		// Options: tables and indexes by exact name, no schema, no data.
		assert.Equal(t, "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE gen (a INTEGER, b AS (a * 2), c TEXT DEFAULT 'x');\n"+
			`INSERT INTO "gen" ("a","c") VALUES(21,'x');`+"\nCREATE UNIQUE INDEX gen_a ON gen (a);",
			export(t, e, &wire.DumpOptions{Tables: []string{"gen", "gen_a"}}))
		assert.Equal(t, "PRAGMA defer_foreign_keys=TRUE;\n"+`INSERT INTO "quoted ""name""" ("id","v") VALUES(1,'a');`+
			"\n"+`INSERT INTO "sqlite_sequence" ("name","seq") VALUES('quoted "name"',2);`,
			export(t, e, &wire.DumpOptions{NoSchema: true, Tables: []string{`quoted "name"`, "sqlite_sequence"}}))
		assert.Equal(t, "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE [bracket] (x);\nDELETE FROM sqlite_sequence;",
			export(t, e, &wire.DumpOptions{NoData: true, Tables: []string{"bracket", "sqlite_sequence"}}))
	})
}

// TestDumpRefusesVirtualTables: D1 cannot export a database holding a virtual table.
func TestDumpRefusesVirtualTables(t *testing.T) {
	e := newEnv(t, optsMemory())
	e.sql(t, "CREATE VIRTUAL TABLE f USING fts5(body); INSERT INTO f VALUES ('x')")
	status, env, raw := e.call(t, "POST", e.dbURL("export"), wire.ExportRequest{OutputFormat: "polling"})
	require.Equal(t, 200, status, "%s", raw)
	var r wire.ExportResponse
	require.NoError(t, json.Unmarshal(env.Result, &r))
	_, env, raw = e.call(t, "POST", e.dbURL("export"), wire.ExportRequest{OutputFormat: "polling", CurrentBookmark: r.AtBookmark})
	require.NoError(t, json.Unmarshal(env.Result, &r))
	assert.Equal(t, "error", r.Status, "%s", raw)
	assert.Equal(t, "D1 Export error: cannot export databases with Virtual Tables (fts5)", r.Error)
}
