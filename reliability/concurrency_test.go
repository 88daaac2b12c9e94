package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
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

// Variables that turn TestChildStore into a process for TestTwoProcessesInitialiseTheSchema.
const (
	childURL  = "D1SEAL_RELIABILITY_CHILD_URL"
	childDB   = "D1SEAL_RELIABILITY_CHILD_DB"
	childDir  = "D1SEAL_RELIABILITY_CHILD_DIR"
	childName = "D1SEAL_RELIABILITY_CHILD_NAME"
)

// childRecords is how many records each child process creates.
const childRecords = 20

// TestChildStore is not a test on its own: TestTwoProcessesInitialiseTheSchema runs the test
// binary with it selected, as a process that opens a records Store on a shared local D1 (which
// applies the agent-records migrations on first use), registers an agent and creates records.
func TestChildStore(t *testing.T) {
	url := os.Getenv(childURL)
	if url == "" {
		t.Skip("runs only as a child of TestTwoProcessesInitialiseTheSchema")
	}
	dir, name := os.Getenv(childDir), os.Getenv(childName)
	db, err := d1.NewClient("acct", os.Getenv(childDB), "local", d1.Options{BaseURL: url, RateLimit: d1.RateLimit{Disabled: true}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".ready"), nil, 0o644))
	for { // wait for the parent's signal, so that both processes start together
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ctx := context.Background()
	res, err := migrations.Apply(ctx, db, migrations.AgentRecords(), migrations.Options{})
	require.NoError(t, err)
	e := &env{db: db, store: records.NewStore(db, records.StoreOptions{})}
	c := notes(t, e.store, e.agent(t, "did:plc:"+name))
	for i := range childRecords {
		_, err := c.Create(ctx, note{Body: fmt.Sprint(name, " ", i)})
		require.NoError(t, err)
	}
	b, err := json.Marshal(res)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644))
}

// TestTwoProcessesInitialiseTheSchema starts two processes that apply the agent-records
// schema to one empty local D1 at the same moment and then write records: each migration is
// applied by exactly one of them, both succeed, and every record of both is there.
// (Package migrations has the same race with 20 synthetic migrations and 6 goroutines.)
func TestTwoProcessesInitialiseTheSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	srv, err := d1local.New(d1local.Options{Latency: time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(context.Background(), "schema-race")
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	url := hs.URL + "/client/v4"

	dir := t.TempDir()
	const children = 2
	cmds := make([]*exec.Cmd, children)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildStore$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), childURL+"="+url, childDB+"="+id, childDir+"="+dir, fmt.Sprintf("%s=child%d", childName, i))
		out, err := os.Create(filepath.Join(dir, fmt.Sprintf("child%d.log", i)))
		require.NoError(t, err)
		defer out.Close()
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		cmds[i] = cmd
	}
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; i < children; {
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("child%d.ready", i))); err == nil {
			i++
			continue
		}
		require.True(t, time.Now().Before(deadline), "children did not start")
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go"), nil, 0o644))
	applied := map[string]int{}
	for i, cmd := range cmds {
		err := cmd.Wait()
		log, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("child%d.log", i)))
		require.NoError(t, err, "child %d:\n%s", i, log)
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("child%d.json", i)))
		require.NoError(t, err, "child %d wrote no result:\n%s", i, log)
		var res migrations.Result
		require.NoError(t, json.Unmarshal(b, &res))
		t.Logf("child %d applied %v, found %v applied by the other", i, res.Applied, res.Concurrent)
		for _, name := range res.Applied {
			applied[name]++
		}
	}
	set := migrations.AgentRecords()
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
	entries, err := migrations.Status(ctx, db, set, migrations.Options{})
	require.NoError(t, err)
	for _, en := range entries {
		assert.Equal(t, migrations.Applied, en.State, "%s", en.Name)
	}
}
