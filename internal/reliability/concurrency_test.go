package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/childproc"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/records"
)

// TestConcurrentCreators: 16 goroutines create records in one collection of one agent, some
// one by one and some with CreateMany, through one Store: every TID is unique, every record
// is stored and opens, none is lost.
func TestConcurrentCreators(t *testing.T) {
	const goroutines = 16
	each := 30
	if long() {
		each = 300
	}
	ctx := context.Background()
	e := newEnv(t, d1local.Options{}, d1.Options{}).withStore(t)
	c := notes(t, e.store, e.agent(t, "did:plc:alice"))

	keys := make([][]records.RecordKey, goroutines)
	errs := make([]error, goroutines)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for i := 0; i < each; {
				if g%4 == 0 { // a quarter of the goroutines write in bulk
					n := min(5, each-i)
					values := make([]note, n)
					for j := range values {
						values[j] = note{Body: fmt.Sprintf("g%d #%d", g, i+j)}
					}
					rs, err := c.CreateMany(ctx, values)
					if err != nil {
						errs[g] = err
						return
					}
					for _, r := range rs {
						keys[g] = append(keys[g], r.Ref.RKey)
					}
					i += n
					continue
				}
				r, err := c.Create(ctx, note{Body: fmt.Sprintf("g%d #%d", g, i)})
				if err != nil {
					errs[g] = err
					return
				}
				keys[g] = append(keys[g], r.Ref.RKey)
				i++
			}
		})
	}
	close(start)
	wg.Wait()
	want := map[records.RecordKey]bool{}
	for g := range goroutines {
		require.NoError(t, errs[g], "goroutine %d", g)
		require.Len(t, keys[g], each)
		for _, k := range keys[g] {
			require.False(t, want[k], "TID %s issued twice", k)
			want[k] = true
		}
	}
	got := map[records.RecordKey]bool{}
	for r, err := range c.All(ctx) {
		require.NoError(t, err)
		got[r.Ref.RKey] = true
	}
	assert.Equal(t, want, got, "every record created is stored, and nothing else")
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records")
	require.NoError(t, err)
	assert.Equal(t, goroutines*each, n)
	t.Logf("%d goroutines created %d records; %d unique TIDs, %d rows", goroutines, goroutines*each, len(want), n)
}

