package reliability_test

import (
	"bufio"
	"bytes"
	"context"
	mrand "math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
)

// buildD1local builds cmd/d1local into a temporary folder, with -race when the tests have it.
func buildD1local(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "d1local")
	args := []string{"build", "-o", bin}
	if raceBuild {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "github.com/d1seal/d1seal/cmd/d1local")...).CombinedOutput()
	require.NoError(t, err, "go build ./cmd/d1local:\n%s", out)
	return bin
}

// child is a running cmd/d1local process.
type child struct {
	cmd    *exec.Cmd
	url    string // base URL, http://127.0.0.1:port/client/v4
	db     string // the database id
	stderr *bytes.Buffer
}

// startD1local starts bin on a free port of 127.0.0.1 with its databases in dir, and waits for
// it to print where it serves.
func startD1local(t *testing.T, bin, dir string) *child {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-dir", dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	c := &child{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = c.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for (c.url == "" || c.db == "") && sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "export CLOUDFLARE_API_BASE_URL="); ok {
			c.url = v
		}
		if v, ok := strings.CutPrefix(sc.Text(), "export D1_DATABASE_ID="); ok {
			c.db = v
		}
	}
	require.True(t, c.url != "" && c.db != "", "d1local did not say where it serves:\n%s", c.stderr)
	go func() { // keep the pipe drained
		for sc.Scan() {
		}
	}()
	return c
}

func (c *child) client(t *testing.T) *d1.Client {
	t.Helper()
	dbAcct, err := d1.NewAccount("acct", "local", d1.Options{
		BaseURL:    c.url,
		HTTPClient: &http.Client{Timeout: 30 * time.Second},
		RateLimit:  d1.RateLimit{Disabled: true},
		Retry:      d1.RetryPolicy{MaxAttempts: 1}, // see every failure as it happens
	})
	require.NoError(t, err)
	db := dbAcct.Database(c.db)
	return db
}

// TestKilledD1localKeepsWholeBatches builds cmd/d1local, serves a folder with it, and has
// 4 goroutines send batches of 20 inserts over HTTP while the process is killed with SIGKILL
// at a random moment; then it restarts the process on the same folder, and again, for several
// rounds. At the end every batch whose response arrived is there in full, and no batch is
// there in part: batches in flight when the process died either committed whole or not at all.
func TestKilledD1localKeepsWholeBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills processes")
	}
	rounds := 4
	if long() {
		rounds = 40
	}
	const senders, rows = 4, 20
	bin := buildD1local(t)
	dir := t.TempDir()
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))

	first := startD1local(t, bin, dir)
	_, err := first.client(t).Exec(ctx, "CREATE TABLE b (batch INTEGER NOT NULL, i INTEGER NOT NULL, pad BLOB NOT NULL, PRIMARY KEY (batch, i))")
	require.NoError(t, err)
	dbID := first.db
	first.cmd.Process.Kill()
	first.cmd.Wait()

	var next atomic.Int64
	var mu sync.Mutex
	acked := map[int64]bool{}
	inFlight := map[int64]bool{} // sent but not acknowledged (the process died): committed or not
	pad := bytes.Repeat([]byte{0xa5}, 2048)
	for round := range rounds {
		c := startD1local(t, bin, dir)
		require.Equal(t, dbID, c.db, "the same database after a restart")
		db := c.client(t)
		var killed atomic.Bool
		var firstAck sync.Once
		ackedOnce := make(chan struct{})
		var wg sync.WaitGroup
		for range senders {
			wg.Go(func() {
				for {
					b := next.Add(1)
					stmts := make([]d1.Statement, rows)
					for i := range stmts {
						stmts[i] = d1.Statement{SQL: "INSERT INTO b (batch, i, pad) VALUES (?, ?, ?)", Args: []any{b, i, pad}}
					}
					_, err := db.Batch(ctx, stmts...)
					mu.Lock()
					if err == nil {
						acked[b] = true
					} else {
						inFlight[b] = true
					}
					mu.Unlock()
					if err == nil {
						firstAck.Do(func() { close(ackedOnce) })
						continue
					}
					if killed.Load() {
						return
					}
					t.Errorf("round %d: batch %d failed before the kill: %v\n%s", round, b, err, c.stderr)
					return
				}
			})
		}
		<-ackedOnce
		// A random moment of real time, not testing/synctest's fake clock: the batches run in a
		// real child process over a real socket, which a synctest bubble cannot hold.
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		killed.Store(true)
		require.NoError(t, c.cmd.Process.Kill()) // SIGKILL: no shutdown, no flush
		c.cmd.Wait()
		wg.Wait()
	}

	c := startD1local(t, bin, dir)
	db := c.client(t)
	r, err := db.Query(ctx, "SELECT batch, count(*) FROM b GROUP BY batch")
	require.NoError(t, err)
	stored := map[int64]int64{}
	for _, row := range r.All() {
		var b, n int64
		require.NoError(t, row.Scan(&b, &n))
		stored[b] = n
	}
	partial, lost, committedInFlight := 0, 0, 0
	for b, n := range stored {
		if n != rows {
			partial++
			t.Errorf("batch %d is partial: %d of %d rows", b, n, rows)
		}
		if inFlight[b] {
			committedInFlight++
		}
	}
	for b := range acked {
		if stored[b] == 0 {
			lost++
			t.Errorf("batch %d was acknowledged but is missing", b)
		}
	}
	for b := range stored {
		assert.True(t, acked[b] || inFlight[b], "batch %d was never sent", b)
	}
	integrity, err := d1.QueryOne[string](ctx, db, "PRAGMA quick_check")
	require.NoError(t, err)
	assert.Equal(t, "ok", integrity)
	t.Logf("%d kills: %d batches of %d rows acknowledged, %d sent without an answer (%d of them committed whole, %d not at all); lost %d, partial %d",
		rounds, len(acked), rows, len(inFlight), committedInFlight, len(inFlight)-committedInFlight, lost, partial)
}
