package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/migrations"
)

// testSet is two migrations; the second also inserts a row, so that applying it twice would
// show as two rows.
func testSet(t testing.TB) *migrations.Set {
	set, err := migrations.Load(fstest.MapFS{
		"0001_notes.sql": {Data: []byte("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);")},
		"0002_tags.sql":  {Data: []byte("CREATE TABLE tags (name TEXT PRIMARY KEY);\nINSERT INTO notes (text) VALUES ('seeded once');")},
	}, ".")
	require.NoError(t, err)
	return set
}

// emptyFleet is a fleet of n empty databases.
func emptyFleet(t testing.TB, n int) (*testFleet, []Database) {
	t.Helper()
	ctx := context.Background()
	tf := newTestFleet(t, Options{NoSchema: true, NamePattern: "tenants-%04d"})
	for range n {
		_, err := tf.CreateDatabase(ctx)
		require.NoError(t, err)
	}
	dbs, err := tf.Databases(ctx)
	require.NoError(t, err)
	require.Len(t, dbs, n)
	return tf, dbs
}

// appliedOnce checks that database id holds both migrations once each.
func (tf *testFleet) appliedOnce(t testing.TB, id string) {
	t.Helper()
	ledger := tf.sql(t, id, `SELECT count(*) FROM "d1_migrations"`)
	seeds := tf.sql(t, id, "SELECT count(*) FROM notes WHERE text = 'seeded once'")
	require.Equal(t, int64(2), ledger.Row(0).Value(0), "ledger rows in %s", id)
	require.Equal(t, int64(1), seeds.Row(0).Value(0), "seed rows in %s", id)
}

