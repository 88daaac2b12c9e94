package records

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/tid"
)

// StoreOptions holds a Store's optional settings; the zero value is ready to use.
type StoreOptions struct {
	// ManualSchema turns off applying the agent-records migrations on first use: the caller
	// applies Schema() itself (for example with wrangler or the d1seal CLI).
	ManualSchema bool

	// Clock issues the TIDs of created records. Default: a new tid.Clock. Give one seeded with
	// the last TID issued to stay monotonic across restarts when the wall clock steps back.
	Clock *tid.Clock

	// Schema is the migration set applied on first use. Default Schema();
	// give a set that extends it (its files plus your own, numbered after them) to keep
	// application tables in the same ledger.
	Schema *migrations.Set

	// Now is the time source for created_at, updated_at and event timestamps. Default time.Now.
	Now func() time.Time

	// TrackedRecords is how many records the Store remembers the highest seen version of, to
	// refuse a database that serves an older one (ErrRollback): the most recently used, at
	// least this many. Default DefaultTrackedRecords (about 100 bytes each).
	TrackedRecords int

	// Trust keeps what this client trusts about agents' keys, outside the database: keys
	// pinned with Store.Pin and key logs verified so far. Default NewMemoryTrust(), which
	// forgets on exit; services and tools use OpenStore (or OpenTrustFile) so that a key
	// change without a signed rotation is caught across restarts.
	Trust TrustStore

	// RequirePinned refuses every agent whose keys were not pinned (Store.Pin) instead of
	// trusting them on first use. The acting agent of a Collection trusts its own keys.
	RequirePinned bool

	// State keeps the versions and deletions this Store has seen, so that a database replaying
	// an old version or a deleted record is caught after a restart too (ErrRollback). Default:
	// memory only (TrackedRecords records). OpenStore (or OpenStateFile) keeps them in a file.
	State StateStore

	// Logger receives warnings about what the database holds but this client ignores (grant
	// rows outside a record's signed access list). Default: none.
	Logger *slog.Logger

	// EmitEvents records one event per repository operation (type "records.<op>", outcome
	// "ok" or "error", duration, collection and record key in the context) for the acting
	// agent. Event writes that fail are ignored: observability never fails an operation.
	EmitEvents bool
}

// Store is the agent-records database: the records, shared_records, agents and events
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
	trust    *trustCache

	chainsMu sync.Mutex
	chains   map[DID]*eventChain // heads of the event logs this Store writes
}

