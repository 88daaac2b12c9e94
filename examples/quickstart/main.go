// Command quickstart shows d1seal's main job end to end: two agents keep sealed notes in D1,
// one shares a note with the other and then revokes it, events are recorded, and at the end
// the program shows what the database actually holds: ciphertext.
//
// With no Cloudflare credentials it runs on the embedded local D1, a SQLite file under
// .d1seal/ in the current folder. With CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and
// D1_DATABASE_ID set it runs, unchanged, on that Cloudflare D1 database (it creates the
// agent-records tables there on first use).
//
//	go run ./examples/quickstart
//
// The first run makes two agents with fresh keys and keeps them, passphrase-protected, in
// .d1seal/alice.key and .d1seal/bob.key (the passphrase comes from D1SEAL_PASSPHRASE; without
// it the quickstart uses a demo passphrase and says so). Later runs load them: code copied
// from here never throws an agent's keys away. Alice's process pins bob's public keys, as a
// service pins the agents it knows from its configuration, and keeps what it trusts and the
// record versions it has seen in .d1seal/trust.json and .d1seal/state.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/records"
	"github.com/d1seal/d1seal/tid"
)

// note is the plaintext of an agent.memory.note record. It never leaves the process in clear.
type note struct {
	Text string   `json:"text"`
	Tags []string `json:"tags,omitempty"`
}

const collection = records.NSID("agent.memory.note")

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, ".d1seal"); err != nil {
		log.Fatal("quickstart: ", err)
	}
}

