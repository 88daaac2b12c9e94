package migrations_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/records"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		number int64
		label  string
		err    string
	}{
		{"0001_init.sql", 1, "init", ""},
		{"1_init.sql", 1, "init", ""},
		{"0042_add_users-and.posts.sql", 42, "add_users-and.posts", ""},
		{"20240101120000_timestamped.sql", 20240101120000, "timestamped", ""},
		{"0003_créer_tâches.sql", 3, "créer_tâches", ""},
		{"000000000000000009_x.sql", 9, "x", ""},
		{"init.sql", 0, "", "does not start with a number"},
		{"0001.sql", 0, "", "not followed by '_'"},
		{"0001-init.sql", 0, "", "not followed by '_'"},
		{"0001_.sql", 0, "", "label after the number is empty"},
		{"0001_init.SQL", 0, "", "does not end in .sql"},
		{"0001_init.sql.bak", 0, "", "does not end in .sql"},
		{"0001_add users.sql", 0, "", `holds ' '`},
		{"0001_it's.sql", 0, "", `holds '\''`},
		{"0001_a/b.sql", 0, "", `holds '/'`},
		{"0001_a\\b.sql", 0, "", `holds '\\'`},
		{"0001_a\x00.sql", 0, "", `holds '\x00'`},
		{"0001_\xff.sql", 0, "", "not valid UTF-8"},
		{"1234567890123456789_x.sql", 0, "", "more than 18 digits"},
	} {
		n, label, err := migrations.ParseName(tc.name)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, "ParseName(%q)", tc.name)
			continue
		}
		if assert.NoError(t, err, tc.name) {
			assert.Equal(t, tc.number, n, tc.name)
			assert.Equal(t, tc.label, label, tc.name)
		}
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"0001_init.sql", "1_x.sql", "0001.sql", "_x.sql", "0001_a b.sql", "99999999999999999999_x.sql", "0001_é.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, label, err := migrations.ParseName(name)
		if err != nil {
			return
		}
		if n < 0 || label == "" || strings.ContainsAny(label, " /\\'\"\x00") || !strings.HasSuffix(name, "_"+label+".sql") {
			t.Fatalf("ParseName(%q) = %d, %q", name, n, label)
		}
		// A valid name is a valid migration file.
		if _, err := migrations.Load(fstest.MapFS{name: {Data: []byte("SELECT 1")}}, "."); err != nil {
			t.Fatalf("Load of valid name %q: %v", name, err)
		}
	})
}

func TestLoadOrdersAsWrangler(t *testing.T) {
	s := set(t, map[string]string{
		"0010_ten.sql":      "SELECT 10",
		"9_nine.sql":        "SELECT 9",
		"0002_two.sql":      "SELECT 2",
		"0001_one.sql":      "SELECT 1",
		"100_hundred.sql":   "SELECT 100",
		"README.md":         "not a migration",
		".0003_hidden.sql":  "ignored, as wrangler's glob ignores dot files",
		"sub/0004_deep.sql": "ignored: wrangler's default pattern is top-level *.sql",
	})
	var names []string
	for _, m := range s.Migrations() {
		names = append(names, m.Name)
	}
	assert.Equal(t, []string{"0001_one.sql", "0002_two.sql", "9_nine.sql", "0010_ten.sql", "100_hundred.sql"}, names)
	m, ok := s.Lookup("9_nine.sql")
	require.True(t, ok)
	assert.Equal(t, int64(9), m.Number)
	assert.Equal(t, migrations.Checksum("SELECT 9"), m.Checksum)
	assert.Equal(t, 5, s.Len())

	empty, err := migrations.Load(fstest.MapFS{"README": {}}, ".")
	require.NoError(t, err)
	assert.Zero(t, empty.Len())
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		err   string
	}{
		{map[string]string{"0001_a.sql": "SELECT 1", "0001_b.sql": "SELECT 2"}, "0001_a.sql and 0001_b.sql have the same number 1"},
		{map[string]string{"0002_a.sql": "SELECT 1", "2_b.sql": "SELECT 2"}, "have the same number 2"},
		{map[string]string{"schema.sql": "SELECT 1"}, `"schema.sql" is not a migration file name`},
		{map[string]string{"0001_a.sql": ""}, "0001_a.sql: empty"},
		{map[string]string{"0001_a.sql": "-- Migration number: 0001 \t 2025-01-01T00:00:00.000Z\n"}, "0001_a.sql: empty"},
		{map[string]string{"0001_a.sql": " ; /* only a comment */ ;\n"}, "0001_a.sql: empty"},
		{map[string]string{"0001_a.sql": "BEGIN TRANSACTION;\nCREATE TABLE a (x);\nCOMMIT;"}, "0001_a.sql: statement 1 is BEGIN"},
		{map[string]string{"0001_a.sql": "CREATE TABLE a (x);\n-- done\ncommit;"}, "0001_a.sql: statement 2 is COMMIT"},
		{map[string]string{"0001_a.sql": "SAVEPOINT s; SELECT 1"}, "statement 1 is SAVEPOINT"},
		{map[string]string{"0001_a.sql": "SELECT 1; /* x */ END"}, "statement 2 is END"},
		{map[string]string{"0001_a.sql": "SELECT '\xff'"}, "not valid UTF-8"},
	} {
		fsys := fstest.MapFS{}
		for n, c := range tc.files {
			fsys[n] = &fstest.MapFile{Data: []byte(c)}
		}
		_, err := migrations.Load(fsys, ".")
		assert.ErrorContains(t, err, tc.err, "%v", tc.files)
	}

	// A trigger's BEGIN … END is not transaction control.
	s := set(t, map[string]string{"0001_t.sql": "CREATE TABLE a (x);\nCREATE TRIGGER a_t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = 1;\nEND;\n"})
	m := s.Migrations()[0]
	assert.Len(t, m.Statements(), 2)

	_, err := migrations.LoadDir(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorContains(t, err, "migrations: load")
}

func TestLoadDirAndEmbedded(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "0001_a.sql"), []byte("CREATE TABLE a (x);"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "0002_b.sql"), []byte("CREATE TABLE b (x);"), 0o644))
	s, err := migrations.LoadDir(dir)
	require.NoError(t, err)
	assert.Equal(t, 2, s.Len())

	ar := records.Schema()
	require.Equal(t, 6, ar.Len())
	assert.Equal(t, "0001_agent_records.sql", ar.Migrations()[0].Name)
	assert.Equal(t, "0002_sealing.sql", ar.Migrations()[1].Name)
	assert.Equal(t, "0003_write_log.sql", ar.Migrations()[2].Name)
}
