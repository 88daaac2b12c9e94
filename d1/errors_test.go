package d1

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorShapes(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		header    map[string]string
		check     func(t *testing.T, e *Error, err error)
		retryable bool
	}{
		{
			name: "unique violation, local D1 form", status: 400,
			body: `{"result":null,"success":false,"errors":[{"code":7500,"message":"UNIQUE constraint failed: t.name: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)"}],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.Equal(t, "SQLITE_CONSTRAINT", e.SQLiteCode)
				assert.Equal(t, "SQLITE_CONSTRAINT_UNIQUE", e.ExtendedCode)
				assert.Equal(t, []int{7500}, e.Codes)
				assert.Equal(t, 0, e.Statement)
				assert.True(t, IsConstraint(err))
				assert.True(t, IsUniqueViolation(err))
				assert.False(t, IsNoSuchTable(err))
			},
		},
		{
			name: "unique violation, production form with D1_ERROR prefix", status: 400,
			body: `{"result":null,"success":false,"errors":[{"code":7500,"message":"D1_ERROR: UNIQUE constraint failed: t.name: SQLITE_CONSTRAINT"}],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.Equal(t, "UNIQUE constraint failed: t.name: SQLITE_CONSTRAINT", e.Message)
				assert.Equal(t, "SQLITE_CONSTRAINT", e.SQLiteCode)
				assert.Empty(t, e.ExtendedCode)
				assert.True(t, IsUniqueViolation(err))
			},
		},
		{
			name: "foreign key violation is a constraint but not unique", status: 400,
			body: `{"result":null,"success":false,"errors":[{"code":7500,"message":"FOREIGN KEY constraint failed: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_FOREIGNKEY)"}],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.True(t, IsConstraint(err))
				assert.False(t, IsUniqueViolation(err))
			},
		},
		{
			name: "no such table", status: 400,
			body: `{"result":null,"success":false,"errors":[{"code":7500,"message":"no such table: nope: SQLITE_ERROR"}],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.True(t, IsNoSuchTable(err))
				assert.Equal(t, "SQLITE_ERROR", e.SQLiteCode)
				assert.False(t, IsRetryable(err))
			},
		},
		{
			name: "unknown database", status: 404,
			body: `{"result":null,"success":false,"errors":[{"code":7404,"message":"The database db-1 could not be found"}],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.Equal(t, 404, e.StatusCode)
				assert.Contains(t, err.Error(), "D1_DATABASE_ID")
			},
		},
		{
			name: "bad token", status: 401,
			body: `{"result":null,"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.Equal(t, 401, e.StatusCode)
				assert.Contains(t, err.Error(), "CLOUDFLARE_API_TOKEN")
			},
		},
		{
			name: "forbidden", status: 403,
			body: `{"result":null,"success":false,"errors":[{"code":7403,"message":"The given account is not valid or is not authorized to access this service"}],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.Equal(t, 403, e.StatusCode)
				assert.Contains(t, err.Error(), "D1 Edit")
			},
		},
		{
			name: "rate limited", status: 429, header: map[string]string{"Retry-After": "300"},
			body: `{"result":null,"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.True(t, errors.Is(err, ErrRateLimited))
				assert.Equal(t, 300*time.Second, e.RetryAfter)
				assert.False(t, e.Sent, "a 429 was refused before executing")
			},
			retryable: true,
		},
		{
			name: "internal error", status: 500,
			body: `{"result":null,"success":false,"errors":[{"code":7500,"message":"internal error; reference = abc123"}],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.True(t, e.Sent)
			},
			retryable: true,
		},
		{
			name: "gateway HTML", status: 502, header: map[string]string{"Content-Type": "text/html; charset=UTF-8"},
			body: `<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>`,
			check: func(t *testing.T, e *Error, err error) {
				assert.Contains(t, e.Message, "non-JSON body (text/html")
				assert.NotContains(t, err.Error(), "<html>", "bodies never reach the message")
			},
			retryable: true,
		},
		{
			name: "gateway timeout, empty body", status: 504,
			check: func(t *testing.T, e *Error, err error) {
				assert.Equal(t, 504, e.StatusCode)
			},
			retryable: true,
		},
		{
			name: "transient D1 message", status: 400,
			body: `{"result":null,"success":false,"errors":[{"code":7500,"message":"D1_ERROR: Network connection lost."}],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.Equal(t, "Network connection lost.", e.Message)
			},
			retryable: true,
		},
		{
			name: "200 with success false", status: 200,
			body: `{"result":null,"success":false,"errors":[{"code":7500,"message":"D1_ERROR: storage caused object to be reset"}],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.Equal(t, 200, e.StatusCode)
				assert.Equal(t, "storage caused object to be reset", e.Message)
			},
			retryable: true,
		},
		{
			name: "200 with a non-JSON body", status: 200, body: `not json`,
			check: func(t *testing.T, e *Error, err error) {
				assert.Equal(t, "unreadable response", e.Message)
			},
		},
		{
			name: "200 with too few results", status: 200,
			body: `{"result":[],"success":true,"errors":[],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.Contains(t, e.Message, "0 results for 1 statements")
			},
		},
		{
			name: "200 with a row of the wrong width", status: 200,
			body: `{"result":[{"results":{"columns":["a","b"],"rows":[[1]]},"success":true,"meta":{}}],"success":true,"errors":[],"messages":[]}`,
			check: func(t *testing.T, e *Error, err error) {
				assert.Contains(t, err.Error(), "1 values for 2 columns")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request, _ []byte) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			c := f.client(t, Options{Retry: RetryPolicy{MaxAttempts: 1}})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := c.Exec(ctx, "INSERT INTO t VALUES (1)")
			require.Error(t, err)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "query", e.Op)
			if tc.status != 200 {
				assert.Equal(t, tc.status, e.StatusCode)
			}
			assert.Equal(t, tc.retryable, IsRetryable(err), "IsRetryable")
			tc.check(t, e, err)
			assert.NotContains(t, fmt.Sprintf("%v %+v %#v", err, err, err), testToken)
		})
	}
}

