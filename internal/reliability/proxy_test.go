package reliability_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/faultproxy"
	"github.com/d1seal/d1seal/records"
)

// newProxyEnv starts a local D1 served over HTTP on 127.0.0.1, a fault proxy in front of it,
// also on 127.0.0.1, and a client that talks to the proxy (copts as for newEnv).
func newProxyEnv(t testing.TB, copts d1.Options) (*env, *faultproxy.Proxy) {
	t.Helper()
	srv, id := newLocal(t, d1local.Options{})
	d1srv := httptest.NewServer(srv)
	t.Cleanup(d1srv.Close)
	proxy, err := faultproxy.New(d1srv.URL, nil)
	require.NoError(t, err)
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	copts.BaseURL = front.URL + "/client/v4"
	copts.HTTPClient = front.Client()
	return &env{srv: srv, db: client(t, srv, id, copts)}, proxy
}

// newBubbleProxyEnv is newProxyEnv in process, for a synctest bubble: the client reaches the
// proxy, and the proxy the local D1, through round trippers, on the bubble's clock.
func newBubbleProxyEnv(t testing.TB, copts d1.Options) (*env, *faultproxy.Proxy) {
	t.Helper()
	srv, id := newLocal(t, d1local.Options{})
	proxy, err := faultproxy.New(localURL[:len(localURL)-len("/client/v4")], srv.Transport())
	require.NoError(t, err)
	copts.HTTPClient = &http.Client{Transport: proxy}
	return &env{srv: srv, db: client(t, srv, id, copts)}, proxy
}

// TestLateWriteIsNotAConflictWithItself: a create (and a create-many) whose request is held
// in transit as its connection dies, and lands just before the resend that follows the write
// log's "not committed", is reported as created, once, not as ErrExists. It once was:
// the resend met the original's row and the write was reported as conflicting with
// itself.
func TestLateWriteIsNotAConflictWithItself(t *testing.T) {
	e, proxy := newProxyEnv(t, d1.Options{})
	e.withStore(t)
	c := notes(t, e.store, e.agent(t, "did:plc:alice"))
	ctx := context.Background()
	_, err := c.Create(ctx, note{Title: "warm-up"}) // schema and agent checks, before any fault
	require.NoError(t, err)

	proxy.Inject(faultproxy.Fault{Late: faultproxy.BeforeResend})
	r, err := c.Create(ctx, note{Title: "late", Body: "create"})
	require.NoError(t, err, "the create landed (late) and must be reported as done")
	got, err := c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, "create", got.Value.Body)

	proxy.Inject(faultproxy.Fault{Late: faultproxy.BeforeResend})
	rs, err := c.CreateMany(ctx, []note{{Title: "late", Body: "many 0"}, {Title: "late", Body: "many 1"}, {Title: "late", Body: "many 2"}})
	require.NoError(t, err, "the batch landed (late) and must be reported as done")
	require.Len(t, rs, 3)

	st := proxy.Stats()
	assert.Equal(t, 2, st.Faults["delivered late"])
	assert.Zero(t, st.Held, "both late requests were delivered")
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records")
	require.NoError(t, err)
	assert.Equal(t, 5, n, "rows: the warm-up, the create and the three of create-many, each once")
}

// TestRefusedResendStillSaysSent: a create whose first request is held in transit, checked
// "not committed", then resent into 429s until its attempts run out, must not be reported
// as "did not happen" (Sent false): the held request lands afterwards and the record exists.
// Seen at the level of records: the outcome is the union of the rounds.
func TestRefusedResendStillSaysSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, proxy := newBubbleProxyEnv(t, d1.Options{Retry: d1.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}})
		e.withStore(t)
		c := notes(t, e.store, e.agent(t, "did:plc:alice"))
		ctx := context.Background()
		_, err := c.Create(ctx, note{Title: "warm-up"})
		require.NoError(t, err)

		proxy.Inject(faultproxy.Fault{Late: faultproxy.OnRelease})
		proxy.SetPlan(func(_ *http.Request, body []byte) faultproxy.Fault {
			if bytes.Contains(body, []byte("count(*) FROM record_writes")) {
				return faultproxy.Fault{} // the write log is read
			}
			return faultproxy.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second} // the resends are refused
		})
		_, err = c.Create(ctx, note{Title: "late", Body: "refused resend"})
		proxy.SetPlan(nil)
		require.Error(t, err)
		var de *d1.Error
		require.ErrorAs(t, err, &de, "got %v", err)
		assert.True(t, de.Sent, "the first request may land: the create must not be reported as not done (got %v)", err)

		require.NoError(t, proxy.Release())
		n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records")
		require.NoError(t, err)
		assert.Equal(t, 2, n, "the held create landed after it was reported failed")
	})
}

// TestLateCreateAfterDelete: a create whose first request is held in transit is resent and
// reported done; the record is deleted (reported done); then the held request lands. The
// record must stay deleted. Found by TestProxySoak: the late insert stored the record again,
// because the key is free once the row is gone; records' inserts now do nothing when the write
// log already holds their write id.
func TestLateCreateAfterDelete(t *testing.T) {
	e, proxy := newProxyEnv(t, d1.Options{})
	e.withStore(t)
	c := notes(t, e.store, e.agent(t, "did:plc:alice"))
	ctx := context.Background()
	_, err := c.Create(ctx, note{Title: "warm-up"})
	require.NoError(t, err)

	proxy.Inject(faultproxy.Fault{Late: faultproxy.OnRelease})
	r, err := c.Create(ctx, note{Title: "late", Body: "deleted"})
	require.NoError(t, err, "the resend stored it")
	require.NoError(t, c.Delete(ctx, r.Ref.RKey))
	require.NoError(t, proxy.Release())
	_, err = c.Get(ctx, r.Ref.RKey)
	assert.ErrorIs(t, err, records.ErrNotFound, "a create that landed late must not bring back a deleted record")
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records WHERE id = ?", r.Ref.ID())
	require.NoError(t, err)
	assert.Zero(t, n, "the row stays deleted")
}
