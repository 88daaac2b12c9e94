package migrations

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/d1seal/d1seal/d1"
)

// Initializer brings a database up to date once per process, on demand: the safe form of the
// "initialize the schema on the first request" middleware. Its first successful Init runs
// Apply (one read request when the schema is already current); later calls return at once
// without any request. A failed Init is tried again by the next call. It is safe for
// concurrent use: concurrent callers wait for the one Apply in flight, and several processes
// initializing the same database at once are safe because Apply is.
type Initializer struct {
	client *d1.Client
	set    *Set
	opts   ApplyOptions

	mu   sync.Mutex
	done atomic.Bool
	res  *Result
}

// InitOptions tunes an Initializer. Its fields mean what ApplyOptions' do. The zero value
// applies every pending migration of the set, with wrangler's default ledger.
type InitOptions struct {
	Table      string
	Target     int64
	AllowDrift bool
	Bookmark   bool
	Logger     *slog.Logger
}

// NewInitializer returns an Initializer that applies set to c's database with opts.
func NewInitializer(c *d1.Client, set *Set, opts InitOptions) *Initializer {
	return &Initializer{client: c, set: set, opts: ApplyOptions{
		Table: opts.Table, Target: opts.Target, AllowDrift: opts.AllowDrift, Bookmark: opts.Bookmark, Logger: opts.Logger,
	}}
}

// Init applies the pending migrations unless an earlier call already succeeded.
func (in *Initializer) Init(ctx context.Context) error {
	if in.done.Load() {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.done.Load() {
		return nil
	}
	res, err := Apply(ctx, in.client, in.set, in.opts)
	if err != nil {
		return err
	}
	in.res = res
	in.done.Store(true)
	return nil
}

// Result returns what the successful Init did, or nil before one.
func (in *Initializer) Result() *Result {
	if !in.done.Load() {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.res
}

// Handler returns middleware that runs Init before passing each request to next. While the
// database cannot be brought up to date it answers 503 Service Unavailable with a short
// plain-text body (never the error itself, which is handed to onError, if not nil, to log)
// and tries again on the next request.
func (in *Initializer) Handler(next http.Handler, onError func(*http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := in.Init(r.Context()); err != nil {
			if onError != nil {
				onError(r, err)
			}
			w.Header().Set("Retry-After", "1")
			http.Error(w, "database schema is not ready", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}
