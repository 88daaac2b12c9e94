package fleet

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
)

// testFleet is a fleet on an in-process local D1 (in memory), counting requests.
type testFleet struct {
	*Fleet
	srv      *d1local.Server
	operator *crypto.Agent
	requests atomic.Int64
}

func newTestFleet(t testing.TB, opts Options) *testFleet {
	t.Helper()
	srv, err := d1local.New(d1local.Options{TimeTravelLimit: 1})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	ctx := context.Background()
	dirID, err := srv.CreateDatabase(ctx, "fleet-directory")
	require.NoError(t, err)
	tf := &testFleet{srv: srv}
	dirAcct, err := d1.NewAccount("acct", "local", d1.Options{
		BaseURL:    "http://d1local.invalid/client/v4",
		HTTPClient: &http.Client{Transport: srv.Transport()},
		RateLimit:  d1.RateLimit{Disabled: true},
		OnRequest:  func(d1.RequestInfo) { tf.requests.Add(1) },
	})
	require.NoError(t, err)
	dir := dirAcct.Database(dirID)
	if opts.Operator == nil && opts.OperatorKey == nil {
		op, err := crypto.GenerateAgent("did:web:operator.example", crypto.GenerateOptions{})
		require.NoError(t, err)
		opts.Operator = op
	}
	tf.operator = opts.Operator
	f, err := New(dir, opts)
	require.NoError(t, err)
	tf.Fleet = f
	return tf
}

// sql runs one statement on database id and fails the test on error.
func (tf *testFleet) sql(t testing.TB, id, sql string, args ...any) *d1.Result {
	t.Helper()
	c, err := tf.Client(id)
	require.NoError(t, err)
	res, err := c.Query(context.Background(), sql, args...)
	require.NoError(t, err)
	return res
}

// bodyTap is an http.RoundTripper that shows each request body to see before passing it on.
type bodyTap struct {
	next http.RoundTripper
	see  func(string)
}

func (b bodyTap) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.GetBody != nil {
		if rc, err := r.GetBody(); err == nil {
			buf, _ := io.ReadAll(rc)
			b.see(string(buf))
		}
	}
	return b.next.RoundTrip(r)
}

// mustClient returns a directory client like tf's whose request bodies go to see.
func mustClient(t testing.TB, tf *testFleet, see func(string)) *d1.Client {
	acct, err := d1.NewAccount("acct", "local", d1.Options{
		BaseURL:    "http://d1local.invalid/client/v4",
		HTTPClient: &http.Client{Transport: bodyTap{tf.srv.Transport(), see}},
		RateLimit:  d1.RateLimit{Disabled: true},
	})
	require.NoError(t, err)
	c := acct.Database(tf.dir.DatabaseID())
	return c
}
