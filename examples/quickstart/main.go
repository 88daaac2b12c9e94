// Command quickstart shows d1seal working end to end. With no Cloudflare credentials it runs
// on the embedded local D1 (a SQLite file under .d1seal/); with CLOUDFLARE_ACCOUNT_ID,
// CLOUDFLARE_API_TOKEN and D1_DATABASE_ID set it runs, unchanged, on real D1.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/tid"
)

func main() {
	log.SetFlags(0)
	if err := run(context.Background()); err != nil {
		log.Fatal("quickstart: ", err)
	}
}

func run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	db, err := d1seal.Open(ctx, d1seal.Options{LocalDir: ".d1seal"})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Println("database:", db.Where)
	c := db.Client

	// One request, atomic: the table and its index exist together or not at all.
	if _, err := c.ExecScript(ctx, `
		CREATE TABLE IF NOT EXISTS quickstart_notes (
			rkey TEXT PRIMARY KEY,   -- an AT Protocol TID
			did TEXT NOT NULL,
			body BLOB NOT NULL,
			created_at TEXT NOT NULL
		);
		CREATE INDEX IF NOT EXISTS quickstart_notes_did ON quickstart_notes(did);`); err != nil {
		return err
	}

	// Three notes in one request.
	clock := tid.NewClock()
	var stmts []d1.Statement
	for _, text := range []string{"remember the milk", "call Ada", "ship d1seal"} {
		stmts = append(stmts, d1.Statement{
			SQL:  "INSERT INTO quickstart_notes (rkey, did, body, created_at) VALUES (?, ?, ?, ?)",
			Args: []any{clock.Next().String(), "did:example:alice", []byte(text), time.Now()},
		})
	}
	if _, err := c.Batch(ctx, stmts...); err != nil {
		return err
	}

	type note struct {
		RKey      string
		Body      []byte
		CreatedAt time.Time
	}
	notes, err := d1.QueryAll[note](ctx, c,
		"SELECT rkey, body, created_at FROM quickstart_notes WHERE did = ? ORDER BY rkey DESC LIMIT 3", "did:example:alice")
	if err != nil {
		return err
	}
	fmt.Println("latest notes of did:example:alice:")
	for _, n := range notes {
		t, _ := tid.Parse(n.RKey)
		fmt.Printf("  %s (%s): %s\n", n.RKey, t.Time().Format(time.RFC3339), n.Body)
	}

	total, err := d1.QueryOne[int](ctx, c, "SELECT count(*) FROM quickstart_notes")
	if err != nil {
		return err
	}
	fmt.Println("notes stored so far:", total)
	if db.Local != nil {
		fmt.Fprintln(os.Stderr, "(embedded local D1; set CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and D1_DATABASE_ID to use Cloudflare D1)")
	}
	return nil
}
