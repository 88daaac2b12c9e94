package d1

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	cfd1 "github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/d1seal/d1seal/internal/sqlsplit"
)

// Query runs one statement and returns its rows. A read-only statement is retried after
// transient failures; see RetryPolicy.
func (c *Client) Query(ctx context.Context, sql string, args ...any) (*Result, error) {
	return c.Run(ctx, Statement{SQL: sql, Args: args})
}

// Exec runs one statement and returns only its metadata (rows changed, last rowid, ...).
func (c *Client) Exec(ctx context.Context, sql string, args ...any) (Meta, error) {
	r, err := c.Run(ctx, Statement{SQL: sql, Args: args})
	if err != nil {
		return Meta{}, err
	}
	return r.Meta, nil
}

// Run runs one statement, honouring its Idempotent flag.
func (c *Client) Run(ctx context.Context, st Statement) (*Result, error) {
	rs, err := c.send(ctx, "query", []Statement{st})
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// Batch runs several statements in one request, as one transaction: either all of them
// commit or none does. It returns one Result per statement, in order. The batch is retried
// after a failure that may have reached D1 only if every statement is read-only or marked
// Idempotent. An empty batch sends nothing.
func (c *Client) Batch(ctx context.Context, stmts ...Statement) ([]*Result, error) {
	if len(stmts) == 0 {
		return nil, c.ctxOK(ctx)
	}
	return c.send(ctx, "batch", stmts)
}

// ExecScript runs a script of several statements separated by ';' (as a migration file holds)
// in one atomic request, and returns one Result per statement. The script is split the way
// SQLite splits it: semicolons inside quotes, comments and CREATE TRIGGER … BEGIN … END do not
// end a statement. BEGIN, COMMIT, ROLLBACK, SAVEPOINT and RELEASE are refused before sending:
// D1 runs every request as one transaction and rejects them.
func (c *Client) ExecScript(ctx context.Context, script string) ([]*Result, error) {
	parts := sqlsplit.Split(script)
	if len(parts) == 0 {
		return nil, &ArgError{Statement: 0, Index: -1, Type: "sql", Reason: "script holds no SQL statement"}
	}
	stmts := make([]Statement, len(parts))
	for i, p := range parts {
		if kw, _ := sqlsplit.FirstKeyword(p); sqlsplit.IsTransactionControl(kw) {
			return nil, &ArgError{Statement: i, Index: -1, Type: "sql", Reason: kw + " is refused by D1, which runs each request as one transaction; remove it"}
		}
		stmts[i] = Statement{SQL: p}
	}
	return c.send(ctx, "script", stmts)
}

// Prepared is a request encoded and checked once: D1's limits and every argument were checked
// when it was made, and it can be sent (or sent again after a lost response) without encoding
// anything twice. Make one with Prepare or PrepareChunks; send it with Send. It is immutable and
// safe for concurrent use.
type Prepared struct {
	op   string
	sql  []string
	safe bool // every statement read-only or Idempotent
	body []byte
}

// Len returns the number of statements in the request.
func (p *Prepared) Len() int { return len(p.sql) }

// Prepare encodes stmts as one request (a batch when there are several), checking every
// argument and limit now.
func (c *Client) Prepare(stmts ...Statement) (*Prepared, error) {
	if len(stmts) == 0 {
		return nil, &ArgError{Statement: -1, Index: -1, Type: "batch", Reason: "no statements"}
	}
	body, err := c.encode(stmts)
	if err != nil {
		return nil, err
	}
	op := "batch"
	if len(stmts) == 1 {
		op = "query"
	}
	return c.prepared(op, stmts, body), nil
}

func (c *Client) prepared(op string, stmts []Statement, body []byte) *Prepared {
	p := &Prepared{op: op, sql: make([]string, len(stmts)), safe: true, body: body}
	for i := range stmts {
		p.sql[i] = stmts[i].SQL
		p.safe = p.safe && (stmts[i].Idempotent || IsReadOnly(stmts[i].SQL))
	}
	return p
}

// send encodes, checks and sends stmts as one /raw request.
func (c *Client) send(ctx context.Context, op string, stmts []Statement) ([]*Result, error) {
	if err := c.ctxOK(ctx); err != nil {
		return nil, err
	}
	body, err := c.encode(stmts)
	if err != nil {
		return nil, err
	}
	return c.Send(ctx, c.prepared(op, stmts, body))
}

// Send sends a prepared request as one atomic /raw request and returns one Result per
// statement, retrying as Batch does.
func (c *Client) Send(ctx context.Context, p *Prepared) ([]*Result, error) {
	return c.sendPrepared(ctx, p, nil)
}

// SendOnce sends a prepared write so that it takes effect exactly once, even though its
// statements are not idempotent. committed must report whether the write has committed, by
// reading something only the write leaves behind (a write id stored in its rows, say).
//
// After a failure that may have reached D1 (the response was lost), SendOnce asks committed
// before doing anything else, and sends the request again only when it says no. Once any
// attempt may have reached D1, every later failure is checked the same way before it is
// reported, because that attempt can land late, and the resend then meets its rows (a unique
// violation, a version that moved on): a write is never reported as failing against itself.
// Attempts, backoff and the rate-limit budget are the client's (RetryPolicy): there are no
// retries on top of these.
//
// It returns one Result per statement, or nil results and a nil error when committed found
// the write committed after its response was lost. A returned *Error with Sent true means the
// write may still land; an error from committed itself is returned wrapped with the failure.
func (c *Client) SendOnce(ctx context.Context, p *Prepared, committed func(context.Context) (bool, error)) ([]*Result, error) {
	if committed == nil {
		return nil, &ArgError{Statement: -1, Index: -1, Type: "committed", Reason: "SendOnce needs a committed check"}
	}
	return c.sendPrepared(ctx, p, committed)
}

func (c *Client) sendPrepared(ctx context.Context, p *Prepared, committed func(context.Context) (bool, error)) ([]*Result, error) {
	if err := c.ctxOK(ctx); err != nil {
		return nil, err
	}
	op, n := p.op, len(p.sql)
	cl := &call{op: op, sql: p.sql, safe: p.safe, committed: committed}
	var results []*Result
	cl.do = func(ctx context.Context, opts ...option.RequestOption) error {
		opts = append(opts, option.WithRequestBody("application/json", p.body))
		params := cfd1.DatabaseRawParams{Body: cfd1.DatabaseRawParamsBody{}}
		setField(&params.AccountID.Value, &params.AccountID.Present, c.accountID)
		_, err := c.svc.Raw(ctx, c.databaseID, params, opts...)
		return err
	}
	cl.decode = func(b []byte) error {
		env, rs, err := decodeRaw(b)
		if err != nil {
			return err
		}
		if !env.Success {
			e := &Error{Op: op, Statement: -1, StatusCode: 200, Sent: true}
			e.setMessages(env.Errors)
			if e.Message == "" {
				e.Message = "D1 answered success: false without an error message"
			}
			return e
		}
		if len(rs) != n {
			return &Error{Op: op, Statement: -1, StatusCode: 200, Sent: true,
				Message: fmt.Sprintf("D1 returned %d results for %d statements", len(rs), n)}
		}
		for i, item := range env.Result {
			if item.Success != nil && !*item.Success {
				msg := item.Error
				if msg == "" {
					msg = "statement reported success: false"
				}
				e := &Error{Op: op, Statement: i, StatusCode: 200, Sent: true, Message: trimD1Prefix(msg)}
				e.SQLiteCode, e.ExtendedCode = parseSQLiteCodes(e.Message)
				return e
			}
		}
		cl.meta = make([]Meta, len(rs))
		for i, r := range rs {
			cl.meta[i] = r.Meta
		}
		results = rs
		return nil
	}
	if err := c.run(ctx, cl); err != nil {
		return nil, err
	}
	return results, nil
}

// PrepareChunks splits stmts into consecutive requests, as few as possible, each within the
// client's Limits (statements and bytes per request), encoding every statement once. A
// statement that does not fit in a request on its own is an *ArgError. Send each with Send:
// each is atomic, the whole is not.
func (c *Client) PrepareChunks(stmts []Statement) ([]*Prepared, error) {
	lim := &c.limits
	const open, close = `{"batch":[`, "]}"
	const frame = len(open) + len(close)
	var out []*Prepared
	// Each chunk's buffer is allocated once, at about the size it will reach, and becomes the
	// request body as it is: it is never grown by doubling nor copied (both of which moved a
	// 50 MB request several times).
	sizes := make([]int, len(stmts))
	for i := range stmts {
		sizes[i] = encodedSize(&stmts[i], c.compact)
	}
	reserve := func(from int) []byte {
		n := frame
		for i := from; i < len(stmts) && i-from < lim.MaxStatements && n < lim.MaxRequestBytes; i++ {
			n += sizes[i] + 1
		}
		return append(make([]byte, 0, min(n, lim.MaxRequestBytes+frame)+64), open...)
	}
	buf := reserve(0) // open, then the encodings of the current chunk's statements, comma-separated
	start := 0
	flush := func(end int) {
		if end == start {
			return
		}
		body := buf[len(open):] // a single statement is sent as {"sql","params"}
		if end-start > 1 {
			body = append(buf, close...)
		}
		out = append(out, c.prepared("batch", stmts[start:end], body))
		buf, start = nil, end
	}
	for i := range stmts {
		mark := len(buf)
		if mark > len(open) {
			buf = append(buf, ',')
		}
		var err error
		if buf, err = c.encodeOne(buf, &stmts[i], i); err != nil {
			return nil, err
		}
		n := len(buf) - mark
		if frame+n > lim.MaxRequestBytes {
			return nil, limitError("request bytes", lim.MaxRequestBytes, frame+n, i)
		}
		if i > start && (i-start >= lim.MaxStatements || len(buf)+len(close) > lim.MaxRequestBytes) {
			// The statement starts the next chunk: move its encoding there.
			enc := bytes.Clone(buf[mark+1:])
			buf = buf[:mark]
			flush(i)
			buf = append(reserve(i), enc...)
		}
	}
	flush(len(stmts))
	return out, nil
}

// Limits returns the limits the client checks before sending.
func (c *Client) Limits() Limits { return c.limits }

// Retry returns the client's retry policy, defaults filled in.
func (c *Client) Retry() RetryPolicy { return c.retry }

// encodedSize estimates the bytes st takes encoded, to allocate request buffers once.
func encodedSize(st *Statement, compact bool) int {
	n := len(st.SQL) + 32
	for _, a := range st.Args {
		switch v := a.(type) {
		case string:
			n += len(v) + 8
		case Hex:
			n += 2*len(v) + 2
		case []byte:
			if compact {
				n += len(v)*4/3 + 16
			} else {
				n += 4*len(v) + 2
			}
		default:
			n += 24
		}
	}
	return n
}

// encode builds the request body: {"sql","params"} for one statement, {"batch":[…]} for
// several. Every argument and limit is checked here, before anything is sent.
func (c *Client) encode(stmts []Statement) ([]byte, error) {
	lim := &c.limits
	if len(stmts) > lim.MaxStatements {
		return nil, limitError("statements", lim.MaxStatements, len(stmts), -1)
	}
	size := 16
	for i := range stmts {
		size += encodedSize(&stmts[i], c.compact)
	}
	buf := make([]byte, 0, size)
	if len(stmts) > 1 {
		buf = append(buf, `{"batch":[`...)
	}
	for i := range stmts {
		if i > 0 {
			buf = append(buf, ',')
		}
		var err error
		if buf, err = c.encodeOne(buf, &stmts[i], i); err != nil {
			return nil, err
		}
		if len(buf) > lim.MaxRequestBytes {
			return nil, limitError("request bytes", lim.MaxRequestBytes, len(buf), -1)
		}
	}
	if len(stmts) > 1 {
		buf = append(buf, "]}"...)
	}
	return buf, nil
}

// encodeOne appends {"sql":…,"params":[…]} for one statement, checking its limits.
func (c *Client) encodeOne(buf []byte, st *Statement, i int) ([]byte, error) {
	lim := &c.limits
	switch n := statementCount(st.SQL); {
	case n == 0:
		return nil, &ArgError{Statement: i, Index: -1, Type: "sql", Reason: "no SQL statement (empty, or only comments)"}
	case n > 1:
		// D1 would run every statement of the text and answer with one result each: refuse
		// before anything runs, instead of failing after the writes committed.
		return nil, &ArgError{Statement: i, Index: -1, Type: "sql", Reason: fmt.Sprintf("%d statements in one; use ExecScript, or one Statement each in a Batch", n)}
	}
	if len(st.SQL) > lim.MaxSQLBytes {
		return nil, limitError("SQL bytes", lim.MaxSQLBytes, len(st.SQL), i)
	}
	if len(st.Args) > lim.MaxParams {
		return nil, limitError("parameters", lim.MaxParams, len(st.Args), i)
	}
	var err error
	buf = append(buf, `{"sql":`...)
	if buf, err = appendSQL(buf, st.SQL, i); err != nil {
		return nil, err
	}
	if len(st.Args) > 0 {
		buf = append(buf, `,"params":`...)
		if buf, err = appendArgs(buf, st, i, lim, c.compact); err != nil {
			return nil, err
		}
	}
	return append(buf, '}'), nil
}

// statementCount is how many statements SQLite would find in sql. Text with no ';' before its
// end and nothing that could hide one (quotes, brackets, comments) is one statement, or none
// when empty; anything else is split as SQLite splits it.
func statementCount(sql string) int {
	body := strings.TrimRight(sql, " \t\r\n;")
	if !strings.ContainsAny(body, ";'\"`[-/") {
		if strings.TrimSpace(body) == "" {
			return 0
		}
		return 1
	}
	return len(sqlsplit.Split(sql))
}
