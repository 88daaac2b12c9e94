package d1local

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/d1seal/d1seal/d1/d1local/internal/sqlite"
	"github.com/d1seal/d1seal/internal/wire"
)

// dump writes the database as SQL byte for byte the way D1's export does. It follows
// dumpSql in miniflare's D1 worker (miniflare/dist/src/workers/d1/database.worker.js, the
// dump code Cloudflare ships with wrangler 4.164.0):
//
//   - the first line is PRAGMA defer_foreign_keys=TRUE; there is no BEGIN/COMMIT (D1 refuses
//     them on import); lines are joined by "\n" with no newline at the end;
//   - tables in sqlite_schema rowid order, sqlite_sequence last; each table's SQL as stored,
//     a quoted name ("t" or 't') turning CREATE TABLE into CREATE TABLE IF NOT EXISTS; then
//     its rows, INSERT INTO "t" ("a","b") VALUES(...); with the columns of PRAGMA table_info
//     (generated columns left out);
//   - sqlite_sequence as DELETE FROM sqlite_sequence; (a schema line) and its rows;
//     sqlite_stat tables as ANALYZE sqlite_schema; and their rows; other sqlite_* and _cf_*
//     tables are left out; a virtual table fails the export with D1's message;
//   - values as D1's JavaScript prints them: NULL, numbers through a JS Number (so REAL 5.0
//     dumps as 5, integers past 2^53 lose precision, ±Infinity is ±9e999), strings in single
//     quotes (doubled inside), each LF or CR written as \n or \r inside
//     replace('...','\n',char(10)) (CR innermost), BLOBs as X'hex';
//   - then indexes, triggers and views, ordered by type.
//
// opts.Tables keeps only the tables, and the indexes, triggers and views, whose names it lists
// (exactly, as miniflare compares them). One deliberate difference: TEXT holding a NUL byte or
// invalid UTF-8, which JavaScript cannot carry intact, is written as CAST(X'hex' AS TEXT) so it
// reads back unchanged. The caller holds the database lock.
func dump(c *conn, opts wire.DumpOptions) ([]byte, error) {
	var b bytes.Buffer
	emit := func(line string) {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
	}
	filter := map[string]bool{}
	for _, t := range opts.Tables {
		filter[t] = true
	}
	skip := func(name string) bool { return len(filter) > 0 && !filter[name] }

	emit("PRAGMA defer_foreign_keys=TRUE;")
	tables, err := schemaRows(c, `SELECT name, sql FROM sqlite_schema AS o
		WHERE (true) AND type=='table' AND sql NOT NULL ORDER BY tbl_name='sqlite_sequence', rowid`)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		name, sql := t[0], t[1]
		if skip(name) {
			continue
		}
		switch {
		case name == "sqlite_sequence":
			if !opts.NoSchema {
				emit("DELETE FROM sqlite_sequence;")
			}
		case statTable.MatchString(name):
			if !opts.NoSchema {
				emit("ANALYZE sqlite_schema;")
			}
		default:
			if strings.HasPrefix(sql, "CREATE VIRTUAL TABLE") {
				return nil, errVirtualTable
			}
			if strings.HasPrefix(name, "_cf_") || strings.HasPrefix(name, "sqlite_") {
				continue
			}
			if !opts.NoSchema {
				if quotedCreate.MatchString(sql) {
					emit("CREATE TABLE IF NOT EXISTS " + sql[len("CREATE TABLE "):] + ";")
				} else {
					emit(sql + ";")
				}
			}
		}
		if opts.NoData {
			continue
		}
		if err := dumpRows(c, emit, name); err != nil {
			return nil, err
		}
	}
	if !opts.NoSchema {
		rest, err := schemaRows(c, `SELECT name, sql FROM sqlite_schema AS o WHERE (true) AND sql NOT NULL
			AND type IN ('index', 'trigger', 'view') ORDER BY type COLLATE NOCASE`)
		if err != nil {
			return nil, err
		}
		for _, o := range rest {
			if !skip(o[0]) {
				emit(o[1] + ";")
			}
		}
	}
	return b.Bytes(), nil
}