func TestReadsRetryAndWritesDoNot(t *testing.T) {
	flaky := func(n int, w http.ResponseWriter, r *http.Request, body []byte) {
		if n == 1 {
			w.WriteHeader(503)
			return
		}
		rawOK([]string{"x"}, `[[1]]`)(n, w, r, body)
	}
	ctx := context.Background()

	t.Run("read is retried", func(t *testing.T) {
		f := newFake(t, flaky)
		res, err := f.client(t, Options{}).Query(ctx, "SELECT x FROM t")
		require.NoError(t, err)
		assert.Equal(t, 1, res.Len())
		assert.Equal(t, int64(2), f.requests.Load())
	})
	t.Run("write is not retried after a 5xx", func(t *testing.T) {
		f := newFake(t, flaky)
		_, err := f.client(t, Options{}).Exec(ctx, "INSERT INTO t VALUES (1)")
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, 503, e.StatusCode)
		assert.True(t, e.Sent)
		assert.Equal(t, 1, e.Attempts)
		assert.Equal(t, int64(1), f.requests.Load(), "a write that may have reached D1 is never replayed")
	})
	t.Run("idempotent write is retried", func(t *testing.T) {
		f := newFake(t, flaky)
		_, err := f.client(t, Options{}).Run(ctx, Statement{SQL: "INSERT OR IGNORE INTO t VALUES (1)", Idempotent: true})
		require.NoError(t, err)
		assert.Equal(t, int64(2), f.requests.Load())
	})
	t.Run("batch with one non-idempotent write is not retried", func(t *testing.T) {
		f := newFake(t, flaky)
		_, err := f.client(t, Options{}).Batch(ctx, Statement{SQL: "SELECT 1"}, Statement{SQL: "UPDATE t SET x = x + 1"})
		require.Error(t, err)
		assert.Equal(t, int64(1), f.requests.Load())
	})
	t.Run("write is retried after a 429", func(t *testing.T) {
		f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request, body []byte) {
			if n == 1 {
				w.Header().Set("Retry-After", "0.05")
				writeJSON(w, 429, errEnvelope(971, "Please wait"))
				return
			}
			rawOK([]string{}, `[]`)(n, w, r, body)
		})
		start := time.Now()
		_, err := f.client(t, Options{}).Exec(ctx, "INSERT INTO t VALUES (1)")
		require.NoError(t, err)
		assert.Equal(t, int64(2), f.requests.Load())
		assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "Retry-After is honoured")
	})
	t.Run("write is retried when the connection was refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		l.Close()
		acct, err := NewAccount("acct", testToken, Options{BaseURL: "http://" + addr + "/client/v4", Retry: RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}})
		require.NoError(t, err)
		c := acct.Database("db")
		_, err = c.Exec(ctx, "INSERT INTO t VALUES (1)")
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.False(t, e.Sent, "a refused connection never reached D1")
		assert.Equal(t, 3, e.Attempts, "so even a write is retried")
		assert.True(t, IsRetryable(err))
	})
	t.Run("constraint errors are never retried", func(t *testing.T) {
		f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request, _ []byte) {
			writeJSON(w, 400, errEnvelope(7500, "UNIQUE constraint failed: t.id: SQLITE_CONSTRAINT"))
		})
		_, err := f.client(t, Options{}).Run(ctx, Statement{SQL: "INSERT INTO t VALUES (1)", Idempotent: true})
		require.Error(t, err)
		assert.Equal(t, int64(1), f.requests.Load())
	})
	t.Run("attempts are capped", func(t *testing.T) {
		f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(500) })
		_, err := f.client(t, Options{}).Query(ctx, "SELECT 1")
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, 3, e.Attempts)
		assert.Equal(t, int64(3), f.requests.Load())
	})
}

