package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/migrations"
)

// State is where one database of the fleet stands with a migration set.
type State string

// The states of DatabaseStatus.
const (
	Applied State = "applied" // every migration of the set is in the database's ledger
	Pending State = "pending" // some are not (Status only), or it was not reached (a canary failed, or the run was cancelled)
	Failed  State = "failed"  // a migration failed; Error says which and why; the database is as after the one before it
	Drifted State = "drifted" // an applied migration's file changed since (migrations.ErrDrift)
)

// DatabaseStatus is one database's line of a migrate-all report or a status.
type DatabaseStatus struct {
	Database string   `json:"database"`
	Name     string   `json:"name"`
	Canary   bool     `json:"canary,omitempty"`
	State    State    `json:"state"`
	Applied  []string `json:"applied,omitempty"` // migrations applied by this run
	Pending  []string `json:"pending,omitempty"` // migrations not yet applied (Status)
	Error    string   `json:"error,omitempty"`
	// Resumed is true when an earlier run recorded the database as applied with this set, so
	// this run skipped it without a request (MigrateOptions.Recheck turns that off).
	Resumed bool `json:"resumed,omitempty"`
}

// Report is the outcome of MigrateAll or Status.
type Report struct {
	Set       string           `json:"set"` // digest of the set's names and checksums
	Databases []DatabaseStatus `json:"databases"`
	Counts    map[State]int    `json:"counts"`
}

func (r *Report) count() {
	r.Counts = map[State]int{}
	for _, d := range r.Databases {
		r.Counts[d.State]++
	}
}

// WriteTable prints the report as an aligned table, one database a line.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDATABASE\tSTATE\tAPPLIED\tDETAIL")
	for _, d := range r.Databases {
		name := d.Name
		if d.Canary {
			name += " (canary)"
		}
		detail := d.Error
		if detail == "" && len(d.Pending) > 0 {
			detail = "pending: " + strings.Join(d.Pending, ", ")
		}
		if detail == "" && d.Resumed {
			detail = "done in an earlier run"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", name, d.Database, d.State, len(d.Applied), detail)
	}
	fmt.Fprintf(tw, "\n%d databases: %d applied, %d pending, %d failed, %d drifted\n", len(r.Databases), r.Counts[Applied], r.Counts[Pending], r.Counts[Failed], r.Counts[Drifted])
	return tw.Flush()
}

// MigrateOptions tunes MigrateAll; the zero value is ready to use.
type MigrateOptions struct {
	// Concurrency is how many databases are migrated at once. Default 4. All of them share
	// the client's rate-limit budget, which is what bounds a large fleet.
	Concurrency int

	// Canaries is how many databases, the first created, are migrated first, alone. When one
	// of them fails (or has drifted) nothing else is touched and MigrateAll returns an error
	// matching ErrCanaryFailed. Default 1; negative means none.
	Canaries int

	// MaxFailures stops the run (outside the canaries) once this many databases failed,
	// leaving the rest pending. 0 tries every database.
	MaxFailures int

	// FlushEvery is how many statuses are written to the directory in one request. Default
	// 25. After a crash, up to that many databases are checked again (one read each; the
	// ledger keeps anything from being applied twice).
	FlushEvery int

	// Recheck checks databases an earlier run recorded as applied, instead of skipping them.
	Recheck bool

	// Migrations are passed to migrations.Apply for each database (Table, Target,
	// AllowDrift, Logger...). Bookmark and DryRun work too. Status reads the ledger Table.
	Migrations migrations.ApplyOptions

	// Progress, if set, is called after each database, from the worker that migrated it.
	Progress func(DatabaseStatus)
}

// ErrCanaryFailed is matched by MigrateAll's error when a canary database failed.
var ErrCanaryFailed = errors.New("fleet: a canary database failed; the other databases were not touched")

// ErrIncomplete is matched by MigrateAll's error when some databases failed, drifted or were
// left pending; the Report says which. Run MigrateAll again after fixing them: databases
// already applied are skipped.
var ErrIncomplete = errors.New("fleet: migrate all: not every database is applied")

