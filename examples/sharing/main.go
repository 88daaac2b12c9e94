// Command sharing shows how sealed records move between agents: sharing re-wraps a record's
// data key for another agent's registered key, updates re-wrap it for every recipient, and
// revocation deletes the grant and, by default, re-keys the record.
//
//	go run ./examples/sharing
//
// Without Cloudflare credentials it uses the embedded local D1 under .d1seal/.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/records"
	"github.com/d1seal/d1seal/tid"
)

type finding struct {
	Summary string `json:"summary"`
	Source  string `json:"source"`
}

const nsid = records.NSID("agent.research.finding")

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, ".d1seal"); err != nil {
		log.Fatal("sharing: ", err)
	}
}

func run(ctx context.Context, w io.Writer, dir string) error {
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

	// Three agents, fresh DIDs per run.
	stamp := tid.NewClock().Next().String()
	var agents []*records.Collection[finding]
	for _, name := range []string{"alice", "bob", "carol"} {
		a, err := crypto.GenerateAgent("did:example:"+name+"-"+stamp, crypto.GenerateOptions{})
		if err != nil {
			return err
		}
		if _, err := store.RegisterAgent(ctx, a, json.RawMessage(`{"name":"`+name+`"}`)); err != nil {
			return err
		}
		c, err := records.NewCollection[finding](store, a, nsid, records.CollectionOptions[finding]{})
		if err != nil {
			return err
		}
		agents = append(agents, c)
	}
	alice, bob, carol := agents[0], agents[1], agents[2]
	name := func(c *records.Collection[finding]) string {
		return map[records.DID]string{alice.Agent(): "alice", bob.Agent(): "bob", carol.Agent(): "carol"}[c.Agent()]
	}
	try := func(c *records.Collection[finding], ref records.Ref) {
		r, err := c.Open(ctx, ref)
		if err != nil {
			fmt.Fprintf(w, "   %-5s cannot open it: %v\n", name(c), short(err))
			return
		}
		fmt.Fprintf(w, "   %-5s reads v%d: %q\n", name(c), r.Version, r.Value.Summary)
	}

	rec, err := alice.Create(ctx, finding{Summary: "the outage began with a certificate expiry", Source: "incident-417"})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n1. alice wrote %s\n", rec.Ref)
	try(bob, rec.Ref)

	fmt.Fprintln(w, "\n2. alice shares it with bob and carol (each share is a new version whose signed access list adds the agent)")
	for _, to := range []records.DID{bob.Agent(), carol.Agent()} {
		if err := alice.Share(ctx, rec.Ref.RKey, to); err != nil {
			return err
		}
	}
	try(bob, rec.Ref)
	try(carol, rec.Ref)
	page, err := bob.SharedWithMe(ctx, records.ListOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   bob's SharedWithMe: %d record(s)\n", len(page.Items))
	refs, err := store.SharedWith(ctx, carol.Agent(), records.ListOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   Store.SharedWith(carol): %d reference(s), any collection\n", len(refs.Items))
	err = alice.Share(ctx, rec.Ref.RKey, "did:example:mallory-"+records.DID(stamp))
	fmt.Fprintf(w, "   sharing with an unregistered DID: ErrUnknownAgent=%v\n", errors.Is(err, records.ErrUnknownAgent))

	fmt.Fprintln(w, "\n3. alice updates it: a new data key, wrapped for every agent on the signed access list")
	if rec, err = alice.Get(ctx, rec.Ref.RKey); err != nil {
		return err
	}
	fmt.Fprintf(w, "   v%d is shared with %v\n", rec.Version, rec.SharedWith)
	rec.Value.Summary = "the outage began with a certificate expiry; renewals are now monitored"
	if rec, err = alice.Update(ctx, rec); err != nil {
		return err
	}
	try(bob, rec.Ref)
	try(carol, rec.Ref)
	stale := *rec
	stale.Version--
	_, err = alice.Update(ctx, &stale)
	fmt.Fprintf(w, "   an update from a stale version: ErrConflict=%v\n", errors.Is(err, records.ErrConflict))

	fmt.Fprintln(w, "\n4. alice revokes bob (a new version under a new data key, bob off its signed access list)")
	if err := alice.Unshare(ctx, rec.Ref.RKey, bob.Agent()); err != nil {
		return err
	}
	try(bob, rec.Ref)
	try(carol, rec.Ref)

	fmt.Fprintln(w, "\n5. alice revokes carol")
	if err := alice.Unshare(ctx, rec.Ref.RKey, carol.Agent()); err != nil {
		return err
	}
	try(carol, rec.Ref)
	try(alice, rec.Ref)
	fmt.Fprintln(w, "\nRevocation cannot undo what bob and carol already read, nor old versions in backups, exports or Time Travel.")
	return nil
}

// short drops the record id that records errors append.
func short(err error) string {
	switch {
	case errors.Is(err, records.ErrNotShared):
		return records.ErrNotShared.Error()
	default:
		return err.Error()
	}
}