func TestRateLimitPauseFailsFastPastDeadline(t *testing.T) {
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Retry-After", "300")
		writeJSON(w, 429, errEnvelope(971, "Please wait and consider throttling your request speed"))
	})
	c := f.client(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Query(ctx, "SELECT 1")
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrRateLimited), "got %v", err)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 429, e.StatusCode, "the caller gets the 429 itself")
	assert.Equal(t, []int{971}, e.Codes)
	assert.Equal(t, 300*time.Second, e.RetryAfter)
	assert.Equal(t, int64(1), f.requests.Load(), "after a 429 with Retry-After: 300 nothing more is sent")
	assert.Less(t, time.Since(start), time.Second, "a deadline shorter than the pause fails at once")

	// Every caller of the account is paused, including other goroutines and other databases.
	other := c.Account().Database("db-2")
	for _, cl := range []*Client{c, other} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = cl.Query(ctx, "SELECT 1")
		cancel()
		assert.True(t, errors.Is(err, ErrRateLimited))
	}
	assert.Equal(t, int64(1), f.requests.Load())
}

func TestRateLimitPauseThenResume(t *testing.T) {
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request, body []byte) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, 429, errEnvelope(971, "Please wait"))
			return
		}
		rawOK([]string{"x"}, `[[1]]`)(n, w, r, body)
	})
	c := f.client(t, Options{Retry: RetryPolicy{MaxAttempts: 1}})
	_, err := c.Query(context.Background(), "SELECT 1")
	require.True(t, errors.Is(err, ErrRateLimited))
	start := time.Now()
	_, err = c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "the next call waited out Retry-After")
	assert.Equal(t, int64(2), f.requests.Load())
}

