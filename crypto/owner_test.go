package crypto

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOwnerGrantRoundTrip(t *testing.T) {
	for _, pq := range []bool{false, true} {
		alice := newAgent(t, aliceDID, pq)
		require.True(t, alice.HasOwnerKey())
		rc := noteContext(3)
		s, err := alice.Seal(rc, []byte("owner only"))
		require.NoError(t, err)
		assert.Equal(t, Grant{RecipientDID: aliceDID, KeyID: alice.OwnerKeyID(), WrappedKey: s.Owner.WrappedKey}, s.Owner)
		assert.Len(t, s.Owner.WrappedKey, 78)
		assert.Equal(t, []byte{formatVersion, byte(SuiteOwner)}, s.Owner.WrappedKey[:2])
		assert.Empty(t, s.Shared)

		got, err := alice.Open(rc, s.Envelope, s.Owner.WrappedKey, alice.VerifyingKey())
		require.NoError(t, err)
		assert.Equal(t, "owner only", string(got))

		// The same data key wrapped twice gives two different grants (random nonce).
		k, err := alice.Unwrap(rc, s.Owner.WrappedKey)
		require.NoError(t, err)
		g1, err := k.wrapOwner(alice)
		require.NoError(t, err)
		g2, err := k.wrapOwner(alice)
		require.NoError(t, err)
		assert.NotEqual(t, g1.WrappedKey, g2.WrappedKey)
		k2, err := alice.Unwrap(rc, g2.WrappedKey)
		require.NoError(t, err)
		assert.Equal(t, k.key, k2.key)
	}
}

func TestOwnerKeyID(t *testing.T) {
	a, b := newAgent(t, aliceDID, false), newAgent(t, aliceDID, false)
	assert.NotEqual(t, a.OwnerKeyID(), b.OwnerKeyID())
	assert.NotEqual(t, KeyID{}, a.OwnerKeyID())
	// Stable, and not a truncation of the key or of any hash of it this package publishes.
	assert.Equal(t, a.OwnerKeyID(), newOwnerKey(a.owner.raw[:]).id)
	assert.False(t, bytes.Contains(a.owner.raw[:], a.OwnerKeyID().bytes()))
	for _, id := range a.Keys().KeyIDs() {
		assert.NotEqual(t, id, a.OwnerKeyID())
	}

	next, err := a.NewEncryptionKeys()
	require.NoError(t, err)
	assert.Equal(t, a.OwnerKeyID(), next.OwnerKeyID(), "NewEncryptionKeys keeps the owner key")
	full, err := a.NewKeys()
	require.NoError(t, err)
	assert.NotEqual(t, a.OwnerKeyID(), full.OwnerKeyID(), "NewKeys replaces it")
	assert.True(t, full.HasOwnerKey())
}

func (id KeyID) bytes() []byte { return id[:] }

