package migrations

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/d1seal/d1seal/internal/sqlsplit"
)

// Migration is one numbered SQL file of a Set.
type Migration struct {
	Number int64  // the leading number of the file name
	Name   string // the file name, such as "0001_agent_records.sql": the ledger's key
	SQL    string // the file's content, sent to D1 verbatim, statement by statement

	// Checksum is the hex SHA-256 of SQL with every "\r\n" replaced by "\n", so that a
	// checkout that converts line endings does not count as a change.
	Checksum string

	stmts []string
}

// Statements returns the migration's statements in order, split where SQLite would split
// them (semicolons inside strings, comments and CREATE TRIGGER … END do not end a statement).
func (m Migration) Statements() []string { return slices.Clone(m.stmts) }

// Set is an ordered list of migrations, as Load reads them from a folder. A Set is immutable
// and safe for concurrent use.
type Set struct {
	ms []Migration
}

// Migrations returns the set's migrations in the order they apply.
func (s *Set) Migrations() []Migration { return slices.Clone(s.ms) }

// Len returns the number of migrations in the set.
func (s *Set) Len() int { return len(s.ms) }

// Lookup returns the migration whose file name is name.
func (s *Set) Lookup(name string) (Migration, bool) {
	for _, m := range s.ms {
		if m.Name == name {
			return m, true
		}
	}
	return Migration{}, false
}

// LoadDir reads the migrations in the folder dir; see Load.
func LoadDir(dir string) (*Set, error) {
	return Load(os.DirFS(dir), ".")
}

// Load reads the migrations in folder dir of fsys (use "." for its root; an embed.FS holding
// "migrations/*.sql" is loaded with Load(fsys, "migrations")).
//
// As with wrangler, the migrations are the top-level files whose names end in ".sql" and do not
// start with a dot; other files and subfolders are ignored. They are ordered by their leading
// number, then by name. Load is stricter than wrangler, which would apply a file such as
// "schema.sql" too: it returns an error naming the file when a .sql file's name is not
// NNNN_label.sql (see ParseName), when two files have the same number, when a file holds no
// statement, and when a file holds BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT or RELEASE
// statements, which D1 refuses (each migration already runs as one transaction). An empty
// folder is an empty Set.
func Load(fsys fs.FS, dir string) (*Set, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: load: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".sql") {
			continue
		}
		if !e.Type().IsRegular() && e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("migrations: load: %w", err)
		}
		m, err := newMigration(name, string(b))
		if err != nil {
			return nil, fmt.Errorf("migrations: load: %w", err)
		}
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b Migration) int { return compareNames(a.Name, b.Name) })
	for i := 1; i < len(ms); i++ {
		if ms[i].Number == ms[i-1].Number {
			return nil, fmt.Errorf("migrations: load: %s and %s have the same number %d; renumber one of them",
				ms[i-1].Name, ms[i].Name, ms[i].Number)
		}
	}
	return &Set{ms: ms}, nil
}

// newMigration checks a migration file's name and content.
func newMigration(name, sql string) (Migration, error) {
	n, _, err := ParseName(name)
	if err != nil {
		return Migration{}, err
	}
	if !utf8.ValidString(sql) {
		return Migration{}, fmt.Errorf("%s: not valid UTF-8", name)
	}
	stmts := sqlsplit.Split(sql)
	if len(stmts) == 0 {
		return Migration{}, fmt.Errorf("%s: empty: the file holds no SQL statement", name)
	}
	for i, st := range stmts {
		if kw, _ := sqlsplit.FirstKeyword(st); sqlsplit.IsTransactionControl(kw) {
			return Migration{}, fmt.Errorf("%s: statement %d is %s: D1 refuses transaction control "+
				"and runs each migration as one transaction already; remove it", name, i+1, kw)
		}
	}
	return Migration{Number: n, Name: name, SQL: sql, Checksum: Checksum(sql), stmts: stmts}, nil
}

// Checksum returns the checksum recorded for a migration file's content: the hex SHA-256 of
// sql with every "\r\n" replaced by "\n".
func Checksum(sql string) string {
	sum := sha256.Sum256([]byte(strings.ReplaceAll(sql, "\r\n", "\n")))
	return hex.EncodeToString(sum[:])
}

// ParseName splits a migration file name of the form NNNN_label.sql into its number and
// label. The number is one or more ASCII digits (at most 18; "0001" and "1" are both 1); the
// label is one or more letters, digits, '_', '-' or '.', as `wrangler d1 migrations create`
// makes from a description (spaces become '_'). Path separators, spaces, quotes and control
// characters are refused.
func ParseName(name string) (number int64, label string, err error) {
	bad := func(why string) (int64, string, error) {
		return 0, "", fmt.Errorf("%q is not a migration file name (NNNN_label.sql): %s", name, why)
	}
	base, ok := strings.CutSuffix(name, ".sql")
	if !ok {
		return bad("it does not end in .sql")
	}
	i := 0
	for i < len(base) && base[i] >= '0' && base[i] <= '9' {
		i++
	}
	switch {
	case i == 0:
		return bad("it does not start with a number")
	case i > 18:
		return bad("the number has more than 18 digits")
	case i == len(base) || base[i] != '_':
		return bad("the number is not followed by '_'")
	}
	label = base[i+1:]
	if label == "" {
		return bad("the label after the number is empty")
	}
	if !utf8.ValidString(label) {
		return bad("it is not valid UTF-8")
	}
	for _, r := range label {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.') {
			return bad(fmt.Sprintf("the label holds %q (use letters, digits, '_', '-' and '.')", r))
		}
	}
	number, err = strconv.ParseInt(base[:i], 10, 64)
	if err != nil { // cannot happen with at most 18 digits
		return bad(err.Error())
	}
	return number, label, nil
}

// compareNames orders file names as wrangler does: by leading number (names without one
// last), then by name.
func compareNames(a, b string) int {
	an, aerr := leadingNumber(a)
	bn, berr := leadingNumber(b)
	switch {
	case aerr == nil && berr == nil && an != bn:
		if an < bn {
			return -1
		}
		return 1
	case aerr == nil && berr != nil:
		return -1
	case aerr != nil && berr == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// leadingNumber is wrangler's parseInt(name.split("_")[0]) for the names this package accepts.
func leadingNumber(name string) (int64, error) {
	digits, _, _ := strings.Cut(name, "_")
	i := 0
	for i < len(digits) && digits[i] >= '0' && digits[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errors.New("no leading number")
	}
	return strconv.ParseInt(digits[:i], 10, 64)
}
