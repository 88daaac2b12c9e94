package d1local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/wire"
	"github.com/stretchr/testify/require"
)

// env is a local D1 with one database, reached through the in-process Transport.
type env struct {
	srv  *d1local.Server
	id   string
	http *http.Client
	base string // ends in /client/v4
}

// backends runs fn against a server with in-memory databases and one with files in a
// temporary folder.
func backends(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range []struct {
		name string
		dir  func(*testing.T) string
	}{
		{"memory", func(*testing.T) string { return "" }},
		{"dir", func(t *testing.T) string { return t.TempDir() }},
	} {
		t.Run(b.name, func(t *testing.T) {
			fn(t, newEnv(t, d1local.Options{Dir: b.dir(t)}))
		})
	}
}

func newEnv(t testing.TB, opts d1local.Options) *env {
	t.Helper()
	srv, err := d1local.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(context.Background(), "test")
	require.NoError(t, err)
	return &env{srv: srv, id: id, http: &http.Client{Transport: srv.Transport()}, base: "http://d1local.test/client/v4"}
}

// socketEnv serves e's server over a real 127.0.0.1 socket instead.
func (e *env) socket(t *testing.T) *env {
	ts := httptest.NewServer(e.srv)
	t.Cleanup(ts.Close)
	return &env{srv: e.srv, id: e.id, http: ts.Client(), base: ts.URL + "/client/v4"}
}

func (e *env) dbURL(op string) string {
	u := e.base + "/accounts/acc/d1/database/" + e.id
	if op != "" {
		u += "/" + op
	}
	return u
}

// call sends a request and returns the status, the decoded envelope and the raw body.
func (e *env) call(t testing.TB, method, url string, body any, hdr ...string) (int, wire.Envelope[json.RawMessage], []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, r)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var env wire.Envelope[json.RawMessage]
	if resp.Header.Get("Content-Type") == "application/json" {
		require.NoError(t, json.Unmarshal(raw, &env), "body %s", raw)
	}
	return resp.StatusCode, env, raw
}

// query runs body on /query and requires success.
func (e *env) query(t testing.TB, body any) []wire.QueryResult {
	t.Helper()
	status, env, raw := e.call(t, "POST", e.dbURL("query"), body)
	require.Equal(t, 200, status, "body %s", raw)
	require.True(t, env.Success)
	var out []wire.QueryResult
	require.NoError(t, json.Unmarshal(env.Result, &out))
	return out
}

func (e *env) raw(t testing.TB, body any) []wire.RawResult {
	t.Helper()
	status, env, raw := e.call(t, "POST", e.dbURL("raw"), body)
	require.Equal(t, 200, status, "body %s", raw)
	var out []wire.RawResult
	require.NoError(t, json.Unmarshal(env.Result, &out))
	return out
}

// sql runs sql on /query and returns the rows of its last statement as JSON text.
func (e *env) sql(t testing.TB, sql string, params ...any) []string {
	t.Helper()
	rs := e.query(t, map[string]any{"sql": sql, "params": params})
	require.NotEmpty(t, rs)
	var rows []string
	for _, r := range rs[len(rs)-1].Results {
		rows = append(rows, string(r))
	}
	return rows
}

// fail runs body on /query and returns the status and the error message, requiring D1's error
// envelope.
func (e *env) fail(t testing.TB, body any) (int, int, string) {
	t.Helper()
	status, env, raw := e.call(t, "POST", e.dbURL("query"), body)
	require.False(t, env.Success, "body %s", raw)
	require.Equal(t, "null", string(env.Result), "result of a failure")
	require.Len(t, env.Errors, 1, "body %s", raw)
	return status, env.Errors[0].Code, env.Errors[0].Message
}

func (e *env) failSQL(t testing.TB, sql string, params ...any) string {
	t.Helper()
	status, code, msg := e.fail(t, map[string]any{"sql": sql, "params": params})
	require.Equal(t, 400, status, msg)
	require.Equal(t, 7500, code, msg)
	return msg
}

func optsMemory() d1local.Options { return d1local.Options{} }

// testClock returns a manual clock for Options.Now that starts at start, and advance, which
// moves it on and returns the new time. Both are safe for concurrent use.
func testClock(start time.Time) (clock func() time.Time, advance func(time.Duration) time.Time) {
	var mu sync.Mutex
	now := start
	clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance = func(d time.Duration) time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(d); return now }
	return clock, advance
}
