package d1local_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDatabases(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, d1local.Options{Dir: dir})
	coll := e.base + "/accounts/acc/d1/database"
	status, env, raw := e.call(t, "POST", coll, map[string]string{"name": "second"})
	require.Equal(t, 200, status, "%s", raw)
	var created wire.Database
	require.NoError(t, json.Unmarshal(env.Result, &created))
	assert.Equal(t, "second", created.Name)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, created.UUID)

	status, env, _ = e.call(t, "POST", coll, map[string]string{"name": "second"})
	assert.Equal(t, 400, status)
	assert.False(t, env.Success)

	_, env, _ = e.call(t, "GET", coll+"?name=sec", nil)
	var list []wire.Database
	require.NoError(t, json.Unmarshal(env.Result, &list))
	require.Len(t, list, 1)
	assert.Equal(t, created.UUID, list[0].UUID)
	require.NotNil(t, env.ResultInfo)
	assert.Equal(t, 1, env.ResultInfo.TotalCount)

	_, env, _ = e.call(t, "GET", coll+"?per_page=1&page=2", nil)
	require.NoError(t, json.Unmarshal(env.Result, &list))
	require.Len(t, list, 1)
	assert.Equal(t, "second", list[0].Name)
	assert.Equal(t, wire.ResultInfo{Page: 2, PerPage: 1, Count: 1, TotalCount: 2}, *env.ResultInfo)

	e.sql(t, "CREATE TABLE a(x); CREATE TABLE b(y)")
	_, env, _ = e.call(t, "GET", e.dbURL(""), nil)
	var got wire.Database
	require.NoError(t, json.Unmarshal(env.Result, &got))
	assert.Equal(t, int64(2), got.NumTables)
	assert.Positive(t, got.FileSize)

	// Databases survive a restart of a server with a Dir.
	require.NoError(t, e.srv.Close())
	e2 := newEnvNoCreate(t, d1local.Options{Dir: dir})
	e2.id = e.id
	assert.Equal(t, []string{`{"n":2}`}, e2.sql(t, "SELECT count(*) AS n FROM sqlite_schema"))

	status, _, _ = e2.call(t, "DELETE", e2.dbURL(""), nil)
	assert.Equal(t, 200, status)
	status, env, _ = e2.call(t, "GET", e2.dbURL(""), nil)
	assert.Equal(t, 404, status)
	assert.Equal(t, 7404, env.Errors[0].Code)
	status, env, _ = e2.call(t, "POST", e2.dbURL("query"), `{"sql":"SELECT 1"}`)
	assert.Equal(t, 404, status)
	assert.Equal(t, 7404, env.Errors[0].Code)
}

func newEnvNoCreate(t *testing.T, opts d1local.Options) *env {
	srv, err := d1local.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return &env{srv: srv, http: &http.Client{Transport: srv.Transport()}, base: "http://d1local.test/client/v4"}
}

