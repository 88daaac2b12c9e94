package d1

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testToken = "tok-SECRET-9f8e7d6c5b4a"

// fakeD1 is an httptest server whose answers the test scripts, recording what it received.
type fakeD1 struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   []string
	paths    []string
	requests atomic.Int64
	answer   func(n int, w http.ResponseWriter, r *http.Request, body []byte)
}

func newFake(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request, body []byte)) *fakeD1 {
	f := &fakeD1{answer: answer}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := int(f.requests.Add(1))
		f.mu.Lock()
		f.bodies = append(f.bodies, string(body))
		f.paths = append(f.paths, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		f.mu.Unlock()
		f.answer(n, w, r, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeD1) body(i int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[i]
}

func (f *fakeD1) client(t *testing.T, opts Options) *Client {
	t.Helper()
	opts.BaseURL = f.URL + "/client/v4"
	if opts.Retry == (RetryPolicy{}) {
		opts.Retry = RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
	}
	acct, err := NewAccount("acct", testToken, opts)
	require.NoError(t, err)
	return acct.Database("db-1")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// rawOK answers a /raw request with one result of the given columns and rows.
func rawOK(cols []string, rows string) func(int, http.ResponseWriter, *http.Request, []byte) {
	return func(_ int, w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		c, _ := json.Marshal(cols)
		io.WriteString(w, `{"result":[{"results":{"columns":`+string(c)+`,"rows":`+rows+`},"success":true,"meta":{"changes":0,"last_row_id":0,"duration":0.5,"rows_read":1,"served_by_primary":true,"timings":{"sql_duration_ms":0.25},"brand_new_field":{"x":1}}}],"success":true,"errors":[],"messages":[]}`)
	}
}

func errEnvelope(code int, msg string) map[string]any {
	return map[string]any{"result": nil, "success": false, "errors": []map[string]any{{"code": code, "message": msg}}, "messages": []any{}}
}
