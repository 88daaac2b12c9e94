package d1local

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/d1seal/d1seal/internal/sqlsplit"
	"github.com/d1seal/d1seal/internal/wire"
	sqlite3 "modernc.org/sqlite/lib"
)

// statement is one SQL statement of a request, with its decoded parameters.
type statement struct {
	sql    string
	params []param
}

// stmtResult is what running one statement produced.
type stmtResult struct {
	columns []string
	rows    [][]value
	meta    wire.Meta
}

// D1's messages for requests it refuses before running them.
const (
	msgNoStatements  = "No SQL statements detected."
	msgWrongParams   = "Wrong number of parameter bindings for SQL query."
	msgMultiWithArgs = "When executing multiple SQL statements in a single call, only the last statement can have parameters."
)

// parseStatements expands a query/raw body into its statements. A multi-statement sql (with or
// without a batch) cannot take params.
func parseStatements(req *wire.QueryRequest) ([]statement, error) {
	items := req.Batch
	if len(items) == 0 {
		items = []wire.Statement{{SQL: req.SQL, Params: req.Params}}
	} else if req.SQL != "" || len(req.Params) > 0 {
		return nil, errBadRequest("a body has either sql (with params) or batch, not both")
	}
	var out []statement
	for _, it := range items {
		sqls := sqlsplit.Split(it.SQL)
		if len(sqls) == 0 {
			return nil, errSQL(msgNoStatements)
		}
		params := make([]param, len(it.Params))
		for i, raw := range it.Params {
			p, err := decodeParam(raw)
			if err != nil {
				return nil, errSQL(err.Error())
			}
			params[i] = p
		}
		if len(sqls) > 1 && len(params) > 0 {
			return nil, errSQL(msgMultiWithArgs)
		}
		for _, s := range sqls {
			out = append(out, statement{sql: s, params: params})
		}
	}
	return out, nil
}

// run executes stmts as one transaction: all of them commit, or none does. wrote reports
// whether the database may have changed (for Time Travel).
func (d *database) run(stmts []statement) (results []stmtResult, wrote bool, err error) {
	c := d.conn
	if err := c.execOwn("BEGIN"); err != nil {
		return nil, false, err
	}
	ddl := false
	defer func() {
		if err != nil && !c.Autocommit() {
			_ = c.execOwn("ROLLBACK")
			if ddl {
				// Statements prepared against the schema being rolled back.
				c.user.clear()
			}
		}
	}()
	size := c.size()
	for _, s := range stmts {
		r, w, changedSchema, err := d.runOne(s, size)
		ddl = ddl || changedSchema
		if err != nil {
			return nil, false, err
		}
		wrote = wrote || w
		size = r.meta.SizeAfter
		results = append(results, r)
	}
	if err := c.execOwn("COMMIT"); err != nil {
		// A deferred foreign key violation fails the commit: D1 answers it as an internal
		// error (HTTP 500), not as a constraint error.
		var se *sqliteError
		if errors.As(err, &se) && se.Code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
			return nil, false, errInternal(randomReference())
		}
		return nil, false, err
	}
	now := time.Now()
	for i, r := range results {
		d.stats.add(now, stmts[i].sql, r.meta.Duration, r.meta.RowsRead, r.meta.RowsWritten, int64(len(r.rows)))
	}
	return results, wrote, nil
}

// runOne prepares (or takes from the cache), binds and steps one user statement under D1's
// authorizer. ddl reports whether the statement changes the schema.
func (d *database) runOne(s statement, sizeBefore int64) (_ stmtResult, wrote, ddl bool, err error) {
	c := d.conn
	start := time.Now()
	changesBefore, rowidBefore := c.TotalChanges(), c.LastInsertRowID()

	c.restrict(true)
	defer c.restrict(false)
	e, kept, err := c.prepareUser(s.sql)
	if err != nil {
		return stmtResult{}, false, false, d1Refusal(c, err)
	}
	if e == nil {
		return stmtResult{}, false, false, errSQL(msgNoStatements)
	}
	stepped := false
	defer func() { c.doneUser(e, kept, stepped && err != nil) }()
	st := e.st
	if st.ParamCount() != len(s.params) {
		return stmtResult{}, false, e.ddl, errSQL(msgWrongParams)
	}
	if err := bind(st, s.params); err != nil {
		return stmtResult{}, false, e.ddl, err
	}
	n := st.ColumnCount()
	r := stmtResult{columns: make([]string, n), rows: [][]value{}}
	for i := range n {
		r.columns[i] = st.ColumnName(i)
	}
	stepped = true
	for {
		row, err := st.Step()
		if err != nil {
			return stmtResult{}, false, e.ddl, err
		}
		if !row {
			break
		}
		vals := make([]value, n)
		for i := range n {
			vals[i] = st.Column(i)
		}
		r.rows = append(r.rows, vals)
	}
	c.restrict(false)

	changes := c.TotalChanges() - changesBefore
	rowid := c.LastInsertRowID()
	size := c.size()
	// rows_read approximates D1's cursor count: the rows full scans visited (SQLite counts
	// the steps after the first row), or, when an index found them, the rows returned.
	// rows_written is the rows changed (triggers and cascades included).
	// A statement that reads no table (SELECT 1, VALUES, json functions on literals) reads 0.
	rowsRead := int64(len(r.rows))
	if n := st.FullscanSteps(); n > 0 {
		rowsRead = max(rowsRead, n+1)
	}
	if !c.reads {
		rowsRead = 0
	}
	elapsed := float64(time.Since(start).Microseconds()) / 1000
	r.meta = wire.Meta{
		ChangedDB:       changes > 0 || rowid != rowidBefore || size != sizeBefore,
		Changes:         changes,
		Duration:        elapsed,
		LastRowID:       jsNumber(rowid),
		RowsRead:        rowsRead,
		RowsWritten:     changes,
		SizeAfter:       size,
		ServedBy:        servedBy,
		ServedByColo:    servedByColo,
		ServedByPrimary: true,
		ServedByRegion:  servedByRegion,
		TotalAttempts:   1,
		Timings:         &wire.Timings{SQLDurationMS: elapsed},
	}
	return r, !st.Readonly() || changes > 0, e.ddl, nil
}