func TestRewrapForOwner(t *testing.T) {
	old := newAgent(t, aliceDID, false)
	bob := newAgent(t, bobDID, false)
	rc := noteContext(1)
	s, err := old.Seal(rc, []byte("rotate me"), bob.Recipient())
	require.NoError(t, err)

	next, err := old.NewKeys()
	require.NoError(t, err)
	g, err := old.RewrapForOwner(rc, s.Owner.WrappedKey, next)
	require.NoError(t, err)
	assert.Equal(t, next.OwnerKeyID(), g.KeyID)
	assert.Equal(t, aliceDID, g.RecipientDID)
	got, err := next.Open(rc, s.Envelope, g.WrappedKey, old.VerifyingKey())
	require.NoError(t, err)
	assert.Equal(t, "rotate me", string(got))
	_, err = old.Unwrap(rc, g.WrappedKey)
	assert.ErrorIs(t, err, ErrDecrypt, "the old owner key cannot open the new grant")
	_, err = next.Unwrap(rc, s.Owner.WrappedKey)
	assert.ErrorIs(t, err, ErrDecrypt, "nor the new one the old grant")

	// From an HPKE owner grant (an agent from a version 1 key file) to an owner grant.
	legacy := withoutOwnerKey(old)
	hs, err := legacy.Seal(rc, []byte("legacy"))
	require.NoError(t, err)
	suite, _, err := WrappedKeyID(hs.Owner.WrappedKey)
	require.NoError(t, err)
	assert.Equal(t, SuiteX25519, suite)
	assert.Equal(t, legacy.RecipientKey().KeyID(), hs.Owner.KeyID)
	up, err := legacy.NewEncryptionKeys()
	require.NoError(t, err)
	require.True(t, up.HasOwnerKey(), "rotation gives an agent without an owner key one")
	g, err = legacy.RewrapForOwner(rc, hs.Owner.WrappedKey, up)
	require.NoError(t, err)
	suite, id, err := WrappedKeyID(g.WrappedKey)
	require.NoError(t, err)
	assert.Equal(t, SuiteOwner, suite)
	assert.Equal(t, up.OwnerKeyID(), id)
	_, err = up.Open(rc, hs.Envelope, g.WrappedKey, legacy.VerifyingKey())
	require.NoError(t, err)

	// To an agent without an owner key: an HPKE grant for its recipient key.
	g, err = old.RewrapForOwner(rc, s.Owner.WrappedKey, legacy)
	require.NoError(t, err)
	assert.Equal(t, legacy.RecipientKey().KeyID(), g.KeyID)

	// Only between two versions of the record's owner.
	_, err = old.RewrapForOwner(rc, s.Owner.WrappedKey, bob)
	assert.ErrorContains(t, err, "same agent")
	_, err = old.RewrapForOwner(rc, s.Owner.WrappedKey, nil)
	assert.Error(t, err)
	_, err = bob.RewrapForOwner(rc, s.Shared[0].WrappedKey, bob)
	assert.ErrorContains(t, err, "same agent")

	// Rekey still works, and gives the new version an owner grant.
	s2, err := next.Rekey(rc, s.Envelope, g.WrappedKey, 2)
	assert.Error(t, err, "signed by old's key, not next's")
	require.Nil(t, s2)
	s2, err = old.Rekey(rc, s.Envelope, s.Owner.WrappedKey, 2, bob.Recipient())
	require.NoError(t, err)
	assert.Equal(t, old.OwnerKeyID(), s2.Owner.KeyID)
}

// withoutOwnerKey returns a copy of a as read from a version 1 key file.
func withoutOwnerKey(a *Agent) *Agent {
	c := *a
	c.owner = nil
	return &c
}

func TestAgentWithoutOwnerKey(t *testing.T) {
	a := withoutOwnerKey(newAgent(t, aliceDID, true))
	assert.False(t, a.HasOwnerKey())
	assert.Equal(t, KeyID{}, a.OwnerKeyID())
	rc := noteContext(1)
	s, err := a.Seal(rc, []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, a.PostQuantumKey().KeyID(), s.Owner.KeyID, "owner grants stay HPKE")
	_, err = a.Open(rc, s.Envelope, s.Owner.WrappedKey, a.VerifyingKey())
	require.NoError(t, err)
	_, err = a.IndexKey("com.example.note", "tag")
	assert.ErrorContains(t, err, "no owner key")

	// Someone else's owner grant: refused without trying.
	o, err := newAgent(t, aliceDID, false).Seal(rc, []byte("x"))
	require.NoError(t, err)
	_, err = a.Unwrap(rc, o.Owner.WrappedKey)
	assert.ErrorIs(t, err, ErrDecrypt)
	assert.ErrorContains(t, err, "no owner key")
}

func TestOwnerKeyNeverPrinted(t *testing.T) {
	a := newAgent(t, aliceDID, true)
	ik, err := a.IndexKey("com.example.note", "tag")
	require.NoError(t, err)
	secrets := [][]byte{a.owner.raw[:], a.owner.prk[:], ik.key[:]}
	for _, v := range []any{a, *a, a.owner, *a.owner, ik, *ik} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			out := fmt.Sprintf(verb, v)
			assert.Contains(t, out, "REDACTED", "%s of %T", verb, v)
			for _, s := range secrets {
				assert.NotContains(t, out, string(s))
				assert.NotContains(t, out, fmt.Sprintf("%x", s))
				assert.NotContains(t, out, fmt.Sprintf("%X", s))
				assert.NotContains(t, out, fmt.Sprint(s))
			}
		}
	}
	assert.Contains(t, a.String(), "owner:"+a.OwnerKeyID().String())
}

