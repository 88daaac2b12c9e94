package records

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/tid"
)

// StoreOptions holds a Store's optional settings; the zero value is ready to use.
type StoreOptions struct {
	// ManualSchema turns off applying the agent-records migrations on first use: the caller
	// applies migrations.AgentRecords() itself (for example with wrangler or the d1seal CLI).
	ManualSchema bool

	// Clock issues the TIDs of created records. Default: a new tid.Clock. Give one seeded with
	// the last TID issued to stay monotonic across restarts when the wall clock steps back.
	Clock *tid.Clock

	// Schema is the migration set applied on first use. Default migrations.AgentRecords();
	// give a set that extends it (its files plus your own, numbered after them) to keep
	// application tables in the same ledger.
	Schema *migrations.Set

	// Now is the time source for created_at, updated_at and event timestamps. Default time.Now.
	Now func() time.Time

	// TrackedRecords is how many records the Store remembers the highest seen version of, to
	// refuse a database that serves an older one (ErrRollback): the most recently used, at
	// least this many. Default DefaultTrackedRecords (about 100 bytes each).
	TrackedRecords int

	// EmitEvents records one event per repository operation (type "records.<op>", outcome
	// "ok" or "error", duration, collection and record key in the context) for the acting
	// agent. Event writes that fail are ignored: observability never fails an operation.
	EmitEvents bool
}

// Store is the agent-records database: the seed's records, shared_records, agents and events
// tables, plus the columns sealing adds. It applies the schema on first use unless
// ManualSchema is set. A Store is safe for concurrent use.
type Store struct {
	db     *d1.Client
	opts   StoreOptions
	now    func() time.Time
	tids   *tid.Clock
	events *EventIDSource

	schema *migrations.Initializer // nil with ManualSchema

	versions *highWater
	keys     keyCache
}

// NewStore returns a store over db. It sends nothing until first used.
func NewStore(db *d1.Client, opts StoreOptions) *Store {
	s := &Store{db: db, opts: opts, now: opts.Now, tids: opts.Clock, events: NewEventIDSource(), versions: newHighWater(opts.TrackedRecords / 2)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tids == nil {
		s.tids = tid.NewClock()
	}
	if !opts.ManualSchema {
		set := opts.Schema
		if set == nil {
			set = migrations.AgentRecords()
		}
		s.schema = migrations.NewInitializer(db, set, migrations.Options{})
	}
	return s
}

// DB returns the store's D1 client.
func (s *Store) DB() *d1.Client { return s.db }

// Init applies the agent-records schema now, if it is not current. Every operation calls it
// first; calling it at start-up moves the cost (a single read when the schema is current) out
// of the first request. A failure is returned and tried again on the next call.
func (s *Store) Init(ctx context.Context) error {
	if s.schema == nil {
		return nil
	}
	if err := s.schema.Init(ctx); err != nil {
		return fmt.Errorf("records: apply schema: %w", err)
	}
	return nil
}

func (s *Store) timestamp() string { return formatTime(s.now()) }

// timeLayout is how the store writes times: RFC 3339 in UTC with a fixed nine-digit fraction,
// so that text order is time order (time.RFC3339Nano drops trailing zeros, which would sort
// 10:00:00Z after 10:00:00.5Z) and range queries on the text columns are correct. Parsing
// accepts any RFC 3339 time.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// highWater remembers, per record, the highest version this process has seen, so that a
// database that serves an older (validly signed) version of a record after a newer one was
// read or written is caught: see ErrRollback.
//
// A read is compared only with what was known before its request was sent (mark), never with
// a version some other goroutine wrote while the read was in flight: its answer may predate
// that write, and that is no rollback.
//
// Memory is bounded: records live in two generations of at most limit entries each; when the
// current one fills up it becomes the previous one and the older is dropped, and a record used
// again moves to the current one. So the most recently used records (at least limit, at most
// twice as many) are protected, and a process that touches millions of records does not grow
// without end.
type highWater struct {
	mu        sync.Mutex
	clock     uint64
	cur, prev map[string]*seen
	limit     int
}

// seen is the last few versions of a record this process saw, with the clock when each was
// seen, oldest first; versions increase along the list.
type seen struct {
	list [4]struct{ version, at uint64 }
	n    int
}

func newHighWater(limit int) *highWater {
	if limit <= 0 {
		limit = DefaultTrackedRecords / 2
	}
	return &highWater{cur: map[string]*seen{}, limit: limit}
}

// DefaultTrackedRecords is how many records a Store remembers versions of by default.
const DefaultTrackedRecords = 100_000

// mark returns the clock to pass to check for a read about to be sent.
func (h *highWater) mark() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clock++
	return h.clock
}

func (h *highWater) lookup(id string) *seen {
	if s := h.cur[id]; s != nil {
		return s
	}
	return h.prev[id]
}

// check reports whether version v, read by a request sent at mark, is at least every version
// of id seen before that mark.
func (h *highWater) check(id string, v, mark uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.lookup(id)
	if s == nil {
		return true
	}
	for i := s.n - 1; i >= 0; i-- {
		if s.list[i].at < mark {
			return v >= s.list[i].version
		}
	}
	return true
}

// see records that version v of id was read or written.
func (h *highWater) see(id string, v uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clock++
	s := h.cur[id]
	if s == nil {
		if s = h.prev[id]; s != nil {
			delete(h.prev, id)
		} else {
			s = &seen{}
		}
		if len(h.cur) >= h.limit {
			h.prev, h.cur = h.cur, map[string]*seen{}
		}
		h.cur[id] = s
	}
	if s.n > 0 && s.list[s.n-1].version >= v {
		return
	}
	if s.n == len(s.list) {
		copy(s.list[:], s.list[1:])
		s.n--
	}
	s.list[s.n].version, s.list[s.n].at = v, h.clock
	s.n++
}

func (h *highWater) forget(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.cur, id)
	delete(h.prev, id)
}
