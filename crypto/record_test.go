package crypto

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/syntax"
)

const (
	aliceDID = "did:plc:alice7iza6de2dwap2sbkpav7"
	bobDID   = "did:plc:bob7iza6de2dwap2sbkpav7c6"
	carolDID = "did:web:carol.example.com"
)

func newAgent(t testing.TB, did string, pq bool) *Agent {
	t.Helper()
	a, err := GenerateAgent(did, GenerateOptions{PostQuantum: pq})
	require.NoError(t, err)
	return a
}

func noteContext(version uint64) RecordContext {
	return RecordContext{DID: aliceDID, Collection: "com.example.note", RKey: "3jzfcijpj2z2a", Version: version}
}

func TestSealOpenRoundTrip(t *testing.T) {
	for _, pq := range []bool{false, true} {
		alice, bob := newAgent(t, aliceDID, pq), newAgent(t, bobDID, pq)
		rc := noteContext(1)
		for _, msg := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("secret note "), 1000)} {
			s, err := alice.Seal(rc, msg, bob.Recipient())
			require.NoError(t, err)
			assert.Len(t, s.Ciphertext, len(msg)+minCiphertextSize)
			assert.Len(t, s.Nonce, 12)
			assert.Len(t, s.Signature, signatureSize)
			assert.Equal(t, aliceDID, s.Owner.RecipientDID)
			assert.Equal(t, alice.OwnerKeyID(), s.Owner.KeyID)
			assert.Len(t, s.Owner.WrappedKey, wrappedKeySize(SuiteOwner))
			suite, id, err := WrappedKeyID(s.Owner.WrappedKey)
			require.NoError(t, err)
			assert.Equal(t, SuiteOwner, suite)
			assert.Equal(t, alice.OwnerKeyID(), id)
			require.Len(t, s.Shared, 1)
			assert.Equal(t, bobDID, s.Shared[0].RecipientDID)

			got, err := alice.Open(rc, s.Envelope, s.Owner.WrappedKey, alice.VerifyingKey())
			require.NoError(t, err)
			assert.Equal(t, string(msg), string(got))

			got, err = bob.Open(rc, s.Envelope, s.Shared[0].WrappedKey, alice.VerifyingKey())
			require.NoError(t, err)
			assert.Equal(t, string(msg), string(got))
		}
	}
}

func TestSealIsRandomized(t *testing.T) {
	alice := newAgent(t, aliceDID, false)
	a, err := alice.Seal(noteContext(1), []byte("same"))
	require.NoError(t, err)
	b, err := alice.Seal(noteContext(1), []byte("same"))
	require.NoError(t, err)
	assert.NotEqual(t, a.Nonce, b.Nonce)
	assert.NotEqual(t, a.Ciphertext[2:], b.Ciphertext[2:], "a fresh data key per version")
	assert.NotEqual(t, a.Owner.WrappedKey, b.Owner.WrappedKey)
}

func TestSealRejectsBadArguments(t *testing.T) {
	alice, bob := newAgent(t, aliceDID, false), newAgent(t, bobDID, false)
	_, err := bob.Seal(noteContext(1), nil)
	assert.ErrorContains(t, err, "owner agent must be "+aliceDID)
	_, err = alice.Seal(RecordContext{DID: aliceDID, Collection: "com.example.note"}, nil)
	assert.ErrorContains(t, err, "empty rkey")
	_, err = alice.Seal(noteContext(1), nil, Recipient{DID: bobDID})
	assert.ErrorContains(t, err, "no key")
	_, err = GenerateAgent("", GenerateOptions{})
	assert.ErrorContains(t, err, "empty DID")
}

