package reliability_test

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

// D1's transient messages, which Cloudflare documents as safe to retry.
var transients = []string{
	"Network connection lost.",
	"storage caused object to be reset.",
	"reset because its code was updated.",
	"Cannot resolve D1 DB due to transient issue on remote node.",
}

// faultMix injects faults at random into a local D1's requests and counts them.
type faultMix struct {
	mu    sync.Mutex
	rng   *mrand.Rand
	n     int
	count map[string]int
}

func newFaultMix(seed uint64) *faultMix {
	return &faultMix{rng: mrand.New(mrand.NewPCG(seed, 10)), count: map[string]int{}}
}

// next picks the fault for one request: about one request in five fails or is slowed down.
// Every 500th request is refused with 429 and Retry-After: 1 s, which pauses every caller of
// the client, so that each run meets some whatever its length.
func (m *faultMix) next(*http.Request) d1local.Fault {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	var f d1local.Fault
	var kind string
	switch x := m.rng.IntN(1000); {
	case m.n%500 == 250:
		f, kind = d1local.Fault{Status: 429, RetryAfter: time.Second}, "429 Retry-After 1s"
	case x < 60:
		status := []int{500, 502, 503, 504}[m.rng.IntN(4)]
		f, kind = d1local.Fault{Status: status}, fmt.Sprintf("%d before execution", status)
	case x < 120:
		f, kind = d1local.Fault{DropAfterCommit: true}, "response dropped after commit"
	case x < 160:
		f, kind = d1local.Fault{Transient: transients[m.rng.IntN(len(transients))]}, "D1 transient message"
	case x < 190:
		f, kind = d1local.Fault{Latency: time.Duration(5+m.rng.IntN(25)) * time.Millisecond}, "latency spike 5-30ms"
	default:
		return f
	}
	m.count[kind]++
	return f
}

func (m *faultMix) snapshot() (requests int, counts map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n, maps(m.count)
}

func maps[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// soakRecord is the model of one record: what every operation that succeeded on it implies.
type soakRecord struct {
	key records.RecordKey
	hot bool // target of racing updates; never deleted

	life   sync.RWMutex // Delete holds it exclusively; every other operation shares it
	grants sync.Mutex   // serialises Share and Unshare, so that the model knows who holds a grant

	mu       sync.Mutex // guards the fields below
	deleted  bool
	topV     uint64 // highest version an Update returned (1: the creation)
	topBody  string // the body written at topV
	updates  int    // successful updates
	rekeys   int    // successful unshares that revoked a grant (each writes a new version)
	shared   map[records.DID]bool
	revoked  map[records.DID]bool
	conflict int
}

// wantVersion is the version the record must be at: one per write that succeeded.
func (r *soakRecord) wantVersion() uint64 { return uint64(1 + r.updates + r.rekeys) }

// soakModel is every record created in a soak run.
type soakModel struct {
	mu   sync.Mutex
	all  map[records.RecordKey]*soakRecord
	live []*soakRecord // not deleted
	hot  []*soakRecord
}

func (m *soakModel) add(r *soakRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.all[r.key] = r
	m.live = append(m.live, r)
	if r.hot {
		m.hot = append(m.hot, r)
	}
}

func (m *soakModel) pick(rng *mrand.Rand, hot bool) *soakRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	if hot && len(m.hot) > 0 {
		return m.hot[rng.IntN(len(m.hot))]
	}
	if len(m.live) == 0 {
		return nil
	}
	return m.live[rng.IntN(len(m.live))]
}

// pickCold picks a live record that is not hot, or nil.
func (m *soakModel) pickCold(rng *mrand.Rand) *soakRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range 10 {
		if len(m.live) == 0 {
			return nil
		}
		if r := m.live[rng.IntN(len(m.live))]; !r.hot {
			return r
		}
	}
	return nil
}

