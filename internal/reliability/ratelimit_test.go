package reliability_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
)

// clock is a settable clock for the local D1.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestLockoutRefusesCallersAtOnce: the local D1 emulates Cloudflare's lockout (past the budget,
// 429 with Retry-After: 300 for five minutes). The client reports it with the wait, then
// stops sending: callers whose deadline falls before the lockout ends get a rate-limit error
// at once, from any goroutine, without a request. Once D1's five minutes have passed (on the
// emulator's clock) the lockout is over at D1's end.
func TestLockoutRefusesCallersAtOnce(t *testing.T) {
	clk := &clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	e := newEnv(t, d1local.Options{Now: clk.Now, RateLimit: d1local.RateLimit{Requests: 10, Window: 5 * time.Minute, Lockout: 5 * time.Minute}}, d1.Options{})
	ctx := context.Background()
	for range 10 {
		_, err := e.db.Query(ctx, "SELECT 1")
		require.NoError(t, err)
	}
	require.Equal(t, int64(10), e.srv.Requests())

	short, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err := e.db.Query(short, "SELECT 1")
	require.Error(t, err)
	assert.True(t, errors.Is(err, d1.ErrRateLimited), "got %v", err)
	assert.ErrorIs(t, err, d1.ErrRateLimited)
	var de *d1.Error
	require.ErrorAs(t, err, &de)
	assert.InDelta(t, 300, de.RetryAfter.Seconds(), 1, "Retry-After: 300 is reported")
	assert.NoError(t, short.Err(), "the caller was answered before its deadline, not made to wait for it")
	assert.Equal(t, int64(11), e.srv.Requests(), "one request met the lockout")

	// Every caller, on every goroutine, with a deadline shorter than the lockout, fails at once
	// and sends nothing. Writes too: a 429 means D1 did not execute them.
	var wg sync.WaitGroup
	var refused atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
				var err error
				if (g+i)%2 == 0 {
					_, err = e.db.Query(ctx, "SELECT 1")
				} else {
					_, err = e.db.Exec(ctx, "CREATE TABLE IF NOT EXISTS t (x)")
				}
				if errors.Is(err, d1.ErrRateLimited) && ctx.Err() == nil {
					refused.Add(1)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(200), refused.Load(), "every caller got a rate-limit error before its deadline")
	assert.Equal(t, int64(11), e.srv.Requests(), "locked out, the client sent nothing more")

	// D1's side: still locked out 4 minutes in, open after 5. Fresh clients each time, since
	// a client that met a 429 pauses for its Retry-After in real time.
	fresh := func() *d1.Client {
		return client(t, e.srv, e.db.DatabaseID(), d1.Options{Retry: d1.RetryPolicy{MaxAttempts: 1}})
	}
	clk.Add(4 * time.Minute)
	_, err = fresh().Query(ctx, "SELECT 1")
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 429, de.StatusCode)
	assert.Equal(t, 60*time.Second, de.RetryAfter, "the lockout has a minute left")
	clk.Add(time.Minute)
	_, err = fresh().Query(ctx, "SELECT 1")
	assert.NoError(t, err, "the lockout is over after five minutes")
}

// TestLockoutPausesThenResumes locks 8 busy goroutines out with a short real lockout (2 s):
// the client pauses every caller on the first 429 instead of hammering D1, then resumes, and
// every operation succeeds. Nothing is lost: each goroutine's writes are all there once.
func TestLockoutPausesThenResumes(t *testing.T) {
	var status429 atomic.Int64
	e := newEnv(t, d1local.Options{RateLimit: d1local.RateLimit{Requests: 40, Window: time.Minute, Lockout: 2 * time.Second}},
		d1.Options{
			Retry: d1.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
			OnRequest: func(ri d1.RequestInfo) {
				if ri.Status == 429 {
					status429.Add(1)
				}
			},
		})
	ctx := context.Background()
	_, err := e.db.Exec(ctx, "CREATE TABLE hits (g INTEGER, i INTEGER, UNIQUE (g, i))")
	require.NoError(t, err)
	const goroutines, each = 8, 8 // 64 writes: past the 40-request budget
	var wg sync.WaitGroup
	errs := make([]error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				// Not idempotent: a 429 is retried only because D1 certainly did not run it.
				if _, err := e.db.Exec(ctx, "INSERT INTO hits (g, i) VALUES (?, ?)", g, i); err != nil {
					errs[g] = errors.Join(errs[g], err)
				}
			}
		})
	}
	wg.Wait()
	for g, err := range errs {
		require.NoError(t, err, "goroutine %d", g)
	}
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM hits")
	require.NoError(t, err)
	assert.Equal(t, goroutines*each, n, "every write landed once")
	refusals := status429.Load()
	t.Logf("%d requests, %d refused with 429", e.srv.Requests(), refusals)
	assert.Positive(t, refusals, "the run was locked out")
	// After the first 429 nobody sends until Retry-After has passed: only requests already in
	// flight (at most one per goroutine) can meet the lockout.
	assert.LessOrEqual(t, refusals, int64(goroutines), "the client stopped sending during the lockout")
	assert.Equal(t, int64(1+goroutines*each+1)+refusals, e.srv.Requests(), "each refused write was sent again once, after the pause")
}

// TestBudgetRefusesShortDeadlines: the client's own budget (here 20 requests a minute, a burst
// of 5) holds requests back rather than letting D1 lock the token out, and a caller whose
// deadline comes before its turn gets a rate-limit error at once, without a request.
func TestBudgetRefusesShortDeadlines(t *testing.T) {
	e := newEnv(t, d1local.Options{}, d1.Options{RateLimit: d1.RateLimit{Requests: 20, Window: time.Minute, Burst: 5}})
	ctx := context.Background()
	for range 5 {
		_, err := e.db.Query(ctx, "SELECT 1")
		require.NoError(t, err)
	}
	sent := e.srv.Requests()
	for range 10 {
		short, cancel := context.WithTimeout(ctx, time.Second) // the next token is 4 s away
		_, err := e.db.Query(short, "SELECT 1")
		assert.True(t, errors.Is(err, d1.ErrRateLimited), "got %v", err)
		assert.NoError(t, short.Err(), "refused at once, not at the deadline")
		cancel()
	}
	assert.Equal(t, sent, e.srv.Requests(), "nothing was sent over budget")
}
