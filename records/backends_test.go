package records_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/internal/d1test"
	"github.com/d1seal/d1seal/records"
)

func TestMain(m *testing.M) { d1test.Main(m) }

// envOn is a store on a fresh database of backend b.
func envOn(t *testing.T, b *d1test.Backend) *env {
	t.Helper()
	db := b.Open(t)
	return &env{db: db, store: records.NewStore(db, records.StoreOptions{})}
}

// TestRecordsOnEveryBackend runs the records suite on every backend of internal/d1test: the
// local D1 in process and over HTTP, Cloudflare's local D1 in workerd through the bridge, and
// real D1 on opt-in. Sealed records, their versions, listing and sharing must behave the same
// on Cloudflare's D1 code as on the emulator.
func TestRecordsOnEveryBackend(t *testing.T) {
	d1test.Run(t, func(t *testing.T, b *d1test.Backend) {
		t.Run("create get update delete", func(t *testing.T) { recordsCRUD(t, envOn(t, b)) })
		t.Run("list pages", func(t *testing.T) { recordsList(t, envOn(t, b)) })
		t.Run("share open unshare", func(t *testing.T) { recordsShare(t, envOn(t, b)) })
		t.Run("create many", func(t *testing.T) { recordsMany(t, envOn(t, b)) })
	})
}

// TestRecordsInASession binds a store to a bridge session on workerd: every write and read
// goes through the session, and its bookmark advances with the writes.
func TestRecordsInASession(t *testing.T) {
	w := d1test.StartWorkerd(t)
	s := d1.NewSession(d1.FirstPrimary)
	db := w.Client(t, w.Acquire(t), d1.BridgeOptions{}, d1.Options{}).WithSession(s)
	e := &env{db: db, store: records.NewStore(db, records.StoreOptions{})}
	c := notes(t, e, e.agent(t, "did:plc:alice"))
	ctx := context.Background()
	r, err := c.Create(ctx, note{Title: "in a session"})
	require.NoError(t, err)
	first := s.Bookmark()
	require.NotEmpty(t, first)
	got, err := c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	got.Value.Body = "updated"
	_, err = c.Update(ctx, got)
	require.NoError(t, err)
	assert.Less(t, first, s.Bookmark(), "the update advanced the session's bookmark")
	got, err = c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, "updated", got.Value.Body, "the session reads its own write")
}

func recordsCRUD(t *testing.T, e *env) {
	ctx := context.Background()
	c := notes(t, e, e.agent(t, "did:plc:alice"))
	r, err := c.Create(ctx, note{Title: "first", Body: "remember the milk"})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), r.Version)
	got, err := c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, note{Title: "first", Body: "remember the milk"}, got.Value)

	got.Value.Body = "remember the oat milk"
	upd, err := c.Update(ctx, got)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), upd.Version)
	got.Value.Body = "stale"
	_, err = c.Update(ctx, got)
	assert.ErrorIs(t, err, records.ErrConflict, "an update from a stale read is refused")
	again, err := c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, "remember the oat milk", again.Value.Body)

	p, err := c.Put(ctx, "self", note{Title: "profile"})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), p.Version)

	require.NoError(t, c.Delete(ctx, r.Ref.RKey))
	_, err = c.Get(ctx, r.Ref.RKey)
	assert.ErrorIs(t, err, records.ErrNotFound)
}

func recordsList(t *testing.T, e *env) {
	ctx := context.Background()
	c := notes(t, e, e.agent(t, "did:plc:alice"))
	var want []string
	for i := range 7 {
		r, err := c.Create(ctx, note{Title: fmt.Sprint("n", i)})
		require.NoError(t, err)
		want = append(want, string(r.Ref.RKey))
	}
	var got []string
	cursor := ""
	for {
		p, err := c.List(ctx, records.ListOptions{Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		for _, r := range p.Items {
			got = append(got, string(r.Ref.RKey))
		}
		if !p.HasMore {
			break
		}
		cursor = p.Cursor
	}
	assert.Equal(t, want, got, "every record once, in key order")
}

func recordsShare(t *testing.T, e *env) {
	ctx := context.Background()
	alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
	ca, cb := notes(t, e, alice), notes(t, e, bob)
	r, err := ca.Create(ctx, note{Title: "plan", Body: "ship on friday"})
	require.NoError(t, err)
	_, err = cb.Open(ctx, r.Ref)
	assert.ErrorIs(t, err, records.ErrNotShared)
	require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"))
	got, err := cb.Open(ctx, r.Ref)
	require.NoError(t, err)
	assert.Equal(t, "ship on friday", got.Value.Body)
	page, err := cb.SharedWithMe(ctx, records.ListOptions{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.NoError(t, ca.Unshare(ctx, r.Ref.RKey, "did:plc:bob"))
	_, err = cb.Open(ctx, r.Ref)
	assert.Error(t, err, "bob cannot open the record once unshared")
}

func recordsMany(t *testing.T, e *env) {
	ctx := context.Background()
	c := notes(t, e, e.agent(t, "did:plc:alice"))
	values := make([]note, 120)
	for i := range values {
		values[i] = note{Title: fmt.Sprint("many ", i)}
	}
	rs, err := c.CreateMany(ctx, values)
	require.NoError(t, err)
	require.Len(t, rs, len(values))
	n := 0
	for r, err := range c.All(ctx) {
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint("many ", n), r.Value.Title)
		n++
	}
	assert.Equal(t, len(values), n)
}
