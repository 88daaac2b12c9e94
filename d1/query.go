package d1

import (
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
		if kw, _ := firstKeyword(p); isTransactionControl(kw) {
			return nil, &ArgError{Statement: i, Index: -1, Type: "sql", Reason: kw + " is refused by D1, which runs each request as one transaction; remove it"}
		}
		stmts[i] = Statement{SQL: p}
	}
	return c.send(ctx, "script", stmts)
}

func isTransactionControl(kw string) bool {
	switch kw {
	case "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE":
		return true
	}
	return false
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
	cl := &call{op: op, sql: make([]string, len(stmts)), safe: true}
	for i := range stmts {
		cl.sql[i] = stmts[i].SQL
		cl.safe = cl.safe && (stmts[i].Idempotent || isReadOnly(stmts[i].SQL))
	}
	var results []*Result
	cl.do = func(ctx context.Context, opts ...option.RequestOption) error {
		opts = append(opts, option.WithRequestBody("application/json", body))
		p := cfd1.DatabaseRawParams{Body: cfd1.DatabaseRawParamsBody{}}
		setField(&p.AccountID.Value, &p.AccountID.Present, c.accountID)
		_, err := c.svc.Raw(ctx, c.databaseID, p, opts...)
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
		if len(rs) != len(stmts) {
			return &Error{Op: op, Statement: -1, StatusCode: 200, Sent: true,
				Message: fmt.Sprintf("D1 returned %d results for %d statements", len(rs), len(stmts))}
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

// Chunks splits stmts into consecutive groups, as few as possible, each of which fits in one
// request under the client's Limits (statements and bytes per request); send each with Batch.
// A statement that does not fit in a request on its own is a *LimitError.
func (c *Client) Chunks(stmts []Statement) ([][]Statement, error) {
	lim := &c.limits
	var out [][]Statement
	start, size := 0, len(`{"batch":[]}`)
	var buf []byte
	for i := range stmts {
		var err error
		if buf, err = c.encodeOne(buf[:0], &stmts[i], i); err != nil {
			return nil, err
		}
		n := len(buf) + 1 // the comma
		if len(`{"batch":[]}`)+n > lim.MaxRequestBytes {
			return nil, &LimitError{Limit: "request bytes", Max: lim.MaxRequestBytes, Got: len(`{"batch":[]}`) + n, Statement: i}
		}
		if i > start && (i-start >= lim.MaxStatements || size+n > lim.MaxRequestBytes) {
			out = append(out, stmts[start:i:i])
			start, size = i, len(`{"batch":[]}`)
		}
		size += n
	}
	if start < len(stmts) {
		out = append(out, stmts[start:len(stmts):len(stmts)])
	}
	return out, nil
}

// Limits returns the limits the client checks before sending.
func (c *Client) Limits() Limits { return c.limits }

// Retry returns the client's retry policy, defaults filled in.
func (c *Client) Retry() RetryPolicy { return c.retry }

// encode builds the request body: {"sql","params"} for one statement, {"batch":[…]} for
// several. Every argument and limit is checked here, before anything is sent.
func (c *Client) encode(stmts []Statement) ([]byte, error) {
	lim := &c.limits
	if len(stmts) > lim.MaxStatements {
		return nil, &LimitError{Limit: "statements", Max: lim.MaxStatements, Got: len(stmts), Statement: -1}
	}
	size := 16
	for i := range stmts {
		size += len(stmts[i].SQL) + 32 + 8*len(stmts[i].Args)
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
			return nil, &LimitError{Limit: "request bytes", Max: lim.MaxRequestBytes, Got: len(buf), Statement: -1}
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
		return nil, &LimitError{Limit: "SQL bytes", Max: lim.MaxSQLBytes, Got: len(st.SQL), Statement: i}
	}
	if len(st.Args) > lim.MaxParams {
		return nil, &LimitError{Limit: "parameters", Max: lim.MaxParams, Got: len(st.Args), Statement: i}
	}
	var err error
	buf = append(buf, `{"sql":`...)
	if buf, err = appendSQL(buf, st.SQL, i); err != nil {
		return nil, err
	}
	if len(st.Args) > 0 {
		buf = append(buf, `,"params":`...)
		if buf, err = appendArgs(buf, st, i, lim); err != nil {
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
