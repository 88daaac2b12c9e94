package d1

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
)

// Collect converts every row of r into a T.
//
// When T is a struct (other than time.Time or a sql.Scanner), each column is stored in the
// field tagged `d1:"column"`, or else the exported field whose name matches the column
// ignoring case and underscores (created_at matches CreatedAt); embedded structs are walked,
// `d1:"-"` skips a field. A column with no field is an error, so that a typo never drops data
// silently; fields with no column keep their zero value. Otherwise r must have exactly one
// column, scanned into a T.
func Collect[T any](r *Result) ([]T, error) {
	plan, err := planFor[T](r.Columns)
	if err != nil {
		return nil, err
	}
	out := make([]T, r.Len())
	for i, row := range r.All() {
		if err := plan.scan(row, &out[i]); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
	}
	return out, nil
}

// CollectOne converts the first row of r into a T as Collect does. It returns ErrNoRows when r
// has no row.
func CollectOne[T any](r *Result) (T, error) {
	var t T
	if r.Len() == 0 {
		return t, ErrNoRows
	}
	plan, err := planFor[T](r.Columns)
	if err != nil {
		return t, err
	}
	err = plan.scan(r.Row(0), &t)
	return t, err
}

// QueryAll runs a read query and collects its rows into Ts (see Collect).
func QueryAll[T any](ctx context.Context, c *Client, sql string, args ...any) ([]T, error) {
	r, err := c.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return Collect[T](r)
}

// QueryOne runs a query and collects its first row into a T (see Collect). It returns
// ErrNoRows when there is no row.
func QueryOne[T any](ctx context.Context, c *Client, sql string, args ...any) (T, error) {
	r, err := c.Query(ctx, sql, args...)
	if err != nil {
		var zero T
		return zero, err
	}
	return CollectOne[T](r)
}

// scanPlan maps columns to struct field index paths; fields is nil for a scalar T.
type scanPlan[T any] struct {
	fields [][]int
}

var scannerType = reflect.TypeFor[sql.Scanner]()

func planFor[T any](cols []string) (*scanPlan[T], error) {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct || t == timeType || reflect.PointerTo(t).Implements(scannerType) {
		if len(cols) != 1 {
			return nil, &ScanError{Column: -1, Reason: fmt.Sprintf("%d columns cannot be collected into %s; select one column or collect into a struct", len(cols), t)}
		}
		return &scanPlan[T]{}, nil
	}
	byName := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous && f.Type.Kind() == reflect.Struct {
			continue
		}
		tag := f.Tag.Get("d1")
		if tag == "-" {
			continue
		}
		name := tag
		if name == "" {
			name = normalizeName(f.Name)
		}
		if _, dup := byName[name]; !dup {
			byName[name] = f.Index
		}
	}
	plan := &scanPlan[T]{fields: make([][]int, len(cols))}
	for j, c := range cols {
		idx, ok := byName[c]
		if !ok {
			idx, ok = byName[normalizeName(c)]
		}
		if !ok {
			return nil, &ScanError{Column: j, Name: c, Reason: fmt.Sprintf("no field of %s for this column; add a field or a `d1:%q` tag", t, c)}
		}
		plan.fields[j] = idx
	}
	return plan, nil
}

func normalizeName(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "_", ""))
}

func (p *scanPlan[T]) scan(row Row, dst *T) error {
	if p.fields == nil {
		if err := row.vals[0].scan(dst); err != nil {
			return scanErr(err, 0, row.cols[0])
		}
		return nil
	}
	sv := reflect.ValueOf(dst).Elem()
	for j, idx := range p.fields {
		f := sv.FieldByIndex(idx)
		if err := row.vals[j].scan(f.Addr().Interface()); err != nil {
			return scanErr(err, j, row.cols[j])
		}
	}
	return nil
}
