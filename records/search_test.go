package records_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

// indexedNotes is a's notes with the tags and the title indexed for Find.
func indexedNotes(t testing.TB, e *env, a *crypto.Agent) *records.Collection[note] {
	t.Helper()
	c, err := records.NewCollection[note](e.store, a, "agent.memory.note", records.CollectionOptions[note]{
		Index: map[string]func(note) []string{
			"tags":  func(n note) []string { return n.Tags },
			"title": func(n note) []string { return []string{n.Title} },
		},
	})
	require.NoError(t, err)
	return c
}

func keys(page []*records.Record[note]) []string {
	var out []string
	for _, r := range page {
		out = append(out, string(r.Ref.RKey))
	}
	return out
}

func TestFindAcrossPages(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	c := indexedNotes(t, e, e.agent(t, "did:plc:alice"))
	var want, wantEither []string
	var vals []note
	for i := range 45 {
		n := note{Title: fmt.Sprint("note ", i), Tags: []string{fmt.Sprint("mod3-", i%3), fmt.Sprint("mod5-", i%5)}}
		vals = append(vals, n)
	}
	created, err := c.CreateMany(ctx, vals[:30]) // beacons travel with CreateMany
	require.NoError(t, err)
	for _, v := range vals[30:] { // and with Create
		r, err := c.Create(ctx, v)
		require.NoError(t, err)
		created = append(created, r)
	}
	for i, r := range created {
		if i%3 == 1 {
			want = append(want, string(r.Ref.RKey))
		}
		if i%3 == 1 || i%5 == 4 {
			wantEither = append(wantEither, string(r.Ref.RKey))
		}
	}
	slices.Sort(want)
	slices.Sort(wantEither)

	var got []string
	pages := 0
	for cursor := ""; ; pages++ {
		p, err := c.Find(ctx, "tags", []string{"mod3-1"}, records.ListOptions{Limit: 4, Cursor: cursor})
		require.NoError(t, err)
		got = append(got, keys(p.Items)...)
		if !p.HasMore {
			break
		}
		cursor = p.Cursor
	}
	assert.Equal(t, want, got, "exactly the matching records, in key order")
	assert.Greater(t, pages, 2)

	got = nil
	for r, err := range c.FindAll(ctx, "tags", "mod3-1", "mod5-4") {
		require.NoError(t, err)
		got = append(got, string(r.Ref.RKey))
	}
	assert.Equal(t, wantEither, got, "several values")

	p, err := c.Find(ctx, "title", []string{"note 7"}, records.ListOptions{})
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
	assert.Equal(t, "note 7", p.Items[0].Value.Title)

	before := e.srv.Requests()
	_, err = c.Find(ctx, "body", []string{"x"}, records.ListOptions{})
	assert.ErrorIs(t, err, records.ErrInvalid, "a field that is not indexed")
	_, err = c.Find(ctx, "tags", nil, records.ListOptions{})
	assert.ErrorIs(t, err, records.ErrInvalid)
	assert.Equal(t, before, e.srv.Requests(), "refused before sending")
	_, err = records.NewCollection[note](e.store, e.agent(t, "did:plc:bob"), "agent.memory.note", records.CollectionOptions[note]{
		Index: map[string]func(note) []string{"tags": func(n note) []string { return n.Tags }}, BeaconBits: 12,
	})
	assert.ErrorIs(t, err, records.ErrInvalid, "beacon bits must be whole bytes")
}

func TestBeaconsFollowUpdatesSharesAndDeletes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	e.agent(t, "did:plc:bob")
	c := indexedNotes(t, e, alice)
	r, err := c.Create(ctx, note{Title: "t", Tags: []string{"red"}})
	require.NoError(t, err)
	beacons := func() int {
		return count(t, e.db, "SELECT count(*) FROM record_beacons WHERE record_id = ?", r.Ref.ID())
	}
	assert.Equal(t, 2, beacons(), "one per value: tags and title")

	r.Value.Tags = []string{"blue", "green"}
	r, err = c.Update(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, 3, beacons())
	p, err := c.Find(ctx, "tags", []string{"red"}, records.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, p.Items, "the old value is gone")
	p, err = c.Find(ctx, "tags", []string{"green"}, records.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, p.Items, 1)

	require.NoError(t, c.Share(ctx, r.Ref.RKey, "did:plc:bob"), "a share writes a version: its beacons are written again")
	p, err = c.Find(ctx, "tags", []string{"blue"}, records.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, p.Items, 1)

	require.NoError(t, c.Delete(ctx, r.Ref.RKey))
	assert.Zero(t, beacons(), "deleted with the record")
}

