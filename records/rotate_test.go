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

// TestBatchSignedRecordsThroughTheirLife: records made by CreateMany (one signature per group
// of 16) are shared, updated, read after a routine rotation (under the retired signing key)
// and sealed again after a compromise, like any other record.
func TestBatchSignedRecordsThroughTheirLife(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	bob := e.agent(t, "did:plc:bob")
	cb := notes(t, e, bob)
	values := make([]note, 20)
	for i := range values {
		values[i] = note{Title: fmt.Sprint("n", i)}
	}
	batchSigned := func(did string) int {
		n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records WHERE did = ? AND substr(signature, 1, 1) = X'02'", did)
		require.NoError(t, err)
		return n
	}
	readAll := func(c *records.Collection[note], recs []*records.Record[note], when string) {
		for i, r := range recs {
			got, err := c.Get(ctx, r.Ref.RKey)
			require.NoError(t, err, "record %d %s", i, when)
			assert.Equal(t, values[i].Title, got.Value.Title)
		}
	}
	for _, compromised := range []bool{false, true} {
		did := fmt.Sprintf("did:plc:alice%v", compromised)
		alice := e.agent(t, did)
		ca := notes(t, e, alice)
		recs, err := ca.CreateMany(ctx, values)
		require.NoError(t, err)
		require.Equal(t, 20, batchSigned(did), "control: every row has a batch signature")

		require.NoError(t, ca.Share(ctx, recs[3].Ref.RKey, "did:plc:bob"))
		got, err := cb.Open(ctx, recs[3].Ref)
		require.NoError(t, err)
		assert.Equal(t, "n3", got.Value.Title)
		cur, err := ca.Get(ctx, recs[4].Ref.RKey)
		require.NoError(t, err)
		cur.Value.Body = "edited"
		_, err = ca.Update(ctx, cur)
		require.NoError(t, err)
		require.Equal(t, 18, batchSigned(did), "a share and an update each write a version with its own signature")

		next, err := alice.NewKeys()
		require.NoError(t, err)
		done, err := e.store.RotateKeys(ctx, alice, next, records.RotateOptions{Compromised: compromised})
		require.NoError(t, err)
		if compromised {
			assert.Equal(t, 20, done.Resealed, "every record the revoked key signed, batch signed or not")
			assert.Zero(t, batchSigned(did))
		} else {
			assert.Equal(t, 18, batchSigned(did), "a routine rotation leaves content alone")
		}
		readAll(notes(t, e, next), recs, fmt.Sprintf("after a rotation (compromised: %v)", compromised))
		got, err = cb.Open(ctx, recs[3].Ref)
		require.NoError(t, err)
		assert.Equal(t, "n3", got.Value.Title)
	}
}
