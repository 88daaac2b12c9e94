package d1

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/d1seal/d1seal/internal/ratelimit"
)

// RateLimit is a client-side request budget. Cloudflare allows 1,200 API requests per five
// minutes per token and answers every request with 429 for the next five minutes once that is
// exceeded; the budget keeps the client under that line so its user is never locked out.
//
// The budget is a token bucket (golang.org/x/time/rate) of Burst tokens refilled at
// (Requests − Burst) / Window. Over any window of length Window it lets through at most
// Burst + (Requests − Burst) = Requests requests, so the default never exceeds 1,200 in any
// five minutes, while a burst of 50 requests still goes out at once.
type RateLimit struct {
	Requests int           // requests allowed per Window; default 1,200 (Cloudflare's limit)
	Window   time.Duration // default 5 minutes
	Burst    int           // requests that may go out back to back; default min(50, Requests/24)
	Disabled bool          // no client-side budget (a 429's Retry-After is still honoured)
}

// budget is the state shared by an Account and every Client it returns, in every goroutine.
type budget struct {
	limiter *rate.Limiter // nil when disabled

	mu          sync.Mutex
	pausedUntil time.Time // set by a 429's Retry-After: nobody sends before
}

func newBudget(rl RateLimit) (*budget, error) {
	if rl.Disabled {
		return &budget{}, nil
	}
	lim, err := ratelimit.NewLimiter(rl.Requests, rl.Window, rl.Burst)
	if err != nil {
		return nil, fmt.Errorf("d1: rate limit: %w", err)
	}
	return &budget{limiter: lim}, nil
}

// wait blocks until a request may be sent: past any 429 pause, with a token of the budget,
// and past any pause that began while the caller waited for its token, so that no caller
// queued on the budget sends into a pause however many are queued. When the caller's
// deadline comes before that, it returns a rate-limit error at once instead of waiting in
// vain.
func (b *budget) wait(ctx context.Context, op string) error {
	if err := b.waitPause(ctx, op); err != nil {
		return err
	}
	if b.limiter == nil {
		return nil
	}
	r := b.limiter.Reserve()
	if d := r.Delay(); d > 0 {
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
			r.Cancel()
			return rateErr(op, d, "the client's rate-limit budget would delay this request past the caller's deadline")
		}
		if err := sleep(ctx, d); err != nil {
			r.Cancel()
			return err
		}
	}
	// A 429 met by another caller while this one slept: the token is kept for after it.
	return b.waitPause(ctx, op)
}

// waitPause blocks until no 429 pause is in force; a pause extended during the wait is waited
// out too.
func (b *budget) waitPause(ctx context.Context, op string) error {
	for {
		b.mu.Lock()
		until := b.pausedUntil
		b.mu.Unlock()
		d := time.Until(until)
		if d <= 0 {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && dl.Before(until) {
			return rateErr(op, d, "D1 asked the client to pause (429 Retry-After) past the caller's deadline")
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// pause stops every caller from sending for d.
func (b *budget) pause(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := time.Now().Add(d); t.After(b.pausedUntil) {
		b.pausedUntil = t
	}
}

func rateErr(op string, wait time.Duration, why string) error {
	return &Error{Op: op, Statement: -1, Message: why, RetryAfter: wait, Err: ErrRateLimited}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

var errNilCtx = errors.New("d1: nil context")
