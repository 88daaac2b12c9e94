package d1local

import (
	"bytes"
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/d1seal/d1seal/internal/wire"
	sqlite3 "modernc.org/sqlite/lib"
)

// dump writes the database as SQL the way D1's export does: no BEGIN/COMMIT (D1 refuses them
// on import), foreign keys deferred, then each table's schema and rows, sqlite_sequence, and
// the indexes, triggers and views. D1's internal tables (_cf_*) and FTS shadow tables are left
// out. The caller holds the database lock.
func dump(c *conn, opts wire.DumpOptions) ([]byte, error) {
	type object struct{ kind, name, table, sql string }
	var objects []object
	st, _, err := c.prepare(`SELECT s.type, s.name, s.tbl_name, s.sql FROM sqlite_schema AS s
		LEFT JOIN pragma_table_list AS l ON l.schema = 'main' AND l.name = s.name
		WHERE s.sql IS NOT NULL AND s.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND s.name NOT LIKE '\_cf\_%' ESCAPE '\'
		AND coalesce(l.type, '') <> 'shadow' ORDER BY s.rowid`)
	if err != nil {
		return nil, err
	}
	for {
		row, err := st.step()
		if err != nil {
			st.finalize()
			return nil, err
		}
		if !row {
			break
		}
		objects = append(objects, object{
			string(st.column(0).bytes), string(st.column(1).bytes), string(st.column(2).bytes), string(st.column(3).bytes),
		})
	}
	st.finalize()
	wanted := func(table string) bool {
		return len(opts.Tables) == 0 || slices.ContainsFunc(opts.Tables, func(t string) bool { return strings.EqualFold(t, table) })
	}

	var b bytes.Buffer
	b.WriteString("PRAGMA defer_foreign_keys=TRUE;\n")
	for _, o := range objects {
		if o.kind != "table" || !wanted(o.name) {
			continue
		}
		if !opts.NoSchema {
			b.WriteString(o.sql)
			b.WriteString(";\n")
		}
		if !opts.NoData {
			if err := dumpRows(c, &b, o.name); err != nil {
				return nil, err
			}
		}
	}
	if !opts.NoData && len(opts.Tables) == 0 {
		if n, _ := c.queryInt("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence'"); n > 0 {
			b.WriteString("DELETE FROM sqlite_sequence;\n")
			if err := dumpRows(c, &b, "sqlite_sequence"); err != nil {
				return nil, err
			}
		}
	}
	if !opts.NoSchema {
		for _, o := range objects {
			if o.kind != "table" && wanted(o.table) {
				b.WriteString(o.sql)
				b.WriteString(";\n")
			}
		}
	}
	return b.Bytes(), nil
}

// dumpRows writes one INSERT per row of table, naming the columns it stores (generated and
// hidden columns are left out).
func dumpRows(c *conn, b *bytes.Buffer, table string) error {
	var cols []string
	st, _, err := c.prepare("SELECT name FROM pragma_table_xinfo(" + quoteString(table) + ") WHERE hidden = 0 ORDER BY cid")
	if err != nil {
		return err
	}
	for {
		row, err := st.step()
		if err != nil {
			st.finalize()
			return err
		}
		if !row {
			break
		}
		cols = append(cols, quoteIdent(string(st.column(0).bytes)))
	}
	st.finalize()
	if len(cols) == 0 {
		return nil
	}
	list := strings.Join(cols, ",")
	st, _, err = c.prepare("SELECT " + list + " FROM " + quoteIdent(table))
	if err != nil {
		return err
	}
	defer st.finalize()
	prefix := "INSERT INTO " + quoteIdent(table) + " (" + list + ") VALUES("
	for {
		row, err := st.step()
		if err != nil {
			return err
		}
		if !row {
			return nil
		}
		b.WriteString(prefix)
		for i := range cols {
			if i > 0 {
				b.WriteByte(',')
			}
			writeLiteral(b, st.column(i))
		}
		b.WriteString(");\n")
	}
}

// writeLiteral writes v as an SQL literal that reads back as the same value and storage class.
func writeLiteral(b *bytes.Buffer, v value) {
	switch v.kind {
	case sqlite3.SQLITE_INTEGER:
		b.WriteString(strconv.FormatInt(v.i, 10))
	case sqlite3.SQLITE_FLOAT:
		switch {
		case math.IsNaN(v.f):
			b.WriteString("NULL")
		case math.IsInf(v.f, 1):
			b.WriteString("1e999")
		case math.IsInf(v.f, -1):
			b.WriteString("-1e999")
		default:
			s := strconv.FormatFloat(v.f, 'g', -1, 64)
			if !strings.ContainsAny(s, ".e") {
				s += ".0"
			}
			b.WriteString(s)
		}
	case sqlite3.SQLITE_TEXT:
		if bytes.IndexByte(v.bytes, 0) >= 0 || !utf8.Valid(v.bytes) {
			b.WriteString("CAST(X'" + hex.EncodeToString(v.bytes) + "' AS TEXT)")
			return
		}
		b.WriteString(quoteString(string(v.bytes)))
	case sqlite3.SQLITE_BLOB:
		b.WriteString("X'" + hex.EncodeToString(v.bytes) + "'")
	default:
		b.WriteString("NULL")
	}
}

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func quoteIdent(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
