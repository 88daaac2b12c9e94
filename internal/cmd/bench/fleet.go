package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/fleet"
	"github.com/d1seal/d1seal/records"
)

// fleetMigrate is scenario 8: migrating every database of a fleet under the REST budget, in
// virtual time (fleet.SimulateMigration) for 10,000 databases, and a real run of MigrateAll on
// the local D1 beside the simulation of the same run, to show the model counts what the code
// sends.
func fleetMigrate(ctx context.Context, cfg config, srv *server, w io.Writer) error {
	fmt.Fprintf(w, "## 8. Fleet: migrating every database under the REST budget\n\n")
	fmt.Fprintf(w, "`fleet.SimulateMigration` runs `MigrateAll`'s schedule in virtual time: canaries first, then the other databases a few at a time, each request taking %s and first taking a token from the client's default budget (1,200 requests per 5 minutes, burst 50). Each database costs a ledger read plus one request per migration; statuses are written 25 at a time.\n\n", cfg.latency)
	fmt.Fprintf(w, "| databases | migrations | concurrency | requests | duration | most requests in any 5 minutes | budget exceeded |\n|---:|---:|---:|---:|---:|---:|:---:|\n")
	for _, c := range []struct{ dbs, migs, conc int }{{10_000, 4, 4}, {10_000, 4, 1}, {10_000, 4, 16}, {10_000, 1, 4}, {1_000, 4, 4}} {
		sim, err := fleet.SimulateMigration(fleet.SimulationOptions{Databases: c.dbs, Migrations: c.migs, Concurrency: c.conc, Latency: cfg.latency})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %d | %d | %d | %d | %s | %d | **%t** |\n", sim.Databases, c.migs, c.conc, sim.Requests, sim.Duration.Round(time.Second), sim.MaxInWindow, sim.Exceeded)
	}

	// The same code for real, on the bench's local D1 (no client budget: the local D1 has none).
	n := min(40, max(4, cfg.n/10))
	m := &meter{}
	dir, err := srv.newDatabase(ctx, "fleet-directory", m)
	if err != nil {
		return err
	}
	op, err := crypto.GenerateAgent("did:web:operator.bench", crypto.GenerateOptions{})
	if err != nil {
		return err
	}
	f, err := fleet.New(dir, fleet.Options{Name: "bench", Operator: op, NoSchema: true, NamePattern: "bench-fleet-%04d"})
	if err != nil {
		return err
	}
	for range n {
		if _, err := f.CreateDatabase(ctx); err != nil {
			return err
		}
	}
	set := records.Schema()
	before := m.requests.Load()
	r, err := measure(m, func() error {
		_, err := f.MigrateAll(ctx, set, fleet.MigrateOptions{Concurrency: 4})
		return err
	})
	if err != nil {
		return err
	}
	sim, err := fleet.SimulateMigration(fleet.SimulationOptions{Databases: n, Migrations: set.Len(), Concurrency: 4, Latency: cfg.latency, FirstMigration: true, RateLimit: d1.RateLimit{Requests: 1 << 30, Window: time.Second}})
	if err != nil {
		return err
	}
	// The directory's schema check was made when the databases were created: one request
	// fewer than a fresh process.
	fmt.Fprintf(w, "\nMeasured: `MigrateAll` of the agent-records schema (%d migrations) over %d new databases on the local D1, 4 at a time: **%d requests** in %s; simulated with no budget: **%d requests** in %s.\n\n",
		set.Len(), n, m.requests.Load()-before, r.wall.Round(time.Millisecond), sim.Requests-1, sim.Duration.Round(time.Millisecond))
	return nil
}