func TestToken(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, d1local.Options{Token: "s3cret-token", Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	status, env, _ := e.call(t, "POST", e.dbURL("query"), `{"sql":"SELECT 1"}`)
	assert.Equal(t, 401, status)
	assert.Equal(t, 10000, env.Errors[0].Code)
	status, env, raw := e.call(t, "POST", e.dbURL("query"), `{"sql":"SELECT 1"}`, "Authorization", "Bearer wrong")
	assert.Equal(t, 403, status)
	assert.Equal(t, 10000, env.Errors[0].Code)
	assert.NotContains(t, string(raw), "s3cret-token")
	status, _, _ = e.call(t, "POST", e.dbURL("query"), `{"sql":"SELECT 1"}`, "Authorization", "Bearer s3cret-token")
	assert.Equal(t, 200, status)
	assert.NotContains(t, logs.String(), "s3cret-token")
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, d1local.Options{MaxBodyBytes: 1 << 16})
	for _, body := range []string{
		``, `{`, `nope`, `[]`, `{"sql": 5}`, `{"sql":"SELECT ?","params":{"a":1}}`, `{"batch":"x"}`,
		`{"batch":[{"sql":1}]}`, `{"sql":"SELECT 1"} trailing`, `{"sql":"SELECT 1","batch":[{"sql":"SELECT 2"}]}`,
	} {
		status, code, msg := e.fail(t, body)
		assert.Equal(t, 400, status, "%q: %s", body, msg)
		assert.Equal(t, 7400, code, "%q: %s", body, msg)
	}
	status, code, _ := e.fail(t, `{"sql":"SELECT 1","params":[`+strings.Repeat("1,", 1<<15)+`1]}`)
	assert.Equal(t, 413, status)
	assert.Equal(t, 7400, code)

	// Values D1 cannot bind are SQL errors.
	_, code, msg := e.fail(t, `{"sql":"SELECT ?","params":[{"a":1}]}`)
	assert.Equal(t, 7500, code)
	assert.Contains(t, msg, "not supported")
	_, code, _ = e.fail(t, `{"sql":"SELECT ?","params":[[1,256]]}`)
	assert.Equal(t, 7500, code)

	for _, tt := range []struct{ method, url string }{
		{"GET", e.dbURL("query")},
		{"POST", e.dbURL("nope")},
		{"PUT", e.dbURL("")},
		{"GET", e.base + "/accounts/acc/d1/nope"},
	} {
		status, env, raw := e.call(t, tt.method, tt.url, `{}`)
		assert.GreaterOrEqual(t, status, 400, "%s %s", tt.method, tt.url)
		assert.False(t, env.Success, "%s %s: %s", tt.method, tt.url, raw)
		assert.Len(t, env.Errors, 1)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t, d1local.Options{})
	e.sql(t, "CREATE TABLE t(a)")
	count := func() string { return e.sql(t, "SELECT count(*) AS n FROM t")[0] }

	e.srv.InjectFaults(d1local.Fault{Status: 500}, d1local.Fault{Status: 502}, d1local.Fault{Status: 503, RetryAfter: 1500 * time.Millisecond},
		d1local.Fault{Status: 504}, d1local.Fault{Status: 429, RetryAfter: 7 * time.Second})
	insert := `{"sql":"INSERT INTO t VALUES (1)"}`
	for _, want := range []struct {
		status     int
		html       bool
		retryAfter string
	}{{500, false, ""}, {502, true, ""}, {503, false, "2"}, {504, true, ""}, {429, false, "7"}} {
		req, _ := http.NewRequest("POST", e.dbURL("query"), strings.NewReader(insert))
		resp, err := e.http.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, want.status, resp.StatusCode)
		assert.Equal(t, want.retryAfter, resp.Header.Get("Retry-After"))
		if want.html {
			assert.Contains(t, string(body), "<html>")
		} else {
			var env wire.Envelope[json.RawMessage]
			require.NoError(t, json.Unmarshal(body, &env), "%s", body)
			assert.False(t, env.Success)
		}
	}
	assert.Equal(t, `{"n":0}`, count(), "faults answered before executing")

	// A transient D1 error commits nothing.
	e.srv.InjectFaults(d1local.Fault{Transient: "Network connection lost."})
	status, code, msg := e.fail(t, insert)
	assert.Equal(t, 500, status)
	assert.Equal(t, 7500, code)
	assert.Equal(t, "D1_ERROR: Network connection lost.", msg)
	assert.Equal(t, `{"n":0}`, count())

	// A dropped connection after commit: the request fails, the write happened.
	for _, e := range []*env{e, e.socket(t)} {
		e.srv.InjectFaults(d1local.Fault{DropAfterCommit: true})
		before := e.srv.Requests()
		_, err := e.http.Post(e.dbURL("query"), "application/json", strings.NewReader(insert))
		require.Error(t, err)
		assert.Equal(t, before+1, e.srv.Requests())
	}
	assert.Equal(t, `{"n":2}`, count())

	// Per-request faults through the header, and latency.
	start := time.Now()
	status, _, _ = e.call(t, "POST", e.dbURL("query"), insert, d1local.FaultHeader, `{"status":503,"latency_ms":30}`)
	assert.Equal(t, 503, status)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)

	// A fault func decides per request.
	e.srv.SetFaultFunc(func(r *http.Request) d1local.Fault {
		if strings.HasSuffix(r.URL.Path, "/raw") {
			return d1local.Fault{Status: 500}
		}
		return d1local.Fault{}
	})
	status, _, _ = e.call(t, "POST", e.dbURL("raw"), `{"sql":"SELECT 1"}`)
	assert.Equal(t, 500, status)
	e.srv.SetFaultFunc(nil)
	status, _, _ = e.call(t, "POST", e.dbURL("raw"), `{"sql":"SELECT 1"}`)
	assert.Equal(t, 200, status)
}

func TestRateLimit(t *testing.T) {
	clock, advance := testClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e := newEnv(t, d1local.Options{Now: clock, RateLimit: d1local.RateLimit{Requests: 3, Window: time.Minute, Lockout: 2 * time.Minute}})
	q := `{"sql":"SELECT 1"}`
	for range 3 {
		status, _, _ := e.call(t, "POST", e.dbURL("query"), q)
		require.Equal(t, 200, status)
	}
	req, _ := http.NewRequest("POST", e.dbURL("query"), strings.NewReader(q))
	resp, err := e.http.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, "120", resp.Header.Get("Retry-After"))
	advance(90 * time.Second)
	status, env, _ := e.call(t, "GET", e.dbURL(""), nil)
	assert.Equal(t, 429, status, "every request is refused during the lockout")
	assert.Equal(t, 971, env.Errors[0].Code)
	advance(31 * time.Second)
	status, _, _ = e.call(t, "POST", e.dbURL("query"), q)
	assert.Equal(t, 200, status)
	assert.Equal(t, int64(6), e.srv.Requests())
}

