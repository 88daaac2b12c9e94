package migrations

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/d1seal/d1seal/d1"
)

// ErrDrift is matched (errors.Is) by the error Apply returns when a migration recorded as
// applied no longer has the content it was applied with.
var ErrDrift = errors.New("migrations: an applied migration was changed")

// ApplyOptions tunes Apply. The zero value applies every pending migration of the set to
// wrangler's default ledger.
type ApplyOptions struct {
	// Table is the ledger table, wrangler's migrations_table. Default DefaultTable.
	Table string

	// Target, when non-zero, stops after the migration with this number, which must be in the
	// set: later migrations stay pending.
	Target int64

	// DryRun computes the plan (Result.Plan) and checks for drift without changing anything:
	// no ledger is created, no migration runs.
	DryRun bool

	// AllowDrift lets Apply go on when applied migrations were changed since (they are listed
	// in Result.Changed, and their recorded checksums are kept). Without it Apply stops with
	// an error matching ErrDrift and naming them.
	AllowDrift bool

	// Bookmark captures a Time Travel bookmark (Result.Bookmark) before the first migration
	// runs, and logs it: the point to restore to (d1.Client.Restore) to undo the whole run.
	Bookmark bool

	// Logger receives one line per migration applied and the bookmark. Default: no logging.
	Logger *slog.Logger
}

// BaselineOptions tunes Baseline. Its fields mean what ApplyOptions' do, for migrations
// recorded rather than run. The zero value records every pending migration of the set in
// wrangler's default ledger.
type BaselineOptions ApplyOptions

// run is one Apply or Baseline: the options of either, and which it is.
type run struct {
	ApplyOptions
	baseline bool
}

func (r *run) log(msg string, args ...any) {
	if r.Logger != nil {
		r.Logger.Info(msg, args...)
	}
}

// ledgerTable returns the ledger table an operation's Table option names.
func ledgerTable(table string) (string, error) {
	if table == "" {
		return DefaultTable, nil
	}
	return table, checkTable(table)
}

// Result is what Apply or Baseline did, or with DryRun what it would do.
type Result struct {
	// Plan is the pending migrations Apply set out to apply (up to Target), in order.
	Plan []Migration

	// Applied names the migrations this call applied (Baseline: recorded), in order.
	Applied []string

	// Concurrent names the migrations of Plan found applied by someone else when this call
	// tried to apply them: another runner, or an earlier attempt of this call whose response
	// was lost. They ran once, not here.
	Concurrent []string

	// Recorded names applied migrations whose checksum this call recorded for the first time:
	// those applied by wrangler (or by a tool that keeps no checksums).
	Recorded []string

	// Changed names applied migrations whose file differs from the checksum recorded when they
	// were applied (drift). Apply fails with ErrDrift when it is not empty, unless AllowDrift.
	Changed []string

	// Unknown names ledger rows with no file in the set, in ledger order.
	Unknown []string

	// Bookmark is the Time Travel bookmark taken before the first migration ran (ApplyOptions.Bookmark).
	Bookmark string
}

