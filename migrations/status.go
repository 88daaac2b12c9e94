package migrations

import (
	"context"
	"slices"
	"time"

	"github.com/d1seal/d1seal/d1"
)

// State is where one migration stands.
type State int

const (
	Pending State = iota // in the set, not in the ledger
	Applied              // in the ledger, and the file matches its recorded checksum (or none is recorded yet)
	Changed              // in the ledger, but the file differs from the checksum recorded when it was applied
	Unknown              // in the ledger, with no file in the set
)

func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Applied:
		return "applied"
	case Changed:
		return "changed"
	case Unknown:
		return "unknown"
	}
	return "State(?)"
}

// Entry is the status of one migration.
type Entry struct {
	Name   string
	Number int64 // -1 for an Unknown name that does not start with a number
	State  State

	// ID and AppliedAt come from the ledger row (zero when Pending). AppliedAt is D1's
	// CURRENT_TIMESTAMP, in UTC, to the second.
	ID        int64
	AppliedAt time.Time

	// Checksum is the checksum recorded when the migration was applied; "" when none is
	// recorded (applied by wrangler; Apply records the file's on its next run) or Pending.
	Checksum string

	// FileChecksum is the checksum of the file in the set ("" when Unknown).
	FileChecksum string
}

// StatusOptions tunes Status. The zero value reads wrangler's default ledger.
type StatusOptions struct {
	// Table is the ledger table, wrangler's migrations_table. Default DefaultTable.
	Table string
}

// Status reports every migration of set and every ledger row, ordered as wrangler orders file
// names (by number, then name). It only reads: one request when the ledger and the checksum
// table exist, and it creates neither.
func Status(ctx context.Context, c *d1.Client, set *Set, opts StatusOptions) ([]Entry, error) {
	table, err := ledgerTable(opts.Table)
	if err != nil {
		return nil, err
	}
	l, err := readLedger(ctx, c, table)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, m := range set.ms {
		e := Entry{Name: m.Name, Number: m.Number, State: Pending, FileChecksum: m.Checksum}
		if r, ok := l.byName[m.Name]; ok {
			e.ID, e.AppliedAt, e.Checksum = r.ID, r.AppliedAt, r.Checksum
			e.State = Applied
			if r.Checksum != "" && r.Checksum != m.Checksum {
				e.State = Changed
			}
		}
		out = append(out, e)
	}
	for _, r := range l.rows {
		if _, ok := set.Lookup(r.Name); ok {
			continue
		}
		n, err := leadingNumber(r.Name)
		if err != nil {
			n = -1
		}
		out = append(out, Entry{Name: r.Name, Number: n, State: Unknown, ID: r.ID, AppliedAt: r.AppliedAt, Checksum: r.Checksum})
	}
	slices.SortStableFunc(out, func(a, b Entry) int { return compareNames(a.Name, b.Name) })
	return out, nil
}
