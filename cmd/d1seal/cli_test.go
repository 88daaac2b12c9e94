package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, after replacing what changes from run to run.
func golden(t *testing.T, name, got string) {
	t.Helper()
	for _, r := range []struct{ re, with string }{
		{`/tmp/[^\s"]*`, "TMP"},
		{`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`, "UUID"},
		{`[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}`, "BOOKMARK"},
		{`\b[0-9a-f]{32,}\b`, "HEX"},
		{`\b3[a-z2-7]{12}\b`, "TID"},
		{`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`, "TIME"},
		{`"duration": [0-9.e-]+`, `"duration": 0`},
		{`"size_after": \d+`, `"size_after": 0`},
		{`"size_bytes": \d+`, `"size_bytes": 0`},
		{`(?m)^size +\d+ bytes`, "size N bytes"},
	} {
		got = regexp.MustCompile(r.re).ReplaceAllString(got, r.with)
	}
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./cmd/d1seal -run %s -update", t.Name())
	assert.Equal(t, string(want), got, "golden file %s (run go test ./cmd/d1seal -run %s -update after a deliberate change)", path, t.Name())
}

// TestHelpEverywhere: -h, help and help COMMAND at every level print on standard output and
// exit 0; the texts are golden.
func TestHelpEverywhere(t *testing.T) {
	dir := t.TempDir()
	var all strings.Builder
	for _, args := range [][]string{
		{"help"}, {"-h"}, {"help", "exec"}, {"exec", "-h"}, {"keys", "-h"}, {"keys", "help"}, {"keys", "rotate", "-h"},
		{"keys", "pin", "-h"}, {"records", "put", "-h"}, {"migrate", "status", "-h"}, {"db", "delete", "-h"}, {"version", "-h"},
	} {
		code, out, errOut := d1sealCmd(t, dir, args...)
		assert.Equal(t, 0, code, "%v: %s", args, errOut)
		assert.NotEmpty(t, out, "%v prints on standard output", args)
		all.WriteString("$ d1seal " + strings.Join(args, " ") + "\n" + out + "\n")
	}
	golden(t, "help.txt", all.String())
}

// TestErrorsGolden: usage mistakes exit 2, failures exit 1, and the messages name flags and
// commands.
func TestErrorsGolden(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvPassphrase, "correct horse battery staple")
	key := filepath.Join(dir, "a.key")
	code, _, errOut := d1sealCmd(t, dir, "keys", "generate", "-did", "did:plc:errs", "-out", key)
	require.Equal(t, 0, code, errOut)
	var all strings.Builder
	for _, c := range []struct {
		code int
		args []string
	}{
		{2, []string{"nope"}},
		{2, []string{"exec"}},
		{2, []string{"exec", "-nope"}},
		{2, []string{"keys"}},
		{2, []string{"keys", "frob"}},
		{2, []string{"keys", "generate", "-did", "not a did", "-out", "x.key"}},
		{1, []string{"keys", "generate", "-did", "did:plc:errs", "-out", key}},
		{1, []string{"records", "put", "-key", key, "-", `{"a":1}`}},
		{2, []string{"records", "list", "-key", key, "-collection", "nope"}},
		{1, []string{"db", "delete", "scratch"}},
		{2, []string{"restore", "00000000-00000000-00000000-00000000000000000000000000000000"}},
		{1, []string{"migrate", "status"}},
		{1, []string{"exec", "SELECT * FROM missing_table"}},
	} {
		code, _, errOut := d1sealCmd(t, dir, c.args...)
		assert.Equal(t, c.code, code, "%v: %s", c.args, errOut)
		errOut = regexp.MustCompile(`(?m)^d1seal: (local D1|Cloudflare).*\n`).ReplaceAllString(errOut, "")
		assert.NotContains(t, errOut, "Store.", "%v names a Go identifier", c.args)
		all.WriteString("$ d1seal " + strings.Join(c.args, " ") + "\n" + errOut + "\n")
	}
	golden(t, "errors.txt", strings.ReplaceAll(all.String(), dir, "DIR"))
}

