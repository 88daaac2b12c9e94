package d1sql

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"reflect"
	"time"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/internal/sqlsplit"
)

// conn is one database/sql connection: a *d1.Client and, inside a transaction, its buffer.
type conn struct {
	client *d1.Client
	opts   Options
	tx     *tx
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext sends nothing: D1 has no prepared statements over REST; the statement is
// sent with its arguments each time it runs.
func (c *conn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	return &stmt{c: c, query: query}, nil
}

func (c *conn) Close() error { c.tx = nil; return nil }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.tx != nil {
		return nil, errors.New("d1sql: a transaction is already open on this connection")
	}
	if opts.Isolation != driver.IsolationLevel(0) {
		return nil, errors.New("d1sql: D1 offers no isolation levels; leave sql.TxOptions.Isolation at its default")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.tx = &tx{c: c, ctx: ctx, readOnly: opts.ReadOnly}
	return c.tx, nil
}

// Ping sends SELECT 1, so that it proves the credentials and the database id.
func (c *conn) Ping(ctx context.Context) error {
	_, err := c.client.Query(ctx, "SELECT 1")
	return err
}

// CheckNamedValue passes every argument to the d1 client, which checks it before sending
// (integers past 2^53, NaN, invalid UTF-8, ...), and refuses named arguments.
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if nv.Name != "" {
		return ErrNamedArgs
	}
	if v, ok := nv.Value.(driver.Valuer); ok {
		dv, err := v.Value()
		if err != nil {
			return err
		}
		nv.Value = dv
	}
	return nil
}

func args(named []driver.NamedValue) ([]any, error) {
	out := make([]any, len(named))
	for i, nv := range named {
		if nv.Name != "" {
			return nil, ErrNamedArgs
		}
		out[i] = nv.Value
	}
	return out, nil
}

// ExecContext runs a statement, or buffers it inside a transaction. Without arguments, a
// script of several statements (a schema, a migration) is split as SQLite splits it and
// sent as one atomic request.
func (c *conn) ExecContext(ctx context.Context, query string, named []driver.NamedValue) (driver.Result, error) {
	a, err := args(named)
	if err != nil {
		return nil, err
	}
	if c.tx != nil {
		return c.tx.buffer(query, a)
	}
	if len(a) == 0 {
		if parts := sqlsplit.Split(query); len(parts) > 1 {
			rs, err := c.client.ExecScript(ctx, query)
			if err != nil {
				return nil, err
			}
			var res result
			for _, r := range rs {
				res.changes += r.Meta.Changes
				res.lastID = r.Meta.LastRowID
			}
			return res, nil
		}
	}
	r, err := c.client.Run(ctx, d1.Statement{SQL: query, Args: a})
	if err != nil {
		return nil, err
	}
	return result{changes: r.Meta.Changes, lastID: r.Meta.LastRowID}, nil
}

// QueryContext runs a statement and returns its rows. Inside a transaction it refuses to run
// after a buffered write, and refuses a statement that writes (ErrReadAfterWrite).
func (c *conn) QueryContext(ctx context.Context, query string, named []driver.NamedValue) (driver.Rows, error) {
	a, err := args(named)
	if err != nil {
		return nil, err
	}
	if c.tx != nil {
		if err := c.tx.checkRead(query); err != nil {
			return nil, err
		}
	}
	r, err := c.client.Run(ctx, d1.Statement{SQL: query, Args: a})
	if err != nil {
		return nil, err
	}
	return &rows{r: r, parseTime: c.opts.ParseTime}, nil
}

// stmt is a statement "prepared" on the client side.
type stmt struct {
	c     *conn
	query string
}

var (
	_ driver.StmtExecContext  = (*stmt)(nil)
	_ driver.StmtQueryContext = (*stmt)(nil)
)

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return -1 } // D1 counts the parameters and says so

func (s *stmt) Exec(a []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), valuesToNamed(a))
}

func (s *stmt) Query(a []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), valuesToNamed(a))
}

func (s *stmt) ExecContext(ctx context.Context, a []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, a)
}

func (s *stmt) QueryContext(ctx context.Context, a []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, a)
}

func valuesToNamed(a []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(a))
	for i, v := range a {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

// result is a statement's figures.
type result struct {
	changes, lastID int64
}

func (r result) LastInsertId() (int64, error) { return r.lastID, nil }
func (r result) RowsAffected() (int64, error) { return r.changes, nil }

// rows walks a decoded D1 result.
type rows struct {
	r         *d1.Result
	i         int
	parseTime bool
}

var _ driver.RowsColumnTypeScanType = (*rows)(nil)

func (r *rows) Columns() []string { return r.r.Columns }
func (r *rows) Close() error      { r.i = r.r.Len(); return nil }

func (r *rows) Next(dest []driver.Value) error {
	if r.i >= r.r.Len() {
		return io.EOF
	}
	row := r.r.Row(r.i)
	r.i++
	for j := range dest {
		v := row.Value(j)
		if s, ok := v.(string); ok && r.parseTime {
			if t, ok := parseTime(s); ok {
				v = t
			}
		}
		dest[j] = v
	}
	return nil
}

// ColumnTypeScanType reports the Go type of the column's first non-NULL value (D1 returns no
// declared types; SQLite columns may mix types), or any when every value is NULL.
func (r *rows) ColumnTypeScanType(j int) reflect.Type {
	for i := range r.r.Len() {
		switch v := r.r.Row(i).Value(j).(type) {
		case int64:
			return typeInt64
		case float64:
			return typeFloat64
		case []byte:
			return typeBytes
		case string:
			if r.parseTime {
				if _, ok := parseTime(v); ok {
					return typeTime
				}
			}
			return typeString
		}
	}
	return typeAny
}

var (
	typeInt64   = reflect.TypeFor[int64]()
	typeFloat64 = reflect.TypeFor[float64]()
	typeBytes   = reflect.TypeFor[[]byte]()
	typeString  = reflect.TypeFor[string]()
	typeTime    = reflect.TypeFor[time.Time]()
	typeAny     = reflect.TypeFor[any]()
)

// timeLayouts are the texts ParseTime turns into time.Time: RFC 3339 (what the d1 client
// sends for a time.Time) and SQLite's date-time forms (UTC).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}

func parseTime(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02 15:04:05") || len(s) > len(time.RFC3339Nano)+4 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// readOnly reports whether query certainly returns rows without writing (d1.IsReadOnly).
func readOnly(query string) bool { return d1.IsReadOnly(query) }