// Where the emulator says it ran: fixed, plausible values.
const (
	servedBy       = "d1local"
	servedByColo   = "LOCAL"
	servedByRegion = "WNAM"
)

// handleQuery serves POST /query (objects) and /raw (arrays).
func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request, d *database, raw bool) {
	req, aerr := decodeQuery(r, w, s.maxBody)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	stmts, err := parseStatements(req)
	if err != nil {
		writeError(w, asAPIError(err))
		return
	}
	var results []stmtResult
	err = d.write(s, func() (bool, error) {
		stop := d.conn.interruptAfter(s.timeout, r.Context().Done())
		defer stop()
		res, wrote, err := d.run(stmts)
		results = res
		return wrote, err
	})
	if err != nil {
		writeError(w, asAPIError(err))
		return
	}
	if raw {
		writeResult(w, rawResults(results), nil)
	} else {
		writeResult(w, queryResults(results), nil)
	}
}

func rawResults(rs []stmtResult) []wire.RawResult {
	out := make([]wire.RawResult, len(rs))
	for i, r := range rs {
		rows := make([][]json.RawMessage, len(r.rows))
		for j, row := range r.rows {
			vals := make([]json.RawMessage, len(row))
			for k, v := range row {
				vals[k] = appendJSON(nil, v)
			}
			rows[j] = vals
		}
		out[i] = wire.RawResult{Results: wire.RawRows{Columns: r.columns, Rows: rows}, Success: true, Meta: r.meta}
	}
	return out
}

// queryResults makes each row a JSON object with keys in column order; a repeated column name
// keeps its first position and takes the last value, as a JavaScript object does.
func queryResults(rs []stmtResult) []wire.QueryResult {
	out := make([]wire.QueryResult, len(rs))
	for i, r := range rs {
		first := make(map[string]int, len(r.columns))
		last := make(map[string]int, len(r.columns))
		var keys []string
		for k, name := range r.columns {
			if _, ok := first[name]; !ok {
				first[name] = k
				keys = append(keys, name)
			}
			last[name] = k
		}
		rows := make([]json.RawMessage, len(r.rows))
		for j, row := range r.rows {
			b := []byte{'{'}
			for n, name := range keys {
				if n > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, name)
				b = append(b, ':')
				b = appendJSON(b, row[last[name]])
			}
			rows[j] = append(b, '}')
		}
		out[i] = wire.QueryResult{Results: rows, Success: true, Meta: r.meta}
	}
	return out
}

// decodeBody decodes a JSON request body of at most limit bytes into v.
func decodeBody(r *http.Request, w http.ResponseWriter, limit int64, v any) *apiError {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{status: http.StatusRequestEntityTooLarge, code: wire.CodeInvalidInput, msg: "The request body is too large."}
		}
		return errBadRequest("%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return errBadRequest("unexpected data after the JSON body")
	}
	return nil
}

// msgTransaction is what D1 (workerd's SQLite regulator) answers to BEGIN, COMMIT, ROLLBACK,
// END, SAVEPOINT and RELEASE, with no SQLite class.
const msgTransaction = "To execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. The JavaScript API is safer because it will automatically roll back on exceptions, and because it interacts correctly with Durable Objects' automatic atomic write coalescing."

// d1Refusal turns a prepare error into D1's answer where D1's differs from SQLite's:
// transaction control gets D1's own message, and functions D1's SQLite lacks are unknown.
func d1Refusal(c *conn, err error) error {
	if c.deniedTxn {
		return errSQL(msgTransaction)
	}
	var se *sqliteError
	if errors.As(err, &se) {
		if name, ok := strings.CutPrefix(se.Msg, "not authorized to use function: "); ok && noSuchFunctions[strings.ToLower(name)] {
			se.Msg = "no such function: " + name
		}
	}
	return err
}

// jsNumber is n as D1's JavaScript layer passes it on: a double, so integers past 2^53 round.
func jsNumber(n int64) int64 {
	f := float64(n)
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(f)
}

// randomReference is the reference of an internal error, as D1 prints one.
func randomReference() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 24)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
