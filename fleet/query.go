package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/d1seal/d1seal/d1"
)

// QueryOptions tunes a fan-out; the zero value queries every database, 8 at a time.
type QueryOptions struct {
	// Concurrency is how many databases are queried at once. Default 8. The requests share
	// the client's rate-limit budget.
	Concurrency int

	// Databases limits the fan-out to these database ids (in this order). Default: every
	// database of the directory, in order of creation.
	Databases []string
}

// DatabaseError is the failure of one database in a fan-out.
type DatabaseError struct {
	Database string `json:"database"`
	Name     string `json:"name,omitempty"`
	Err      error  `json:"-"`
}

func (e *DatabaseError) Error() string {
	return fmt.Sprintf("fleet: database %s (%s): %v", e.Name, e.Database, e.Err)
}

func (e *DatabaseError) Unwrap() error { return e.Err }

// MarshalJSON writes the error's text, which encoding/json cannot get from an error value.
func (e *DatabaseError) MarshalJSON() ([]byte, error) {
	return jsonObject("database", e.Database, "name", e.Name, "error", e.Err.Error())
}

// FanOut runs fn on every database of the fleet (or opts.Databases), a few at a time, and
// returns the failures, in database order: one database failing never stops the others. It
// returns an error of its own only when the directory cannot be read; a cancelled ctx shows
// as the failures of the databases it interrupted or never reached.
func (f *Fleet) FanOut(ctx context.Context, opts QueryOptions, fn func(ctx context.Context, db Database, c *d1.Client) error) ([]*DatabaseError, error) {
	dbs, err := f.fanOutDatabases(ctx, opts)
	if err != nil {
		return nil, err
	}
	return f.fanOut(ctx, dbs, opts, fn), nil
}

// fanOutDatabases returns the databases opts names, or every database.
func (f *Fleet) fanOutDatabases(ctx context.Context, opts QueryOptions) ([]Database, error) {
	dbs, err := f.Databases(ctx)
	if err != nil || opts.Databases == nil {
		return dbs, err
	}
	byID := map[string]Database{}
	for _, d := range dbs {
		byID[d.ID] = d
	}
	out := make([]Database, 0, len(opts.Databases))
	for _, id := range opts.Databases {
		d, ok := byID[id]
		if !ok {
			d = Database{ID: id}
		}
		out = append(out, d)
	}
	return out, nil
}

func (f *Fleet) fanOut(ctx context.Context, dbs []Database, opts QueryOptions, fn func(ctx context.Context, db Database, c *d1.Client) error) []*DatabaseError {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	errs := make([]*DatabaseError, len(dbs))
	ran := make([]bool, len(dbs))
	idx := make([]int, len(dbs))
	for i := range idx {
		idx[i] = i
	}
	forEach(ctx, opts.Concurrency, idx, func(ctx context.Context, i int) bool {
		ran[i] = true
		c, err := f.Client(dbs[i].ID)
		if err == nil {
			err = fn(ctx, dbs[i], c)
		}
		if err != nil {
			errs[i] = &DatabaseError{Database: dbs[i].ID, Name: dbs[i].Name, Err: err}
		}
		return true
	})
	var out []*DatabaseError
	for i, e := range errs {
		if e == nil && !ran[i] {
			e = &DatabaseError{Database: dbs[i].ID, Name: dbs[i].Name, Err: context.Cause(ctx)}
		}
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// Row is one row of a fan-out query, with the database it came from.
type Row[T any] struct {
	Database string `json:"database"`
	Value    T      `json:"value"`
}

// Rows is the merged result of a fan-out query.
type Rows[T any] struct {
	Rows      []Row[T]         `json:"rows"`   // every database's rows, database after database
	Failed    []*DatabaseError `json:"failed"` // the databases that failed, with why
	Databases int              `json:"databases"`
}

// Err joins the failures, or is nil when every database answered.
func (r *Rows[T]) Err() error {
	errs := make([]error, len(r.Failed))
	for i, e := range r.Failed {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// Query runs one read-only statement on every database of the fleet, a few at a time, and
// merges the rows (mapped to T as d1.QueryAll does) in database order. Databases that fail
// are listed in Rows.Failed while the others' rows are kept: check Rows.Err. The error
// return is for the directory alone.
func Query[T any](ctx context.Context, f *Fleet, sql string, args []any, opts QueryOptions) (*Rows[T], error) {
	dbs, err := f.fanOutDatabases(ctx, opts)
	if err != nil {
		return nil, err
	}
	per := make([][]T, len(dbs))
	pos := map[string]int{}
	for i, d := range dbs {
		pos[d.ID] = i
	}
	var mu sync.Mutex
	failed := f.fanOut(ctx, dbs, opts, func(ctx context.Context, db Database, c *d1.Client) error {
		rows, err := d1.QueryAll[T](ctx, c, sql, args...)
		if err != nil {
			return err
		}
		mu.Lock()
		per[pos[db.ID]] = rows
		mu.Unlock()
		return nil
	})
	out := &Rows[T]{Failed: failed, Databases: len(dbs)}
	for i, d := range dbs {
		for _, v := range per[i] {
			out.Rows = append(out.Rows, Row[T]{Database: d.ID, Value: v})
		}
	}
	return out, nil
}

func jsonObject(kv ...string) ([]byte, error) {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return json.Marshal(m)
}
