package records_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

func TestRotateKeys(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
	ca, cb := notes(t, e, alice), notes(t, e, bob)
	var mine []*records.Record[note]
	for i := range 7 {
		r, err := ca.Create(ctx, note{Title: fmt.Sprint("a", i)})
		require.NoError(t, err)
		mine = append(mine, r)
	}
	fromBob, err := cb.Create(ctx, note{Title: "for alice"})
	require.NoError(t, err)
	require.NoError(t, cb.Share(ctx, fromBob.Ref.RKey, "did:plc:alice"))
	require.NoError(t, ca.Share(ctx, mine[0].Ref.RKey, "did:plc:bob"))

	next, err := alice.NewKeys()
	require.NoError(t, err)
	var progress []int
	before := e.srv.Requests()
	done, err := e.store.RotateKeys(ctx, alice, next, records.RotateOptions{BatchSize: 3, Progress: func(n int) { progress = append(progress, n) }})
	require.NoError(t, err)
	assert.Equal(t, records.Rotated{Records: 7, Shared: 1}, done)
	assert.Equal(t, 8, progress[len(progress)-1])
	t.Logf("rotation of 8 grants in batches of 3: %d requests", e.srv.Requests()-before)

	// The new keys read everything; the old keys can no longer write.
	cn := notes(t, e, next)
	for _, r := range mine {
		got, err := cn.Get(ctx, r.Ref.RKey)
		require.NoError(t, err)
		assert.Equal(t, r.Value.Title, got.Value.Title)
	}
	got, err := cn.Open(ctx, fromBob.Ref)
	require.NoError(t, err)
	assert.Equal(t, "for alice", got.Value.Title)
	_, err = notes(t, e, alice).Create(ctx, note{})
	assert.ErrorIs(t, err, records.ErrKeyRetired)

	// Others now wrap for the new key; bob still reads what alice shares.
	require.NoError(t, cb.Share(ctx, fromBob.Ref.RKey, "did:plc:alice"))
	_, err = cn.Open(ctx, fromBob.Ref)
	require.NoError(t, err)
	_, err = cb.Open(ctx, mine[0].Ref)
	require.NoError(t, err)

	retired, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM agent_keys WHERE did = 'did:plc:alice' AND retired_at IS NOT NULL")
	require.NoError(t, err)
	assert.Equal(t, 1, retired, "the old X25519 key is retired")
	left, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records WHERE key_id IN (?, ?)", keyID(alice.RecipientKey().KeyID()), keyID(alice.OwnerKeyID()))
	require.NoError(t, err)
	assert.Zero(t, left, "no grant is left for the old keys")

	// Running it again finishes nothing more and fails nothing.
	done, err = e.store.RotateKeys(ctx, alice, next, records.RotateOptions{})
	require.NoError(t, err)
	assert.Equal(t, records.Rotated{}, done)
}

func keyID(id [16]byte) []byte { return id[:] }

func TestReadingWithRotatedOutKeys(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	ca := notes(t, e, alice)
	r, err := ca.Create(ctx, note{Title: "x"})
	require.NoError(t, err)
	next, err := alice.NewEncryptionKeys()
	require.NoError(t, err)
	_, err = e.store.RotateKeys(ctx, alice, next, records.RotateOptions{})
	require.NoError(t, err)
	_, err = notes(t, e, alice).Get(ctx, r.Ref.RKey)
	assert.ErrorIs(t, err, records.ErrKeyRetired, "reading with old keys says so, not tampering")
	assert.NotErrorIs(t, err, records.ErrTampered)
	got, err := notes(t, e, next).Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, "x", got.Value.Title)
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records WHERE key_id = ?", keyID(next.OwnerKeyID()))
	require.NoError(t, err)
	assert.Equal(t, 1, n, "new encryption keys keep the owner key: the owner's grants stay as they are")
}