func TestConcurrentClients(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.sql(t, "CREATE TABLE t(id INTEGER PRIMARY KEY, w INTEGER, n INTEGER)")
		se := e.socket(t)
		var wg sync.WaitGroup
		for w := range 8 {
			c := e
			if w%2 == 1 {
				c = se
			}
			wg.Go(func() {
				for i := range 20 {
					body := fmt.Sprintf(`{"batch":[{"sql":"INSERT INTO t(w, n) VALUES (?, ?)","params":[%d,%d]},{"sql":"SELECT count(*) AS n FROM t WHERE w = ?","params":[%d]}]}`, w, i, w)
					rs := c.query(t, body)
					assert.Equal(t, fmt.Sprintf(`{"n":%d}`, i+1), string(rs[1].Results[0]))
				}
			})
		}
		wg.Wait()
		assert.Equal(t, []string{`{"n":160}`}, e.sql(t, "SELECT count(*) AS n FROM t"))
	})
}

func TestExportImportRoundTrip(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.sql(t, `CREATE TABLE p(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, r REAL, b BLOB, g AS (upper(name)));
			CREATE TABLE c(pid INTEGER REFERENCES p(id), note TEXT);
			CREATE INDEX c_pid ON c(pid);
			CREATE VIEW v AS SELECT name, note FROM p JOIN c ON c.pid = p.id;
			CREATE TRIGGER tr AFTER DELETE ON p BEGIN DELETE FROM c WHERE pid = old.id; END`)
		e.sql(t, "INSERT INTO p(name, r, b) VALUES (?, ?, ?), ('it''s', 1e300, NULL), ('x', 0.1, X'')", "a\nb;--", 2.5, []int{0, 1, 255})
		e.sql(t, "INSERT INTO c VALUES (1, 'one'), (3, NULL)")
		e.sql(t, "DELETE FROM p WHERE name = 'x'; INSERT INTO p(name) VALUES ('y')")

		dump := export(t, e, nil)
		assert.True(t, strings.HasPrefix(dump, "PRAGMA defer_foreign_keys=TRUE;\n"))
		assert.NotContains(t, strings.ToUpper(dump), "BEGIN TRANSACTION")
		assert.NotContains(t, dump, "COMMIT")

		other, err := e.srv.CreateDatabase(context.Background(), "copy")
		require.NoError(t, err)
		dst := &env{srv: e.srv, id: other, http: e.http, base: e.base}
		imp := importSQL(t, dst, dump)
		assert.Equal(t, "complete", imp.Status)
		require.NotNil(t, imp.Result)
		assert.Positive(t, imp.Result.NumQueries)

		for _, q := range []string{
			"SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name",
			"SELECT *, typeof(r), typeof(b) FROM p ORDER BY id",
			"SELECT * FROM c ORDER BY rowid",
			"SELECT * FROM v ORDER BY 1",
			"SELECT * FROM sqlite_sequence",
		} {
			assert.Equal(t, e.sql(t, q), dst.sql(t, q), q)
		}
		assert.Equal(t, export(t, e, nil), export(t, dst, nil), "export of the copy equals the source's")

		schemaOnly := export(t, e, &wire.DumpOptions{NoData: true})
		assert.NotContains(t, schemaOnly, "INSERT")
		assert.Contains(t, schemaOnly, "CREATE TABLE c")
		dataOnly := export(t, e, &wire.DumpOptions{NoSchema: true, Tables: []string{"c"}})
		assert.NotContains(t, dataOnly, "CREATE")
		assert.Contains(t, dataOnly, `INSERT INTO "c"`)
		assert.NotContains(t, dataOnly, `INSERT INTO "p"`)

		// A failing import commits nothing and reports D1's message.
		imp = importSQL(t, dst, "INSERT INTO c VALUES (1, 'new');\nINSERT INTO nope VALUES (1);")
		assert.Equal(t, "error", imp.Status)
		assert.Contains(t, imp.Error, "no such table: nope")
		assert.Equal(t, e.sql(t, "SELECT count(*) FROM c"), dst.sql(t, "SELECT count(*) FROM c"))
		imp = importSQL(t, dst, "BEGIN TRANSACTION; INSERT INTO c VALUES (1, 'new'); COMMIT;")
		assert.Equal(t, "error", imp.Status)
		assert.Contains(t, imp.Error, "To execute a transaction")
	})
}

