package d1_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
)

func setupNotes(t *testing.T, c *d1.Client) {
	_, err := c.Exec(context.Background(), "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
	require.NoError(t, err)
}

func count(t *testing.T, c *d1.Client) int {
	n, err := d1.QueryOne[int](context.Background(), c, "SELECT count(*) FROM notes")
	require.NoError(t, err)
	return n
}

func TestLostResponseWriteIsNotReplayed(t *testing.T) {
	b := localBackend(t, d1local.Options{})
	setupNotes(t, b.client)
	before := b.local.Requests()
	b.local.InjectFaults(d1local.Fault{DropAfterCommit: true})
	_, err := b.client.Exec(context.Background(), "INSERT INTO notes (body) VALUES ('once')")
	var e *d1.Error
	require.ErrorAs(t, err, &e)
	assert.True(t, e.Sent, "the request reached D1; the client cannot know whether it committed")
	assert.True(t, d1.IsRetryable(err))
	assert.Equal(t, int64(1), b.local.Requests()-before, "the write was sent once and not replayed")
	assert.Equal(t, 1, count(t, b.client), "it committed exactly once")

	// The same fault on an idempotent write is retried; the caller's statement makes that safe.
	b.local.InjectFaults(d1local.Fault{DropAfterCommit: true})
	_, err = b.client.Run(context.Background(), d1.Statement{SQL: "INSERT OR IGNORE INTO notes (id, body) VALUES (7, 'keyed')", Idempotent: true})
	require.NoError(t, err)
	assert.Equal(t, 2, count(t, b.client))
}

func TestTransientFaultsAreRetriedForReads(t *testing.T) {
	b := localBackend(t, d1local.Options{})
	setupNotes(t, b.client)
	for _, f := range []d1local.Fault{
		{Status: 500}, {Status: 502}, {Status: 503, RetryAfter: 10 * time.Millisecond}, {Status: 504},
		{Transient: "Network connection lost."}, {Transient: "Cannot resolve D1 DB due to transient issue on remote node"},
		{DropAfterCommit: true},
	} {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			before := b.local.Requests()
			b.local.InjectFaults(f)
			n, err := d1.QueryOne[int](context.Background(), b.client, "SELECT count(*) FROM notes")
			require.NoError(t, err)
			assert.Equal(t, 0, n)
			assert.Equal(t, int64(2), b.local.Requests()-before, "one failure, one retry")

			b.local.InjectFaults(f)
			_, err = b.client.Exec(context.Background(), "INSERT INTO notes (body) VALUES ('x')")
			if f.DropAfterCommit {
				require.Error(t, err)
				_, err = b.client.Exec(context.Background(), "DELETE FROM notes")
				require.NoError(t, err)
				return
			}
			require.Error(t, err, "a write that may have reached D1 is not retried")
			assert.True(t, d1.IsRetryable(err))
			assert.Equal(t, 0, count(t, b.client), "the fault executed nothing")
		})
	}
}

func TestEmulatedLockout(t *testing.T) {
	b := localBackend(t, d1local.Options{RateLimit: d1local.RateLimit{Requests: 5, Window: time.Minute, Lockout: 5 * time.Minute}})
	ctx := context.Background()
	for range 5 {
		_, err := b.client.Query(ctx, "SELECT 1")
		require.NoError(t, err)
	}
	sent := b.local.Requests()
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := b.client.Query(short, "SELECT 1")
	require.Error(t, err)
	assert.True(t, errors.Is(err, d1.ErrRateLimited), "got %v", err)
	var e *d1.Error
	require.ErrorAs(t, err, &e)
	assert.GreaterOrEqual(t, e.RetryAfter, 4*time.Minute, "the lockout's Retry-After is reported")
	for range 10 {
		short, cancel := context.WithTimeout(ctx, time.Second)
		_, err := b.client.Query(short, "SELECT 1")
		cancel()
		require.True(t, errors.Is(err, d1.ErrRateLimited))
	}
	assert.Equal(t, sent+1, b.local.Requests(), "once locked out the client stops sending")
}

func TestRequestHook(t *testing.T) {
	var mu sync.Mutex
	var infos []d1.RequestInfo
	srv, err := d1local.New(d1local.Options{})
	require.NoError(t, err)
	defer srv.Close()
	id, err := srv.CreateDatabase(context.Background(), "hook")
	require.NoError(t, err)
	acct, err := d1.NewAccount("acct", "tok", d1.Options{
		BaseURL:    "http://local.invalid/client/v4",
		HTTPClient: &http.Client{Transport: srv.Transport()},
		Retry:      d1.RetryPolicy{BaseDelay: time.Millisecond},
		OnRequest: func(ri d1.RequestInfo) {
			mu.Lock()
			infos = append(infos, ri)
			mu.Unlock()
		},
	})
	require.NoError(t, err)
	c := acct.Database(id)
	srv.InjectFaults(d1local.Fault{Status: 503})
	_, err = c.Batch(context.Background(), d1.Statement{SQL: "SELECT ?", Args: []any{"arg"}}, d1.Statement{SQL: "SELECT 2"})
	require.NoError(t, err)
	require.Len(t, infos, 2)
	assert.Equal(t, 1, infos[0].Attempt)
	assert.Equal(t, 503, infos[0].Status)
	assert.Error(t, infos[0].Err)
	assert.Equal(t, 2, infos[1].Attempt)
	assert.Equal(t, 200, infos[1].Status)
	assert.NoError(t, infos[1].Err)
	assert.Equal(t, "batch", infos[1].Op)
	assert.Equal(t, "POST", infos[1].Method)
	assert.Contains(t, infos[1].Path, "/d1/database/"+id+"/raw")
	assert.Equal(t, []string{"SELECT ?", "SELECT 2"}, infos[1].SQL)
	assert.Len(t, infos[1].Meta, 2)
	assert.Positive(t, infos[1].BytesSent)
	assert.Positive(t, infos[1].BytesReceived)
}

func TestParallelClientsOneDatabase(t *testing.T) {
	b := localBackend(t, d1local.Options{Dir: t.TempDir()})
	setupNotes(t, b.client)
	other := b.client.Account().Database(b.client.DatabaseID())
	var wg sync.WaitGroup
	for g := range 8 {
		c := b.client
		if g%2 == 1 {
			c = other
		}
		wg.Go(func() {
			for i := range 25 {
				_, err := c.Batch(context.Background(),
					d1.Statement{SQL: "INSERT INTO notes (body) VALUES (?)", Args: []any{fmt.Sprint(g, "-", i)}},
					d1.Statement{SQL: "SELECT count(*) FROM notes"})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 200, count(t, b.client))
	res, err := b.client.Query(context.Background(), "SELECT count(DISTINCT body) FROM notes")
	require.NoError(t, err)
	assert.Equal(t, int64(200), res.Row(0).Value(0))
}
