package d1_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
)

// sendOnceBackend is a local D1 with a table t and a client that counts its INSERT requests.
func sendOnceBackend(t *testing.T, attempts int) (*d1local.Server, *d1.Client, *atomic.Int32) {
	t.Helper()
	var inserts atomic.Int32
	srv, c := bubbleBackend(t, d1.Options{
		Retry:     d1.RetryPolicy{MaxAttempts: attempts, BaseDelay: time.Second, MaxDelay: time.Second},
		RateLimit: d1.RateLimit{Disabled: true},
		OnRequest: func(ri d1.RequestInfo) {
			if len(ri.SQL) > 0 && strings.HasPrefix(ri.SQL[0], "INSERT") {
				inserts.Add(1)
			}
		},
	})
	_, err := c.Exec(context.Background(), "CREATE TABLE t (id TEXT PRIMARY KEY)")
	require.NoError(t, err)
	return srv, c, &inserts
}

// rowCount is a committed check: whether the row with id w exists.
func rowCount(c *d1.Client, w string, calls *atomic.Int32) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		calls.Add(1)
		r, err := c.Query(ctx, "SELECT count(*) FROM t WHERE id = ?", w)
		if err != nil {
			return false, err
		}
		return r.Row(0).Value(0) == int64(1), nil
	}
}

func rows(t *testing.T, c *d1.Client) int64 {
	t.Helper()
	r, err := c.Query(context.Background(), "SELECT count(*) FROM t")
	require.NoError(t, err)
	return r.Row(0).Value(0).(int64)
}

// TestSendOnceLostAnswer: a write whose answer was lost after it committed is found committed
// and not sent again; one that failed before it ran is sent again after the check says no.
func TestSendOnceLostAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, c, inserts := sendOnceBackend(t, 4)
		ctx := context.Background()
		p, err := c.Prepare(d1.Statement{SQL: "INSERT INTO t VALUES (?)", Args: []any{"a"}})
		require.NoError(t, err)
		var checks atomic.Int32
		srv.InjectFaults(d1local.Fault{DropAfterCommit: true})
		rs, err := c.SendOnce(ctx, p, rowCount(c, "a", &checks))
		require.NoError(t, err)
		assert.Nil(t, rs, "found committed: no results")
		assert.Equal(t, int32(1), inserts.Load(), "sent once")
		assert.Equal(t, int32(1), checks.Load(), "checked once")
		assert.Equal(t, int64(1), rows(t, c))

		// A 503 that D1 answered before running the write: not committed, so sent again.
		inserts.Store(0)
		checks.Store(0)
		p, err = c.Prepare(d1.Statement{SQL: "INSERT INTO t VALUES (?)", Args: []any{"b"}})
		require.NoError(t, err)
		srv.InjectFaults(d1local.Fault{Status: 503})
		start := time.Now()
		rs, err = c.SendOnce(ctx, p, rowCount(c, "b", &checks))
		require.NoError(t, err)
		require.Len(t, rs, 1, "the resend's results")
		assert.Equal(t, int32(2), inserts.Load())
		assert.Equal(t, int32(1), checks.Load())
		assert.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond, "the policy's backoff before the resend")
		assert.Equal(t, int64(2), rows(t, c))

		// Send itself never resends such a write: it may have committed.
		inserts.Store(0)
		srv.InjectFaults(d1local.Fault{Status: 503})
		_, err = c.Exec(ctx, "INSERT INTO t VALUES ('c')")
		var e *d1.Error
		require.ErrorAs(t, err, &e)
		assert.True(t, e.Sent)
		assert.Equal(t, int32(1), inserts.Load())
	})
}

// TestSendOnceBounded: the client's attempts bound the sends, the whole of them: no rounds on
// top of the client's retries.
func TestSendOnceBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, c, inserts := sendOnceBackend(t, 3)
		srv.InjectFaults(d1local.Fault{Status: 503}, d1local.Fault{Status: 503}, d1local.Fault{Status: 503}, d1local.Fault{Status: 503})
		p, err := c.Prepare(d1.Statement{SQL: "INSERT INTO t VALUES ('a')"})
		require.NoError(t, err)
		var checks atomic.Int32
		notYet := func(context.Context) (bool, error) { checks.Add(1); return false, nil } // no request, no fault taken
		_, err = c.SendOnce(context.Background(), p, notYet)
		var e *d1.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, 503, e.StatusCode)
		assert.True(t, e.Sent, "a write that may have reached D1 says so")
		assert.Equal(t, 3, e.Attempts)
		assert.Equal(t, int32(3), inserts.Load(), "got %d sends, want the policy's 3", inserts.Load())
		assert.Equal(t, int32(3), checks.Load(), "each failure checked once")
	})
}

// TestSendOnceLateLanding: an attempt whose answer was lost lands after the check said it had
// not committed; the resend meets its row (a unique violation), and the write is reported
// committed, not as conflicting with itself.
func TestSendOnceLateLanding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, c, inserts := sendOnceBackend(t, 4)
		p, err := c.Prepare(d1.Statement{SQL: "INSERT INTO t VALUES ('a')"})
		require.NoError(t, err)
		var checks atomic.Int32
		check := rowCount(c, "a", &checks)
		late := func(ctx context.Context) (bool, error) {
			if checks.Load() == 0 {
				checks.Add(1)
				return false, nil // the lost attempt has not landed yet
			}
			return check(ctx)
		}
		srv.InjectFaults(d1local.Fault{DropAfterCommit: true})
		rs, err := c.SendOnce(context.Background(), p, late)
		require.NoError(t, err)
		assert.Nil(t, rs)
		assert.Equal(t, int32(2), inserts.Load())
		assert.Equal(t, int64(1), rows(t, c))

		// Without an earlier send, a unique violation is the caller's to see, unchecked.
		checks.Store(0)
		_, err = c.SendOnce(context.Background(), p, check)
		assert.True(t, d1.IsUniqueViolation(err), "got %v", err)
		assert.Equal(t, int32(0), checks.Load())
	})
}

// TestSendOnceCheckFails: a failed check is reported with the write's failure, which says Sent.
func TestSendOnceCheckFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, c, _ := sendOnceBackend(t, 4)
		p, err := c.Prepare(d1.Statement{SQL: "INSERT INTO t VALUES ('a')"})
		require.NoError(t, err)
		boom := errors.New("write log unreadable")
		srv.InjectFaults(d1local.Fault{DropAfterCommit: true})
		_, err = c.SendOnce(context.Background(), p, func(context.Context) (bool, error) { return false, boom })
		var e *d1.Error
		require.ErrorAs(t, err, &e)
		assert.True(t, e.Sent)
		assert.Contains(t, err.Error(), "checking whether it committed failed: write log unreadable")

		_, err = c.SendOnce(context.Background(), p, nil)
		assert.ErrorIs(t, err, d1.ErrBadArg)
	})
}