// TestJSONShapes: every command's -json output, golden.
func TestJSONShapes(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvPassphrase, "correct horse battery staple")
	key := filepath.Join(dir, "a.key")
	var all strings.Builder
	step := func(args ...string) string {
		t.Helper()
		code, out, errOut := d1sealCmd(t, dir, args...)
		require.Equal(t, 0, code, "%v: %s", args, errOut)
		require.True(t, json.Valid([]byte(out)), "%v prints JSON: %s", args, out)
		all.WriteString("$ d1seal " + strings.Join(args, " ") + "\n" + out + "\n")
		return out
	}
	step("keys", "generate", "-json", "-did", "did:plc:json", "-out", key)
	step("keys", "show", "-key", key, "-json")
	step("keys", "register", "-key", key, "-json")
	step("records", "put", "-key", key, "-json", "-", `{"text":"hi"}`)
	step("records", "list", "-key", key, "-json")
	step("exec", "SELECT 1 AS one, x'00ff' AS blob, 'x''00ff''' AS text, NULL AS none", "-json")
	step("migrate", "status", "-agent-records", "-json")
	step("info", "-json")
	step("bookmark", "-json")
	step("version", "-json")
	golden(t, "json.txt", strings.ReplaceAll(all.String(), dir, "DIR"))
}

// TestFlagsAfterArguments: exec "SELECT 1" -json runs SELECT 1 and prints JSON (it used to
// run "SELECT 1 -json").
func TestFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := d1sealCmd(t, dir, "exec", "SELECT 1 AS one", "-json")
	require.Equal(t, 0, code, errOut)
	assert.JSONEq(t, `[{"one": 1}]`, mustResults(t, out))
	code, out, errOut = d1sealCmd(t, dir, "exec", "--", "SELECT 2 AS two")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "two")
}

func mustResults(t *testing.T, out string) string {
	var v []struct{ Results json.RawMessage }
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	return string(v[0].Results)
}

// TestTextCellsUnambiguous: a BLOB, NULL, and text that looks like them print differently.
func TestTextCellsUnambiguous(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := d1sealCmd(t, dir, "exec", "SELECT x'cafe' AS a, 'x''cafe''' AS b, NULL AS c, 'NULL' AS d, '12' AS e, 12 AS f, 'plain' AS g")
	require.Equal(t, 0, code, errOut)
	row := strings.Fields(strings.Split(out, "\n")[1])
	assert.Equal(t, []string{"x'cafe'", "'x''cafe'''", "NULL", "'NULL'", "'12'", "12", "plain"}, row)
}

// TestKeysNeverDestroyed: generate and rotate never overwrite a key file; -force keeps a
// backup; a rotation run twice resumes instead of making another key.
func TestKeysNeverDestroyed(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvPassphrase, "correct horse battery staple")
	key := filepath.Join(dir, "a.key")
	code, _, errOut := d1sealCmd(t, dir, "keys", "generate", "-did", "did:plc:keep", "-out", key)
	require.Equal(t, 0, code, errOut)
	orig, err := os.ReadFile(key)
	require.NoError(t, err)

	code, _, errOut = d1sealCmd(t, dir, "keys", "generate", "-did", "did:plc:keep", "-out", key)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "never overwrites a key file")
	now, _ := os.ReadFile(key)
	assert.Equal(t, orig, now, "the key file is untouched")

	code, _, errOut = d1sealCmd(t, dir, "keys", "generate", "-did", "did:plc:keep", "-out", key, "-force")
	require.Equal(t, 0, code, errOut)
	backups, _ := filepath.Glob(key + ".bak-*")
	require.Len(t, backups, 1, errOut)
	b, _ := os.ReadFile(backups[0])
	assert.Equal(t, orig, b, "-force keeps the old key as a backup")
	assert.Contains(t, errOut, backups[0])

	// Rotation twice with the same -out: the second run resumes, the new key survives.
	code, _, errOut = d1sealCmd(t, dir, "keys", "register", "-key", key)
	require.Equal(t, 0, code, errOut)
	code, out, errOut := d1sealCmd(t, dir, "records", "put", "-key", key, "-", `{"text":"kept"}`)
	require.Equal(t, 0, code, errOut)
	rkey := regexp.MustCompile(`/(3[a-z2-7]{12}) `).FindStringSubmatch(out)[1]
	next := filepath.Join(dir, "a-2.key")
	code, _, errOut = d1sealCmd(t, dir, "keys", "rotate", "-key", key, "-out", next)
	require.Equal(t, 0, code, errOut)
	rotated, _ := os.ReadFile(next)
	code, out, errOut = d1sealCmd(t, dir, "keys", "rotate", "-key", key, "-out", next, "-json")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "resuming")
	assert.Contains(t, out, `"resumed": true`)
	again, _ := os.ReadFile(next)
	assert.Equal(t, rotated, again, "the second rotate did not replace the new key")
	code, out, errOut = d1sealCmd(t, dir, "records", "get", "-key", next, rkey)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "kept")

	// A compromise rotation: full new keys, old ones revoked, records resealed.
	third := filepath.Join(dir, "a-3.key")
	code, out, errOut = d1sealCmd(t, dir, "keys", "rotate", "-key", next, "-out", third, "-compromised")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "the old keys are revoked")
	code, out, errOut = d1sealCmd(t, dir, "records", "get", "-key", third, rkey)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "kept")
}

