package fleet

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
)

func TestQueryFanOutWithFailures(t *testing.T) {
	ctx := context.Background()
	tf, dbs := emptyFleet(t, 200)
	_, err := tf.MigrateAll(ctx, testSet(t), MigrateOptions{Concurrency: 8})
	require.NoError(t, err)
	for _, i := range []int{7, 99, 150} {
		tf.sql(t, dbs[i].ID, "DROP TABLE notes")
	}
	type count struct {
		N int64 `d1:"n"`
	}
	rows, err := Query[count](ctx, tf.Fleet, "SELECT count(*) AS n FROM notes WHERE text = ?", []any{"seeded once"}, QueryOptions{Concurrency: 5})
	require.NoError(t, err)
	assert.Equal(t, 200, rows.Databases)
	assert.Len(t, rows.Rows, 197)
	require.Len(t, rows.Failed, 3)
	assert.Equal(t, dbs[7].ID, rows.Failed[0].Database)
	assert.Equal(t, "tenants-0100", rows.Failed[1].Name)
	assert.True(t, d1.IsNoSuchTable(rows.Failed[2]), "got %v", rows.Failed[2])
	assert.ErrorContains(t, rows.Err(), "no such table: notes")
	for i, r := range rows.Rows {
		assert.Equal(t, int64(1), r.Value.N, "row %d", i)
	}
	assert.Equal(t, dbs[0].ID, rows.Rows[0].Database, "merged in database order")
	js, err := json.Marshal(rows)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"error":"d1: `)

	// At most Concurrency databases at once.
	var in, most atomic.Int64
	failed, err := tf.FanOut(ctx, QueryOptions{Concurrency: 6}, func(ctx context.Context, db Database, c *d1.Client) error {
		n := in.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		_, err := c.Query(ctx, "SELECT 1")
		in.Add(-1)
		return err
	})
	require.NoError(t, err)
	assert.Empty(t, failed)
	assert.LessOrEqual(t, most.Load(), int64(6))

	// A subset, and a cancelled context reports every database it did not reach.
	sub, err := Query[count](ctx, tf.Fleet, "SELECT count(*) AS n FROM notes", nil, QueryOptions{Databases: []string{dbs[3].ID, dbs[4].ID}})
	require.NoError(t, err)
	assert.Len(t, sub.Rows, 2)
	cctx, cancel := context.WithCancel(ctx)
	ids := []string{dbs[3].ID, dbs[4].ID, dbs[5].ID}
	gone, err := tf.FanOut(cctx, QueryOptions{Concurrency: 1, Databases: ids}, func(ctx context.Context, db Database, c *d1.Client) error {
		cancel() // Ctrl-C during the first database
		return nil
	})
	require.NoError(t, err)
	require.Len(t, gone, 2, "the databases never reached are reported")
	assert.ErrorIs(t, gone[0], context.Canceled)
	assert.Equal(t, dbs[4].ID, gone[0].Database)
}
