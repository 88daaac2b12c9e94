package d1

import (
	"iter"
	"math"
	"time"
)

// Result is what one statement returned: its columns in order (duplicate names kept), its
// rows and D1's metadata. A Result is immutable and safe for concurrent reads.
type Result struct {
	Columns []string
	Meta    Meta

	vals []value // row-major, len(Columns) values per row
	rows int
}

// Meta is D1's metadata for one statement. Fields D1 does not send are zero.
type Meta struct {
	Changes     int64 // rows changed, as SQLite's total_changes() delta
	LastRowID   int64 // the connection's last inserted rowid
	RowsRead    int64
	RowsWritten int64
	ChangedDB   bool
	SizeAfter   int64         // database size in bytes after the statement
	Duration    time.Duration // D1's reported duration
	SQLDuration time.Duration // meta.timings.sql_duration_ms

	ServedBy        string
	ServedByColo    string
	ServedByRegion  string
	ServedByPrimary bool
	TotalAttempts   int
}

// Len returns the number of rows.
func (r *Result) Len() int { return r.rows }

// Row returns row i, which must be in [0, Len()).
func (r *Result) Row(i int) Row {
	if i < 0 || i >= r.rows {
		panic("d1: Result.Row index out of range")
	}
	n := len(r.Columns)
	return Row{cols: r.Columns, vals: r.vals[i*n : (i+1)*n : (i+1)*n]}
}

// All returns an iterator over the rows in order.
func (r *Result) All() iter.Seq2[int, Row] {
	return func(yield func(int, Row) bool) {
		for i := range r.rows {
			if !yield(i, r.Row(i)) {
				return
			}
		}
	}
}

// Row is one row of a Result.
type Row struct {
	cols []string
	vals []value
}

// Len returns the number of columns.
func (w Row) Len() int { return len(w.vals) }

// Columns returns the column names in order.
func (w Row) Columns() []string { return w.cols }

// Value returns column j as nil, int64, float64, string or []byte (a fresh copy).
func (w Row) Value(j int) any { return w.vals[j].any() }

// Values returns every column as Value would.
func (w Row) Values() []any {
	out := make([]any, len(w.vals))
	for j := range w.vals {
		out[j] = w.vals[j].any()
	}
	return out
}

// Scan copies the row's columns into dest, one pointer per column; see the package
// documentation for the conversions allowed.
func (w Row) Scan(dest ...any) error {
	if len(dest) != len(w.vals) {
		return &ScanError{Column: -1, Reason: "Scan got " + itoa(len(dest)) + " destinations for " + itoa(len(w.vals)) + " columns"}
	}
	for j, d := range dest {
		if err := w.vals[j].scan(d); err != nil {
			return scanErr(err, j, w.cols[j])
		}
	}
	return nil
}

// value is one SQLite value as D1 sent it. Text and BLOB bytes both live in s: BLOBs are
// copied out before a caller sees them, so s is never mutated.
type value struct {
	kind kind
	n    uint64 // int64 bits or float64 bits
	s    string
}

type kind uint8

const (
	kindNull kind = iota
	kindInt
	kindReal
	kindText
	kindBlob
)

func (k kind) String() string {
	return [...]string{"NULL", "INTEGER", "REAL", "TEXT", "BLOB"}[k]
}

func realValue(f float64) value { return value{kind: kindReal, n: math.Float64bits(f)} }

func (v value) int() int64    { return int64(v.n) }
func (v value) real() float64 { return math.Float64frombits(v.n) }
func (v value) bytes() []byte { return []byte(v.s) }
func (v value) isNull() bool  { return v.kind == kindNull }

func (v value) any() any {
	switch v.kind {
	case kindInt:
		return v.int()
	case kindReal:
		return v.real()
	case kindText:
		return v.s
	case kindBlob:
		return v.bytes()
	}
	return nil
}
