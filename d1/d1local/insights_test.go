package d1local_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
)

func insightsClient(t *testing.T, srv *d1local.Server, id string) *d1.Client {
	t.Helper()
	acct, err := d1.NewAccount("acct", "token", d1.Options{
		BaseURL: "http://d1local.invalid/client/v4", HTTPClient: &http.Client{Transport: srv.Transport()}, RateLimit: d1.RateLimit{Disabled: true},
	})
	require.NoError(t, err)
	c := acct.Database(id)
	return c
}

// TestInsights: the local D1 keeps per-query figures and answers d1.Account.Insights (the
// GraphQL query `wrangler d1 insights` sends) with them: counts, rows read and written, sorting,
// limits, one database or all.
func TestInsights(t *testing.T) {
	ctx := context.Background()
	srv, err := d1local.New(d1local.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	a, err := srv.CreateDatabase(ctx, "a")
	require.NoError(t, err)
	b, err := srv.CreateDatabase(ctx, "b")
	require.NoError(t, err)
	ca, cb := insightsClient(t, srv, a), insightsClient(t, srv, b)

	_, err = ca.Exec(ctx, "CREATE TABLE t (x INTEGER)")
	require.NoError(t, err)
	for i := range 3 {
		_, err = ca.Exec(ctx, "INSERT INTO t VALUES (?)", i)
		require.NoError(t, err)
	}
	for range 5 {
		_, err = ca.Query(ctx, "SELECT x FROM t")
		require.NoError(t, err)
	}
	_, err = cb.Query(ctx, "SELECT 1")
	require.NoError(t, err)

	got, err := ca.Account().Insights(ctx, d1.InsightsOptions{DatabaseID: ca.DatabaseID(), SortBy: "count", Limit: 2})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "SELECT x FROM t", got[0].Query)
	assert.Equal(t, int64(5), got[0].NumberOfTimesRun)
	assert.Equal(t, int64(15), got[0].TotalRowsRead, "3 rows read, 5 times")
	assert.InDelta(t, 1.0, got[0].QueryEfficiency, 0.001, "every row read was returned")
	assert.Equal(t, "INSERT INTO t VALUES (?)", got[1].Query)
	assert.Equal(t, int64(3), got[1].TotalRowsWritten)
	assert.Empty(t, got[0].DatabaseID, "one database: no database id")

	got, err = ca.Account().Insights(ctx, d1.InsightsOptions{DatabaseID: ca.DatabaseID(), SortBy: "writes", Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, "INSERT INTO t VALUES (?)", got[0].Query)
	for _, q := range got {
		assert.NotEqual(t, "SELECT 1", q.Query, "database b's query is not database a's")
	}

	all, err := ca.Account().Insights(ctx, d1.InsightsOptions{SortBy: "count", Ascending: true, Limit: 100})
	require.NoError(t, err)
	require.Len(t, all, 4)
	assert.Equal(t, []int64{1, 1, 3, 5}, []int64{all[0].NumberOfTimesRun, all[1].NumberOfTimesRun, all[2].NumberOfTimesRun, all[3].NumberOfTimesRun}, "ascending")
	for _, q := range all {
		want := a
		if q.Query == "SELECT 1" {
			want = b
		}
		assert.Equal(t, want, q.DatabaseID, q.Query)
	}

	before := srv.Requests()
	_, err = ca.Account().Insights(ctx, d1.InsightsOptions{DatabaseID: ca.DatabaseID(), SortBy: "size"})
	var ae *d1.ArgError
	assert.ErrorAs(t, err, &ae)
	assert.Equal(t, before, srv.Requests(), "refused before sending")
}

// TestReadReplicationSetting: the mode is reported with the database and set with PATCH.
func TestReadReplicationSetting(t *testing.T) {
	ctx := context.Background()
	srv, err := d1local.New(d1local.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(ctx, "r")
	require.NoError(t, err)
	c := insightsClient(t, srv, id)
	db, err := c.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, d1.ReplicationDisabled, db.ReadReplication)
	db, err = c.Account().SetReadReplication(ctx, c.DatabaseID(), d1.ReplicationAuto)
	require.NoError(t, err)
	assert.Equal(t, d1.ReplicationAuto, db.ReadReplication)
	db, err = c.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, d1.ReplicationAuto, db.ReadReplication)
	_, err = c.Account().SetReadReplication(ctx, c.DatabaseID(), "sometimes")
	var ae *d1.ArgError
	assert.ErrorAs(t, err, &ae)
}