func (m *soakModel) remove(r *soakRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live = slices.DeleteFunc(m.live, func(x *soakRecord) bool { return x == r })
}

// soakStats counts the operations of a run by kind and outcome.
type soakStats struct {
	mu     sync.Mutex
	ok     map[string]int
	failed map[string]int // ErrConflict: the operation did not happen
}

func (s *soakStats) add(op string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.ok[op]++
	} else {
		s.failed[op]++
	}
}

// TestFaultSoak runs create, update, share, unshare, delete and create-many from 8 goroutines
// against a local D1 that injects, at random, 5xx statuses before executing, dropped responses
// after committing, 429 with Retry-After, latency spikes and D1's transient messages. Updates
// race on a few hot records, so ErrConflict is a legitimate outcome (the update did not
// happen); every other error fails the test. At the end the database must hold exactly what
// the model of the successful operations says: nothing lost, nothing duplicated, every record
// opening and verifying at the version and with the body of its last successful write, every
// recipient able to open what is shared with it and every revoked recipient refused.
//
// 600 operations by default; D1SEAL_SOAK=long runs 10,000 (see RELIABILITY.md).
func TestFaultSoak(t *testing.T) {
	ops := 600
	if long() {
		ops = 10_000
	}
	const workers = 8
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	ctx := context.Background()

	// Retries: one request in five fails, so 20 attempts all fail with probability 0.19^20, and
	// backoff stays short. The budget is generous but real, so the limiter runs under -race.
	e := newEnv(t, d1local.Options{}, d1.Options{
		Retry:     d1.RetryPolicy{MaxAttempts: 20, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond},
		RateLimit: d1.RateLimit{Requests: 1_000_000, Window: time.Minute, Burst: 10_000},
	}).withStore(t)
	alice := e.agent(t, "did:plc:alice")
	recipients := []records.DID{"did:plc:bob", "did:plc:carol", "did:plc:dave"}
	readers := map[records.DID]*records.Collection[note]{}
	for _, did := range recipients {
		readers[did] = notes(t, e.store, e.agent(t, string(did)))
	}
	owner := notes(t, e.store, alice)

	model := &soakModel{all: map[records.RecordKey]*soakRecord{}}
	for i := range 3 {
		r, err := owner.Create(ctx, note{Title: "hot", Body: fmt.Sprint("hot ", i)})
		require.NoError(t, err)
		model.add(&soakRecord{key: r.Ref.RKey, hot: true, topV: 1, topBody: r.Value.Body,
			shared: map[records.DID]bool{}, revoked: map[records.DID]bool{}})
	}

	faults := newFaultMix(seed)
	e.srv.SetFaultFunc(faults.next)
	startRequests := e.srv.Requests()
	stats := &soakStats{ok: map[string]int{}, failed: map[string]int{}}
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		rng := mrand.New(mrand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for {
				i := done.Add(1)
				if i > int64(ops) {
					return
				}
				if err := soakOp(ctx, rng, int(i), owner, recipients, model, stats); err != nil {
					errs <- fmt.Errorf("operation %d: %w", i, err)
					done.Store(int64(ops)) // stop the others
					return
				}
			}
		})
	}
	wg.Wait()
	e.srv.SetFaultFunc(nil)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	requests, injected := faults.snapshot()
	total := 0
	for _, n := range injected {
		total += n
	}
	t.Logf("%d operations by %d goroutines: %d requests (%d counted by the server), %d faults injected",
		ops, workers, requests, e.srv.Requests()-startRequests, total)
	for _, k := range slices.Sorted(mapKeys(injected)) {
		t.Logf("  fault %-30s %d", k, injected[k])
	}
	for _, k := range slices.Sorted(mapKeys(stats.ok)) {
		t.Logf("  op %-12s ok %5d  conflict %d", k, stats.ok[k], stats.failed[k])
	}
	for _, kind := range []string{"response dropped after commit", "D1 transient message", "429 Retry-After 1s", "latency spike 5-30ms"} {
		assert.Positive(t, injected[kind], "the run met %s", kind)
	}

	lost, dup := checkSoak(t, ctx, e, owner, readers, model)
	t.Logf("records in the model %d, lost %d, duplicated %d", len(model.live), lost, dup)
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// soakOp performs one random operation and records its outcome in the model. It returns an
// error only for an outcome the model does not allow.
func soakOp(ctx context.Context, rng *mrand.Rand, i int, c *records.Collection[note], recipients []records.DID,
	model *soakModel, stats *soakStats) error {
	x := rng.IntN(100)
	switch {
	case x < 20: // create
		r, err := c.Create(ctx, note{Title: "soak", Body: fmt.Sprint("created by op ", i), Score: float64(i)})
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		if r.Version != 1 {
			return fmt.Errorf("create: version %d", r.Version)
		}
		model.add(&soakRecord{key: r.Ref.RKey, topV: 1, topBody: r.Value.Body,
			shared: map[records.DID]bool{}, revoked: map[records.DID]bool{}})
		stats.add("create", true)
	case x < 25: // create-many
		values := make([]note, 2+rng.IntN(9))
		for j := range values {
			values[j] = note{Title: "many", Body: fmt.Sprintf("created by op %d #%d", i, j)}
		}
		rs, err := c.CreateMany(ctx, values)
		if err != nil {
			return fmt.Errorf("create-many: %w", err)
		}
		if len(rs) != len(values) {
			return fmt.Errorf("create-many: %d records for %d values", len(rs), len(values))
		}
		for _, r := range rs {
			model.add(&soakRecord{key: r.Ref.RKey, topV: 1, topBody: r.Value.Body,
				shared: map[records.DID]bool{}, revoked: map[records.DID]bool{}})
		}
		stats.add("create-many", true)
	case x < 60: // update, on a hot record two times in five
		r := model.pick(rng, rng.IntN(5) < 2)
		if r == nil {
			stats.add("skipped", true)
			return nil
		}
		r.life.RLock()
		defer r.life.RUnlock()
		if r.deleted {
			stats.add("skipped", true)
			return nil
		}
		cur, err := c.Get(ctx, r.key)
		if err != nil {
			return fmt.Errorf("update: get %s: %w", r.key, err)
		}
		cur.Value.Body = fmt.Sprint("updated by op ", i)
		got, err := c.Update(ctx, cur)
		if errors.Is(err, records.ErrConflict) {
			r.mu.Lock()
			r.conflict++
			r.mu.Unlock()
			stats.add("update", false)
			return nil
		}
		if err != nil {
			return fmt.Errorf("update %s: %w", r.key, err)
		}
		if got.Version != cur.Version+1 {
			return fmt.Errorf("update %s: version %d after %d", r.key, got.Version, cur.Version)
		}
		r.mu.Lock()
		r.updates++
		if got.Version > r.topV {
			r.topV, r.topBody = got.Version, got.Value.Body
		}
		r.mu.Unlock()
		stats.add("update", true)
	case x < 75, x < 88: // share, unshare
		r := model.pick(rng, rng.IntN(4) == 0)
		if r == nil {
			stats.add("skipped", true)
			return nil
		}
		r.life.RLock()
		defer r.life.RUnlock()
		if r.deleted {
			stats.add("skipped", true)
			return nil
		}
		r.grants.Lock()
		defer r.grants.Unlock()
		to := recipients[rng.IntN(len(recipients))]
		if x < 75 {
			err := c.Share(ctx, r.key, to)
			if errors.Is(err, records.ErrConflict) { // kept racing with updates
				stats.add("share", false)
				return nil
			}
			if err != nil {
				return fmt.Errorf("share %s with %s: %w", r.key, to, err)
			}
			r.mu.Lock()
			if !r.shared[to] {
				r.rekeys++ // a share writes a version whose signed access list adds the agent
			}
			r.shared[to], r.revoked[to] = true, false
			r.mu.Unlock()
			stats.add("share", true)
			return nil
		}
		err := c.Unshare(ctx, r.key, to)
		if errors.Is(err, records.ErrConflict) {
			stats.add("unshare", false)
			return nil
		}
		if err != nil {
			return fmt.Errorf("unshare %s from %s: %w", r.key, to, err)
		}
		r.mu.Lock()
		if r.shared[to] {
			r.rekeys++
			r.revoked[to] = true
		}
		delete(r.shared, to)
		r.mu.Unlock()
		stats.add("unshare", true)
	default: // delete
		r := model.pickCold(rng)
		if r == nil {
			stats.add("skipped", true)
			return nil
		}
		r.life.Lock()
		defer r.life.Unlock()
		if r.deleted {
			stats.add("skipped", true)
			return nil
		}
		if err := c.Delete(ctx, r.key); err != nil {
			return fmt.Errorf("delete %s: %w", r.key, err)
		}
		r.mu.Lock()
		r.deleted = true
		r.mu.Unlock()
		model.remove(r)
		stats.add("delete", true)
	}
	return nil
}