// Error reports a migration that failed. The database is left as it was after the previous
// migration: the failed one's statements and its ledger row were sent in one request, which
// D1 rolled back as a whole, unless Uncertain says otherwise.
type Error struct {
	Name string // the migration's file name

	// Statement is the failing statement's position in the file, from 1; 0 when it could not
	// be determined. SQL is its text.
	Statement int
	SQL       string

	// Uncertain is true when the request's fate is unknown (its response was lost after the
	// client's retries): the migration may have been applied. Run Apply again: it is safe.
	Uncertain bool

	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("migrations: ")
	b.WriteString(e.Name)
	if e.Statement > 0 {
		fmt.Fprintf(&b, ": statement %d (%s)", e.Statement, abbreviate(e.SQL))
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if e.Uncertain {
		b.WriteString("; it may or may not have been applied: run Apply again, which is safe")
	} else {
		b.WriteString("; nothing of it was applied")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// abbreviate shortens a statement to one line for error messages.
func abbreviate(sql string) string {
	s := strings.Join(strings.Fields(sql), " ")
	if len(s) > 80 {
		cut := 77
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// Apply brings the database up to date with set: it applies, in order, each migration whose
// file name is not in the ledger (up to ApplyOptions.Target), and returns what it did.
//
// Apply first reads the ledger and the recorded checksums in one read request. When the
// schema is current and every checksum is recorded, that read is all it sends, so calling
// Apply at every start (or through an Initializer on a service's first request) costs one
// request. When the ledger does not exist yet, it is created with wrangler's DDL.
//
// Each migration is then one request, which D1 runs as one transaction: first wrangler's ledger
// INSERT (the claim), then the checksum row, then the file's statements. If any fails, none
// commits, and Apply stops with an *Error naming the file and, when it can be found, the
// statement (see the package documentation for how the statement is found and for what
// happens when two runners apply at once).
//
// An applied migration whose file changed stops Apply, before anything runs, with an error
// matching ErrDrift, unless ApplyOptions.AllowDrift. Applied migrations with no recorded checksum
// (applied by wrangler) get the checksum of the current file recorded: trust on first use.
func Apply(ctx context.Context, c *d1.Client, set *Set, opts ApplyOptions) (*Result, error) {
	return apply(ctx, c, set, run{ApplyOptions: opts})
}

// Baseline records the pending migrations of set (up to BaselineOptions.Target) in the ledger
// as applied, with their checksums, without running them: for a database whose schema was
// created by other means. It reads the ledger, checks for drift and reports what it did as
// Apply does; each migration's ledger and checksum rows are one request, so concurrent
// runners are as safe as with Apply.
func Baseline(ctx context.Context, c *d1.Client, set *Set, opts BaselineOptions) (*Result, error) {
	return apply(ctx, c, set, run{ApplyOptions: ApplyOptions(opts), baseline: true})
}

func apply(ctx context.Context, c *d1.Client, set *Set, opts run) (*Result, error) {
	table, err := ledgerTable(opts.Table)
	if err != nil {
		return nil, err
	}
	if err := checkTarget(set, opts.Target); err != nil {
		return nil, err
	}
	l, err := readLedger(ctx, c, table)
	if err != nil {
		return nil, err
	}
	res, missing := plan(set, l, opts.Target)
	if len(res.Changed) > 0 && !opts.AllowDrift {
		return res, driftError(set, l, res.Changed)
	}
	if opts.DryRun {
		return res, nil
	}
	var bookmark string
	if opts.Bookmark && len(res.Plan) > 0 {
		// Before anything is written, the ledger included: restoring it undoes the whole run.
		if bookmark, err = c.Bookmark(ctx, time.Time{}); err != nil {
			return res, fmt.Errorf("migrations: capture a Time Travel bookmark before applying: %w", err)
		}
		opts.log("migrations: recovery point before applying", "bookmark", bookmark)
	}
	if !l.exists || !l.checksums {
		if l, err = ensureAndReadLedger(ctx, c, table); err != nil {
			return res, err
		}
		// Another runner may have applied some since the first read.
		if res, missing = plan(set, l, opts.Target); len(res.Changed) > 0 && !opts.AllowDrift {
			return res, driftError(set, l, res.Changed)
		}
	}
	res.Bookmark = bookmark
	if len(missing) > 0 {
		stmts := make([]d1.Statement, len(missing))
		for i, m := range missing {
			stmts[i] = d1.Statement{SQL: recordMissingChecksumSQL, Args: []any{table, m.Name, m.Checksum}, Idempotent: true}
		}
		if _, err := c.Batch(ctx, stmts...); err != nil {
			return res, fmt.Errorf("migrations: record checksums of migrations applied without one: %w", err)
		}
		for _, m := range missing {
			res.Recorded = append(res.Recorded, m.Name)
		}
	}
	for _, m := range res.Plan {
		err := applyOne(ctx, c, table, m, opts.baseline)
		if err == nil {
			res.Applied = append(res.Applied, m.Name)
			if opts.baseline {
				opts.log("migrations: recorded as applied (baseline)", "name", m.Name)
			} else {
				opts.log("migrations: applied", "name", m.Name)
			}
			continue
		}
		if !isClaimConflict(err, table) {
			return res, failure(ctx, c, m, err)
		}
		// The ledger already holds m: it was applied by someone else since we read the ledger.
		// Our request was rolled back at its first statement. Check what they applied.
		now, rerr := readLedger(ctx, c, table)
		if rerr != nil {
			return res, rerr
		}
		r, ok := now.byName[m.Name]
		if !ok {
			return res, &Error{Name: m.Name, Err: err}
		}
		if r.Checksum != "" && r.Checksum != m.Checksum && !opts.AllowDrift {
			res.Changed = append(res.Changed, m.Name)
			return res, driftError(set, now, []string{m.Name})
		}
		res.Concurrent = append(res.Concurrent, m.Name)
		opts.log("migrations: already applied by another runner", "name", m.Name)
	}
	return res, nil
}

func checkTarget(set *Set, target int64) error {
	if target == 0 {
		return nil
	}
	for _, m := range set.ms {
		if m.Number == target {
			return nil
		}
	}
	return fmt.Errorf("migrations: target %d is not the number of a migration in the set", target)
}

// plan compares the set with the ledger. It returns the pending migrations up to target in
// res.Plan, the changed and unknown ones, and the applied migrations that have no checksum.
func plan(set *Set, l *ledger, target int64) (res *Result, missing []Migration) {
	res = &Result{}
	for _, m := range set.ms {
		r, applied := l.byName[m.Name]
		switch {
		case !applied:
			if target == 0 || m.Number <= target {
				res.Plan = append(res.Plan, m)
			}
		case r.Checksum == "":
			missing = append(missing, m)
		case r.Checksum != m.Checksum:
			res.Changed = append(res.Changed, m.Name)
		}
	}
	for _, r := range l.rows {
		if _, ok := set.Lookup(r.Name); !ok {
			res.Unknown = append(res.Unknown, r.Name)
		}
	}
	return res, missing
}

func driftError(set *Set, l *ledger, names []string) error {
	parts := make([]string, len(names))
	for i, n := range names {
		m, _ := set.Lookup(n)
		parts[i] = fmt.Sprintf("%s (applied with sha256 %.12s…, file now %.12s…)", n, l.byName[n].Checksum, m.Checksum)
	}
	return fmt.Errorf("%w: %s; restore the applied content and put changes in a new migration, "+
		"or set AllowDrift to go on anyway", ErrDrift, strings.Join(parts, ", "))
}

// applyOne sends one migration as one request: the claim, the checksum, the statements.
//
// Every statement is marked Idempotent so that the client may resend the request after a
// failure that may have reached D1: if the first attempt committed, the resent claim violates
// the ledger's UNIQUE(name) and the whole resent request rolls back.
func applyOne(ctx context.Context, c *d1.Client, table string, m Migration, baseline bool) error {
	stmts := []d1.Statement{
		{SQL: claimSQL(table, m.Name), Idempotent: true},
		{SQL: recordChecksumSQL, Args: []any{table, m.Name, m.Checksum}, Idempotent: true},
	}
	if !baseline {
		for _, s := range m.stmts {
			stmts = append(stmts, d1.Statement{SQL: s, Idempotent: true})
		}
	}
	_, err := c.Batch(ctx, stmts...)
	return err
}

// maxProbes bounds the requests spent finding a failing statement (enough for 65,536).
const maxProbes = 16

// failure builds the *Error for a migration whose request failed. For a SQL error it finds the
// failing statement, which D1 does not report for a batch, by bisection: it resends prefixes of
// the migration's statements followed by a statement that always fails (a query of a table that
// cannot exist), so every probe is rolled back; the shortest prefix that fails with the same
// message ends with the culprit. That costs about log2(statements) requests, and only on failure.
func failure(ctx context.Context, c *d1.Client, m Migration, err error) error {
	e := &Error{Name: m.Name, Err: err}
	var de *d1.Error
	if !errors.As(err, &de) {
		return e // refused before sending (limits, arguments): nothing ran
	}
	if de.SQLiteCode == "" {
		e.Uncertain = de.Sent
		return e
	}
	n := len(m.stmts)
	if de.Statement >= 2 && de.Statement-2 < n {
		e.Statement = de.Statement - 1
		e.SQL = m.stmts[e.Statement-1]
		return e
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	sentinel := d1.Statement{SQL: `SELECT 1 FROM "d1seal_probe_` + hex.EncodeToString(nonce[:]) + `"`}
	lo, hi := 1, n // the culprit is in stmts[lo-1:hi]
	for probes := 0; lo < hi && probes < maxProbes; probes++ {
		mid := (lo + hi) / 2
		stmts := make([]d1.Statement, 0, mid+1)
		for _, s := range m.stmts[:mid] {
			stmts = append(stmts, d1.Statement{SQL: s})
		}
		_, perr := c.Batch(ctx, append(stmts, sentinel)...)
		var pe *d1.Error
		switch {
		case perr == nil: // cannot happen: the sentinel always fails
			return e
		case !errors.As(perr, &pe):
			return e
		case pe.Message == de.Message:
			hi = mid
		case strings.Contains(pe.Message, "d1seal_probe_"):
			lo = mid + 1
		default:
			return e // something else went wrong (concurrent change, transient failure)
		}
	}
	if lo == hi {
		e.Statement = lo
		e.SQL = m.stmts[lo-1]
	}
	return e
}
