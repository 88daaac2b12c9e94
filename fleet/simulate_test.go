package fleet

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/internal/ratelimit"
	"github.com/d1seal/d1seal/migrations"
)

func TestSimulationMatchesMigrateAll(t *testing.T) {
	// The simulation's request count is the real one: the same run on the local D1.
	for _, n := range []int{1, 25, 60} {
		tf, _ := emptyFleet(t, n)
		f, err := New(tf.Directory(), Options{Operator: tf.operator})
		require.NoError(t, err)
		before := tf.requests.Load()
		_, err = f.MigrateAll(context.Background(), testSet(t), MigrateOptions{Concurrency: 3, Canaries: 2})
		require.NoError(t, err)
		real := tf.requests.Load() - before
		sim, err := SimulateMigration(SimulationOptions{Databases: n, Migrations: testSet(t).Len(), Concurrency: 3, Canaries: 2, FirstMigration: true})
		require.NoError(t, err)
		assert.Equal(t, int(real), sim.Requests, "%d databases, first migration", n)

		// The next migration, on databases that have a ledger.
		set := testSet(t)
		next, err := migrations.Load(fstest.MapFS{
			"0001_notes.sql": {Data: []byte(set.Migrations()[0].SQL)},
			"0002_tags.sql":  {Data: []byte(set.Migrations()[1].SQL)},
			"0003_more.sql":  {Data: []byte("CREATE TABLE more (x);")},
		}, ".")
		require.NoError(t, err)
		before = tf.requests.Load()
		_, err = f.MigrateAll(context.Background(), next, MigrateOptions{Concurrency: 3, Canaries: 2})
		require.NoError(t, err)
		real = tf.requests.Load() - before
		sim, err = SimulateMigration(SimulationOptions{Databases: n, Migrations: 1, Concurrency: 3, Canaries: 2})
		require.NoError(t, err)
		assert.Equal(t, int(real), sim.Requests-1, "%d databases, next migration (the directory's schema check is cached by then)", n)
	}
}

func TestSimulate10000UnderBudget(t *testing.T) {
	sim, err := SimulateMigration(SimulationOptions{Databases: 10_000, Migrations: 4})
	require.NoError(t, err)
	assert.False(t, sim.Exceeded)
	assert.LessOrEqual(t, sim.MaxInWindow, ratelimit.Requests)
	assert.Equal(t, 3+10_000*5+400, sim.Requests)
	// The budget, not the latency, sets the pace: about (Requests-Burst)/Window per second.
	perSec := float64(ratelimit.Requests-ratelimit.DefaultBurst) / ratelimit.Window.Seconds()
	want := time.Duration(float64(sim.Requests-ratelimit.DefaultBurst) / perSec * float64(time.Second))
	assert.InDelta(t, want.Seconds(), sim.Duration.Seconds(), 60)
	t.Logf("10,000 databases: %d requests in %s, at most %d in any five minutes", sim.Requests, sim.Duration, sim.MaxInWindow)

	// A budget that would lock the token out is reported as such.
	over, err := SimulateMigration(SimulationOptions{Databases: 2000, Migrations: 1, Concurrency: 16, RateLimit: d1.RateLimit{Requests: 5000, Window: 5 * time.Minute}})
	require.NoError(t, err)
	assert.True(t, over.Exceeded)
}
