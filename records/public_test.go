package records_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

func TestPublicRecords(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
	ca, cb := notes(t, e, alice), notes(t, e, bob)

	r, err := ca.CreatePublic(ctx, note{Title: "hello world", Body: "a public note"})
	require.NoError(t, err)
	got, err := cb.Open(ctx, r.Ref)
	require.NoError(t, err, "anyone opens a public record without a share")
	assert.True(t, got.Public)
	assert.Equal(t, "a public note", got.Value.Body)

	// It is in clear in the database, signed, with no sealing columns.
	res, err := e.db.Query(ctx, "SELECT CAST(ciphertext AS TEXT), encrypted_dek, length(nonce), key_id, public, length(signature) FROM records WHERE id = ?", r.Ref.ID())
	require.NoError(t, err)
	vals := res.Row(0).Values()
	assert.True(t, strings.Contains(vals[0].(string), `"a public note"`))
	assert.Equal(t, []any{nil, int64(0), nil, int64(1), int64(81)}, vals[1:])

	// Updates keep it public and signed; sharing it makes no sense.
	got, err = ca.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	got.Value.Body = "edited"
	upd, err := ca.Update(ctx, got)
	require.NoError(t, err)
	assert.True(t, upd.Public)
	got, err = cb.Open(ctx, r.Ref)
	require.NoError(t, err)
	assert.Equal(t, "edited", got.Value.Body)
	assert.Equal(t, uint64(2), got.Version)
	assert.ErrorIs(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"), records.ErrInvalid)

	p, err := ca.PutPublic(ctx, "profile", note{Title: "alice"})
	require.NoError(t, err)
	assert.True(t, p.Public)

	// Editing the clear content is caught by the signature; so is making it private.
	_, err = e.db.Exec(ctx, "UPDATE records SET ciphertext = CAST(replace(CAST(ciphertext AS TEXT), 'edited', 'forged') AS BLOB) WHERE id = ?", r.Ref.ID())
	require.NoError(t, err)
	_, err = cb.Open(ctx, r.Ref)
	assert.ErrorIs(t, err, records.ErrTampered)
	_, err = e.db.Exec(ctx, "UPDATE records SET public = 0 WHERE id = ?", p.Ref.ID())
	require.NoError(t, err)
	_, err = ca.Get(ctx, p.Ref.RKey)
	assert.ErrorIs(t, err, records.ErrTampered)
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records WHERE public = 1")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}