func TestMigrateAllFailureHalfWayThenResume(t *testing.T) {
	ctx := context.Background()
	tf, dbs := emptyFleet(t, 200)
	broken := dbs[120]
	tf.sql(t, broken.ID, "CREATE TABLE tags (x)") // 0002 will fail here

	rep, err := tf.MigrateAll(ctx, testSet(t), MigrateOptions{Canaries: 3, Concurrency: 8})
	require.ErrorIs(t, err, ErrIncomplete)
	assert.Equal(t, 199, rep.Counts[Applied])
	assert.Equal(t, 1, rep.Counts[Failed])
	st := rep.Databases[120]
	assert.Equal(t, Failed, st.State)
	assert.Contains(t, st.Error, "0002_tags.sql")
	assert.Contains(t, st.Error, "table tags already exists")
	assert.Equal(t, []string{"0001_notes.sql"}, st.Applied, "0001 went in before 0002 failed")
	assert.True(t, rep.Databases[0].Canary && rep.Databases[2].Canary && !rep.Databases[3].Canary)

	// The table and JSON name the failure.
	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	assert.Contains(t, table.String(), "tenants-0121")
	assert.Contains(t, table.String(), "200 databases: 199 applied, 0 pending, 1 failed, 0 drifted")
	js, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"state":"failed"`)

	// The recorded status says the same without touching the databases.
	status, err := tf.Status(ctx, testSet(t), false, MigrateOptions{})
	require.NoError(t, err)
	assert.Equal(t, rep.Counts, status.Counts)

	// Fix the database and run again: only it is touched.
	tf.sql(t, broken.ID, "DROP TABLE tags")
	before := tf.requests.Load()
	rep, err = tf.MigrateAll(ctx, testSet(t), MigrateOptions{Canaries: 3})
	require.NoError(t, err)
	assert.Equal(t, 200, rep.Counts[Applied])
	resumed := 0
	for _, d := range rep.Databases {
		if d.Resumed {
			resumed++
		}
	}
	assert.Equal(t, 199, resumed)
	assert.Equal(t, []string{"0002_tags.sql"}, rep.Databases[120].Applied)
	assert.LessOrEqual(t, tf.requests.Load()-before, int64(6), "directory reads, one database's ledger and migration, one status write")
	for _, d := range dbs {
		tf.appliedOnce(t, d.ID)
	}

	live, err := tf.Status(ctx, testSet(t), true, MigrateOptions{Concurrency: 8})
	require.NoError(t, err)
	assert.Equal(t, 200, live.Counts[Applied])
}

func TestMigrateAllCanaryFails(t *testing.T) {
	ctx := context.Background()
	tf, dbs := emptyFleet(t, 200)
	tf.sql(t, dbs[1].ID, "CREATE TABLE tags (x)")
	rep, err := tf.MigrateAll(ctx, testSet(t), MigrateOptions{Canaries: 2, Concurrency: 4})
	require.ErrorIs(t, err, ErrCanaryFailed)
	assert.Contains(t, err.Error(), "tenants-0002")
	assert.Equal(t, Failed, rep.Databases[1].State)
	for _, d := range dbs[2:] {
		n := tf.sql(t, d.ID, "SELECT count(*) FROM sqlite_schema WHERE name = 'd1_migrations'")
		assert.Equal(t, int64(0), n.Row(0).Value(0), "%s was touched after a canary failed", d.Name)
	}
	assert.Equal(t, 198, rep.Counts[Pending])
}

func TestMigrateAllInterruptedThenResumed(t *testing.T) {
	tf, dbs := emptyFleet(t, 200)
	ctx, cancel := context.WithCancel(context.Background())
	var done atomic.Int64
	rep, err := tf.MigrateAll(ctx, testSet(t), MigrateOptions{Concurrency: 6, FlushEvery: 1000, Progress: func(DatabaseStatus) {
		if done.Add(1) == 80 {
			cancel() // Ctrl-C
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	assert.GreaterOrEqual(t, rep.Counts[Applied], 80)
	assert.Greater(t, rep.Counts[Pending], 0)

	// Ctrl-C still writes the statuses of the databases done.
	recorded := tf.sql(t, tf.Directory().DatabaseID(), "SELECT count(*) FROM fleet_migrations WHERE state = 'applied'")
	assert.Equal(t, int64(rep.Counts[Applied]), recorded.Row(0).Value(0))

	// A crash loses statuses not yet written: forget some of those written, as if.
	tf.sql(t, tf.Directory().DatabaseID(), "DELETE FROM fleet_migrations WHERE rowid % 3 = 0")

	var reapplied atomic.Int64
	rep, err = tf.MigrateAll(context.Background(), testSet(t), MigrateOptions{Concurrency: 6, Progress: func(s DatabaseStatus) {
		if !s.Resumed && len(s.Applied) == 0 {
			reapplied.Add(1) // checked again, found applied, nothing sent
		}
	}})
	require.NoError(t, err)
	assert.Equal(t, 200, rep.Counts[Applied])
	assert.Greater(t, reapplied.Load(), int64(0), "forgotten statuses were checked again")
	for _, d := range dbs {
		tf.appliedOnce(t, d.ID)
	}
}

func TestMigrateAllDrifted(t *testing.T) {
	ctx := context.Background()
	tf, _ := emptyFleet(t, 3)
	_, err := tf.MigrateAll(ctx, testSet(t), MigrateOptions{})
	require.NoError(t, err)
	// 0001 edited after it was applied everywhere.
	changed, err := migrations.Load(fstest.MapFS{
		"0001_notes.sql": {Data: []byte("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, extra TEXT);")},
		"0002_tags.sql":  {Data: []byte(testSet(t).Migrations()[1].SQL)},
	}, ".")
	require.NoError(t, err)
	rep, err := tf.MigrateAll(ctx, changed, MigrateOptions{})
	require.ErrorIs(t, err, ErrCanaryFailed, "the canary drifted: nothing else is touched")
	assert.Equal(t, Drifted, rep.Databases[0].State)
	assert.Contains(t, rep.Databases[0].Error, "0001_notes.sql")
	rep, err = tf.MigrateAll(ctx, changed, MigrateOptions{Canaries: -1})
	require.ErrorIs(t, err, ErrIncomplete)
	assert.Equal(t, 3, rep.Counts[Drifted])
	live, err := tf.Status(ctx, changed, true, MigrateOptions{})
	require.NoError(t, err)
	assert.Equal(t, 3, live.Counts[Drifted])
}