// SetDigest identifies a migration set by its file names and contents.
func SetDigest(set *migrations.Set) string {
	h := sha256.New()
	for _, m := range set.Migrations() {
		fmt.Fprintf(h, "%s\x00%s\x00", m.Name, migrations.Checksum(m.SQL))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// MigrateAll applies set to every database of the fleet with migrations.Apply (so each
// database keeps wrangler's ledger, and each migration commits with its ledger row in one
// request): the canaries first, then the rest a few at a time, all under the client's
// rate-limit budget. It records each database's outcome in the directory, so that a run
// interrupted (a crash, Ctrl-C, a cancelled ctx) and started again skips the databases
// already done and finishes the rest; nothing is ever applied twice, because each
// database's ledger decides what is pending.
//
// It returns the report and, unless every database is applied, an error matching
// ErrCanaryFailed or ErrIncomplete (or ctx's error).
func (f *Fleet) MigrateAll(ctx context.Context, set *migrations.Set, opts MigrateOptions) (*Report, error) {
	if set == nil {
		return nil, errors.New("fleet: migrate all: nil set")
	}
	dbs, err := f.Databases(ctx)
	if err != nil {
		return nil, err
	}
	digest := SetDigest(set)
	done := map[string]bool{}
	if !opts.Recheck {
		ids, err := d1.QueryAll[string](ctx, f.dir, "SELECT database_id FROM fleet_migrations WHERE set_digest = ? AND state = 'applied'", digest)
		if err != nil {
			return nil, fmt.Errorf("fleet: migrate all: read status: %w", err)
		}
		for _, id := range ids {
			done[id] = true
		}
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = 25
	}
	canaries := opts.Canaries
	if canaries == 0 {
		canaries = 1
	}
	canaries = max(0, min(canaries, len(dbs)))
	rep := &Report{Set: digest, Databases: make([]DatabaseStatus, len(dbs))}
	for i, d := range dbs {
		rep.Databases[i] = DatabaseStatus{Database: d.ID, Name: d.Name, Canary: i < canaries, State: Pending}
	}
	rec := &recorder{f: f, digest: digest, every: opts.FlushEvery}
	defer rec.flush(context.WithoutCancel(ctx))

	var mu sync.Mutex
	failures := 0
	one := func(ctx context.Context, i int) bool {
		st := &rep.Databases[i]
		if done[st.Database] {
			st.State, st.Resumed = Applied, true
		} else {
			f.migrateOne(ctx, set, opts.Migrations, st)
			if st.State == Pending { // cancelled: nothing to record
				return false
			}
			if err := rec.add(ctx, st); err != nil {
				f.log.Warn("fleet: record migrate status", "err", err)
			}
		}
		if opts.Progress != nil {
			opts.Progress(*st)
		}
		if st.State == Applied {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		failures++
		return opts.MaxFailures == 0 || failures < opts.MaxFailures
	}
	idx := make([]int, len(dbs))
	for i := range idx {
		idx[i] = i
	}
	forEach(ctx, opts.Concurrency, idx[:canaries], one)
	for _, st := range rep.Databases[:canaries] {
		if st.State != Applied {
			rep.count()
			if err := rec.flush(context.WithoutCancel(ctx)); err != nil {
				f.log.Warn("fleet: record migrate status", "err", err)
			}
			return rep, fmt.Errorf("%w: %s: %s %s", ErrCanaryFailed, st.Name, st.State, st.Error)
		}
	}
	failures = 0
	forEach(ctx, opts.Concurrency, idx[canaries:], one)
	rep.count()
	if err := rec.flush(context.WithoutCancel(ctx)); err != nil {
		return rep, fmt.Errorf("fleet: migrate all: record status: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("fleet: migrate all: %d of %d databases applied: %w", rep.Counts[Applied], len(dbs), err)
	}
	if rep.Counts[Applied] != len(dbs) {
		return rep, fmt.Errorf("%w: %d applied, %d failed, %d drifted, %d pending", ErrIncomplete, rep.Counts[Applied], rep.Counts[Failed], rep.Counts[Drifted], rep.Counts[Pending])
	}
	return rep, nil
}

// migrateOne applies set to one database and fills in st (left Pending when ctx ended first).
func (f *Fleet) migrateOne(ctx context.Context, set *migrations.Set, mo migrations.ApplyOptions, st *DatabaseStatus) {
	c, err := f.Client(st.Database)
	if err != nil {
		st.State, st.Error = Failed, err.Error()
		return
	}
	res, err := migrations.Apply(ctx, c, set, mo)
	if res != nil {
		st.Applied = append(res.Applied, res.Concurrent...)
	}
	switch {
	case err == nil:
		st.State = Applied
	case ctx.Err() != nil:
		st.State = Pending
	case errors.Is(err, migrations.ErrDrift):
		st.State, st.Error = Drifted, err.Error()
	default:
		st.State, st.Error = Failed, err.Error()
	}
	f.log.Info("fleet: migrate", "database", st.Name, "state", st.State, "applied", len(st.Applied))
}

// recorder batches status rows into directory writes.
type recorder struct {
	f      *Fleet
	digest string
	every  int

	mu    sync.Mutex
	stmts []d1.Statement
}

func (r *recorder) add(ctx context.Context, st *DatabaseStatus) error {
	applied, _ := json.Marshal(st.Applied)
	r.mu.Lock()
	r.stmts = append(r.stmts, d1.Statement{
		SQL: `INSERT INTO fleet_migrations (database_id, set_digest, state, applied, error, updated_at) VALUES (?, ?, ?, ?, nullif(?, ''), ?)
ON CONFLICT (database_id, set_digest) DO UPDATE SET state = excluded.state, applied = excluded.applied, error = excluded.error, updated_at = excluded.updated_at`,
		Args: []any{st.Database, r.digest, string(st.State), string(applied), st.Error, r.f.timestamp()}, Idempotent: true,
	})
	full := len(r.stmts) >= r.every
	r.mu.Unlock()
	if full {
		return r.flush(ctx)
	}
	return nil
}

func (r *recorder) flush(ctx context.Context) error {
	r.mu.Lock()
	stmts := r.stmts
	r.stmts = nil
	r.mu.Unlock()
	if len(stmts) == 0 {
		return nil
	}
	chunks, err := r.f.dir.PrepareChunks(stmts)
	if err != nil {
		return err
	}
	sent := 0
	for _, p := range chunks {
		if _, err := r.f.dir.Send(ctx, p); err != nil {
			// Keep what was not written for the next flush (the final one runs on a
			// context that is not cancelled); rows resent are upserts.
			r.mu.Lock()
			r.stmts = append(stmts[sent:], r.stmts...)
			r.mu.Unlock()
			return err
		}
		sent += p.Len()
	}
	return nil
}

// Status reports where every database stands with set. Without live it reads what
// MigrateAll recorded in the directory (one request; databases never migrated with this set
// are Pending). With live it reads every database's ledger (migrations.Status, one request
// each, a few at a time), which also sees migrations applied by other means, such as
// wrangler.
func (f *Fleet) Status(ctx context.Context, set *migrations.Set, live bool, opts MigrateOptions) (*Report, error) {
	dbs, err := f.Databases(ctx)
	if err != nil {
		return nil, err
	}
	digest := SetDigest(set)
	canaries := opts.Canaries
	if canaries == 0 {
		canaries = 1
	}
	rep := &Report{Set: digest, Databases: make([]DatabaseStatus, len(dbs))}
	for i, d := range dbs {
		rep.Databases[i] = DatabaseStatus{Database: d.ID, Name: d.Name, Canary: i < canaries, State: Pending}
	}
	if !live {
		type row struct {
			DatabaseID string `d1:"database_id"`
			State      string `d1:"state"`
			Applied    string `d1:"applied"`
			Error      string `d1:"error"`
		}
		rows, err := d1.QueryAll[row](ctx, f.dir, "SELECT database_id, state, coalesce(applied, '[]') AS applied, coalesce(error, '') AS error FROM fleet_migrations WHERE set_digest = ?", digest)
		if err != nil {
			return nil, fmt.Errorf("fleet: status: %w", err)
		}
		byID := map[string]row{}
		for _, r := range rows {
			byID[r.DatabaseID] = r
		}
		for i := range rep.Databases {
			if r, ok := byID[rep.Databases[i].Database]; ok {
				st := &rep.Databases[i]
				st.State, st.Error = State(r.State), r.Error
				_ = json.Unmarshal([]byte(r.Applied), &st.Applied)
			}
		}
		rep.count()
		return rep, nil
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	idx := make([]int, len(dbs))
	for i := range idx {
		idx[i] = i
	}
	forEach(ctx, opts.Concurrency, idx, func(ctx context.Context, i int) bool {
		st := &rep.Databases[i]
		c, err := f.Client(st.Database)
		if err == nil {
			var entries []migrations.Entry
			entries, err = migrations.Status(ctx, c, set, migrations.StatusOptions{Table: opts.Migrations.Table})
			st.State = Applied
			for _, e := range entries {
				switch e.State {
				case migrations.Pending:
					st.Pending = append(st.Pending, e.Name)
					if st.State == Applied {
						st.State = Pending
					}
				case migrations.Changed:
					st.State = Drifted
				}
			}
		}
		if err != nil {
			st.State, st.Error = Failed, err.Error()
		}
		return true
	})
	rep.count()
	return rep, ctx.Err()
}

// forEach runs fn on each item with at most n at once, in order of items, until fn returns
// false or ctx ends; then it starts no more and waits for those running.
func forEach[T any](ctx context.Context, n int, items []T, fn func(context.Context, T) bool) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	next, stop := 0, false
	for range min(n, len(items)) {
		wg.Go(func() {
			for {
				mu.Lock()
				if stop || next == len(items) || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				it := items[next]
				next++
				mu.Unlock()
				if !fn(ctx, it) {
					mu.Lock()
					stop = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
}