// NewStore returns a store over db. It sends nothing until first used.
func NewStore(db *d1.Client, opts StoreOptions) *Store {
	s := &Store{db: db, opts: opts, now: opts.Now, tids: opts.Clock, events: NewEventIDSource(), versions: newHighWater(opts.TrackedRecords/2, opts.State)}
	s.trust = &trustCache{store: opts.Trust, requirePinned: opts.RequirePinned, agents: map[DID]*verifiedAgent{}}
	if s.trust.store == nil {
		s.trust.store = NewMemoryTrust()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tids == nil {
		s.tids = tid.NewClock()
	}
	if !opts.ManualSchema {
		set := opts.Schema
		if set == nil {
			set = Schema()
		}
		s.schema = migrations.NewInitializer(db, set, migrations.InitOptions{})
	}
	return s
}

// The files OpenStore keeps in its folder.
const (
	TrustFileName = "trust.json" // the agents' keys the client trusts (OpenTrustFile)
	StateFileName = "state"      // the record versions and deletions it has seen (OpenStateFile)
)

// OpenStore returns a Store over db that keeps what it trusts and what it has seen in files of
// the folder dir, TrustFileName and StateFileName (created with the folder when first
// written), so that a key swapped or a version replayed by the database is caught across
// restarts too: what a service or a tool wants, where NewStore's defaults forget on exit.
// Processes may share the folder (the files are locked while written). opts.Trust and
// opts.State must be unset; opts.TrackedRecords also bounds the state file.
func OpenStore(db *d1.Client, dir string, opts StoreOptions) (*Store, error) {
	if dir == "" {
		return nil, &InputError{Field: "dir", Reason: `empty: give the folder for the trust and state files (for example ".d1seal")`}
	}
	if opts.Trust != nil || opts.State != nil {
		return nil, &InputError{Field: "opts", Reason: "OpenStore keeps Trust and State in " + dir + "; leave them unset, or use NewStore"}
	}
	trust, err := OpenTrustFile(filepath.Join(dir, TrustFileName))
	if err != nil {
		return nil, err
	}
	state, err := OpenStateFile(filepath.Join(dir, StateFileName), opts.TrackedRecords)
	if err != nil {
		return nil, err
	}
	opts.Trust, opts.State = trust, state
	return NewStore(db, opts), nil
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

// see remembers that version v of id was read or written. A state store that cannot save is
// reported to the Logger, not to the caller: the read or write itself succeeded.
func (s *Store) see(id string, v uint64) {
	if err := s.versions.see(id, v); err != nil {
		s.warn("records: remember version", "record", id, "error", err)
	}
}

func (s *Store) warn(msg string, args ...any) {
	if s.opts.Logger != nil {
		s.opts.Logger.Warn(msg, args...)
	}
}

func (s *Store) timestamp() string { return formatTime(s.now()) }

// timeLayout is how the store writes times: RFC 3339 in UTC with a fixed nine-digit fraction,
// so that text order is time order (time.RFC3339Nano drops trailing zeros, which would sort
// 10:00:00Z after 10:00:00.5Z) and range queries on the text columns are correct. Parsing
// accepts any RFC 3339 time.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// highWater remembers, per record, the highest version this process has seen and whether it
// deleted the record, so that a database that serves an older (validly signed) version of a
// record after a newer one was read or written, or serves a record this client deleted, is
// caught: see ErrRollback. With a StateStore, what it learns outlives the process.
//
// A read is compared only with what was known before its request was sent (mark), never with
// a version some other goroutine wrote while the read was in flight: its answer may predate
// that write, and that is no rollback.
//
// Memory is bounded: records live in two generations of at most limit entries each; when the
// current one fills up it becomes the previous one and the older is dropped, and a record used
// again moves to the current one. So the most recently used records (at least limit, at most
// twice as many) are protected in memory; the StateStore, when set, answers for the others.
type highWater struct {
	mu        sync.Mutex
	clock     uint64
	cur, prev map[string]*seen
	limit     int
	state     StateStore // nil: memory only
}

// seen is the last few versions of a record this process saw, with the clock when each was
// seen, oldest first; versions increase along the list (a deletion may repeat the version
// before it).
type seen struct {
	list [4]struct {
		version, at uint64
		deleted     bool
	}
	n int
}

func newHighWater(limit int, state StateStore) *highWater {
	if limit <= 0 {
		limit = DefaultTrackedRecords / 2
	}
	return &highWater{cur: map[string]*seen{}, limit: limit, state: state}
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

// check returns nil if version v of id, read by a request sent at mark, is at least every
// version of id seen before that mark and newer than any deletion of it, or an error matching
// ErrRollback.
func (h *highWater) check(id string, v, mark uint64) error {
	h.mu.Lock()
	s := h.lookup(id)
	if s != nil {
		defer h.mu.Unlock()
		for i := s.n - 1; i >= 0; i-- {
			e := s.list[i]
			if e.at >= mark {
				continue
			}
			if e.deleted && v <= e.version {
				return fmt.Errorf("%w: %s at version %d, which this client deleted (at version %d)", ErrRollback, id, v, e.version)
			}
			if v < e.version {
				return fmt.Errorf("%w: %s at version %d, after version %d was seen", ErrRollback, id, v, e.version)
			}
			return nil
		}
		return nil
	}
	h.mu.Unlock()
	if h.state == nil {
		return nil
	}
	st, ok, err := h.state.LoadState(id)
	if err != nil {
		return fmt.Errorf("records: state store: %w", err)
	}
	switch {
	case !ok:
	case st.Deleted && v <= st.Version:
		return fmt.Errorf("%w: %s at version %d, which this client deleted (at version %d)", ErrRollback, id, v, st.Version)
	case v < st.Version:
		return fmt.Errorf("%w: %s at version %d, after version %d was seen", ErrRollback, id, v, st.Version)
	}
	return nil
}

// known returns the latest that is known of id, from memory or the state store.
func (h *highWater) known(id string) (RecordState, bool) {
	h.mu.Lock()
	if s := h.lookup(id); s != nil && s.n > 0 {
		e := s.list[s.n-1]
		h.mu.Unlock()
		return RecordState{ID: id, Version: e.version, Deleted: e.deleted}, true
	}
	h.mu.Unlock()
	if h.state == nil {
		return RecordState{}, false
	}
	st, ok, err := h.state.LoadState(id)
	return st, ok && err == nil
}

// see records that version v of id was read or written.
func (h *highWater) see(id string, v uint64) error { return h.record(RecordState{ID: id, Version: v}) }

// deleted records that this client deleted id, last seen at version v (0 if unknown).
func (h *highWater) deleted(id string, v uint64) error {
	return h.record(RecordState{ID: id, Version: v, Deleted: true})
}

func (h *highWater) record(states ...RecordState) error {
	h.mu.Lock()
	var changed []RecordState
	for _, st := range states {
		if st, ok := h.remember(st); ok {
			changed = append(changed, st)
		}
	}
	h.mu.Unlock()
	if h.state == nil || len(changed) == 0 {
		return nil
	}
	if err := h.state.SaveState(changed...); err != nil {
		return fmt.Errorf("records: state store: %w", err)
	}
	return nil
}

// remember adds st to memory and returns it as remembered (a deletion takes the highest
// version seen) and whether it is news.
func (h *highWater) remember(st RecordState) (RecordState, bool) {
	h.clock++
	s := h.cur[st.ID]
	if s == nil {
		if s = h.prev[st.ID]; s != nil {
			delete(h.prev, st.ID)
		} else {
			s = &seen{}
		}
		if len(h.cur) >= h.limit {
			h.prev, h.cur = h.cur, map[string]*seen{}
		}
		h.cur[st.ID] = s
	}
	if s.n > 0 {
		last := RecordState{ID: st.ID, Version: s.list[s.n-1].version, Deleted: s.list[s.n-1].deleted}
		st = merge(last, st)
		if st == last {
			return st, false
		}
	}
	if s.n == len(s.list) {
		copy(s.list[:], s.list[1:])
		s.n--
	}
	s.list[s.n].version, s.list[s.n].at, s.list[s.n].deleted = st.Version, h.clock, st.Deleted
	s.n++
	return st, true
}
