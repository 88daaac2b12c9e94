// Package readmecode holds the Go code the README shows, so that it compiles with the rest
// of the module: TestREADME checks that every Go block of README.md is, line for line, the
// body of one of the regions marked here (between "// README:begin" and "// README:end",
// one tab of indentation removed). Change the code here and in the README together.
package readmecode

//lint:file-ignore U1000 the functions exist to compile the README's code, never to be called
//lint:file-ignore SA4006 the README's code shows one err per call, as readers write it, not every check

import (
	"context"
	"database/sql"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1sql"
	"github.com/d1seal/d1seal/fleet"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/records"
)

// Note is the value type of the examples.
type Note struct {
	Text string `json:"text"`
}

// ownCode is "In your own code" under "What the quickstart shows".
func ownCode(ctx context.Context, bobKeys records.AgentKeys) error {
	// README:begin
	db, err := d1seal.Open(ctx, d1seal.Options{LocalDir: ".d1seal"}) // Cloudflare D1 from the environment, else local
	if err != nil {
		return err
	}
	defer db.Close()
	// The agents' keys this service believes and the versions it has seen, kept in .d1seal
	// (trust.json, state) so that a change in D1 is caught across restarts too.
	store, err := records.OpenStore(db.Client, ".d1seal", records.StoreOptions{}) // applies the schema on first use

	alice, err := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	_, err = store.RegisterAgent(ctx, alice, nil) // publishes alice's keys as her signed key log
	err = store.Pin(bobKeys)                      // bob's public keys, from your configuration

	notes, err := records.NewCollection[Note](store, alice, "agent.memory.note", records.CollectionOptions[Note]{})
	rec, err := notes.Create(ctx, Note{Text: "user prefers short answers"})
	err = notes.Share(ctx, rec.Ref.RKey, "did:plc:bob")
	// README:end
	return err
}

// databaseSQL is the database/sql section.
func databaseSQL(client *d1.Client) error {
	// README:begin
	db, err := sql.Open("d1seal", "env:")                          // CLOUDFLARE_ACCOUNT_ID, _API_TOKEN, D1_DATABASE_ID
	local, err := sql.Open("d1seal", "local:.d1seal?parse_time=1") // the embedded local D1

	yours := sql.OpenDB(d1sql.NewConnector(client, d1sql.Options{ParseTime: true})) // a *d1.Client you have
	// README:end
	_, _, _ = db, local, yours
	return err
}

// fleetCode is "Growing to a fleet".
func fleetCode(ctx context.Context, db *d1seal.DB, passphrase []byte, trust records.TrustStore, alice *crypto.Agent, set *migrations.Set) error {
	// README:begin
	operator, _ := crypto.ReadKeyFile("operator.key", passphrase) // only processes that place or move tenants hold it
	f, err := fleet.New(db.Client, fleet.Options{Name: "prod", Operator: operator,
		Placement: fleet.OnePerTenant, NamePattern: "agents-%05d", LocationHint: "weur", Jurisdiction: "eu"})
	rs := f.Records(records.StoreOptions{Trust: trust})
	_, err = rs.RegisterAgent(ctx, alice, nil) // places alice, creating her database
	notes, err := fleet.NewCollection[Note](rs, alice, "agent.memory.note", records.CollectionOptions[Note]{})
	rec, err := notes.Create(ctx, Note{Text: "user prefers short answers"})
	err = notes.Share(ctx, rec.Ref.RKey, "did:plc:bob") // bob may live in another database
	report, err := f.MigrateAll(ctx, set, fleet.MigrateOptions{Canaries: 3, Concurrency: 4})
	_, err = f.Move(ctx, "did:plc:alice", fleet.MoveOptions{})
	// README:end
	_ = report
	return err
}