// TestTrustFileAndPinning: the records commands keep a trust file and a state file beside
// the key file; keys show -json output pins an agent; a pin that contradicts the database is
// refused with the command to run.
func TestTrustFileAndPinning(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvPassphrase, "correct horse battery staple")
	alice, bob := filepath.Join(dir, "alice.key"), filepath.Join(dir, "bob.key")
	for did, f := range map[string]string{"did:plc:alice": alice, "did:plc:bob": bob} {
		code, _, errOut := d1sealCmd(t, dir, "keys", "generate", "-did", did, "-out", f)
		require.Equal(t, 0, code, errOut)
	}
	code, _, errOut := d1sealCmd(t, dir, "keys", "register", "-key", alice)
	require.Equal(t, 0, code, errOut)
	assert.FileExists(t, filepath.Join(dir, TrustFileName))

	// Pin bob from his public keys, as shown by bob's own process, before he registers.
	code, bobKeys, errOut := d1sealCmd(t, dir, "keys", "show", "-key", bob, "-json")
	require.Equal(t, 0, code, errOut)
	pinFile := filepath.Join(dir, "bob.pub.json")
	require.NoError(t, os.WriteFile(pinFile, []byte(bobKeys), 0o644))
	code, out, errOut := d1sealCmd(t, dir, "keys", "pin", "-key", alice, pinFile)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "pinned did:plc:bob")
	code, _, errOut = d1sealCmd(t, dir, "keys", "register", "-key", bob)
	require.Equal(t, 0, code, errOut)

	code, out, errOut = d1sealCmd(t, dir, "records", "put", "-key", alice, "-", `{"text":"for bob"}`)
	require.Equal(t, 0, code, errOut)
	rkey := regexp.MustCompile(`/(3[a-z2-7]{12}) `).FindStringSubmatch(out)[1]
	code, _, errOut = d1sealCmd(t, dir, "records", "share", "-key", alice, rkey, "did:plc:bob")
	require.Equal(t, 0, code, errOut)
	assert.FileExists(t, filepath.Join(dir, StateFileName))

	// Another client's trust file pins other keys for bob: the share is refused, and the
	// message says what to run.
	other := t.TempDir()
	code, impostor, errOut := d1sealCmd(t, dir, "keys", "generate", "-did", "did:plc:bob", "-out", filepath.Join(other, "fake.key"), "-json")
	require.Equal(t, 0, code, errOut)
	var gen struct{ Keys json.RawMessage }
	require.NoError(t, json.Unmarshal([]byte(impostor), &gen))
	require.NoError(t, os.WriteFile(filepath.Join(other, "fake.json"), gen.Keys, 0o644))
	trust := filepath.Join(other, "trust.json")
	code, _, errOut = d1sealCmd(t, dir, "keys", "pin", "-trust", trust, "-state", filepath.Join(other, "state"), filepath.Join(other, "fake.json"))
	require.Equal(t, 0, code, errOut)
	code, _, errOut = d1sealCmd(t, dir, "records", "share", "-key", alice, "-trust", trust, "-state", filepath.Join(other, "state"), rkey, "did:plc:bob")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "d1seal keys pin")
}