func TestBudget(t *testing.T) {
	f := newFake(t, rawOK([]string{"x"}, `[[1]]`))
	c := f.client(t, Options{RateLimit: RateLimit{Requests: 3, Window: time.Hour, Burst: 2}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for range 2 {
		_, err := c.Query(ctx, "SELECT 1")
		require.NoError(t, err)
	}
	_, err := c.Query(ctx, "SELECT 1")
	require.True(t, errors.Is(err, ErrRateLimited), "the burst is spent and the refill takes an hour: got %v", err)
	assert.Equal(t, int64(2), f.requests.Load())

	_, err = NewAccount("a", "c", Options{RateLimit: RateLimit{Requests: 10, Burst: 10}})
	require.Error(t, err, "a burst as large as the budget could exceed it within one window")
}

func TestContextCancellation(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request, body []byte) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := f.client(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Query(ctx, "SELECT 1")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)

	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err = c.Query(canceled, "SELECT 1")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestLimitsCheckedBeforeSending(t *testing.T) {
	f := newFake(t, rawOK([]string{}, `[]`))
	c := f.client(t, Options{Limits: Limits{MaxStatements: 3, MaxRequestBytes: 3_000_000}})
	ctx := context.Background()
	args := make([]any, 101)
	for i := range args {
		args[i] = i
	}
	cases := []struct {
		name  string
		run   func() error
		limit string
		stmt  int
	}{
		{"101 parameters", func() error { _, err := c.Exec(ctx, "INSERT", args...); return err }, "parameters", 0},
		{"SQL over 100,000 bytes", func() error {
			_, err := c.Batch(ctx, Statement{SQL: "SELECT 1"}, Statement{SQL: "SELECT '" + strings.Repeat("x", 100_000) + "'"})
			return err
		}, "SQL bytes", 1},
		{"string over 2,000,000 bytes", func() error {
			_, err := c.Exec(ctx, "INSERT INTO t VALUES (?)", strings.Repeat("x", 2_000_001))
			return err
		}, "value bytes", 0},
		{"BLOB over 2,000,000 bytes", func() error {
			_, err := c.Exec(ctx, "INSERT INTO t VALUES (?)", make([]byte, 2_000_001))
			return err
		}, "value bytes", 0},
		{"too many statements", func() error {
			_, err := c.Batch(ctx, Statement{SQL: "SELECT 1"}, Statement{SQL: "SELECT 1"}, Statement{SQL: "SELECT 1"}, Statement{SQL: "SELECT 1"})
			return err
		}, "statements", -1},
		{"request body cap", func() error {
			big := make([]byte, 1_000_000)
			_, err := c.Batch(ctx, Statement{SQL: "INSERT INTO t VALUES (?)", Args: []any{big}}, Statement{SQL: "INSERT INTO t VALUES (?)", Args: []any{big}})
			return err
		}, "request bytes", -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			var le *ArgError
			require.ErrorAs(t, err, &le)
			assert.ErrorIs(t, err, ErrBadArg)
			assert.Equal(t, tc.limit, le.Limit)
			assert.Equal(t, tc.stmt, le.Statement)
			assert.Greater(t, le.Got, le.Max)
			assert.Contains(t, err.Error(), tc.limit)
		})
	}
	assert.Equal(t, int64(0), f.requests.Load())
	_, err := c.Exec(ctx, "INSERT INTO t VALUES (?)", strings.Repeat("x", 2_000_000))
	require.NoError(t, err, "exactly 2,000,000 bytes is allowed")
}

func TestScriptRefusesTransactionControl(t *testing.T) {
	f := newFake(t, rawOK([]string{}, `[]`))
	c := f.client(t, Options{})
	_, err := c.ExecScript(context.Background(), "CREATE TABLE a(x);\nBEGIN TRANSACTION;\nINSERT INTO a VALUES (1);\nCOMMIT;")
	var ae *ArgError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 1, ae.Statement)
	assert.Contains(t, err.Error(), "BEGIN is refused")
	_, err = c.ExecScript(context.Background(), "  -- nothing\n ; ")
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int64(0), f.requests.Load())
}

func TestTokenNeverLeaks(t *testing.T) {
	var logs bytes.Buffer
	var infos []string
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request, body []byte) {
		// An API that echoes the header back must not get it into errors either.
		msg := "auth failed for " + r.Header.Get("Authorization")
		writeJSON(w, 401, errEnvelope(10000, strings.ReplaceAll(msg, testToken, "[redacted by server]")))
	})
	c := f.client(t, Options{
		Logger:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnRequest: func(ri RequestInfo) { infos = append(infos, fmt.Sprintf("%+v", ri)) },
	})
	_, err := c.Query(context.Background(), "SELECT ?", "secret-arg-value")
	require.Error(t, err)
	_, err2 := NewAccount("", testToken, Options{})
	for _, s := range []string{
		fmt.Sprintf("%v|%+v|%#v|%s", err, err, err, err), fmt.Sprintf("%v|%+v|%s", c, c, c), fmt.Sprint(err2),
		logs.String(), strings.Join(infos, "\n"),
	} {
		assert.NotContains(t, s, testToken)
		assert.NotContains(t, s, "secret-arg-value", "SQL arguments are never logged")
	}
	assert.Contains(t, logs.String(), "d1 request", "the debug log did run")
	require.Len(t, infos, 1)
	assert.Contains(t, f.body(0), "secret-arg-value", "the argument was sent")
	assert.True(t, errors.Is(err, err))
}