func TestSealedColumnsDoNotAlias(t *testing.T) {
	// Seal carves the ciphertext, nonce, signature and owner grant out of one allocation;
	// appending to one column must not write into the next.
	alice := newAgent(t, aliceDID, false)
	rc := noteContext(1)
	s, err := alice.Seal(rc, []byte("columns"))
	require.NoError(t, err)
	nonce, sig, owner := bytes.Clone(s.Nonce), bytes.Clone(s.Signature), bytes.Clone(s.Owner.WrappedKey)
	_ = append(s.Ciphertext, 0xff, 0xff)
	_ = append(s.Nonce, 0xff, 0xff)
	_ = append(s.Signature, 0xff, 0xff)
	_ = append(s.Owner.WrappedKey, 0xff, 0xff)
	assert.Equal(t, nonce, s.Nonce)
	assert.Equal(t, sig, s.Signature)
	assert.Equal(t, owner, s.Owner.WrappedKey)
	got, err := alice.Open(rc, s.Envelope, s.Owner.WrappedKey, alice.VerifyingKey())
	require.NoError(t, err)
	assert.Equal(t, "columns", string(got))
}

func TestOwnerKeyringConcurrentUse(t *testing.T) {
	// An Agent and an IndexKey are safe for concurrent use (run with -race).
	alice, bob := newAgent(t, aliceDID, false), newAgent(t, bobDID, false)
	ik, err := alice.IndexKey("com.example.note", "tag")
	require.NoError(t, err)
	want, err := ik.Beacon([]byte("v"), 64)
	require.NoError(t, err)
	done := make(chan error)
	for g := range 4 {
		go func() {
			var err error
			defer func() { done <- err }()
			for i := range 20 {
				rc := noteContext(uint64(g*100 + i + 1))
				var s *Sealed
				if s, err = alice.Seal(rc, []byte("x"), bob.Recipient()); err != nil {
					return
				}
				if _, err = alice.Open(rc, s.Envelope, s.Owner.WrappedKey, alice.VerifyingKey()); err != nil {
					return
				}
				var b []byte
				if b, err = ik.Beacon([]byte("v"), 64); err != nil {
					return
				}
				if !bytes.Equal(b, want) {
					err = fmt.Errorf("beacon %x, want %x", b, want)
					return
				}
				if _, err = alice.IndexKey("com.example.note", "tag"); err != nil {
					return
				}
			}
		}()
	}
	for range 4 {
		require.NoError(t, <-done)
	}
}

func TestOwnerErrorsCarryNoSecrets(t *testing.T) {
	alice, bob := newAgent(t, aliceDID, false), newAgent(t, bobDID, false)
	rc := noteContext(1)
	s, err := alice.Seal(rc, []byte("top secret plaintext"))
	require.NoError(t, err)
	k, err := alice.Unwrap(rc, s.Owner.WrappedKey)
	require.NoError(t, err)
	ik, err := alice.IndexKey("com.example.note", "tag")
	require.NoError(t, err)
	w, err := ik.Wrap(bob.Recipient())
	require.NoError(t, err)

	var errs []error
	add := func(_ any, err error) { errs = append(errs, err) }
	flips(s.Owner.WrappedKey, func(c []byte, i, bit int) {
		if bit == 0 {
			add(alice.Unwrap(rc, c))
			add(alice.RewrapForOwner(rc, c, alice))
		}
	})
	add(alice.Unwrap(rc, s.Owner.WrappedKey[:40]))
	add(bob.Unwrap(rc, s.Owner.WrappedKey))
	add(withoutOwnerKey(alice).Unwrap(rc, s.Owner.WrappedKey))
	add(alice.RewrapForOwner(rc, s.Owner.WrappedKey, bob))
	add(ik.Beacon([]byte("secret-tag-value"), 7))
	add(alice.IndexKey("", "tag"))
	add(withoutOwnerKey(alice).IndexKey("com.example.note", "tag"))
	add(alice.UnwrapIndexKey(ik.Context(), w))
	add(bob.UnwrapIndexKey(IndexContext{aliceDID, "com.example.note", "topic"}, w))
	add(bob.UnwrapIndexKey(ik.Context(), w[:50]))
	data, err := marshalKeyFile(alice, []byte("pw"), testKDF)
	require.NoError(t, err)
	add(ParseKeyFile(data, []byte("wrong")))

	secrets := [][]byte{alice.owner.raw[:], alice.owner.prk[:], k.key[:], ik.key[:], []byte("top secret"), []byte("secret-tag-value")}
	for _, err := range errs {
		require.Error(t, err)
		msg := err.Error()
		for _, sec := range secrets {
			assert.NotContains(t, msg, string(sec))
			if len(sec) >= 16 {
				assert.NotContains(t, msg, fmt.Sprintf("%x", sec))
				assert.NotContains(t, msg, fmt.Sprintf("%x", sec[:8]))
			}
		}
	}
}