var (
	// quotedCreate is miniflare's test for a quoted table name, unanchored as there.
	quotedCreate = regexp.MustCompile(`CREATE TABLE ['"]`)
	statTable    = regexp.MustCompile(`^sqlite_stat.`)

	errVirtualTable = errors.New("D1 Export error: cannot export databases with Virtual Tables (fts5)")
)

// schemaRows runs one of the dump's own queries of two text columns.
func schemaRows(c *conn, sql string) ([][2]string, error) {
	st, _, err := c.Prepare(sql)
	if err != nil {
		return nil, err
	}
	defer st.Finalize()
	var out [][2]string
	for {
		row, err := st.Step()
		if err != nil {
			return nil, err
		}
		if !row {
			return out, nil
		}
		out = append(out, [2]string{string(st.Column(0).Bytes), string(st.Column(1).Bytes)})
	}
}

// dumpRows emits one INSERT per row of table.
func dumpRows(c *conn, emit func(string), table string) error {
	var cols []string
	st, _, err := c.Prepare("PRAGMA table_info=" + quoteIdent(table))
	if err != nil {
		return err
	}
	nameCol := -1
	for i := range st.ColumnCount() {
		if st.ColumnName(i) == "name" {
			nameCol = i
		}
	}
	for {
		row, err := st.Step()
		if err != nil {
			st.Finalize()
			return err
		}
		if !row {
			break
		}
		cols = append(cols, quoteIdent(string(st.Column(nameCol).Bytes)))
	}
	st.Finalize()
	st, _, err = c.Prepare("SELECT " + strings.Join(cols, ", ") + " FROM " + quoteIdent(table) + ";")
	if err != nil {
		return err
	}
	defer st.Finalize()
	prefix := "INSERT INTO " + quoteIdent(table) + " (" + strings.Join(cols, ",") + ") VALUES("
	var line []byte
	for {
		row, err := st.Step()
		if err != nil {
			return err
		}
		if !row {
			return nil
		}
		line = append(line[:0], prefix...)
		for i := range cols {
			if i > 0 {
				line = append(line, ',')
			}
			line = appendLiteral(line, st.Column(i))
		}
		line = append(line, ");"...)
		emit(string(line))
	}
}

// appendLiteral appends v as miniflare's dumpSql writes a cell.
func appendLiteral(b []byte, v value) []byte {
	switch v.Kind {
	case sqlite.Integer:
		return appendJSNumber(b, float64(v.I))
	case sqlite.Float:
		switch {
		case !math.IsNaN(v.F) && !math.IsInf(v.F, 0):
			return appendJSNumber(b, v.F)
		case v.F > 0:
			return append(b, "9e999"...)
		default:
			return append(b, "-9e999"...)
		}
	case sqlite.Text:
		if bytes.IndexByte(v.Bytes, 0) >= 0 || !utf8.Valid(v.Bytes) {
			return append(append(append(b, "CAST(X'"...), hex.EncodeToString(v.Bytes)...), "' AS TEXT)"...)
		}
		return appendDumpString(b, string(v.Bytes))
	case sqlite.Blob:
		return append(append(append(b, "X'"...), hex.EncodeToString(v.Bytes)...), '\'')
	default:
		return append(b, "NULL"...)
	}
}

// appendDumpString is miniflare's outputQuotedEscapedString: quotes doubled, LF and CR written
// as the two characters \n and \r, restored by replace(...,char(13)) then replace(...,char(10))
// around the literal. (A string holding both a backslash-n pair and a newline does not read back
// intact; D1's dumps share that flaw.)
func appendDumpString(b []byte, s string) []byte {
	var lf, cr bool
	var q strings.Builder
	q.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\'':
			q.WriteString("''")
		case '\n':
			lf = true
			q.WriteString(`\n`)
		case '\r':
			cr = true
			q.WriteString(`\r`)
		default:
			q.WriteByte(ch)
		}
	}
	q.WriteByte('\'')
	out := q.String()
	if cr {
		out = `replace(` + out + `,'\r',char(13))`
	}
	if lf {
		out = `replace(` + out + `,'\n',char(10))`
	}
	return append(b, out...)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