func TestShareRewrap(t *testing.T) {
	alice, bob, carol := newAgent(t, aliceDID, false), newAgent(t, bobDID, true), newAgent(t, carolDID, false)
	rc := noteContext(7)
	s, err := alice.Seal(rc, []byte("shared later"))
	require.NoError(t, err)

	g, err := alice.Rewrap(rc, s.Owner.WrappedKey, bob.Recipient())
	require.NoError(t, err)
	assert.Equal(t, bobDID, g.RecipientDID)
	assert.Equal(t, bob.PostQuantumKey().KeyID(), g.KeyID)
	got, err := bob.Open(rc, s.Envelope, g.WrappedKey, alice.VerifyingKey())
	require.NoError(t, err)
	assert.Equal(t, "shared later", string(got))

	// A recipient can pass the record on; carol still verifies alice's signature.
	g2, err := bob.Rewrap(rc, g.WrappedKey, Recipient{DID: carolDID, Key: carol.RecipientKey()})
	require.NoError(t, err)
	got, err = carol.Open(rc, s.Envelope, g2.WrappedKey, alice.VerifyingKey())
	require.NoError(t, err)
	assert.Equal(t, "shared later", string(got))

	// Carol cannot use bob's grant.
	_, err = carol.Open(rc, s.Envelope, g.WrappedKey, alice.VerifyingKey())
	assert.ErrorIs(t, err, ErrDecrypt)
}

func TestRekeyRevokes(t *testing.T) {
	alice, bob, carol := newAgent(t, aliceDID, false), newAgent(t, bobDID, false), newAgent(t, carolDID, false)
	rc := noteContext(3)
	s, err := alice.Seal(rc, []byte("v3"), bob.Recipient(), carol.Recipient())
	require.NoError(t, err)

	next, err := alice.Rekey(rc, s.Envelope, s.Owner.WrappedKey, 4, carol.Recipient())
	require.NoError(t, err)
	rc4 := noteContext(4)
	require.Len(t, next.Shared, 1)
	got, err := carol.Open(rc4, next.Envelope, next.Shared[0].WrappedKey, alice.VerifyingKey())
	require.NoError(t, err)
	assert.Equal(t, "v3", string(got))
	got, err = alice.Open(rc4, next.Envelope, next.Owner.WrappedKey, alice.VerifyingKey())
	require.NoError(t, err)
	assert.Equal(t, "v3", string(got))

	// Bob's old data key does not open the new version, and his old grant is for version 3.
	oldKey, err := bob.Unwrap(rc, s.Shared[0].WrappedKey)
	require.NoError(t, err)
	_, err = oldKey.Open(next.Envelope, alice.VerifyingKey())
	assert.ErrorIs(t, err, ErrDecrypt)
	_, err = bob.Open(rc4, next.Envelope, s.Shared[0].WrappedKey, alice.VerifyingKey())
	assert.ErrorIs(t, err, ErrDecrypt)
	// What revocation cannot do: the old version still opens for bob wherever it survives.
	_, err = oldKey.Open(s.Envelope, alice.VerifyingKey())
	assert.NoError(t, err)

	_, err = alice.Rekey(rc, s.Envelope, s.Owner.WrappedKey, 3)
	assert.ErrorContains(t, err, "must be greater")
	_, err = bob.Rekey(rc, s.Envelope, s.Shared[0].WrappedKey, 4)
	assert.ErrorContains(t, err, "only the owner")
}

