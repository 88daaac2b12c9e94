package fleet

import (
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/time/rate"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/internal/ratelimit"
)

// SimulationOptions describe a migrate-all to simulate; zero fields take the defaults.
type SimulationOptions struct {
	Databases   int           // default 10,000
	Migrations  int           // migrations pending in every database; default 4
	Canaries    int           // default 1 (MigrateOptions.Canaries)
	Concurrency int           // default 4 (MigrateOptions.Concurrency)
	FlushEvery  int           // default 25 (MigrateOptions.FlushEvery)
	Latency     time.Duration // per request, round trip and D1's own time; default 50 ms
	RateLimit   d1.RateLimit  // the client's budget; zero fields take d1.RateLimit's defaults

	// FirstMigration models databases that were never migrated (no ledger yet), where
	// migrations.Apply creates the ledger in one more request. The fleet's own databases get
	// their schema, and so a ledger, when they are created.
	FirstMigration bool
}

// Simulation is what SimulateMigration found.
type Simulation struct {
	Databases   int           `json:"databases"`
	Requests    int           `json:"requests"`
	Duration    time.Duration `json:"duration_ns"`
	MaxInWindow int           `json:"max_in_window"` // most requests in any five-minute window
	// Exceeded is true when MaxInWindow is over Cloudflare's 1,200: the token would
	// have been locked out.
	Exceeded bool `json:"exceeded"`
}

// Requests of MigrateAll, as the real code sends them (TestSimulationMatchesMigrateAll
// checks these against a run on the local D1): the directory's schema check, its database
// list and the recorded statuses; per database, migrations.Apply's ledger read (and, the
// first time, the ledger's creation) and one request per pending migration; one status
// write per FlushEvery databases.
const simDirectoryReads = 3

// SimulateMigration runs MigrateAll's schedule in virtual time, with no database and no
// waiting: the canaries alone, then the other databases Concurrency at a time, each request
// taking Latency and first taking a token from the same token bucket a d1.Client's budget
// uses (Burst tokens, refilled at (Requests − Burst) / Window). It reports how long the
// migration takes and the most requests that fell in any five-minute window, which must
// stay under Cloudflare's 1,200.
func SimulateMigration(opts SimulationOptions) (Simulation, error) {
	if opts.Databases <= 0 {
		opts.Databases = 10_000
	}
	if opts.Migrations <= 0 {
		opts.Migrations = 4
	}
	if opts.Canaries == 0 {
		opts.Canaries = 1
	}
	opts.Canaries = max(0, min(opts.Canaries, opts.Databases))
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = 25
	}
	if opts.Latency <= 0 {
		opts.Latency = 50 * time.Millisecond
	}
	lim, err := limiter(opts.RateLimit)
	if err != nil {
		return Simulation{}, err
	}
	start := time.Unix(1_700_000_000, 0)
	var sent []time.Time
	// request sends one request at virtual time t and returns when its answer arrives.
	request := func(t time.Time) time.Time {
		r := lim.ReserveN(t, 1)
		at := t.Add(r.DelayFrom(t))
		sent = append(sent, at)
		return at.Add(opts.Latency)
	}
	now := start
	for range simDirectoryReads {
		now = request(now)
	}
	done := 0
	perDB := 1 + opts.Migrations
	if opts.FirstMigration {
		perDB++
	}
	// wave migrates databases [from, to) with n workers and returns when the last finishes.
	wave := func(from, to, n int, t time.Time) time.Time {
		h := &workers{}
		for range min(n, to-from) {
			heap.Push(h, worker{at: t})
		}
		next, end := from, t
		for h.Len() > 0 {
			w := heap.Pop(h).(worker)
			if w.flush { // the status write due after its last database, in time order
				w.at, w.flush = request(w.at), false
				heap.Push(h, w)
				continue
			}
			if w.left == 0 {
				if next == to {
					end = maxTime(end, w.at)
					continue
				}
				next++
				w.left = perDB
			}
			w.at = request(w.at)
			w.left--
			if w.left == 0 {
				done++
				w.flush = done%opts.FlushEvery == 0
			}
			heap.Push(h, w)
		}
		return end
	}
	now = wave(0, opts.Canaries, opts.Concurrency, now)
	now = wave(opts.Canaries, opts.Databases, opts.Concurrency, now)
	if done%opts.FlushEvery != 0 {
		now = request(now)
	}
	slices.SortFunc(sent, func(a, b time.Time) int { return a.Compare(b) })
	sim := Simulation{Databases: opts.Databases, Requests: len(sent), Duration: now.Sub(start)}
	sim.MaxInWindow = ratelimit.MaxInWindow(sent)
	sim.Exceeded = sim.MaxInWindow > ratelimit.Requests
	return sim, nil
}

// limiter is the token bucket of a d1.Client's budget for rl (see d1.RateLimit).
func limiter(rl d1.RateLimit) (*rate.Limiter, error) {
	if rl.Disabled {
		return nil, errors.New("fleet: simulate: the budget is disabled")
	}
	lim, err := ratelimit.NewLimiter(rl.Requests, rl.Window, rl.Burst)
	if err != nil {
		return nil, fmt.Errorf("fleet: simulate: %w", err)
	}
	return lim, nil
}

type worker struct {
	at    time.Time
	left  int  // requests left of the current database; 0 between databases
	flush bool // a status write is due
}

// workers is a min-heap of workers by the time of their next request, so that requests
// take their tokens in the order of virtual time.
type workers []worker

func (h workers) Len() int           { return len(h) }
func (h workers) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h workers) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *workers) Push(x any)        { *h = append(*h, x.(worker)) }
func (h *workers) Pop() any {
	old := *h
	w := old[len(old)-1]
	*h = old[:len(old)-1]
	return w
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
