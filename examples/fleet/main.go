// Command fleet grows from one D1 database to a fleet: a signed directory routes each agent
// to its database, databases are created on demand, records are shared across databases,
// every database is migrated at once, an agent is moved to another database and one query
// runs over all of them.
//
//	go run ./examples/fleet
//
// Without Cloudflare credentials it uses the embedded local D1 under .d1seal/. On real D1 it
// creates a directory database and a few tenant databases in the account, and deletes them
// all at the end.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sync/atomic"
	"testing/fstest"
	"time"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/fleet"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/records"
	"github.com/d1seal/d1seal/tid"
)

type note struct {
	Text string `json:"text"`
}

const nsid = records.NSID("agent.memory.note")

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, ".d1seal"); err != nil {
		log.Fatal("fleet: ", err)
	}
}

func run(ctx context.Context, w io.Writer, dir string) (err error) {
	var requests atomic.Int64
	db, err := d1seal.Open(ctx, d1seal.Options{LocalDir: dir, Client: d1.Options{OnRequest: func(d1.RequestInfo) { requests.Add(1) }}})
	if err != nil {
		return err
	}
	defer db.Close()
	stamp := tid.NewClock().Next().String()

	// The directory gets a database of its own; everything this run creates is deleted at the end.
	dirDB, err := db.Client.Account().CreateDatabase(ctx, "fleet-directory-"+stamp)
	if err != nil {
		return err
	}
	dirClient := db.Client.Account().Database(dirDB.ID)
	var made []string
	defer func() {
		for _, id := range append(made, dirDB.ID) {
			err = errors.Join(err, db.Client.Account().DeleteDatabase(context.WithoutCancel(ctx), id))
		}
		if err == nil {
			fmt.Fprintf(w, "\n8. cleaned up: deleted the directory and %d tenant databases\n", len(made))
		}
	}()

	// 1. The operator key signs the directory's routes; clients pin its public half.
	operator, err := crypto.GenerateAgent("did:web:operator.example", crypto.GenerateOptions{})
	if err != nil {
		return err
	}
	f, err := fleet.New(dirClient, fleet.Options{
		Name:         "example",
		Operator:     operator,
		Placement:    fleet.Placement{MaxTenants: 2},
		NamePattern:  "fleet-" + stamp + "-%03d",
		LocationHint: "weur",
		Jurisdiction: "eu",
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "1. a fleet: directory in", dirDB.Name, "(routes signed by", operator.VerifyingKey().String()+")")

	// 2. Four agents, two per database: databases are created as they are needed.
	rs := f.Records(records.StoreOptions{})
	names := []string{"alice", "bob", "carol", "dave"}
	cols := map[string]*fleet.Collection[note]{}
	for _, name := range names {
		a, err := crypto.GenerateAgent("did:example:"+name+"-"+stamp, crypto.GenerateOptions{})
		if err != nil {
			return err
		}
		if _, err := rs.RegisterAgent(ctx, a, nil); err != nil {
			return err
		}
		if cols[name], err = fleet.NewCollection[note](rs, a, nsid, records.CollectionOptions[note]{}); err != nil {
			return err
		}
	}
	dbs, err := f.Databases(ctx)
	if err != nil {
		return err
	}
	for _, d := range dbs {
		made = append(made, d.ID)
	}
	fmt.Fprintf(w, "\n2. 4 agents placed, 2 per database: %d databases created on demand\n", len(dbs))
	for _, name := range names {
		rt, err := f.Route(ctx, did(cols[name]))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   %-5s -> %s (epoch %d)\n", name, dbName(dbs, rt.Database), rt.Epoch)
	}
	fmt.Fprintf(w, "   each created with location hint %s, jurisdiction %s and the agent-records schema\n", dbs[0].LocationHint, dbs[0].Jurisdiction)

	// 3. Sharing across databases, and "shared with me" without asking every database.
	alice, dave := cols["alice"], cols["dave"]
	r, err := alice.Create(ctx, note{Text: "the quarterly report is due on the 5th"})
	if err != nil {
		return err
	}
	for _, name := range names[1:] {
		if _, err := cols[name].Create(ctx, note{Text: name + "'s own note"}); err != nil {
			return err
		}
	}
	if err := alice.Share(ctx, r.Ref.RKey, records.DID(did(dave))); err != nil {
		return err
	}
	before := requests.Load()
	page, err := dave.SharedWithMe(ctx, records.ListOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n3. alice (%s) shared a note with dave (%s)\n", dbName(dbs, route(ctx, f, alice)), dbName(dbs, route(ctx, f, dave)))
	fmt.Fprintf(w, "   dave's SharedWithMe: %d record(s) in %d requests: %q\n", len(page.Items), requests.Load()-before, page.Items[0].Value.Text)

	// 4. A directory edited behind the operator's back routes nobody.
	if _, err := dirClient.Exec(ctx, "UPDATE fleet_tenants SET database_id = ? WHERE tenant = ?", route(ctx, f, dave), did(alice)); err != nil {
		return err
	}
	reader, err := fleet.New(dirClient, fleet.Options{Name: "example", OperatorKey: operator.VerifyingKey()})
	if err != nil {
		return err
	}
	_, rerr := reader.Route(ctx, did(alice))
	fmt.Fprintf(w, "\n4. alice re-routed by editing the directory: ErrUntrusted=%v\n", errors.Is(rerr, fleet.ErrUntrusted))
	if _, err := dirClient.Exec(ctx, "UPDATE fleet_tenants SET database_id = ? WHERE tenant = ?", route(ctx, f, alice), did(alice)); err != nil {
		return err
	}

	// 5. One more migration for every database: canaries first, under the request budget.
	set, err := migrations.Load(withAgentRecords(map[string]string{
		"0100_note_tags.sql": "CREATE TABLE note_tags (record_id TEXT NOT NULL REFERENCES records(id), tag TEXT NOT NULL, PRIMARY KEY (record_id, tag));",
	}), ".")
	if err != nil {
		return err
	}
	rep, err := f.MigrateAll(ctx, set, fleet.MigrateOptions{Canaries: 1, Concurrency: 4})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\n5. migrate all (wrangler's ledger in each database):")
	if err := rep.WriteTable(&indent{w: w}); err != nil {
		return err
	}

	// 6. Move alice to a database of her own, with nothing lost; dave still reads her note.
	f2, err := fleet.New(dirClient, fleet.Options{Name: "example", Operator: operator, Placement: fleet.OnePerTenant, NamePattern: "fleet-" + stamp + "-%03d", LocationHint: "weur", Jurisdiction: "eu"})
	if err != nil {
		return err
	}
	mv, err := f2.Move(ctx, did(alice), fleet.MoveOptions{})
	if err != nil {
		return err
	}
	made = append(made, mv.To)
	page, err = dave.SharedWithMe(ctx, records.ListOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n6. moved alice to %s: %v; %d records verified; epoch %d\n", dbName(mustDatabases(ctx, f), mv.To), mv.Steps, mv.Rows["records"], mv.Epoch)
	fmt.Fprintf(w, "   dave still reads %q\n", page.Items[0].Value.Text)

	// 7. One query over every database.
	type count struct {
		N int64 `d1:"n"`
	}
	rows, err := fleet.Query[count](ctx, f, "SELECT count(*) AS n FROM records", nil, fleet.QueryOptions{})
	if err != nil {
		return err
	}
	all := mustDatabases(ctx, f)
	fmt.Fprintf(w, "\n7. records per database (%d databases, %d failed):\n", rows.Databases, len(rows.Failed))
	for _, row := range rows.Rows {
		fmt.Fprintf(w, "   %s  %d\n", dbName(all, row.Database), row.Value.N)
	}
	return rows.Err()
}

func did(c *fleet.Collection[note]) string { return c.Agent() }

func route(ctx context.Context, f *fleet.Fleet, c *fleet.Collection[note]) string {
	rt, _ := f.Route(ctx, did(c))
	return rt.Database
}

func mustDatabases(ctx context.Context, f *fleet.Fleet) []fleet.Database {
	dbs, _ := f.Databases(ctx)
	return dbs
}

func dbName(dbs []fleet.Database, id string) string {
	for _, d := range dbs {
		if d.ID == id {
			return d.Name
		}
	}
	return id
}

// withAgentRecords is the agent-records schema plus files.
func withAgentRecords(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, m := range records.Schema().Migrations() {
		fsys[m.Name] = &fstest.MapFile{Data: []byte(m.SQL)}
	}
	for name, sql := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(sql)}
	}
	return fsys
}

// indent writes every line three spaces in.
type indent struct {
	w       io.Writer
	midLine bool
}

func (i *indent) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p)+16)
	for _, b := range p {
		if !i.midLine && b != '\n' {
			out = append(out, "   "...)
		}
		out = append(out, b)
		i.midLine = b != '\n'
	}
	_, err := i.w.Write(out)
	return len(p), err
}
