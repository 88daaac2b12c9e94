package migrations_test

import (
	"testing"
	"testing/fstest"

	"github.com/d1seal/d1seal/migrations"
)

// FuzzLoad feeds arbitrary file names and contents to Load, which reads migration files from
// a folder that anyone may have written: it never panics, and a Set it returns holds the file
// under its name, with its checksum and at least one statement.
func FuzzLoad(f *testing.F) {
	f.Add("0001_init.sql", "CREATE TABLE t (x);\nINSERT INTO t VALUES ('a;b');")
	f.Add("0002_trigger.sql", "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;")
	f.Add("0003_tx.sql", "BEGIN; CREATE TABLE u (x); COMMIT;")
	f.Add("0004_empty.sql", "-- nothing\n")
	f.Add("x.sql", "SELECT 1")
	f.Add("0005_crlf.sql", "CREATE TABLE v (x);\r\n/* unterminated")
	f.Fuzz(func(t *testing.T, name, content string) {
		if !fstestValidName(name) {
			return
		}
		set, err := migrations.Load(fstest.MapFS{name: {Data: []byte(content)}}, ".")
		if err != nil {
			return
		}
		if set.Len() > 1 {
			t.Fatalf("%d migrations from one file", set.Len())
		}
		for _, m := range set.Migrations() {
			if m.Name != name || m.Checksum != migrations.Checksum(content) || len(m.Statements()) == 0 {
				t.Fatalf("Load(%q) = %+v", name, m)
			}
		}
	})
}

// fstestValidName reports whether name can be a file in an fstest.MapFS folder.
func fstestValidName(name string) bool {
	if name == "" || name == "." || name == ".." {
		return false
	}
	for _, r := range name {
		if r == '/' || r == 0 {
			return false
		}
	}
	return true
}