func TestPrepareChunks(t *testing.T) {
	f := newFake(t, rawOK([]string{}, `[]`))
	c := f.client(t, Options{Limits: Limits{MaxStatements: 4, MaxRequestBytes: 350}})
	st := func(n int) Statement {
		return Statement{SQL: "INSERT INTO t VALUES (?)", Args: []any{strings.Repeat("x", n)}}
	}
	// Each statement encodes to 47+n bytes ({"sql":"INSERT INTO t VALUES (?)","params":["…"]}),
	// plus a comma, in a 12-byte {"batch":[]}: four st(1) make 208 bytes, st(100)+st(100) 308,
	// and st(10) would take that to 366.
	stmts := []Statement{st(1), st(1), st(1), st(1), st(100), st(100), st(10)}
	chunks, err := c.PrepareChunks(stmts)
	require.NoError(t, err)
	var sizes []int
	next := 0
	for _, p := range chunks {
		sizes = append(sizes, p.Len())
		want, err := c.encode(stmts[next : next+p.Len()])
		require.NoError(t, err)
		assert.Equal(t, string(want), string(p.body), "a chunk's body is what encoding its statements gives")
		assert.LessOrEqual(t, len(p.body), 350)
		next += p.Len()
	}
	assert.Equal(t, []int{4, 2, 1}, sizes, "cut by count, then by bytes")
	_, err = c.PrepareChunks([]Statement{st(1), st(300)})
	var le *ArgError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, 1, le.Statement)
	chunks, err = c.PrepareChunks(nil)
	require.NoError(t, err)
	assert.Empty(t, chunks)
	assert.Equal(t, int64(0), f.requests.Load())

	// Sending a prepared chunk, and again (as after a lost response), sends the same bytes.
	p, err := c.Prepare(st(1), st(2))
	require.NoError(t, err)
	_, err = c.Send(context.Background(), p)
	require.Error(t, err, "the fake answers one result for two statements")
	_, err = c.Prepare()
	assert.ErrorIs(t, err, ErrBadArg)
}

func TestImportRefusesCorruptedUpload(t *testing.T) {
	var actions []string
	var uploadAuth []string
	var f *fakeD1
	f = newFake(t, func(n int, w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Method == http.MethodPut {
			uploadAuth = append(uploadAuth, r.Header.Get("Authorization"))
			w.Header().Set("ETag", `"00000000000000000000000000000000"`) // not the file's MD5
			return
		}
		var req struct{ Action string }
		json.Unmarshal(body, &req)
		actions = append(actions, req.Action)
		writeJSON(w, 200, map[string]any{"success": true, "errors": []any{}, "messages": []any{},
			"result": map[string]any{"success": true, "filename": "database/db-1/x.sql", "upload_url": f.URL + "/upload/secret", "messages": []any{}}})
	})
	c := f.client(t, Options{})
	_, err := c.Import(context.Background(), strings.NewReader("INSERT INTO t VALUES (1);"), ImportOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not match the file's MD5")
	assert.Equal(t, []string{"init"}, actions, "a corrupted upload is never ingested")
	assert.Equal(t, []string{""}, uploadAuth, "the signed upload URL never gets the API token")
}

func TestOneStatementPerStatement(t *testing.T) {
	f := newFake(t, rawOK([]string{}, `[]`))
	c := f.client(t, Options{})
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE TABLE a (x); INSERT INTO a VALUES (1)",
		"SELECT 1;\nSELECT 2;",
		"INSERT INTO a VALUES ('x;y'); DELETE FROM a",
	} {
		_, err := c.Exec(ctx, sql)
		var ae *ArgError
		require.ErrorAs(t, err, &ae, sql)
		assert.Contains(t, err.Error(), "use ExecScript")
		_, err = c.Batch(ctx, Statement{SQL: "SELECT 1"}, Statement{SQL: sql})
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 1, ae.Statement)
	}
	for _, sql := range []string{"", "   ", "-- only a comment", "/* nothing */ ;", ";"} {
		_, err := c.Exec(ctx, sql)
		assert.ErrorIs(t, err, ErrBadArg, "%q", sql)
	}
	assert.Equal(t, int64(0), f.requests.Load(), "nothing was sent")
	for _, sql := range []string{
		"SELECT 1", "SELECT 1;", "SELECT ';' AS semicolon", "SELECT 1 -- trailing; comment",
		"CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1); INSERT INTO b VALUES (2); END",
		"SELECT \"a;b\" FROM t", "SELECT 1; -- done",
	} {
		assert.Equal(t, 1, statementCount(sql), "%q", sql)
		_, err := c.Exec(ctx, sql)
		require.NoError(t, err, "%q", sql)
	}
}
