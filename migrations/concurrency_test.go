package migrations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
			results[i], errs[i] = migrations.Apply(context.Background(), c, s, migrations.Options{})
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

// childEnv names the variables that turn TestChildApplier into a runner for
// TestConcurrentProcesses.
const (
	childURL  = "D1SEAL_MIGRATIONS_CHILD_URL"
	childDB   = "D1SEAL_MIGRATIONS_CHILD_DB"
	childDir  = "D1SEAL_MIGRATIONS_CHILD_DIR"
	childName = "D1SEAL_MIGRATIONS_CHILD_NAME"
)

// TestChildApplier is not a test on its own: TestConcurrentProcesses runs the test binary with
// it selected, as a separate process applying the set to a shared local D1 over HTTP.
func TestChildApplier(t *testing.T) {
	url := os.Getenv(childURL)
	if url == "" {
		t.Skip("runs only as a child of TestConcurrentProcesses")
	}
	dir, name := os.Getenv(childDir), os.Getenv(childName)
	c := client(t, os.Getenv(childDB), &http.Client{}, url)
	s := set(t, raceFiles(20))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".ready"), nil, 0o644))
	for { // wait for the parent's signal so that both children start together
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	res, err := migrations.Apply(context.Background(), c, s, migrations.Options{})
	require.NoError(t, err)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644))
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

	dir := t.TempDir()
	cmds := make([]*exec.Cmd, children)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildApplier$", "-test.count=1", "-test.v")
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
