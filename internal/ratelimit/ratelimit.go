// Package ratelimit models Cloudflare's API rate limit and the token bucket that keeps a d1
// client under it. d1 builds its budget here; fleet and the benchmarks simulate it here, in
// virtual time, without a client.
package ratelimit

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// Cloudflare's API limit: past Requests in any Window, every request is refused for five
// minutes.
const (
	Requests = 1200
	Window   = 5 * time.Minute
)

// DefaultBurst is the requests a budget lets out back to back when its settings name none.
const DefaultBurst = 50

// NewLimiter returns the token bucket of a budget of requests per window with burst tokens,
// refilled at (requests − burst) / window, so that no window ever sees more than requests.
// Zero values take Cloudflare's limit and a burst of min(DefaultBurst, requests/24).
func NewLimiter(requests int, window time.Duration, burst int) (*rate.Limiter, error) {
	if requests == 0 {
		requests = Requests
	}
	if window == 0 {
		window = Window
	}
	if burst == 0 {
		burst = min(DefaultBurst, max(1, requests/24))
	}
	if requests < 0 || window < 0 || burst < 0 || burst >= requests {
		return nil, fmt.Errorf("need 0 < Burst (%d) < Requests (%d) and a positive Window", burst, requests)
	}
	return rate.NewLimiter(rate.Limit(float64(requests-burst)/window.Seconds()), burst), nil
}

// MaxInWindow returns the most of the sorted times sent that fall in any window of length
// Window.
func MaxInWindow(sent []time.Time) int {
	most := 0
	for i, j := 0, 0; j < len(sent); j++ {
		for sent[j].Sub(sent[i]) >= Window {
			i++
		}
		most = max(most, j-i+1)
	}
	return most
}

// Simulation is the outcome of Simulate.
type Simulation struct {
	Requests    int           // requests the budget let through
	Duration    time.Duration // simulated time
	MaxInWindow int           // most requests in any window of length Window
	LockedOut   bool          // whether MaxInWindow exceeds Requests
}

// Simulate runs a client that sends as fast as lim allows for d of virtual time (no real
// waiting) and reports the most requests that fell in any five-minute window: a check that a
// budget can never get its user locked out, and a capacity figure.
func Simulate(lim *rate.Limiter, d time.Duration) (Simulation, error) {
	start := time.Unix(1_700_000_000, 0)
	end := start.Add(d)
	var sent []time.Time
	for t := start; t.Before(end); {
		r := lim.ReserveN(t, 1)
		if !r.OK() {
			return Simulation{}, errors.New("simulate budget: reservation refused")
		}
		t = t.Add(r.DelayFrom(t))
		if !t.Before(end) {
			break
		}
		sent = append(sent, t)
	}
	sim := Simulation{Requests: len(sent), Duration: d, MaxInWindow: MaxInWindow(sent)}
	sim.LockedOut = sim.MaxInWindow > Requests
	return sim, nil
}
