package crypto_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
)

func TestPublicSignatures(t *testing.T) {
	alice, err := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	require.NoError(t, err)
	bob, err := crypto.GenerateAgent("did:plc:bob", crypto.GenerateOptions{})
	require.NoError(t, err)
	rc := crypto.RecordContext{DID: "did:plc:alice", Collection: "app.bsky.feed.post", RKey: "3jzfcijpj2z2a", Version: 1}
	content := []byte(`{"text":"hello, world"}`)
	sig, err := alice.SignPublic(rc, content)
	require.NoError(t, err)
	assert.Len(t, sig, 1+16+64)
	require.NoError(t, alice.VerifyingKey().VerifyPublic(rc, content, sig))

	_, err = bob.SignPublic(rc, content)
	assert.Error(t, err, "only the owner signs")

	// Every single-bit flip of the content or signature, any other context, or another key fails.
	for i := range content {
		for bit := range 8 {
			c := append([]byte(nil), content...)
			c[i] ^= 1 << bit
			assert.ErrorIs(t, alice.VerifyingKey().VerifyPublic(rc, c, sig), crypto.ErrDecrypt)
		}
	}
	for i := range sig {
		s := append([]byte(nil), sig...)
		s[i] ^= 0x01
		assert.ErrorIs(t, alice.VerifyingKey().VerifyPublic(rc, content, s), crypto.ErrDecrypt)
	}
	for _, other := range []crypto.RecordContext{
		{DID: "did:plc:alice", Collection: "app.bsky.feed.post", RKey: "3jzfcijpj2z2a", Version: 2},
		{DID: "did:plc:alice", Collection: "app.bsky.feed.like", RKey: "3jzfcijpj2z2a", Version: 1},
		{DID: "did:plc:alice", Collection: "app.bsky.feed.post", RKey: "3jzfcijpj2z2b", Version: 1},
	} {
		assert.ErrorIs(t, alice.VerifyingKey().VerifyPublic(other, content, sig), crypto.ErrDecrypt)
	}
	assert.ErrorIs(t, bob.VerifyingKey().VerifyPublic(rc, content, sig), crypto.ErrDecrypt)
	for n := range len(content) {
		assert.ErrorIs(t, alice.VerifyingKey().VerifyPublic(rc, content[:n], sig), crypto.ErrDecrypt)
	}

	// A sealed record's signature does not verify as a public record's, nor the reverse.
	sealed, err := alice.Seal(rc, content)
	require.NoError(t, err)
	assert.ErrorIs(t, alice.VerifyingKey().VerifyPublic(rc, sealed.Ciphertext, sealed.Signature), crypto.ErrDecrypt)
	env := sealed.Envelope
	env.Signature = mustSignPublic(t, rc, append(append([]byte(nil), env.Ciphertext...), env.Nonce...), alice)
	assert.ErrorIs(t, alice.VerifyingKey().Verify(rc, env), crypto.ErrDecrypt)
}

func mustSignPublic(t *testing.T, rc crypto.RecordContext, content []byte, a *crypto.Agent) []byte {
	sig, err := a.SignPublic(rc, content)
	require.NoError(t, err)
	return sig
}
