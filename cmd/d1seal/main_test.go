package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
)

// d1sealCmd runs the CLI in process against a local D1 in dir and returns its exit code and
// output.
func d1sealCmd(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	for _, v := range []string{d1.EnvAccountID, d1.EnvAPIToken, d1.EnvDatabaseID, d1.EnvBaseURL} {
		t.Setenv(v, "")
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"-local", dir}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExecExportImportRestore(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := d1sealCmd(t, dir, "exec", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, b BLOB); INSERT INTO notes (body, b) VALUES ('hello', X'CAFE'), ('two\nlines', NULL); SELECT id, body, b FROM notes")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "hello")
	assert.Contains(t, out, "x'cafe'")
	assert.Contains(t, errOut, "local D1 in "+dir)

	code, out, _ = d1sealCmd(t, dir, "exec", "-json", "SELECT count(*) AS n FROM notes")
	require.Equal(t, 0, code)
	var js []struct {
		Results []map[string]any
		Success bool
	}
	require.NoError(t, json.Unmarshal([]byte(out), &js))
	assert.True(t, js[0].Success)
	assert.Equal(t, []map[string]any{{"n": float64(2)}}, js[0].Results, "wrangler's d1 execute --json shape")

	backup := filepath.Join(dir, "backup.sql")
	code, _, errOut = d1sealCmd(t, dir, "export", "-o", backup)
	require.Equal(t, 0, code, errOut)
	dump, err := os.ReadFile(backup)
	require.NoError(t, err)
	assert.Contains(t, string(dump), "CREATE TABLE notes")

	// Import the backup into a fresh folder (a fresh database) and compare.
	dir2 := t.TempDir()
	code, out, errOut = d1sealCmd(t, dir2, "import", backup)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "imported")
	_, a, _ := d1sealCmd(t, dir, "exec", "-json", "SELECT * FROM notes ORDER BY id")
	_, b, _ := d1sealCmd(t, dir2, "exec", "-json", "SELECT * FROM notes ORDER BY id")
	assert.JSONEq(t, dropMeta(t, a), dropMeta(t, b))
}

func dropMeta(t *testing.T, s string) string {
	var v []map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &v))
	for _, m := range v {
		delete(m, "meta")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"nope"}, {"exec"}, {"exec", "-file", "x.sql", "SELECT 1"}, {"restore"}, {"db"}, {"db", "frob"},
		{"bookmark", "-at", "yesterday"}, {"import"}, {"export", "extra"},
	} {
		code, _, errOut := d1sealCmd(t, dir, args...)
		assert.Equal(t, 2, code, "%v: %s", args, errOut)
		assert.Regexp(t, "usage|unknown command", errOut, "%v", args)
	}
	code, _, errOut := d1sealCmd(t, dir, "exec", "SELECT * FROM missing_table")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no such table: missing_table")
	code, out, _ := d1sealCmd(t, dir, "help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "export")
}