// run does the whole tour against the database d1seal.Open finds: Cloudflare D1 from the
// environment, or else the embedded local D1 in the folder dir.
func run(ctx context.Context, w io.Writer, dir string) error {
	db, err := d1seal.Open(ctx, d1seal.Options{LocalDir: dir})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(w, "database:", db.Where)
	if db.Local != nil {
		fmt.Fprintln(w, "  (embedded local D1; set CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and D1_DATABASE_ID to use Cloudflare D1)")
	}

	// What this client trusts (agents' keys) and has seen (record versions) lives outside
	// the database, beside the key files, so a later change in D1 is caught across restarts.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// The store applies the agent-records schema on first use (one read once it is current)
	// and, with EmitEvents, records an event for every repository operation.
	store, err := records.OpenStore(db.Client, dir, records.StoreOptions{EmitEvents: true})
	if err != nil {
		return err
	}
	started := time.Now()

	// 1. Two agents: keys from their key files, or fresh ones saved there on the first run.
	// Private keys stay here; the registry gets public keys.
	pass := []byte(os.Getenv("D1SEAL_PASSPHRASE"))
	if len(pass) == 0 {
		pass = []byte("quickstart demo passphrase")
		fmt.Fprintln(w, "  (key files protected by a demo passphrase: set D1SEAL_PASSPHRASE for keys you keep)")
	}
	stamp := tid.NewClock().Next() // makes a new agent's DID unique
	alice, err := loadOrCreateAgent(ctx, w, store, filepath.Join(dir, "alice.key"), pass, "did:example:alice-"+stamp.String(), `{"role":"planner"}`)
	if err != nil {
		return err
	}
	bob, err := loadOrCreateAgent(ctx, w, store, filepath.Join(dir, "bob.key"), pass, "did:example:bob-"+stamp.String(), `{"role":"researcher"}`)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\n1. agents registered (public keys only, each as the first entry of its signed key log):")
	for _, a := range []*crypto.Agent{alice, bob} {
		fmt.Fprintf(w, "   %s  encryption key %s\n", a.DID(), a.RecipientKey())
	}
	// Pinning: alice's service knows bob's public keys from its own configuration (here,
	// bob's key file), not from the database. Bob's key log in D1 must start from exactly
	// these keys, or every share with him fails with records.ErrUntrusted.
	bobKeys, err := records.PublicKeys(bob)
	if err != nil {
		return err
	}
	if err := store.Pin(bobKeys); err != nil {
		return err
	}
	fmt.Fprintf(w, "   pinned %s's keys from configuration (ed25519 %s)\n", bob.DID(), bobKeys.Verifying)

	// 2. Alice's sealed notes: each sealed with its own data key before it is sent.
	aliceNotes, err := records.NewCollection[note](store, alice, collection, records.CollectionOptions[note]{})
	if err != nil {
		return err
	}
	bobNotes, err := records.NewCollection[note](store, bob, collection, records.CollectionOptions[note]{})
	if err != nil {
		return err
	}
	created, err := aliceNotes.CreateMany(ctx, []note{
		{Text: "user prefers short answers", Tags: []string{"preference"}},
		{Text: "project deadline is Friday", Tags: []string{"project"}},
		{Text: "the staging database is chittyconnect-staging", Tags: []string{"infra"}},
		{Text: "Bob found the flaky test: a clock in the fixture", Tags: []string{"project"}},
		{Text: "ask before deleting anything", Tags: []string{"preference"}},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n2. %s stored %d sealed notes in %s (written in one atomic request)\n", alice.DID(), len(created), collection)

	// 3. List them back, two per page, with the cursor.
	fmt.Fprintln(w, "\n3. listing, 2 per page:")
	opts := records.ListOptions{Limit: 2}
	for n := 1; ; n++ {
		page, err := aliceNotes.List(ctx, opts)
		if err != nil {
			return err
		}
		for _, r := range page.Items {
			fmt.Fprintf(w, "   page %d  %s  %q\n", n, r.Ref.RKey, r.Value.Text)
		}
		if !page.HasMore {
			break
		}
		opts.Cursor = page.Cursor
	}

	// 4. Share one note with Bob: its data key is wrapped again for Bob's registered key.
	shared := created[3]
	if _, err := bobNotes.Open(ctx, shared.Ref); !errors.Is(err, records.ErrNotShared) {
		return fmt.Errorf("bob opened an unshared note: %v", err)
	}
	if err := aliceNotes.Share(ctx, shared.Ref.RKey, records.DID(bob.DID())); err != nil {
		return err
	}
	got, err := bobNotes.Open(ctx, shared.Ref)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n4. shared %s with bob\n   bob reads it: %q\n", shared.Ref, got.Value.Text)

	// 5. Revoke: the grant goes and the note is re-keyed, so a data key Bob kept opens nothing new.
	if err := aliceNotes.Unshare(ctx, shared.Ref.RKey, records.DID(bob.DID())); err != nil {
		return err
	}
	_, err = bobNotes.Open(ctx, shared.Ref)
	if !errors.Is(err, records.ErrNotShared) {
		return fmt.Errorf("bob still opens the note after revocation: %v", err)
	}
	fmt.Fprintf(w, "\n5. share revoked and note re-keyed\n   bob tries again: %v\n", err)

	// 6. Events: the store recorded one per operation; add one of our own, then query.
	if _, err := store.RecordEvent(ctx, alice, records.Event{
		Type: "agent.decision", Outcome: "ok", Timestamp: time.Now(),
		SessionID: "quickstart-" + stamp.String(), Reasoning: json.RawMessage(`{"why":"bob finished his task"}`),
	}); err != nil {
		return err
	}
	counts := map[string]int{}
	for ev, err := range store.AllEvents(ctx, records.EventQuery{Agent: records.DID(alice.DID()), Since: started}) {
		if err != nil {
			return err
		}
		counts[ev.Type+" "+ev.Outcome]++
	}
	fmt.Fprintln(w, "\n6. events of alice in this run (in clear so they can be queried; signed and chained by alice):")
	for _, k := range sortedKeys(counts) {
		fmt.Fprintf(w, "   %-26s x%d\n", k, counts[k])
	}

	// 7. What D1 holds for the shared note: its row, read with plain SQL.
	return showRow(ctx, w, db, shared)
}

// loadOrCreateAgent reads an agent's keys from its key file, or, when there is none yet,
// generates keys for did and saves them there first (mode 0600, argon2id-protected), so that
// they are never lost. Then it registers their public half (harmless when already done).
func loadOrCreateAgent(ctx context.Context, w io.Writer, store *records.Store, path string, pass []byte, did, metadata string) (*crypto.Agent, error) {
	a, err := crypto.ReadKeyFile(path, pass)
	switch {
	case err == nil:
		fmt.Fprintf(w, "  loaded %s from %s\n", a.DID(), path)
	case errors.Is(err, os.ErrNotExist):
		if a, err = crypto.GenerateAgent(did, crypto.GenerateOptions{}); err != nil {
			return nil, err
		}
		if err := crypto.WriteKeyFile(path, a, pass, crypto.KeyFileOptions{}); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "  generated %s and saved its keys in %s\n", a.DID(), path)
	default:
		return nil, fmt.Errorf("%s: %w (a wrong D1SEAL_PASSPHRASE?)", path, err)
	}
	if _, err := store.RegisterAgent(ctx, a, json.RawMessage(metadata)); err != nil {
		return nil, err
	}
	return a, nil
}

// showRow prints every column of the record's row as the database stores it, and checks that
// the plaintext is nowhere in it.
func showRow(ctx context.Context, w io.Writer, db *d1seal.DB, r *records.Record[note]) error {
	res, err := db.Client.Query(ctx, "SELECT * FROM records WHERE id = ?", r.Ref.ID())
	if err != nil {
		return err
	}
	if res.Len() != 1 {
		return fmt.Errorf("record row %s: got %d rows, want 1", r.Ref.ID(), res.Len())
	}
	grants, err := d1.QueryOne[int](ctx, db.Client, "SELECT count(*) FROM shared_records WHERE record_id = ?", r.Ref.ID())
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\n7. what the database holds for that note, read back with plain SQL:")
	row := res.Row(0)
	var all []byte
	for i, col := range row.Columns() {
		switch v := row.Value(i).(type) {
		case []byte:
			all = append(all, v...)
			fmt.Fprintf(w, "   %-13s %4d bytes  %s\n", col, len(v), hexPrefix(v))
		case nil:
			fmt.Fprintf(w, "   %-13s NULL\n", col)
		case string:
			all = append(all, v...)
			fmt.Fprintf(w, "   %-13s %s\n", col, v)
		default:
			fmt.Fprintf(w, "   %-13s %v\n", col, v)
		}
	}
	fmt.Fprintf(w, "   shared_records rows for it: %d (bob's grant is gone)\n", grants)
	plain, err := json.Marshal(r.Value)
	if err != nil {
		return err
	}
	found := bytes.Contains(all, plain) || bytes.Contains(all, []byte(r.Value.Text))
	fmt.Fprintf(w, "   the note's text and JSON (%d bytes) appear in the row: %v\n", len(plain), found)
	fmt.Fprintln(w, "   (ciphertext = that JSON, sealed together with the row's timestamps and write id, plus format header and tag)")
	fmt.Fprintln(w, "   where:", db.Where)
	return nil
}

func hexPrefix(b []byte) string {
	const n = 16
	if len(b) <= n {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("%x…", b[:n])
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
