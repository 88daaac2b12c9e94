// Command rotation replaces an agent's keys: the agent's keys live in a passphrase-protected
// key file, NewKeys makes the next ones, RotateKeys appends an entry signed by the old signing
// key to the agent's key log and re-wraps every grant in batches (with progress), and the old
// keys are refused afterwards. Readers follow the signed log; the database cannot substitute
// keys of its own.
//
//	D1SEAL_PASSPHRASE='a long passphrase' go run ./examples/rotation
//
// The passphrase comes from D1SEAL_PASSPHRASE (never a flag: flags show up in process
// lists); without it the example uses a demonstration passphrase and says so. Key files are
// written under .d1seal/, next to the embedded local D1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/records"
	"github.com/d1seal/d1seal/tid"
)

type note struct {
	Text string `json:"text"`
}

const nsid = records.NSID("agent.memory.note")

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pass := os.Getenv("D1SEAL_PASSPHRASE")
	if pass == "" {
		pass = "correct horse battery staple"
		fmt.Println("(D1SEAL_PASSPHRASE is not set: using a demonstration passphrase)")
	}
	if err := run(ctx, os.Stdout, ".d1seal", []byte(pass), crypto.KeyFileOptions{}); err != nil {
		log.Fatal("rotation: ", err)
	}
}

// run rotates a fresh agent's key. kf sets the key files' argon2id cost (the zero value is the
// recommended default; tests lower it).
func run(ctx context.Context, w io.Writer, dir string, passphrase []byte, kf crypto.KeyFileOptions) error {
	db, err := d1seal.Open(ctx, d1seal.Options{LocalDir: dir})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(w, "database:", db.Where)
	store, err := records.OpenStore(db.Client, dir, records.StoreOptions{}) // the keys it believes, the versions it has seen, kept in dir
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	stamp := tid.NewClock().Next().String()

	// 1. Alice's keys, saved in a key file, and a colleague who shares with her.
	alice, err := crypto.GenerateAgent("did:example:alice-"+stamp, crypto.GenerateOptions{})
	if err != nil {
		return err
	}
	keyFile := filepath.Join(dir, "alice-"+stamp+".key")
	if err := crypto.WriteKeyFile(keyFile, alice, passphrase, kf); err != nil {
		return err
	}
	bob, err := crypto.GenerateAgent("did:example:bob-"+stamp, crypto.GenerateOptions{})
	if err != nil {
		return err
	}
	for _, a := range []*crypto.Agent{alice, bob} {
		if _, err := store.RegisterAgent(ctx, a, json.RawMessage(`{}`)); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\n1. %s: key file %s (mode 0600, argon2id + AES-256-GCM)\n", alice.DID(), keyFile)
	fmt.Fprintf(w, "   encryption key %s\n", alice.RecipientKey())

	// 2. Records whose grants are wrapped for that key: her own, and one bob shared.
	notes, err := records.NewCollection[note](store, alice, nsid, records.CollectionOptions[note]{})
	if err != nil {
		return err
	}
	values := make([]note, 240)
	for i := range values {
		values[i] = note{Text: fmt.Sprintf("memory %d", i+1)}
	}
	mine, err := notes.CreateMany(ctx, values)
	if err != nil {
		return err
	}
	bobNotes, err := records.NewCollection[note](store, bob, nsid, records.CollectionOptions[note]{})
	if err != nil {
		return err
	}
	fromBob, err := bobNotes.Create(ctx, note{Text: "bob's handover notes"})
	if err != nil {
		return err
	}
	if err := bobNotes.Share(ctx, fromBob.Ref.RKey, records.DID(alice.DID())); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n2. alice has %d notes; bob shared 1 with her\n", len(mine))

	// 3. Load the key file as a new process would. A wrong passphrase opens nothing.
	if _, err := crypto.ReadKeyFile(keyFile, []byte("wrong passphrase")); !errors.Is(err, crypto.ErrDecrypt) {
		return fmt.Errorf("wrong passphrase: got %v, want crypto.ErrDecrypt", err)
	}
	old, err := crypto.ReadKeyFile(keyFile, passphrase)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\n3. key file read back; a wrong passphrase gives:", crypto.ErrDecrypt)

	// 4. The next keys, saved before anything changes in D1, so a crash never loses them.
	next, err := old.NewKeys()
	if err != nil {
		return err
	}
	nextFile := keyFile + ".next"
	if err := crypto.WriteKeyFile(nextFile, next, passphrase, kf); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n4. new encryption key %s and signing key %s saved to %s\n", next.RecipientKey(), next.VerifyingKey(), nextFile)

	// 5. Rotate: sign the new keys into the key log, re-wrap every grant in batches, retire
	// the old keys (what they signed before still verifies).
	fmt.Fprintln(w, "\n5. RotateKeys, 100 grants per request:")
	done, err := store.RotateKeys(ctx, old, next, records.RotateOptions{
		BatchSize: 100,
		Progress:  func(n int) { fmt.Fprintf(w, "   re-wrapped %d grants\n", n) },
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   done: %d own records, %d shared with her; content untouched\n", done.Records, done.Shared)
	if err := os.Rename(nextFile, keyFile); err != nil {
		return err
	}
	fmt.Fprintln(w, "   key file replaced by the new one")

	// 6. The old key is refused; the new one reads everything.
	oldNotes, err := records.NewCollection[note](store, old, nsid, records.CollectionOptions[note]{})
	if err != nil {
		return err
	}
	_, err = oldNotes.Create(ctx, note{Text: "written with the old key"})
	fmt.Fprintf(w, "\n6. old key, write: refused: %v\n", sentinel(err))
	_, err = oldNotes.Get(ctx, mine[0].Ref.RKey)
	fmt.Fprintf(w, "   old key, read:  refused: %v\n", sentinel(err))

	current, err := crypto.ReadKeyFile(keyFile, passphrase)
	if err != nil {
		return err
	}
	newNotes, err := records.NewCollection[note](store, current, nsid, records.CollectionOptions[note]{})
	if err != nil {
		return err
	}
	read := 0
	for r, err := range newNotes.All(ctx) {
		if err != nil {
			return err
		}
		if r.Value.Text != fmt.Sprintf("memory %d", read+1) {
			return fmt.Errorf("note %d reads %q", read+1, r.Value.Text)
		}
		read++
	}
	shared, err := newNotes.Open(ctx, fromBob.Ref)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   new key: read all %d notes, and bob's %q\n", read, shared.Value.Text)

	// 7. Rotation is resumable: running it again finds nothing left to do.
	again, err := store.RotateKeys(ctx, old, next, records.RotateOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n7. RotateKeys again: %d + %d grants left to re-wrap\n", again.Records, again.Shared)
	a, err := store.Agent(ctx, records.DID(alice.DID()))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   alice's key log: %d rotation(s); current signing key %s\n", a.Rotations, a.Verifying)
	fmt.Fprintln(w, "\nA routine rotation retires the old keys: what they signed still verifies. After a key is")
	fmt.Fprintln(w, "compromised, rotate with RotateOptions{Compromised: true}: the old keys are revoked (nothing")
	fmt.Fprintln(w, "they signed verifies any more) and every record is sealed again under new data keys.")
	return nil
}

// sentinel names the records error err matches, for short output.
func sentinel(err error) error {
	for _, s := range []error{records.ErrKeyRetired, records.ErrNotShared, records.ErrTampered, crypto.ErrDecrypt} {
		if errors.Is(err, s) {
			return s
		}
	}
	if err == nil {
		return errors.New("nothing: it was accepted")
	}
	return err
}
