package records_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

func TestShareOpenUpdateUnshare(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice, bob, carol := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob"), e.agent(t, "did:plc:carol")
	ca, cb, cc := notes(t, e, alice), notes(t, e, bob), notes(t, e, carol)

	r, err := ca.Create(ctx, note{Title: "plan", Body: "ship on friday"})
	require.NoError(t, err)

	// Before sharing, bob cannot open it.
	_, err = cb.Open(ctx, r.Ref)
	assert.ErrorIs(t, err, records.ErrNotShared)

	require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"))
	require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"), "sharing again is harmless")
	require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:carol"))
	got, err := cb.Open(ctx, r.Ref)
	require.NoError(t, err)
	assert.Equal(t, "ship on friday", got.Value.Body)

	page, err := cb.SharedWithMe(ctx, records.ListOptions{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Equal(t, r.Ref, page.Items[0].Ref)
	refs, err := e.store.SharedWith(ctx, "did:plc:carol", records.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []records.Ref{r.Ref}, refs.Items)

	// An update re-wraps the new version for every recipient.
	got, err = ca.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	got.Value.Body = "ship on monday"
	_, err = ca.Update(ctx, got)
	require.NoError(t, err)
	got, err = cc.Open(ctx, r.Ref)
	require.NoError(t, err)
	assert.Equal(t, "ship on monday", got.Value.Body)
	assert.Equal(t, uint64(4), got.Version, "each share wrote a version (2, 3), the update the fourth")
	assert.Equal(t, []records.DID{"did:plc:bob", "did:plc:carol"}, got.SharedWith)

	// Bob keeps the data key of version 4 before he is revoked.
	row := rawRecord(t, e.db, r.Ref.ID())
	grant, err := d1.QueryOne[[]byte](ctx, e.db, "SELECT encrypted_dek FROM shared_records WHERE record_id = ? AND recipient_did = 'did:plc:bob'", r.Ref.ID())
	require.NoError(t, err)
	rc2 := crypto.RecordContext{DID: "did:plc:alice", Collection: "agent.memory.note", RKey: r.Ref.RKey, Version: 4}
	keptKey, err := bob.Unwrap(rc2, grant)
	require.NoError(t, err)
	_, err = keptKey.Open(row.envelope(), alice.VerifyingKey())
	require.NoError(t, err, "the kept key opens version 4")

	require.NoError(t, ca.Unshare(ctx, r.Ref.RKey, "did:plc:bob"))
	_, err = cb.Open(ctx, r.Ref)
	assert.ErrorIs(t, err, records.ErrNotShared)
	row = rawRecord(t, e.db, r.Ref.ID())
	assert.Equal(t, int64(5), row.version, "unshare re-keyed the record")
	_, err = keptKey.Open(row.envelope(), alice.VerifyingKey())
	assert.ErrorIs(t, err, crypto.ErrDecrypt, "the kept key does not open the re-keyed version")
	got, err = cc.Open(ctx, r.Ref)
	require.NoError(t, err, "the remaining recipient still reads it")
	assert.Equal(t, "ship on monday", got.Value.Body)
	require.NoError(t, ca.Unshare(ctx, r.Ref.RKey, "did:plc:bob"), "unsharing again is harmless")

	require.NoError(t, ca.Unshare(ctx, r.Ref.RKey, "did:plc:carol"))
	_, err = cc.Open(ctx, r.Ref)
	assert.ErrorIs(t, err, records.ErrNotShared)
	assert.Equal(t, int64(6), rawRecord(t, e.db, r.Ref.ID()).version)

	// Deleting the record deletes its shares in the same request.
	require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"))
	require.NoError(t, ca.Delete(ctx, r.Ref.RKey))
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM shared_records")
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestShareRefusals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	ca := notes(t, e, alice)
	r, err := ca.Create(ctx, note{Title: "x"})
	require.NoError(t, err)
	before := e.srv.Requests()
	assert.ErrorIs(t, ca.Share(ctx, r.Ref.RKey, "not a did"), records.ErrInvalid)
	assert.ErrorIs(t, ca.Share(ctx, r.Ref.RKey, "did:plc:alice"), records.ErrInvalid)
	assert.Equal(t, before, e.srv.Requests(), "bad input is refused before any request")
	assert.ErrorIs(t, ca.Share(ctx, r.Ref.RKey, "did:plc:nobody"), records.ErrUnknownAgent)
	e.agent(t, "did:plc:bob")
	assert.ErrorIs(t, ca.Share(ctx, "3jzfcijpj2z2a", "did:plc:bob"), records.ErrNotFound)
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM shared_records")
	require.NoError(t, err)
	assert.Zero(t, n, "nothing was written")
}

// storedRow is a records row read straight from the database.
type storedRow struct {
	ciphertext, nonce, signature []byte
	version                      int64
}

func (r storedRow) envelope() crypto.Envelope {
	return crypto.Envelope{Ciphertext: r.ciphertext, Nonce: r.nonce, Signature: r.signature}
}

func rawRecord(t *testing.T, db *d1.Client, id string) storedRow {
	t.Helper()
	res, err := db.Query(context.Background(), "SELECT ciphertext, nonce, signature, version FROM records WHERE id = ?", id)
	require.NoError(t, err)
	require.Equal(t, 1, res.Len())
	var r storedRow
	require.NoError(t, res.Row(0).Scan(&r.ciphertext, &r.nonce, &r.signature, &r.version))
	return r
}
