package records_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/records"
)

type Memo struct {
	Text string   `json:"text"`
	Tags []string `json:"tags"`
}

// A Store over a D1 database: agents register their keys as a signed key log, and a service
// pins the keys it knows from its own configuration. (Keep trust and state in files of a
// folder with records.OpenStore; memory is used here.)
func ExampleStore() {
	ctx := context.Background()
	db, err := d1seal.OpenLocal(ctx, d1seal.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	store := records.NewStore(db.Client, records.StoreOptions{})

	alice, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	if _, err := store.RegisterAgent(ctx, alice, []byte(`{"role":"planner"}`)); err != nil {
		panic(err)
	}
	a, err := store.Agent(ctx, "did:plc:alice")
	fmt.Println(a.DID, string(a.Metadata), a.Rotations, err)

	// A client that pinned other keys for alice refuses the ones in the database.
	impostor, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	pinned := records.NewStore(db.Client, records.StoreOptions{})
	keys, _ := records.PublicKeys(impostor)
	_ = pinned.Pin(keys)
	_, err = pinned.Agent(ctx, "did:plc:alice")
	fmt.Println(errors.Is(err, records.ErrUntrusted))
	// Output:
	// did:plc:alice {"role":"planner"} 0 <nil>
	// true
}

// A Collection seals every value before it leaves the process, shares records with signed
// access lists, and finds records by indexed fields without the database learning the values.
func ExampleCollection() {
	ctx := context.Background()
	db, err := d1seal.OpenLocal(ctx, d1seal.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	store := records.NewStore(db.Client, records.StoreOptions{})
	alice, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	bob, _ := crypto.GenerateAgent("did:plc:bob", crypto.GenerateOptions{})
	for _, a := range []*crypto.Agent{alice, bob} {
		if _, err := store.RegisterAgent(ctx, a, nil); err != nil {
			panic(err)
		}
	}
	opts := records.CollectionOptions[Memo]{Index: map[string]func(Memo) []string{"tags": func(m Memo) []string { return m.Tags }}}
	memos, _ := records.NewCollection(store, alice, "agent.memory.memo", opts)
	r, _ := memos.Create(ctx, Memo{Text: "the deploy key rotates on Fridays", Tags: []string{"ops"}})
	_ = memos.Share(ctx, r.Ref.RKey, "did:plc:bob")

	found, _ := memos.Find(ctx, "tags", []string{"ops"}, records.ListOptions{})
	fmt.Println(len(found.Items), found.Items[0].Value.Text, found.Items[0].SharedWith)

	bobs, _ := records.NewCollection(store, bob, "agent.memory.memo", opts)
	got, err := bobs.Open(ctx, r.Ref)
	fmt.Println(got.Value.Text, got.Version, err)

	_ = memos.Unshare(ctx, r.Ref.RKey, "did:plc:bob")
	_, err = bobs.Open(ctx, r.Ref)
	fmt.Println(errors.Is(err, records.ErrNotShared))
	// Output:
	// 1 the deploy key rotates on Fridays [did:plc:bob]
	// the deploy key rotates on Fridays 2 <nil>
	// true
}
