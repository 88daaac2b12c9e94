package records

import (
	"context"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
)

// CreateMany stores values as new private records with fresh TIDs, in as few requests as
// D1's limits allow, each request atomic, and returns them in the order of values. See
// CreateAll, which it uses, for how; on failure it returns the records written so far (whole
// requests) with the error.
func (c *Collection[T]) CreateMany(ctx context.Context, values []T) (_ []*Record[T], err error) {
	defer func(start time.Time) { c.emit(ctx, "create_many", "", start, err) }(time.Now())
	out := make([]*Record[T], 0, len(values))
	for r, err := range c.createAll(ctx, func(yield func(T) bool) {
		for _, v := range values {
			if !yield(v) {
				return
			}
		}
	}, len(values)) {
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// CreateAll stores the values of a sequence as new private records with fresh TIDs and yields
// each record, in order, once the request carrying it has committed: the way to write more
// records than fit in memory, with progress. D1 binds at most 100 parameters per statement
// and a row takes 13, so one INSERT carries 7 records; a request carries as many statements
// as the client's Limits allow (MaxStatements, MaxRequestBytes; see d1.Client.PrepareChunks): up to
// 7,000 records with the default limits, fewer when they are large. Each request is atomic.
//
// Values are read and sealed (on every CPU) one request's worth ahead of the request being
// sent, so sealing overlaps the round trip and memory holds about two requests' worth of
// records however long the sequence. The sequence is read from another goroutine. A request whose response was lost is checked, and sent
// again only if it did not commit. After an error (yielded last) nothing more is written.
func (c *Collection[T]) CreateAll(ctx context.Context, values iter.Seq[T]) iter.Seq2[*Record[T], error] {
	return c.createAll(ctx, values, 0)
}

// createAll is CreateAll for a sequence of n values when n > 0 is known: the records then go
// in the fewest requests, the first one carrying the remainder (3,000 then 7,000 for 10,000),
// so that the least sealing happens before the first request can go and the rest is sealed
// while it is in flight (measured against an even split in BENCHMARKS.md).
func (c *Collection[T]) createAll(ctx context.Context, values iter.Seq[T], n int) iter.Seq2[*Record[T], error] {
	return func(yield func(*Record[T], error) bool) {
		if err := c.ready(ctx); err != nil {
			yield(nil, err)
			return
		}
		lim := c.s.db.Limits()
		perStmt := max(1, (lim.MaxParams-1)/insertParams)
		window := lim.MaxStatements * perStmt
		first := window
		if n > 0 {
			// The fewest requests, the first carrying the remainder: it goes after the least
			// sealing, and the full ones are sealed while it is in flight.
			requests := (n + window - 1) / window
			first = n - (requests-1)*window
		}
		token := newWriteID()

		// The sealer reads values and seals them one window ahead of the writer.
		type sealedWindow struct {
			start  int
			values []T
			vs     []*version
			err    error
		}
		ready := make(chan sealedWindow, 1)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			defer close(ready)
			next, done := iter.Pull(values)
			defer done()
			for start, size := 0, first; ; size = window {
				var batch []T
				for len(batch) < size {
					v, ok := next()
					if !ok {
						break
					}
					batch = append(batch, v)
				}
				if len(batch) == 0 {
					return
				}
				vs, err := c.sealMany(batch, start, token)
				select {
				case ready <- sealedWindow{start, batch, vs, err}:
				case <-stop:
					return
				}
				if err != nil {
					return
				}
				start += len(batch)
			}
		}()

		written := 0
		for w := range ready {
			if w.err != nil {
				yield(nil, fmt.Errorf("records: create many: %d written: %w", written, w.err))
				return
			}
			recs, err := c.writeWindow(ctx, w.vs, w.values, w.start, perStmt, token)
			for _, r := range recs {
				written++
				if !yield(r, nil) {
					return
				}
			}
			if err != nil {
				yield(nil, fmt.Errorf("records: create many: %d written: %w", written, err))
				return
			}
		}
	}
}

// writeWindow writes one window of sealed records in as few requests as the limits allow and
// returns the records of the requests that committed. A record's beacons travel in the same
// request as the record.
func (c *Collection[T]) writeWindow(ctx context.Context, vs []*version, values []T, start, perStmt int, token string) ([]*Record[T], error) {
	var stmts []d1.Statement
	var rows []int      // records in each statement
	var groupEnd []bool // whether a statement ends a group (an insert and its beacons)
	for i := 0; i < len(vs); i += perStmt {
		j := min(i+perStmt, len(vs))
		stmts, rows, groupEnd = append(stmts, insertRows(vs[i:j])), append(rows, j-i), append(groupEnd, true)
		for _, w := range vs[i:j] {
			for _, st := range beaconStatements(w.blobs, w.ref.ID(), w.writeID, w.beacons, false) {
				groupEnd[len(groupEnd)-1] = false
				stmts, rows, groupEnd = append(stmts, st), append(rows, 0), append(groupEnd, true)
			}
		}
	}
	out := make([]*Record[T], 0, len(vs))
	off := 0 // records of this window written so far
	for from := 0; from < len(stmts); {
		ch, end, err := c.prepareGroups(stmts, groupEnd, from)
		if err != nil {
			return out, err
		}
		n := 0
		for _, r := range rows[from:end] {
			n += r
		}
		lo, hi := start+off, start+off+n
		_, err = c.s.db.SendOnce(ctx, ch, c.committedRange(token, lo, hi))
		if d1.IsUniqueViolation(err) {
			err = fmt.Errorf("%w: a record key in %d..%d is taken: %w", ErrExists, lo, hi-1, err)
		}
		if err != nil {
			return out, err
		}
		for i, w := range vs[off : off+n] {
			c.s.see(w.ref.ID(), 1)
			out = append(out, recordOf(w, values[off+i]))
		}
		off, from = off+n, end
	}
	return out, nil
}

// prepareGroups prepares the next request of stmts from statement from: as many whole groups
// (a statement ending a group has groupEnd set) as the client's limits allow.
func (c *Collection[T]) prepareGroups(stmts []d1.Statement, groupEnd []bool, from int) (*d1.Prepared, int, error) {
	chunks, err := c.s.db.PrepareChunks(stmts[from:])
	if err != nil {
		return nil, 0, err
	}
	end := from + chunks[0].Len()
	if groupEnd[end-1] {
		return chunks[0], end, nil
	}
	for end > from && !groupEnd[end-1] {
		end--
	}
	if end == from {
		return nil, 0, fmt.Errorf("records: a record and its beacons do not fit in one request under the client's limits")
	}
	p, err := c.s.db.Prepare(stmts[from:end]...)
	return p, end, err
}

// manyWriteID is the write id of the i-th record of a CreateAll call: fixed-width, so that
// the ids of one request form a contiguous range.
func manyWriteID(token string, i int) string { return fmt.Sprintf("%s.%09d", token, i) }

// committedRange checks whether the records of CreateAll indexes [lo, hi) were stored, from
// the write log (see committed).
func (c *Collection[T]) committedRange(token string, lo, hi int) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		n, err := d1.QueryOne[int](ctx, c.s.db, "SELECT count(*) FROM record_writes WHERE write_id >= ? AND write_id < ?",
			manyWriteID(token, lo), manyWriteID(token, hi))
		if err != nil {
			return false, err
		}
		if n != 0 && n != hi-lo {
			return false, fmt.Errorf("records: %d of %d records of one atomic request found", n, hi-lo)
		}
		return n == hi-lo, nil
	}
}