// TestRacingUpdatesOneWinner: goroutines read the same version of one record and update it at
// once. Exactly one update wins; every other gets ErrConflict and writes nothing; the record
// holds the winner's value at the next version. Repeated for many rounds, some with lost
// responses, which must not turn the winner into a loser or a loser into a second winner.
func TestRacingUpdatesOneWinner(t *testing.T) {
	const racers = 8
	rounds := 20
	if long() {
		rounds = 200
	}
	ctx := context.Background()
	e := newEnv(t, d1local.Options{}, d1.Options{Retry: d1.RetryPolicy{MaxAttempts: 10, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}}).withStore(t)
	c := notes(t, e.store, e.agent(t, "did:plc:alice"))
	conflicts := 0
	for round := range rounds {
		if round%2 == 1 { // odd rounds lose a response now and then
			e.srv.SetFaultFunc(newFaultMix(uint64(round)).next)
		}
		r, err := c.Create(ctx, note{Body: "v1"})
		require.NoError(t, err)
		base, err := c.Get(ctx, r.Ref.RKey)
		require.NoError(t, err)

		var wg sync.WaitGroup
		results := make([]*records.Record[note], racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		for i := range racers {
			mine := *base
			mine.Value.Body = fmt.Sprint("racer ", i)
			wg.Go(func() {
				<-start
				results[i], errs[i] = c.Update(ctx, &mine)
			})
		}
		close(start)
		wg.Wait()
		e.srv.SetFaultFunc(nil)
		winner := -1
		for i := range racers {
			if errs[i] == nil {
				require.Equal(t, -1, winner, "round %d: racers %d and %d both won", round, winner, i)
				winner = i
				continue
			}
			require.ErrorIs(t, errs[i], records.ErrConflict, "round %d racer %d", round, i)
			conflicts++
		}
		require.NotEqual(t, -1, winner, "round %d: someone wins", round)
		got, err := c.Get(ctx, r.Ref.RKey)
		require.NoError(t, err)
		assert.Equal(t, uint64(2), got.Version, "round %d: one update, one new version", round)
		assert.Equal(t, fmt.Sprint("racer ", winner), got.Value.Body, "round %d: the winner's value, not silently overwritten", round)
		assert.Equal(t, results[winner].Version, got.Version)
	}
	t.Logf("%d rounds of %d racing updates: %d winners, %d conflicts", rounds, racers, rounds, conflicts)
}

// childRecords is how many records each child process creates.
const childRecords = 20

// TestChildStore is not a test on its own: TestTwoProcessesInitialiseTheSchema runs the test
// binary with it selected, as a process that opens a records Store on a shared local D1 (which
// applies the agent-records migrations on first use), registers an agent and creates records.
func TestChildStore(t *testing.T) {
	params, ok := childproc.Child()
	if !ok {
		t.Skip("runs only as a child of TestTwoProcessesInitialiseTheSchema")
	}
	name := params["name"] + "-" + fmt.Sprint(os.Getpid())
	dbAcct, err := d1.NewAccount("acct", "local", d1.Options{BaseURL: params["url"], RateLimit: d1.RateLimit{Disabled: true}})
	require.NoError(t, err)
	db := dbAcct.Database(params["db"])
	childproc.Ready(t) // both processes start together
	ctx := context.Background()
	res, err := migrations.Apply(ctx, db, records.Schema(), migrations.ApplyOptions{})
	require.NoError(t, err)
	e := &env{db: db, store: records.NewStore(db, records.StoreOptions{})}
	c := notes(t, e.store, e.agent(t, "did:plc:"+name))
	for i := range childRecords {
		_, err := c.Create(ctx, note{Body: fmt.Sprint(name, " ", i)})
		require.NoError(t, err)
	}
	childproc.Result(t, res)
}

// TestTwoProcessesInitialiseTheSchema starts two processes that apply the agent-records
// schema to one empty local D1 at the same moment and then write records: each migration is
// applied by exactly one of them, both succeed, and every record of both is there.
// (Package migrations has the same race with 20 synthetic migrations and 6 goroutines.)
func TestTwoProcessesInitialiseTheSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	srv, id := newLocal(t, d1local.Options{Latency: time.Millisecond})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	url := hs.URL + "/client/v4"

	const children = 2
	applied := map[string]int{}
	for i, b := range childproc.Run(t, "TestChildStore", children, map[string]string{"url": url, "db": id, "name": "child"}) {
		var res migrations.Result
		require.NoError(t, json.Unmarshal(b, &res))
		t.Logf("child %d applied %v, found %v applied by the other", i, res.Applied, res.Concurrent)
		for _, name := range res.Applied {
			applied[name]++
		}
	}
	set := records.Schema()
	assert.Len(t, applied, set.Len(), "every migration was applied by one of the processes")
	for name, k := range applied {
		assert.Equal(t, 1, k, "%s applied by %d processes", name, k)
	}
	db := client(t, srv, id, d1.Options{})
	ctx := context.Background()
	ledger, err := d1.QueryAll[string](ctx, db, `SELECT name FROM "d1_migrations" ORDER BY id`)
	require.NoError(t, err)
	var want []string
	for _, m := range set.Migrations() {
		want = append(want, m.Name)
	}
	assert.Equal(t, want, ledger, "the ledger holds each migration once, in order")
	n, err := d1.QueryOne[int](ctx, db, "SELECT count(*) FROM records")
	require.NoError(t, err)
	assert.Equal(t, children*childRecords, n, "both processes' records are there")
	entries, err := migrations.Status(ctx, db, set, migrations.StatusOptions{})
	require.NoError(t, err)
	for _, en := range entries {
		assert.Equal(t, migrations.Applied, en.State, "%s", en.Name)
	}
}
