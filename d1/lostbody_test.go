package d1

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCutOffAnswerIsRetried: an answer whose body is cut off mid-way (the connection lost while
// it is read) is a transient failure: a read is sent again, and a write that met it says Sent.
func TestCutOffAnswerIsRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := `{"result":[{"results":{"columns":["x"],"rows":[[1]]},"success":true,"meta":{}}],"success":true,"errors":[],"messages":[]}`
		if n.Add(1) == 1 {
			w.Header().Set("Content-Length", "500")
			w.WriteHeader(200)
			w.Write([]byte(body[:40]))
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.(*net.TCPConn).Close()
			return
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	acct, err := NewAccount("acct", "token", Options{BaseURL: srv.URL, RateLimit: RateLimit{Disabled: true}, Retry: RetryPolicy{BaseDelay: 1, MaxDelay: 1}})
	require.NoError(t, err)
	c := acct.Database("db")
	res, err := c.Query(context.Background(), "SELECT 1 AS x")
	require.NoError(t, err, "the read was sent again")
	assert.Equal(t, 1, res.Len())
	assert.Equal(t, int32(2), n.Load())

	n.Store(0)
	_, err = c.Exec(context.Background(), "INSERT INTO t VALUES (1)")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.True(t, e.Sent, "a write whose answer was cut off may have committed")
	assert.True(t, IsRetryable(err), "and it is the kind of failure worth checking and resending")
	assert.Equal(t, int32(1), n.Load(), "a write is never resent blindly")
}
