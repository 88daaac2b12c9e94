package d1

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/d1seal/d1seal/internal/sqlsplit"
)

// RetryPolicy says how transient failures are retried: exponential backoff with jitter.
//
// Which failures are retried does not depend on the policy: a read-only statement, or one
// marked Idempotent, is retried after any transient failure (5xx, a lost connection, D1's
// transient messages, 429); any other write is retried only when the request certainly did
// not reach D1 (a refused connection, a DNS failure, a 429), because a write whose response
// was lost may have committed.
type RetryPolicy struct {
	// MaxAttempts is the number of requests sent for one operation, the first included.
	// 1 turns retries off. Default 4.
	MaxAttempts int

	// BaseDelay is the backoff before the first retry; it doubles each time. Default 200 ms.
	BaseDelay time.Duration

	// MaxDelay caps one backoff. A longer Retry-After from D1 is still honoured. Default 10 s.
	MaxDelay time.Duration
}

// defaultRetry is the policy's defaults, field by field.
var defaultRetry = RetryPolicy{MaxAttempts: 4, BaseDelay: 200 * time.Millisecond, MaxDelay: 10 * time.Second}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = defaultRetry.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = defaultRetry.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = defaultRetry.MaxDelay
	}
	return p
}

// backoff returns the wait before retry number n (1 for the first retry): "equal jitter",
// uniformly in [d/2, d] for d = min(MaxDelay, BaseDelay·2^(n−1)), so that many clients failing
// together spread out without ever retrying at once.
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.MaxDelay
	if n-1 < 30 {
		if e := p.BaseDelay << (n - 1); e > 0 && e < d {
			d = e
		}
	}
	return d/2 + rand.N(d/2+1)
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// IsReadOnly reports whether sql certainly does not write: it starts with SELECT, VALUES or
// EXPLAIN, or with WITH and names no INSERT, UPDATE, DELETE or REPLACE, or is a PRAGMA that
// sets nothing. When unsure it says false. The client retries read-only statements after
// any transient failure; the database/sql driver (d1sql) tells reads from writes with it.
func IsReadOnly(sql string) bool {
	kw, rest := sqlsplit.FirstKeyword(sql)
	switch kw {
	case "SELECT", "VALUES", "EXPLAIN":
		return true
	case "WITH":
		up := strings.ToUpper(rest)
		for _, w := range []string{"INSERT", "UPDATE", "DELETE", "REPLACE"} {
			if strings.Contains(up, w) {
				return false
			}
		}
		return true
	case "PRAGMA":
		return !strings.Contains(rest, "=") && !strings.Contains(strings.ToLower(rest), "optimize")
	}
	return false
}
