package records

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/d1seal/d1seal/d1"
)

// CreateMany stores values as new private records with fresh TIDs, in as few requests as
// D1's limits allow, each request atomic. D1 binds at most 100 parameters per statement and a
// row takes 13, so one INSERT carries 7 records; a request carries as many statements as the
// client's Limits allow (MaxStatements, MaxRequestBytes; see d1.Client.Chunks). So with the
// default limits a request holds up to 7,000 records, fewer when they are large.
//
// Records are sealed in parallel, one request's worth at a time, so memory stays bounded
// however many values are given. It returns the records in the order of values. On failure it
// returns the records written so far (whole requests) with the error; a request whose
// response was lost is checked, and sent again only if it did not commit.
func (c *Collection[T]) CreateMany(ctx context.Context, values []T) (_ []*Record[T], err error) {
	defer func(start time.Time) { c.emit(ctx, "create_many", "", start, err) }(time.Now())
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	lim := c.s.db.Limits()
	perStmt := max(1, lim.MaxParams/insertParams)
	out := make([]*Record[T], 0, len(values))
	token := newWriteID()
	failed := func(err error) ([]*Record[T], error) {
		return out, fmt.Errorf("records: create many: %d of %d written: %w", len(out), len(values), err)
	}
	window := lim.MaxStatements * perStmt
	for start := 0; start < len(values); start += window {
		end := min(start+window, len(values))
		vs, err := c.sealMany(values[start:end], start, token)
		if err != nil {
			return failed(err)
		}
		// Statements of perStmt rows, and how many rows each holds.
		var stmts []d1.Statement
		var rows []int
		for i := 0; i < len(vs); i += perStmt {
			j := min(i+perStmt, len(vs))
			stmts, rows = append(stmts, insertRows(vs[i:j])), append(rows, j-i)
		}
		chunks, err := c.s.db.Chunks(stmts)
		if err != nil {
			return failed(err)
		}
		off, stmt := 0, 0 // records and statements of this window written so far
		for _, ch := range chunks {
			n := 0
			for _, r := range rows[stmt : stmt+len(ch)] {
				n += r
			}
			lo, hi := start+off, start+off+n
			_, err := c.s.write(ctx, ch, c.committedRange(token, lo, hi))
			if d1.IsUniqueViolation(err) {
				err = fmt.Errorf("%w: a record key in %d..%d is taken: %w", ErrExists, lo, hi-1, err)
			}
			if err != nil {
				return failed(err)
			}
			for i, w := range vs[off : off+n] {
				c.s.versions.see(w.ref.ID(), 1)
				out = append(out, recordOf(w, values[lo-start+i]))
			}
			off, stmt = off+n, stmt+len(ch)
		}
	}
	return out, nil
}

// manyWriteID is the write id of the i-th record of a CreateMany call: fixed-width, so that
// the ids of one request form a contiguous range.
func manyWriteID(token string, i int) string { return fmt.Sprintf("%s.%09d", token, i) }

// committedRange checks whether the records of CreateMany indexes [lo, hi) are stored.
func (c *Collection[T]) committedRange(token string, lo, hi int) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		n, err := d1.QueryOne[int](ctx, c.s.db, "SELECT count(*) FROM records WHERE write_id >= ? AND write_id < ?",
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

// sealMany seals values (the values[base:] of a CreateMany call) on every CPU.
func (c *Collection[T]) sealMany(values []T, base int, token string) ([]*version, error) {
	vs := make([]*version, len(values))
	refs := make([]Ref, len(values))
	for i := range values {
		refs[i] = c.ref(RecordKey(c.s.tids.Next()))
	}
	created := c.s.timestamp()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				w, err := c.newVersionWithID(refs[i], 1, values[i], created, "", nil, manyWriteID(token, base+i), false)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("value %d: %w", base+i, err)
					}
					mu.Unlock()
					continue
				}
				vs[i] = w
			}
		})
	}
	for i := range values {
		next <- i
	}
	close(next)
	wg.Wait()
	return vs, firstErr
}