// TestDestructiveNeedsYes: without a terminal, destructive commands refuse unless -y.
func TestDestructiveNeedsYes(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := d1sealCmd(t, dir, "db", "create", "scratch")
	require.Equal(t, 0, code, errOut)
	for _, args := range [][]string{{"db", "delete", "scratch"}, {"restore", "some-bookmark"}, {"migrate", "baseline", "-agent-records"}} {
		code, _, errOut = d1sealCmd(t, dir, args...)
		assert.Equal(t, 2, code, "%v", args)
		assert.Contains(t, errOut, "give -y", "%v", args)
	}
	code, out, errOut := d1sealCmd(t, dir, "db", "delete", "scratch", "-y")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "deleted scratch")
}

// TestMigrateDefaultsAndCheck: migrate reads ./migrations unless told; status -check exits
// 3 while migrations are pending.
func TestMigrateDefaultsAndCheck(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, _, errOut := d1sealCmd(t, dir, "migrate", "status")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "-agent-records")
	require.NoError(t, os.Mkdir("migrations", 0o755))
	require.NoError(t, os.WriteFile("migrations/0001_a.sql", []byte("CREATE TABLE a (x);"), 0o644))
	code, _, _ = d1sealCmd(t, dir, "migrate", "status", "-check")
	assert.Equal(t, exitPending, code)
	code, _, errOut = d1sealCmd(t, dir, "migrate", "apply")
	require.Equal(t, 0, code, errOut)
	code, _, _ = d1sealCmd(t, dir, "migrate", "status", "-check")
	assert.Equal(t, 0, code)
}

// TestBackupRestoresIntoSchema: export -data-only of a database of sealed records imports
// into another database that already has the schema, and the records open there.
func TestBackupRestoresIntoSchemaCLI(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvPassphrase, "correct horse battery staple")
	key := filepath.Join(dir, "a.key")
	code, _, errOut := d1sealCmd(t, dir, "keys", "generate", "-did", "did:plc:backup", "-out", key)
	require.Equal(t, 0, code, errOut)
	code, _, errOut = d1sealCmd(t, dir, "keys", "register", "-key", key)
	require.Equal(t, 0, code, errOut)
	code, _, errOut = d1sealCmd(t, dir, "records", "put", "-key", key, "-", `{"text":"backed up"}`)
	require.Equal(t, 0, code, errOut)
	backup := filepath.Join(dir, "data.sql")
	code, _, errOut = d1sealCmd(t, dir, "export", "-data-only", "-o", backup)
	require.Equal(t, 0, code, errOut)

	restored := filepath.Join(dir, "restored")
	code, _, errOut = d1sealCmd(t, restored, "migrate", "apply", "-agent-records")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = d1sealCmd(t, restored, "import", backup)
	require.Equal(t, 0, code, errOut)
	code, out, errOut := d1sealCmd(t, restored, "records", "list", "-key", key)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "backed up")
}

// TestImportSQLiteDump: a sqlite3 .dump file (BEGIN TRANSACTION ... COMMIT) imports, with a
// notice that the transaction statements were dropped.
func TestImportSQLiteDump(t *testing.T) {
	dir := t.TempDir()
	dump := filepath.Join(dir, "dump.sql")
	require.NoError(t, os.WriteFile(dump, []byte("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE t(x);\nINSERT INTO t VALUES(1);\nINSERT INTO t VALUES('a;b');\nCOMMIT;\n"), 0o644))
	code, _, errOut := d1sealCmd(t, dir, "import", dump)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "dropped 2 transaction statements")
	code, out, _ := d1sealCmd(t, dir, "exec", "SELECT count(*) AS n FROM t", "-json")
	require.Equal(t, 0, code)
	assert.JSONEq(t, `[{"n": 2}]`, mustResults(t, out))
}

func TestVersionAndCompletion(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := d1sealCmd(t, dir, "version")
	assert.Equal(t, 0, code)
	assert.Regexp(t, `^d1seal \S+ \(go`, out)
	code, out, _ = d1sealCmd(t, dir, "completion", "bash")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "complete -F _d1seal d1seal")
	assert.Contains(t, out, "generate show register rotate pin")
}