func TestRotation(t *testing.T) {
	for _, pq := range []bool{false, true} {
		old := newAgent(t, aliceDID, pq)
		next, err := old.NewEncryptionKeys()
		require.NoError(t, err)
		assert.True(t, next.VerifyingKey().Equal(old.VerifyingKey()), "signing key kept")
		assert.False(t, next.RecipientKey().Equal(old.RecipientKey()))

		assert.Equal(t, old.OwnerKeyID(), next.OwnerKeyID(), "owner key kept")

		// An HPKE grant for the old key (as another agent's record shared with old holds).
		rc := noteContext(1)
		s, err := old.Seal(rc, []byte("before rotation"), old.Recipient())
		require.NoError(t, err)
		hpkeGrant := s.Shared[0].WrappedKey
		g, err := old.Rewrap(rc, hpkeGrant, next.Recipient())
		require.NoError(t, err)

		got, err := next.Open(rc, s.Envelope, g.WrappedKey, next.VerifyingKey())
		require.NoError(t, err)
		assert.Equal(t, "before rotation", string(got))

		// The rotated-out key cannot open the new grant, nor the new key the old grant.
		_, err = old.Open(rc, s.Envelope, g.WrappedKey, old.VerifyingKey())
		assert.ErrorIs(t, err, ErrDecrypt)
		_, err = next.Open(rc, s.Envelope, hpkeGrant, next.VerifyingKey())
		assert.ErrorIs(t, err, ErrDecrypt)

		// The owner grant needs no re-wrapping: the owner key did not change.
		got, err = next.Open(rc, s.Envelope, s.Owner.WrappedKey, next.VerifyingKey())
		require.NoError(t, err)
		assert.Equal(t, "before rotation", string(got))
	}
}

func TestSuiteDowngradeByPolicy(t *testing.T) {
	// An agent without an X-Wing key cannot open an X-Wing grant, and the reverse: the grant
	// names its suite and key, and the wrong one fails closed.
	pq, classic := newAgent(t, bobDID, true), newAgent(t, bobDID, false)
	alice := newAgent(t, aliceDID, false)
	rc := noteContext(1)
	s, err := alice.Seal(rc, []byte("x"), pq.Recipient())
	require.NoError(t, err)
	_, err = classic.Unwrap(rc, s.Shared[0].WrappedKey)
	assert.ErrorIs(t, err, ErrDecrypt)
	assert.ErrorContains(t, err, "has none")
}

func TestErrorsCarryNoSecrets(t *testing.T) {
	alice := newAgent(t, aliceDID, true)
	rc := noteContext(1)
	s, err := alice.Seal(rc, []byte("top secret plaintext"))
	require.NoError(t, err)
	k, err := alice.Unwrap(rc, s.Owner.WrappedKey)
	require.NoError(t, err)

	// Every way of failing, checked for the plaintext and the key bytes.
	var errs []error
	for i := range s.Ciphertext {
		c := bytes.Clone(s.Ciphertext)
		c[i] ^= 1
		_, err := k.Open(Envelope{c, s.Nonce, s.Signature}, alice.VerifyingKey())
		errs = append(errs, err)
	}
	_, err = alice.Open(rc, s.Envelope, s.Owner.WrappedKey[:10], alice.VerifyingKey())
	errs = append(errs, err)
	_, err = ParseKeyFile([]byte("d1sealK\nnonsense"), []byte("passphrase"))
	errs = append(errs, err)
	for _, err := range errs {
		require.Error(t, err)
		msg := err.Error()
		assert.NotContains(t, msg, "top secret")
		assert.NotContains(t, msg, string(k.key[:]))
		assert.False(t, errors.Is(err, ErrKeyType))
	}
}

// TestContextCollectionIsCanonical checks that a record sealed under one spelling of its
// collection's authority opens under another: the context binds the canonical NSID.
func TestContextCollectionIsCanonical(t *testing.T) {
	alice := newAgent(t, aliceDID, false)
	rc := RecordContext{DID: aliceDID, Collection: "Com.Example.note", RKey: "3jzfcijpj2z2a", Version: 1}
	sealed, err := alice.Seal(rc, []byte("hello"))
	require.NoError(t, err)
	ref, err := syntax.ParseID(aliceDID + "/com.example.note/3jzfcijpj2z2a")
	require.NoError(t, err)
	got, err := alice.Open(NewRecordContext(ref, 1), sealed.Envelope, sealed.Owner.WrappedKey, alice.VerifyingKey())
	require.NoError(t, err, "open under the canonical spelling")
	assert.Equal(t, "hello", string(got))
	assert.Equal(t, appendContext(nil, rc), appendContext(nil, NewRecordContext(ref, 1)), "context bytes of both spellings")
}