// checkSoak compares the database with the model, with faults off, and returns how many
// records were lost and how many duplicated.
func checkSoak(t *testing.T, ctx context.Context, e *env, owner *records.Collection[note],
	readers map[records.DID]*records.Collection[note], model *soakModel) (lost, dup int) {
	t.Helper()
	seen := map[records.RecordKey]int{}
	for r, err := range owner.All(ctx) { // opens and verifies every record
		require.NoError(t, err)
		seen[r.Ref.RKey]++
		m, ok := model.all[r.Ref.RKey]
		if !assert.True(t, ok, "%s is in the database but was never created", r.Ref.RKey) {
			continue
		}
		if !assert.False(t, m.deleted, "%s was deleted but is still there", r.Ref.RKey) {
			continue
		}
		assert.Equal(t, m.wantVersion(), r.Version, "%s: version after %d updates and %d re-keying unshares", r.Ref.RKey, m.updates, m.rekeys)
		assert.Equal(t, m.topBody, r.Value.Body, "%s: the body of the last update that succeeded (version %d)", r.Ref.RKey, m.topV)
	}
	for key, n := range seen {
		if n > 1 {
			dup += n - 1
			t.Errorf("%s listed %d times", key, n)
		}
	}
	wantShares := 0
	for key, m := range model.all {
		ref := records.Ref{DID: owner.Agent(), Collection: owner.NSID(), RKey: key}
		if m.deleted {
			_, err := owner.Get(ctx, key)
			assert.ErrorIs(t, err, records.ErrNotFound, "%s was deleted", key)
			continue
		}
		if seen[key] == 0 {
			lost++
			t.Errorf("%s was created (version %d, %q) but is missing", key, m.wantVersion(), m.topBody)
			continue
		}
		for did, c := range readers {
			got, err := c.Open(ctx, ref)
			switch {
			case m.shared[did]:
				wantShares++
				if assert.NoError(t, err, "%s is shared with %s", key, did) {
					assert.Equal(t, m.topBody, got.Value.Body)
					assert.Equal(t, m.wantVersion(), got.Version)
				}
			case m.revoked[did]:
				assert.ErrorIs(t, err, records.ErrNotShared, "%s was revoked from %s", key, did)
			default:
				assert.ErrorIs(t, err, records.ErrNotShared, "%s was never shared with %s", key, did)
			}
		}
	}
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records")
	require.NoError(t, err)
	assert.Equal(t, len(model.live), n, "rows in records: one per live record, no duplicates")
	dup += max(0, n-len(model.live))
	shares, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM shared_records")
	require.NoError(t, err)
	assert.Equal(t, wantShares, shares, "rows in shared_records: one per grant the model holds, none left by deletes or revocations")
	return lost, dup
}
