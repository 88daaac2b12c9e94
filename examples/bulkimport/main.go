// Command bulkimport loads data in bulk two ways, with progress:
//
//   - sealed records: Collection.CreateMany seals thousands of notes in parallel and writes
//     them in as few atomic requests as D1's limits allow;
//
//   - a SQL file: d1.Client.Import runs a file through D1's upload-and-ingest import, here a
//     crawl log carried over from another system into a table of the application's own.
//
//     go run ./examples/bulkimport
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/records"
	"github.com/d1seal/d1seal/tid"
)

type note struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, ".d1seal", 3000, 2000); err != nil {
		log.Fatal("bulkimport: ", err)
	}
}

// run writes `notes` sealed records, then imports a SQL file of `logged` crawl log rows.
func run(ctx context.Context, w io.Writer, dir string, notes, logged int) error {
	var requests atomic.Int64
	db, err := d1seal.Open(ctx, d1seal.Options{
		LocalDir: dir,
		Client:   d1.Options{OnRequest: func(d1.RequestInfo) { requests.Add(1) }},
	})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(w, "database:", db.Where)
	store, err := records.OpenStore(db.Client, dir, records.StoreOptions{}) // the keys it believes, the versions it has seen, kept in dir
	if err != nil {
		return err
	}
	if err := store.Init(ctx); err != nil { // the schema, before counting requests
		return err
	}

	agent, err := crypto.GenerateAgent("did:example:importer-"+tid.NewClock().Next().String(), crypto.GenerateOptions{})
	if err != nil {
		return err
	}
	if _, err := store.RegisterAgent(ctx, agent, json.RawMessage(`{"job":"bulk import"}`)); err != nil {
		return err
	}
	did := records.DID(agent.DID())

	// 1. Sealed records. CreateMany takes any number of values; calling it per chunk of 500
	// gives a progress line per chunk (and bounds what is lost to a failure in the middle).
	coll, err := records.NewCollection[note](store, agent, "agent.memory.note", records.CollectionOptions[note]{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n1. sealing and writing %d notes with CreateMany\n", notes)
	const chunk = 500
	start, before := time.Now(), requests.Load()
	for done := 0; done < notes; {
		n := min(chunk, notes-done)
		values := make([]note, n)
		for i := range values {
			values[i] = note{N: done + i + 1, Text: fmt.Sprintf("observation %d of the crawl", done+i+1)}
		}
		if _, err := coll.CreateMany(ctx, values); err != nil {
			return fmt.Errorf("after %d notes: %w", done, err)
		}
		done += n
		fmt.Fprintf(w, "   %5d / %d  %3d%%  %d D1 requests so far\n", done, notes, 100*done/notes, requests.Load()-before)
	}
	fmt.Fprintf(w, "   %d notes in %d requests, %s\n", notes, requests.Load()-before, time.Since(start).Round(time.Millisecond))
	stored, err := d1.QueryOne[int](ctx, db.Client, "SELECT count(*) FROM records WHERE did = ?", did)
	if err != nil {
		return err
	}
	first, err := coll.List(ctx, records.ListOptions{Limit: 1})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   rows in D1: %d; first note opens to %q\n", stored, first.Items[0].Value.Text)

	// 2. A SQL file through D1's import: a crawl log exported from another system, into a table
	// of the application's own (the events table holds only events signed by their agents).
	path := filepath.Join(dir, "events-import.sql")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	size, err := writeEventsSQL(path, did, logged)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n2. importing %s (%d bytes, a CREATE TABLE and %d INSERT statements)\n", path, size, logged)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	lastPhase := ""
	info, err := db.Client.Import(ctx, f, d1.ImportOptions{
		PollInterval: 200 * time.Millisecond,
		Progress: func(p d1.Progress) {
			if p.Phase == lastPhase {
				return
			}
			lastPhase = p.Phase
			switch {
			case p.Phase == "uploading" && p.Total > 0:
				fmt.Fprintf(w, "   %-10s %d / %d bytes\n", p.Phase, p.Bytes, p.Total)
			default:
				fmt.Fprintf(w, "   %s\n", p.Phase)
			}
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   D1 ran %d statements; undo point (Time Travel bookmark) %s\n", info.NumQueries, info.Bookmark)

	// The imported rows are plain rows: any SQL reads them.
	type count struct{ Total, Errors int }
	n, err := d1.QueryOne[count](ctx, db.Client, "SELECT count(*) AS total, count(*) FILTER (WHERE outcome = 'error') AS errors FROM crawl_log WHERE agent_did = ?", string(did))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   crawl_log rows of the importer now in D1: %d (%d with outcome error)\n", n.Total, n.Errors)
	return nil
}

// writeEventsSQL writes a crawl_log table and n INSERT statements into it for agent, as
// another system's export would hold them, and returns the file's size. Values are made here, so
// quoting them is safe; never build SQL from untrusted text this way.
func writeEventsSQL(path string, agent records.DID, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	ids := records.NewEventIDSource()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	fmt.Fprintln(bw, "CREATE TABLE IF NOT EXISTS crawl_log (id TEXT PRIMARY KEY, agent_did TEXT NOT NULL, event_type TEXT NOT NULL, outcome TEXT NOT NULL, timestamp TEXT NOT NULL, duration_ms INTEGER, session_id TEXT, context TEXT);")
	for i := range n {
		outcome := "ok"
		if i%50 == 49 {
			outcome = "error"
		}
		fmt.Fprintf(bw, "INSERT INTO crawl_log (id, agent_did, event_type, outcome, timestamp, duration_ms, session_id, context) VALUES (%s, %s, %s, %s, %s, %d, %s, %s);\n",
			q(ids.Next().String()), q(string(agent)), q("crawler.fetch"), q(outcome),
			q(t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano)), 100+i%900,
			q(fmt.Sprintf("legacy-%d", i/100)), q(fmt.Sprintf(`{"page":%d}`, i)))
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), f.Close()
}