// TestTamperedBeacons: a database can hide results by deleting beacons, but a beacon copied
// onto another record never makes that record come back.
func TestTamperedBeacons(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	c := indexedNotes(t, e, e.agent(t, "did:plc:alice"))
	match, err := c.Create(ctx, note{Title: "a", Tags: []string{"secret-project"}})
	require.NoError(t, err)
	other, err := c.Create(ctx, note{Title: "b", Tags: []string{"lunch"}})
	require.NoError(t, err)

	// The attack: every beacon of the matching record copied onto the other one.
	exec(t, e.db, "INSERT INTO record_beacons (record_id, field_tag, beacon) SELECT ?, field_tag, beacon FROM record_beacons WHERE record_id = ?", other.Ref.ID(), match.Ref.ID())
	p, err := c.Find(ctx, "tags", []string{"secret-project"}, records.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{string(match.Ref.RKey)}, keys(p.Items), "the other record was a candidate, and was dropped after opening")
	require.Equal(t, 2, count(t, e.db, "SELECT count(DISTINCT record_id) FROM record_beacons WHERE beacon IN (SELECT beacon FROM record_beacons WHERE record_id = ?)", match.Ref.ID()),
		"control: the database does offer both records for the beacon")

	// Hiding: beacons deleted, the record is not found (and still opens).
	exec(t, e.db, "DELETE FROM record_beacons WHERE record_id = ?", match.Ref.ID())
	p, err = c.Find(ctx, "tags", []string{"secret-project"}, records.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, p.Items)
	_, err = c.Get(ctx, match.Ref.RKey)
	require.NoError(t, err)
}

// BenchmarkFind compares Find with listing and opening all 10,000 records to filter them.
func BenchmarkFind(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b, d1local.Options{})
	c := indexedNotes(b, e, e.agent(b, "did:plc:bench"))
	vals := make([]note, 10_000)
	for i := range vals {
		v := kib(i)
		v.Tags = []string{fmt.Sprint("t", i%1000)}
		vals[i] = v
	}
	_, err := c.CreateMany(ctx, vals)
	require.NoError(b, err)
	b.Run("Find", func(b *testing.B) {
		start := e.srv.Requests()
		b.ReportAllocs()
		for b.Loop() {
			p, err := c.Find(ctx, "tags", []string{"t7"}, records.ListOptions{Limit: 100})
			if err != nil || len(p.Items) != 10 {
				b.Fatal(err, len(p.Items))
			}
		}
		requestsPer(b, e, start, 1)
	})
	b.Run("ListAndOpenAll", func(b *testing.B) {
		start := e.srv.Requests()
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for r, err := range c.All(ctx) {
				if err != nil {
					b.Fatal(err)
				}
				if slices.Contains(r.Value.Tags, "t7") {
					n++
				}
			}
			if n != 10 {
				b.Fatal(n)
			}
		}
		requestsPer(b, e, start, 1)
	})
}

// TestFindShared: a recipient searches what an owner shared with it only once the owner shared
// the field's index key, and finds only records shared with it.
func TestFindShared(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
	ca, cb := indexedNotes(t, e, alice), indexedNotes(t, e, bob)
	shared, err := ca.Create(ctx, note{Title: "s", Tags: []string{"q3"}})
	require.NoError(t, err)
	_, err = ca.Create(ctx, note{Title: "private", Tags: []string{"q3"}})
	require.NoError(t, err)
	require.NoError(t, ca.Share(ctx, shared.Ref.RKey, "did:plc:bob"))

	_, err = cb.FindShared(ctx, "did:plc:alice", "tags", []string{"q3"}, records.ListOptions{})
	assert.ErrorIs(t, err, records.ErrNotShared, "no index key shared yet")

	require.NoError(t, ca.ShareIndex(ctx, "tags", "did:plc:bob"))
	p, err := cb.FindShared(ctx, "did:plc:alice", "tags", []string{"q3"}, records.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{string(shared.Ref.RKey)}, keys(p.Items), "only the record shared with bob")
	_, err = cb.FindShared(ctx, "did:plc:alice", "title", []string{"s"}, records.ListOptions{})
	assert.ErrorIs(t, err, records.ErrNotShared, "one field's key opens that field only")

	// A key row copied to another field's place does not open as that field.
	exec(t, e.db, "UPDATE index_keys SET field_tag = zeroblob(16)")
	_, err = cb.FindShared(ctx, "did:plc:alice", "tags", []string{"q3"}, records.ListOptions{})
	assert.ErrorIs(t, err, records.ErrNotShared)
}

// TestReindexAfterRotation: new keys make new index keys, so Find finds nothing until the
// collection is re-indexed.
func TestReindexAfterRotation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	c := indexedNotes(t, e, alice)
	for i := range 5 {
		_, err := c.Create(ctx, note{Title: fmt.Sprint(i), Tags: []string{"kept"}})
		require.NoError(t, err)
	}
	next, err := alice.NewKeys()
	require.NoError(t, err)
	_, err = e.store.RotateKeys(ctx, alice, next, records.RotateOptions{})
	require.NoError(t, err)
	cn := indexedNotes(t, e, next)
	p, err := cn.Find(ctx, "tags", []string{"kept"}, records.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, p.Items, "control: the old beacons were made with the old owner key")
	n, err := cn.Reindex(ctx)
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	p, err = cn.Find(ctx, "tags", []string{"kept"}, records.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, p.Items, 5)
	assert.Equal(t, 10, count(t, e.db, "SELECT count(*) FROM record_beacons"), "the old beacons are gone: two per record")
}