// export runs the polling export flow and downloads the dump.
func export(t *testing.T, e *env, opts *wire.DumpOptions) string {
	t.Helper()
	status, env, raw := e.call(t, "POST", e.dbURL("export"), wire.ExportRequest{OutputFormat: "polling", DumpOptions: opts})
	require.Equal(t, 200, status, "%s", raw)
	var r wire.ExportResponse
	require.NoError(t, json.Unmarshal(env.Result, &r))
	require.Equal(t, "active", r.Status)
	require.NotEmpty(t, r.AtBookmark)
	_, env, raw = e.call(t, "POST", e.dbURL("export"), wire.ExportRequest{OutputFormat: "polling", CurrentBookmark: r.AtBookmark})
	require.NoError(t, json.Unmarshal(env.Result, &r))
	require.Equal(t, "complete", r.Status, "%s", raw)
	require.NotNil(t, r.Result)
	resp, err := e.http.Get(r.Result.SignedURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// importSQL runs the import flow (init, upload, ingest, poll) and returns the final poll.
func importSQL(t *testing.T, e *env, sql string) wire.ImportResponse {
	t.Helper()
	sum := md5.Sum([]byte(sql))
	etag := hex.EncodeToString(sum[:])
	_, env, raw := e.call(t, "POST", e.dbURL("import"), wire.ImportRequest{Action: "init", Etag: etag})
	var r wire.ImportResponse
	require.NoError(t, json.Unmarshal(env.Result, &r), "%s", raw)
	require.NotEmpty(t, r.UploadURL, "%s", raw)
	req, err := http.NewRequest("PUT", r.UploadURL, strings.NewReader(sql))
	require.NoError(t, err)
	resp, err := e.http.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, `"`+etag+`"`, resp.Header.Get("ETag"))
	_, env, raw = e.call(t, "POST", e.dbURL("import"), wire.ImportRequest{Action: "ingest", Etag: etag, Filename: r.Filename})
	require.NoError(t, json.Unmarshal(env.Result, &r), "%s", raw)
	require.NotEmpty(t, r.AtBookmark, "%s", raw)
	_, env, raw = e.call(t, "POST", e.dbURL("import"), wire.ImportRequest{Action: "poll", CurrentBookmark: r.AtBookmark})
	var done wire.ImportResponse
	require.NoError(t, json.Unmarshal(env.Result, &done), "%s", raw)
	return done
}

func TestTimeTravel(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Second); return now }
	for _, dir := range []string{"", t.TempDir()} {
		e := newEnv(t, d1local.Options{Dir: dir, Now: clock})
		bookmark := func(query string) string { return e.bookmark(t, query) }
		e.sql(t, "CREATE TABLE t(a)")
		e.sql(t, "INSERT INTO t VALUES (1)")
		b1 := bookmark("")
		mu.Lock()
		mid := now
		mu.Unlock()
		e.sql(t, "SELECT * FROM t") // reads take no bookmark
		assert.Equal(t, b1, bookmark(""))
		e.sql(t, "INSERT INTO t VALUES (2)")
		b2 := bookmark("")
		assert.Less(t, b1, b2, "bookmarks sort in time order")
		assert.Equal(t, b1, bookmark("?timestamp="+mid.Format(time.RFC3339)))

		_, env, raw := e.call(t, "POST", e.dbURL("time_travel/restore")+"?bookmark="+b1, nil)
		var rr wire.RestoreResponse
		require.NoError(t, json.Unmarshal(env.Result, &rr), "%s", raw)
		assert.Equal(t, b2, rr.PreviousBookmark)
		assert.NotEmpty(t, rr.Bookmark)
		assert.Equal(t, []string{`{"a":1}`}, e.sql(t, "SELECT a FROM t ORDER BY a"))

		// Undo the restore.
		_, env, _ = e.call(t, "POST", e.dbURL("time_travel/restore")+"?bookmark="+rr.PreviousBookmark, nil)
		require.NoError(t, json.Unmarshal(env.Result, &rr))
		assert.Equal(t, []string{`{"a":1}`, `{"a":2}`}, e.sql(t, "SELECT a FROM t ORDER BY a"))

		_, env, _ = e.call(t, "POST", e.dbURL("time_travel/restore")+"?timestamp="+mid.Format(time.RFC3339), nil)
		require.NoError(t, json.Unmarshal(env.Result, &rr))
		assert.Equal(t, []string{`{"a":1}`}, e.sql(t, "SELECT a FROM t ORDER BY a"))

		status, env, _ := e.call(t, "POST", e.dbURL("time_travel/restore")+"?bookmark=nope", nil)
		assert.Equal(t, 400, status)
		assert.False(t, env.Success)
	}
}
