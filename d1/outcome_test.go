package d1_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
)

// bubbleBackend is a local D1 and a client of it, in process, made inside a synctest bubble
// so that the client's pauses and budget run on the bubble's clock.
func bubbleBackend(t *testing.T, copts d1.Options) (*d1local.Server, *d1.Client) {
	t.Helper()
	srv, err := d1local.New(d1local.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(context.Background(), "outcome")
	require.NoError(t, err)
	copts.BaseURL = "http://d1local.invalid/client/v4"
	copts.HTTPClient = &http.Client{Transport: srv.Transport()}
	acct, err := d1.NewAccount("acct", "local", copts)
	require.NoError(t, err)
	c := acct.Database(id)
	return srv, c
}

// TestSentCoversEveryAttempt: an idempotent write whose first attempt committed with its
// answer lost, then met 429s until its attempts (or its caller's deadline) ran out, reports
// Sent, because the write happened. (A regression test: Sent used to describe the last
// attempt only, and said false ("did not happen") of a committed write.)
func TestSentCoversEveryAttempt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		faults   []d1local.Fault
		deadline time.Duration // 0: none
		attempts int
	}{
		{"429s until the attempts run out", []d1local.Fault{{DropAfterCommit: true}, {Status: 429, RetryAfter: 2 * time.Second}, {Status: 429, RetryAfter: 2 * time.Second}}, 0, 3},
		{"a 429 whose pause outlasts the deadline", []d1local.Fault{{DropAfterCommit: true}, {Status: 429, RetryAfter: time.Minute}}, 10 * time.Second, 2},
		{"a 5xx, then 429s", []d1local.Fault{{DropAfterCommit: true}, {Status: 503}, {Status: 429, RetryAfter: time.Second}}, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv, c := bubbleBackend(t, d1.Options{
					Retry:     d1.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
					RateLimit: d1.RateLimit{Disabled: true},
				})
				ctx := context.Background()
				_, err := c.Exec(ctx, "CREATE TABLE grants (id INTEGER PRIMARY KEY)")
				require.NoError(t, err)
				if tc.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.deadline)
					defer cancel()
				}
				srv.InjectFaults(tc.faults...)
				_, err = c.Run(ctx, d1.Statement{SQL: "INSERT OR IGNORE INTO grants (id) VALUES (1)", Idempotent: true})
				var e *d1.Error
				require.ErrorAs(t, err, &e, "got %v", err)
				assert.True(t, e.Sent, "the first attempt committed: the call reached D1, whatever its last attempt met (%v)", err)
				assert.Equal(t, tc.attempts, e.Attempts, "attempts sent")
				n, err := d1.QueryOne[int](context.Background(), c, "SELECT count(*) FROM grants")
				require.NoError(t, err)
				assert.Equal(t, 1, n, "the write committed")
			})
		})
	}
}

// TestSentFalseOnlyWhenNoAttemptReachedD1: a call whose every attempt was refused with 429
// still says Sent false, so that callers may trust it did not happen.
func TestSentFalseOnlyWhenNoAttemptReachedD1(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, c := bubbleBackend(t, d1.Options{
			Retry:     d1.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
			RateLimit: d1.RateLimit{Disabled: true},
		})
		ctx := context.Background()
		_, err := c.Exec(ctx, "CREATE TABLE grants (id INTEGER PRIMARY KEY)")
		require.NoError(t, err)
		srv.InjectFaults(d1local.Fault{Status: 429, RetryAfter: time.Second}, d1local.Fault{Status: 429, RetryAfter: time.Second})
		_, err = c.Exec(ctx, "INSERT INTO grants (id) VALUES (1)")
		var e *d1.Error
		require.ErrorAs(t, err, &e)
		assert.False(t, e.Sent, "both attempts were refused before executing")
		assert.Equal(t, 2, e.Attempts)
		assert.Equal(t, 429, e.StatusCode)
	})
}

// TestQueuedCallersHonourPause: 20 callers wait for tokens of the default budget (its burst
// spent); the first to send meets a 429 with Retry-After: 12 s. No other request leaves
// until the 12 seconds are over, although every other caller's token comes due inside them.
// (A regression test: the pause was checked before the token wait, not after, and each
// queued caller sent one request into it.)
func TestQueuedCallersHonourPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var arrivals []time.Time // when each request reached the local D1, on the bubble's clock
		srv, c := bubbleBackend(t, d1.Options{Retry: d1.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}})
		ctx := context.Background()
		for range 50 { // spend the default burst
			_, err := c.Query(ctx, "SELECT 1")
			require.NoError(t, err)
		}
		first := true
		var pausedFrom time.Time
		srv.SetFaultFunc(func(*http.Request) d1local.Fault {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			arrivals = append(arrivals, now)
			if first {
				first, pausedFrom = false, now
				return d1local.Fault{Status: 429, RetryAfter: 12 * time.Second}
			}
			return d1local.Fault{}
		})
		const callers = 20
		var wg sync.WaitGroup
		errs := make([]error, callers)
		for i := range callers {
			wg.Go(func() { _, errs[i] = c.Query(ctx, "SELECT 1") })
		}
		wg.Wait()
		srv.SetFaultFunc(nil)
		for i, err := range errs {
			require.NoError(t, err, "caller %d", i)
		}
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, arrivals, callers+1, "one request per caller, and the refused one again")
		during := 0
		for _, at := range arrivals {
			if !at.Before(pausedFrom) && at.Before(pausedFrom.Add(12*time.Second)) {
				during++
			}
		}
		assert.Equal(t, 1, during, "requests in the 12 s after the 429 (the 429 itself included); want only the one refused")
	})
}