// sealMany seals values (the values[base:] of a CreateAll call) on every CPU.
func (c *Collection[T]) sealMany(values []T, base int, token string) ([]*version, error) {
	vs := make([]*version, len(values))
	refs := make([]Ref, len(values))
	for i := range values {
		refs[i] = c.ref(RecordKey(c.s.tids.Next()))
	}
	created := c.s.timestamp()
	// Each worker claims a run of values at a time: a channel send per value woke a worker
	// (and left the scheduler spinning) 10,000 times per 10,000 records, which cost more CPU
	// than the hand-off saved (see BENCHMARKS.md, issue 19).
	const run = 4 * signGroup // whole groups of one signature each
	var claimed atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	firstIdx := 0
	for range min(runtime.GOMAXPROCS(0), (len(values)+run-1)/run) {
		wg.Go(func() {
			for {
				lo := int(claimed.Add(run)) - run
				if lo >= len(values) {
					return
				}
				for g := lo; g < min(lo+run, len(values)); g += c.group {
					h := min(g+c.group, lo+run, len(values))
					bad, err := c.newVersions(vs[g:h], refs[g:h], values[g:h], created, func(i int) string { return manyWriteID(token, base+g+i) })
					if err != nil {
						mu.Lock()
						if i := base + g + bad; firstErr == nil || i < firstIdx {
							firstErr, firstIdx = fmt.Errorf("value %d: %w", i, err), i
						}
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	return vs, firstErr
}

// signGroup is how many records of a CreateAll share one signature (crypto.Agent.SealBatch),
// unless CollectionOptions.SignEachRecord: each then costs a sixteenth of an Ed25519
// signature, about half of sealing an owner-only record alone, for at most 132 more bytes in
// its signature column (BENCHMARKS.md, issue 19). The last group of a request may be smaller;
// a group of one gets an ordinary record signature.
const signGroup = 16

// newVersions seals values as new private records refs (version 1, shared with no one) into
// vs, with one signature for all of them: newVersionWithID for each, signed once. On failure
// it returns the index in values of the first value that failed: a value that cannot be
// encoded stops the drafting, and those before it are still sealed and checked, since one of
// them may be too large to store.
func (c *Collection[T]) newVersions(vs []*version, refs []Ref, values []T, created string, writeID func(int) string) (int, error) {
	rcs := make([]crypto.RecordContext, len(values))
	pts := make([][]byte, len(values))
	n, draftErr := len(values), error(nil)
	for i := range values {
		w, pt, err := c.draftVersion(refs[i], 1, values[i], created, "", nil, writeID(i), false)
		if err != nil {
			n, draftErr = i, err
			break
		}
		vs[i], rcs[i], pts[i] = w, w.rc, pt
	}
	if n > 0 {
		sealed, err := c.agent.SealBatch(rcs[:n], pts[:n])
		if err != nil {
			return 0, fmt.Errorf("records: seal %s and %d more: %w", refs[0].ID(), n-1, err)
		}
		for i, w := range vs[:n] {
			w.sealed = sealed[i]
			if err := c.finishVersion(w, values[i]); err != nil {
				return i, err
			}
		}
	}
	if draftErr != nil {
		return n, draftErr
	}
	return 0, nil
}
