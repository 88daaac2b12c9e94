package d1local

import (
	"sync"
	"time"
)

// RateLimit emulates Cloudflare's API rate limit (1,200 requests per 5 minutes per token):
// past Requests requests within Window, every request is refused with 429 and Retry-After
// until Lockout has passed. The zero value sets no limit.
type RateLimit struct {
	Requests int           // requests allowed per Window; 0 = no limit
	Window   time.Duration // 0 = 5 minutes
	Lockout  time.Duration // 0 = 5 minutes
}

// rateLimiter counts accepted requests in a sliding window.
type rateLimiter struct {
	limit RateLimit

	mu          sync.Mutex
	hits        []time.Time
	lockedUntil time.Time
}

func newRateLimiter(l RateLimit) *rateLimiter {
	if l.Window <= 0 {
		l.Window = 5 * time.Minute
	}
	if l.Lockout <= 0 {
		l.Lockout = 5 * time.Minute
	}
	return &rateLimiter{limit: l}
}

// allow records a request at now, or refuses it and says how long the lockout still lasts.
func (l *rateLimiter) allow(now time.Time) (retryAfter time.Duration, ok bool) {
	if l.limit.Requests <= 0 {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.lockedUntil) {
		return l.lockedUntil.Sub(now), false
	}
	cut := now.Add(-l.limit.Window)
	i := 0
	for i < len(l.hits) && !l.hits[i].After(cut) {
		i++
	}
	l.hits = l.hits[i:]
	if len(l.hits) >= l.limit.Requests {
		l.lockedUntil = now.Add(l.limit.Lockout)
		l.hits = nil
		return l.limit.Lockout, false
	}
	l.hits = append(l.hits, now)
	return 0, true
}
