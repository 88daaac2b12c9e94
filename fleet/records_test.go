package fleet

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/records"
)

type note struct {
	Text string `json:"text"`
}

const notes records.NSID = "agent.memory.note"

func newAgent(t testing.TB, did string) *crypto.Agent {
	t.Helper()
	a, err := crypto.GenerateAgent(did, crypto.GenerateOptions{})
	require.NoError(t, err)
	return a
}

// register registers n agents in the fleet and returns their collections of notes.
func register(t testing.TB, rs *Records, n int, prefix string) []*Collection[note] {
	t.Helper()
	ctx := context.Background()
	out := make([]*Collection[note], n)
	for i := range out {
		a := newAgent(t, fmt.Sprintf("did:plc:%s%03d", prefix, i))
		_, err := rs.RegisterAgent(ctx, a, nil)
		require.NoError(t, err)
		out[i], err = NewCollection[note](rs, a, notes, records.CollectionOptions[note]{})
		require.NoError(t, err)
	}
	return out
}

func TestSharingAcross200Databases(t *testing.T) {
	ctx := context.Background()
	tf := newTestFleet(t, Options{})
	rs := tf.Records(records.StoreOptions{})
	agents := register(t, rs, 200, "agent")
	dbs, err := tf.Databases(ctx)
	require.NoError(t, err)
	require.Len(t, dbs, 200, "one database per agent")

	// Each agent writes a note and shares it with the next one, in another database.
	refs := make([]records.Ref, len(agents))
	for i, c := range agents {
		r, err := c.Create(ctx, note{Text: fmt.Sprint("from ", i)})
		require.NoError(t, err)
		refs[i] = r.Ref
		require.NoError(t, c.Share(ctx, r.Ref.RKey, records.DID(agents[(i+1)%len(agents)].agent.DID())))
	}
	// Each agent finds exactly the note shared with it, in a bounded number of requests.
	for i, c := range agents {
		before := tf.requests.Load()
		page, err := c.SharedWithMe(ctx, records.ListOptions{})
		require.NoError(t, err)
		require.Len(t, page.Items, 1, "agent %d", i)
		from := (i + len(agents) - 1) % len(agents)
		assert.Equal(t, fmt.Sprint("from ", from), page.Items[0].Value.Text)
		assert.False(t, page.HasMore)
		assert.LessOrEqual(t, tf.requests.Load()-before, int64(4), "index read, one database read, the agent's own keys there once")
		opened, err := c.Open(ctx, refs[from])
		require.NoError(t, err)
		assert.Equal(t, page.Items[0].Value, opened.Value)
	}
	// Not shared: refused.
	_, err = agents[5].Open(ctx, refs[0])
	assert.ErrorIs(t, err, records.ErrNotShared)

	// One agent with shares from several databases pages through them.
	for _, c := range agents[10:15] {
		r, err := c.Create(ctx, note{Text: "for agent 0"})
		require.NoError(t, err)
		require.NoError(t, c.Share(ctx, r.Ref.RKey, records.DID(agents[0].agent.DID())))
	}
	var got []string
	cursor, pages := "", 0
	for {
		before := tf.requests.Load()
		page, err := agents[0].SharedWithMe(ctx, records.ListOptions{Limit: 1, Cursor: cursor})
		require.NoError(t, err)
		assert.LessOrEqual(t, tf.requests.Load()-before, int64(4))
		pages++
		for _, r := range page.Items {
			got = append(got, r.Value.Text)
		}
		if !page.HasMore {
			break
		}
		cursor = page.Cursor
	}
	assert.Len(t, got, 6)
	assert.Equal(t, 5, countOf(got, "for agent 0"))
	assert.Equal(t, 6, pages)

	// Unsharing removes it from the index and from the owner's access list.
	require.NoError(t, agents[10].Unshare(ctx, mustList(t, agents[10])[1].Ref.RKey, records.DID(agents[0].agent.DID())))
	got = got[:0]
	for cursor = ""; ; {
		page, err := agents[0].SharedWithMe(ctx, records.ListOptions{Cursor: cursor})
		require.NoError(t, err)
		for _, r := range page.Items {
			got = append(got, r.Value.Text)
		}
		if !page.HasMore {
			break
		}
		cursor = page.Cursor
	}
	assert.Len(t, got, 5)
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func mustList(t testing.TB, c *Collection[note]) []*records.Record[note] {
	t.Helper()
	var out []*records.Record[note]
	cursor := ""
	for {
		page, err := c.List(context.Background(), records.ListOptions{Cursor: cursor})
		require.NoError(t, err)
		out = append(out, page.Items...)
		if !page.HasMore {
			return out
		}
		cursor = page.Cursor
	}
}

func TestMoveUnderConcurrentWriter(t *testing.T) {
	ctx := context.Background()
	tf := newTestFleet(t, Options{Placement: Placement{MaxTenants: 2}})
	// A fleet of 200 databases, 198 of them full (closed to new tenants).
	full, err := New(tf.Directory(), Options{Operator: tf.operator, NoSchema: true, NamePattern: "full-%03d"})
	require.NoError(t, err)
	for range 198 {
		d, err := full.CreateDatabase(ctx)
		require.NoError(t, err)
		require.NoError(t, full.CloseDatabase(ctx, d.ID))
	}
	rs := tf.Records(records.StoreOptions{})
	cs := register(t, rs, 3, "mover") // 0 and 1 share a database, 2 is alone
	alice, bob, carol := cs[0], cs[1], cs[2]
	from, err := tf.Route(ctx, alice.agent.DID())
	require.NoError(t, err)
	dbs, err := tf.Databases(ctx)
	require.NoError(t, err)
	require.Equal(t, 200, len(dbs), "198 full, and two created for the three agents")

	// Before the move: alice shares with carol, bob with alice.
	shared, err := alice.Create(ctx, note{Text: "for carol"})
	require.NoError(t, err)
	require.NoError(t, alice.Share(ctx, shared.Ref.RKey, records.DID(carol.agent.DID())))
	bobs, err := bob.Create(ctx, note{Text: "bob's"})
	require.NoError(t, err)

	// The writer creates records until told to stop, and deletes every fifth it created.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	written := map[records.RecordKey]string{}
	var writeErr atomic.Pointer[error]
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r, err := alice.Create(ctx, note{Text: fmt.Sprint("write ", i)})
			if err != nil {
				writeErr.Store(&err)
				return
			}
			mu.Lock()
			written[r.Ref.RKey] = r.Value.Text
			mu.Unlock()
			if i%5 == 4 {
				err := alice.Do(ctx, func(rc *records.Collection[note]) error { return rc.Delete(ctx, r.Ref.RKey) })
				if err != nil {
					writeErr.Store(&err)
					return
				}
				mu.Lock()
				delete(written, r.Ref.RKey)
				mu.Unlock()
			}
		}
	})
	waitFor := func(n int) {
		for {
			mu.Lock()
			have := len(written)
			mu.Unlock()
			if have >= n || writeErr.Load() != nil {
				return
			}
			runtime.Gosched()
		}
	}
	waitFor(20) // let the writer get going
	var during *records.Record[note]
	var duringErr error
	var duringDone sync.WaitGroup
	rep, err := tf.Move(ctx, alice.agent.DID(), MoveOptions{PageRows: 7, Stop: func(step string) bool {
		if step == stepSync {
			// Fenced, not switched: a write through the old database is refused...
			stale, err := records.NewCollection[note](mustStore(t, rs, from.Database), alice.agent, notes, records.CollectionOptions[note]{})
			require.NoError(t, err)
			_, err = stale.Create(ctx, note{Text: "stale"})
			assert.True(t, IsFenced(err), "got %v", err)
			// ...and one through the fleet waits for the switch and lands in the new one.
			duringDone.Go(func() { during, duringErr = alice.Create(ctx, note{Text: "during the fence"}) })
		}
		return true
	}})
	if err != nil {
		close(stop)
		wg.Wait()
		require.NoError(t, err)
	}
	waitFor(rep.Rows["records"] + 10) // keep writing after the switch, then stop
	close(stop)
	wg.Wait()
	duringDone.Wait()
	require.NoError(t, duringErr)
	mu.Lock()
	written[during.Ref.RKey] = during.Value.Text
	mu.Unlock()
	if p := writeErr.Load(); p != nil {
		require.NoError(t, *p, "the writer failed")
	}

	assert.Equal(t, from.Database, rep.From)
	assert.NotEqual(t, rep.From, rep.To)
	dbs, err = tf.Databases(ctx)
	require.NoError(t, err)
	assert.Equal(t, 200, len(dbs), "no database created: carol's has room")
	carolAt, err := tf.Route(ctx, carol.Agent())
	require.NoError(t, err)
	assert.Equal(t, carolAt.Database, rep.To, "packed next to carol")
	assert.Equal(t, uint64(2), rep.Epoch)
	assert.Equal(t, []string{stepCopy, stepFence, stepSync, stepVerify, stepSwitch, stepDelete}, rep.Steps)

	// Nothing lost, nothing resurrected: alice's records are exactly what the writer
	// was told were written and not deleted, plus the shared note.
	all := mustList(t, alice)
	got := map[records.RecordKey]string{}
	for _, r := range all {
		got[r.Ref.RKey] = r.Value.Text
	}
	mu.Lock()
	want := map[records.RecordKey]string{shared.Ref.RKey: "for carol"}
	for k, v := range written {
		want[k] = v
	}
	mu.Unlock()
	assert.Equal(t, want, got)
	to, err := tf.Route(ctx, alice.agent.DID())
	require.NoError(t, err)
	assert.Equal(t, rep.To, to.Database)
	left := tf.sql(t, from.Database, "SELECT count(*) FROM records WHERE did = ?", alice.agent.DID())
	assert.Equal(t, int64(0), left.Row(0).Value(0), "deleted from the source")

	// Bob, who stayed, is untouched; carol still reads what alice shared, now from alice's new database.
	b, err := bob.Get(ctx, bobs.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, "bob's", b.Value.Text)
	page, err := carol.SharedWithMe(ctx, records.ListOptions{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Equal(t, "for carol", page.Items[0].Value.Text)

	// A write through a stale route is refused by the fence, never lost in the old database.
	stale, err := records.NewCollection[note](mustStore(t, rs, from.Database), alice.agent, notes, records.CollectionOptions[note]{})
	require.NoError(t, err)
	_, err = stale.Create(ctx, note{Text: "stale"})
	assert.True(t, IsFenced(err), "got %v", err)
}

func mustStore(t testing.TB, rs *Records, id string) *records.Store {
	s, err := rs.StoreIn(id)
	require.NoError(t, err)
	return s
}

func TestMoveResumesAfterEachStep(t *testing.T) {
	ctx := context.Background()
	for _, at := range moveSteps[:len(moveSteps)-1] {
		t.Run(at, func(t *testing.T) {
			tf := newTestFleet(t, Options{})
			rs := tf.Records(records.StoreOptions{})
			cs := register(t, rs, 2, "resume")
			alice := cs[0]
			var keys []records.RecordKey
			for i := range 12 {
				r, err := alice.Create(ctx, note{Text: fmt.Sprint(i)})
				require.NoError(t, err)
				keys = append(keys, r.Ref.RKey)
			}
			require.NoError(t, alice.Share(ctx, keys[0], records.DID(cs[1].agent.DID())))
			from, err := tf.Route(ctx, alice.agent.DID())
			require.NoError(t, err)

			// Crash before step at, after the steps before it ran (twice over, for copy: the
			// first Stop comes after a copy already ran once when at is later).
			_, err = tf.Move(ctx, alice.agent.DID(), MoveOptions{PageRows: 5, Stop: func(step string) bool { return step != at }})
			require.ErrorIs(t, err, ErrMoveStopped)
			// A fresh client (a restarted process) finishes the move.
			f2, err := New(tf.Directory(), Options{Operator: tf.operator})
			require.NoError(t, err)
			rep, err := f2.Move(ctx, alice.agent.DID(), MoveOptions{PageRows: 5})
			require.NoError(t, err)
			assert.Equal(t, at, rep.Resumed)
			if at != stepSwitch && at != stepDelete {
				assert.Equal(t, 12, rep.Rows["records"], "verified again")
			}
			// And a third Move has nothing in progress: it would move the tenant again.
			rows := tf.sql(t, tf.Directory().DatabaseID(), "SELECT count(*) FROM fleet_moves")
			assert.Equal(t, int64(0), rows.Row(0).Value(0))

			to := tf.sql(t, rep.To, "SELECT count(*), count(DISTINCT id) FROM records WHERE did = ?", alice.agent.DID())
			assert.Equal(t, []any{int64(12), int64(12)}, to.Row(0).Values(), "every record once")
			grants := tf.sql(t, rep.To, "SELECT count(*) FROM shared_records")
			assert.Equal(t, int64(1), grants.Row(0).Value(0))
			left := tf.sql(t, from.Database, "SELECT count(*) FROM records WHERE did = ?", alice.agent.DID())
			assert.Equal(t, int64(0), left.Row(0).Value(0))
			for _, k := range keys { // through tf's stale cache: refused or not found, then routed again
				_, err := alice.Get(ctx, k)
				require.NoError(t, err)
			}
			page, err := cs[1].SharedWithMe(ctx, records.ListOptions{})
			require.NoError(t, err)
			assert.Len(t, page.Items, 1)
		})
	}
}

func TestReplayedRouteAfterMoveFailsLoudly(t *testing.T) {
	ctx := context.Background()
	tf := newTestFleet(t, Options{})
	rs := tf.Records(records.StoreOptions{})
	alice := register(t, rs, 1, "replay")[0]
	old := tf.sql(t, tf.Directory().DatabaseID(), "SELECT database_id, epoch, signature FROM fleet_tenants").Row(0).Values()
	_, err := alice.Create(ctx, note{Text: "before"})
	require.NoError(t, err)
	_, err = tf.Move(ctx, alice.agent.DID(), MoveOptions{})
	require.NoError(t, err)

	// The directory serves the old, validly signed route to a client that never saw the new one.
	tf.sql(t, tf.Directory().DatabaseID(), "UPDATE fleet_tenants SET database_id = ?, epoch = ?, signature = ?", old...)
	f2, err := New(tf.Directory(), Options{OperatorKey: tf.operator.VerifyingKey()})
	require.NoError(t, err)
	c2, err := NewCollection[note](f2.Records(records.StoreOptions{}), alice.agent, notes, records.CollectionOptions[note]{})
	require.NoError(t, err)
	_, err = c2.Create(ctx, note{Text: "lost?"})
	require.ErrorIs(t, err, ErrRollback, "refused by the fence, never written to the old database")
	n := tf.sql(t, old[0].(string), "SELECT count(*) FROM records")
	assert.Equal(t, int64(0), n.Row(0).Value(0))
}

func TestRotateKeysAcrossDatabases(t *testing.T) {
	ctx := context.Background()
	tf := newTestFleet(t, Options{})
	rs := tf.Records(records.StoreOptions{})
	cs := register(t, rs, 3, "rotate")
	alice, bob, carol := cs[0], cs[1], cs[2]
	for _, owner := range []*Collection[note]{alice, carol} {
		r, err := owner.Create(ctx, note{Text: "for bob from " + owner.Agent()})
		require.NoError(t, err)
		require.NoError(t, owner.Share(ctx, r.Ref.RKey, records.DID(bob.Agent())))
	}
	next, err := bob.agent.NewKeys()
	require.NoError(t, err)
	n, err := rs.RotateKeys(ctx, bob.agent, next, records.RotateOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, n.Shared, "the grants in alice's and carol's databases")

	bob2, err := NewCollection[note](rs, next, notes, records.CollectionOptions[note]{})
	require.NoError(t, err)
	var got []string
	for cursor := ""; ; {
		page, err := bob2.SharedWithMe(ctx, records.ListOptions{Cursor: cursor})
		require.NoError(t, err)
		for _, r := range page.Items {
			got = append(got, r.Value.Text)
		}
		if !page.HasMore {
			break
		}
		cursor = page.Cursor
	}
	assert.ElementsMatch(t, []string{"for bob from " + alice.Agent(), "for bob from " + carol.Agent()}, got)
	_, err = NewCollection[note](rs, bob.agent, notes, records.CollectionOptions[note]{})
	require.NoError(t, err)
	_, err = bob.Create(ctx, note{Text: "with retired keys"})
	assert.ErrorIs(t, err, records.ErrKeyRetired)
}

func TestMoveCarriesSearchIndex(t *testing.T) {
	ctx := context.Background()
	tf := newTestFleet(t, Options{})
	rs := tf.Records(records.StoreOptions{})
	a := newAgent(t, "did:plc:searcher")
	_, err := rs.RegisterAgent(ctx, a, nil)
	require.NoError(t, err)
	opts := records.CollectionOptions[note]{Index: map[string]func(note) []string{"text": func(n note) []string { return []string{n.Text} }}}
	c, err := NewCollection[note](rs, a, notes, opts)
	require.NoError(t, err)
	for _, text := range []string{"red", "blue", "red", "green"} {
		_, err := c.Create(ctx, note{Text: text})
		require.NoError(t, err)
	}
	find := func() int {
		var n int
		require.NoError(t, c.Do(ctx, func(rc *records.Collection[note]) error {
			page, err := rc.Find(ctx, "text", []string{"red"}, records.ListOptions{})
			n = len(page.Items)
			return err
		}))
		return n
	}
	require.Equal(t, 2, find())
	rep, err := tf.Move(ctx, a.DID(), MoveOptions{PageRows: 3})
	require.NoError(t, err)
	assert.Equal(t, 4, rep.Rows["record_beacons"])
	assert.Equal(t, 2, find(), "found in the new database")
	left := tf.sql(t, rep.From, "SELECT count(*) FROM record_beacons")
	assert.Equal(t, int64(0), left.Row(0).Value(0))
}
