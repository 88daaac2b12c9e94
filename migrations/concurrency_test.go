package migrations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/childproc"
	"github.com/d1seal/d1seal/migrations"
)

// raceFiles is a set whose every migration both changes the schema and writes a row, so that a
// migration run twice would show (a second CREATE TABLE fails; a second INSERT adds a row).
func raceFiles(n int) map[string]string {
	files := map[string]string{"0001_hits.sql": "CREATE TABLE hits (migration INTEGER NOT NULL);\nINSERT INTO hits VALUES (1);"}
	for i := 2; i <= n; i++ {
		files[fmt.Sprintf("%04d_m%d.sql", i, i)] = fmt.Sprintf("CREATE TABLE t%d (x);\nINSERT INTO hits VALUES (%d);\nINSERT INTO t%d VALUES (%d);", i, i, i, i)
	}
	return files
}

// checkRan asserts that migrations 1..n each ran exactly once, in order.
func checkRan(t *testing.T, c *d1.Client, n int) {
	t.Helper()
	hits, err := d1.QueryAll[int64](context.Background(), c, "SELECT migration FROM hits ORDER BY rowid")
	require.NoError(t, err)
	want := make([]int64, n)
	for i := range want {
		want[i] = int64(i + 1)
	}
	assert.Equal(t, want, hits, "each migration ran once, in order")
	names := ledgerNames(t, c, "d1_migrations")
	assert.Len(t, names, n)
}

func TestConcurrentGoroutines(t *testing.T) {
	const n, runners = 20, 6
	srv, err := d1local.New(d1local.Options{Latency: time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(context.Background(), "race")
	require.NoError(t, err)
	s := set(t, raceFiles(n))

	var wg sync.WaitGroup
	results := make([]*migrations.Result, runners)
	errs := make([]error, runners)
	start := make(chan struct{})
	for i := range runners {
		c := client(t, id, &http.Client{Transport: srv.Transport()}, "http://d1local.invalid/client/v4")
		wg.Go(func() {
			<-start
			results[i], errs[i] = migrations.Apply(context.Background(), c, s, migrations.ApplyOptions{})
		})
	}
	close(start)
	wg.Wait()
	applied := map[string]int{}
	for i := range runners {
		require.NoError(t, errs[i], "runner %d", i)
		for _, name := range results[i].Applied {
			applied[name]++
		}
	}
	assert.Len(t, applied, n, "every migration was applied by some runner")
	for name, k := range applied {
		assert.Equal(t, 1, k, "%s applied by %d runners", name, k)
	}
	concurrent := 0
	for _, r := range results {
		concurrent += len(r.Concurrent)
	}
	t.Logf("%d runners: %d claims lost to another runner", runners, concurrent)
	checkRan(t, client(t, id, &http.Client{Transport: srv.Transport()}, "http://d1local.invalid/client/v4"), n)
}

// TestChildApplier is not a test on its own: TestConcurrentProcesses runs the test binary with
// it selected, as a separate process applying the set to a shared local D1 over HTTP.
func TestChildApplier(t *testing.T) {
	params, ok := childproc.Child()
	if !ok {
		t.Skip("runs only as a child of TestConcurrentProcesses")
	}
	c := client(t, params["db"], &http.Client{}, params["url"])
	s := set(t, raceFiles(20))
	childproc.Ready(t) // both children start together
	res, err := migrations.Apply(context.Background(), c, s, migrations.ApplyOptions{})
	require.NoError(t, err)
	childproc.Result(t, res)
}

func TestConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const n, children = 20, 2
	srv, err := d1local.New(d1local.Options{Latency: time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(context.Background(), "race")
	require.NoError(t, err)
	hs := httptest.NewServer(srv) // on 127.0.0.1
	t.Cleanup(hs.Close)
	url := hs.URL + "/client/v4"

	applied := map[string]int{}
	for i, b := range childproc.Run(t, "TestChildApplier", children, map[string]string{"url": url, "db": id}) {
		var res migrations.Result
		require.NoError(t, json.Unmarshal(b, &res))
		t.Logf("child %d applied %d, found %d applied by the other", i, len(res.Applied), len(res.Concurrent))
		for _, name := range res.Applied {
			applied[name]++
		}
	}
	assert.Len(t, applied, n)
	for name, k := range applied {
		assert.Equal(t, 1, k, "%s applied by %d processes", name, k)
	}
	checkRan(t, client(t, id, hs.Client(), url), n)
}
