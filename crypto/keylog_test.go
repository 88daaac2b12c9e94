package crypto

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var logTime = time.Date(2026, 11, 30, 3, 0, 0, 123456789, time.UTC)

// keyLog builds alice's log genesis → rotate → revoke and returns the entries and the agent
// behind each.
func keyLog(t testing.TB, pq bool) ([]*KeyEntry, []*Agent) {
	t.Helper()
	a0 := newAgent(t, aliceDID, pq)
	g, err := a0.KeyGenesis(logTime)
	require.NoError(t, err)
	a1, err := a0.NewKeys()
	require.NoError(t, err)
	r, err := a0.KeyRotation(g, a1, KeyRotate, nil, logTime.Add(time.Hour))
	require.NoError(t, err)
	a2, err := a1.NewKeys()
	require.NoError(t, err)
	v, err := a1.KeyRotation(r, a2, KeyRevoke, []KeyID{a0.VerifyingKey().KeyID()}, logTime.Add(2*time.Hour))
	require.NoError(t, err)
	return []*KeyEntry{g, r, v}, []*Agent{a0, a1, a2}
}

func verifyLog(log []*KeyEntry) error {
	var prev *KeyEntry
	for _, e := range log {
		if err := e.Verify(prev); err != nil {
			return err
		}
		prev = e
	}
	return nil
}

func TestKeyLogRoundTrip(t *testing.T) {
	for _, pq := range []bool{false, true} {
		log, agents := keyLog(t, pq)
		require.NoError(t, verifyLog(log))
		for i, e := range log {
			assert.True(t, agents[i].Keys().Equal(e.Keys), "entry %d keys", i)
			assert.Equal(t, uint64(i), e.Seq)
			assert.Equal(t, aliceDID, e.DID)
			b := e.Marshal()
			got, err := ParseKeyEntry(b)
			require.NoError(t, err, "entry %d", i)
			assert.Equal(t, b, got.Marshal(), "entry %d re-marshals", i)
			assert.Equal(t, e.Hash(), got.Hash())
			assert.True(t, e.Keys.Equal(got.Keys))
			assert.True(t, e.Time.Equal(got.Time))
			assert.Equal(t, time.UTC, got.Time.Location())
			log[i] = got
		}
		require.NoError(t, verifyLog(log), "parsed log verifies")

		assert.Equal(t, KeyGenesis, log[0].Change)
		assert.Equal(t, [32]byte{}, log[0].Prev)
		assert.Equal(t, log[0].Hash(), log[1].Prev)
		assert.Empty(t, log[1].Revoked)
		assert.Equal(t, KeyRevoke, log[2].Change)
		for _, id := range append(agents[1].Keys().KeyIDs(), agents[0].VerifyingKey().KeyID()) {
			assert.Contains(t, log[2].Revoked, id)
		}
		if pq {
			assert.Len(t, log[0].Keys.KeyIDs(), 3)
		} else {
			assert.Len(t, log[0].Keys.KeyIDs(), 2)
			assert.Nil(t, log[0].Keys.PostQuantum)
		}
	}
}

func TestKeyLogVerifyRefuses(t *testing.T) {
	log, agents := keyLog(t, false)
	g, r, v := log[0], log[1], log[2]

	assert.ErrorIs(t, r.Verify(nil), ErrDecrypt, "rotation as genesis")
	assert.ErrorIs(t, g.Verify(r), ErrDecrypt, "genesis after an entry")
	assert.ErrorIs(t, v.Verify(g), ErrDecrypt, "skipped entry")
	assert.ErrorIs(t, r.Verify(r), ErrDecrypt, "entry after itself")

	// Signed by the wrong key: a rotation after the genesis signed by the new key itself.
	forged, err := agents[1].KeyRotation(g, agents[1], KeyRotate, nil, logTime)
	assert.Error(t, err, "an agent cannot sign for keys it does not hold")
	assert.Nil(t, forged)
	e := *r
	e.Signature = agents[1].sign.signLabelled(keyLogSignatureLabel, e.body())
	assert.ErrorIs(t, e.Verify(g), ErrDecrypt, "rotation signed by the new key")

	// A proof by a key other than the entry's.
	e = *r
	e.Proof = agents[0].sign.signLabelled(keyLogProofLabel, e.body())
	assert.ErrorIs(t, e.Verify(g), ErrDecrypt, "proof by the old key")

	// The signature and the proof are not interchangeable.
	e = *g
	e.Signature, e.Proof = e.Proof, e.Signature
	assert.ErrorIs(t, e.Verify(nil), ErrDecrypt, "genesis signature and proof swapped")
}

func TestKeyLogForkIsIndividuallyValid(t *testing.T) {
	log, agents := keyLog(t, false)
	other, err := agents[0].NewKeys()
	require.NoError(t, err)
	fork, err := agents[0].KeyRotation(log[0], other, KeyRotate, nil, logTime)
	require.NoError(t, err)
	assert.NoError(t, fork.Verify(log[0]), "each branch verifies; the records package refuses forks")
	assert.NoError(t, log[1].Verify(log[0]))
	assert.NotEqual(t, fork.Hash(), log[1].Hash())
}

func TestSignMetadataAndEvent(t *testing.T) {
	a := newAgent(t, aliceDID, false)
	k := a.VerifyingKey()
	md := []byte(`{"name":"alice"}`)
	sig := a.SignMetadata(md)
	assert.Len(t, sig, SignatureSize)
	assert.NoError(t, k.VerifyMetadata(aliceDID, md, sig))
	assert.ErrorIs(t, k.VerifyMetadata(bobDID, md, sig), ErrDecrypt)
	assert.ErrorIs(t, k.VerifyMetadata(aliceDID, []byte(`{"name":"mallory"}`), sig), ErrDecrypt)

	empty, null := a.SignMetadata([]byte{}), a.SignMetadata(nil)
	assert.NoError(t, k.VerifyMetadata(aliceDID, []byte{}, empty))
	assert.NoError(t, k.VerifyMetadata(aliceDID, nil, null))
	assert.ErrorIs(t, k.VerifyMetadata(aliceDID, nil, empty), ErrDecrypt, "empty is not nil")
	assert.ErrorIs(t, k.VerifyMetadata(aliceDID, []byte{}, null), ErrDecrypt, "nil is not empty")

	d := [32]byte{1, 2, 3}
	es := a.SignEvent(d)
	assert.Len(t, es, SignatureSize)
	assert.NoError(t, k.VerifyEvent(aliceDID, d, es))
	assert.ErrorIs(t, k.VerifyEvent(aliceDID, [32]byte{1, 2, 4}, es), ErrDecrypt)
	assert.ErrorIs(t, k.VerifyEvent(bobDID, d, es), ErrDecrypt)
	assert.ErrorIs(t, newAgent(t, aliceDID, false).VerifyingKey().VerifyEvent(aliceDID, d, es), ErrDecrypt)
}
