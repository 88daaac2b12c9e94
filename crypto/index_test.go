package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIndexKeyDerivation(t *testing.T) {
	alice := newAgent(t, aliceDID, false)
	k, err := alice.IndexKey("com.example.note", "tag")
	require.NoError(t, err)
	assert.Equal(t, IndexContext{aliceDID, "com.example.note", "tag"}, k.Context())

	same, err := alice.IndexKey("com.example.note", "tag")
	require.NoError(t, err)
	assert.Equal(t, k.key, same.key, "derived, not random")

	// Per owner, per collection, per field, and injective across field boundaries.
	keys := map[string][2]string{
		"collection": {"com.example.other", "tag"},
		"field":      {"com.example.note", "topic"},
		"shifted":    {"com.example.not", "etag"},
	}
	for name, ck := range keys {
		o, err := alice.IndexKey(ck[0], ck[1])
		require.NoError(t, err)
		assert.NotEqual(t, k.key, o.key, name)
	}
	o, err := newAgent(t, aliceDID, false).IndexKey("com.example.note", "tag")
	require.NoError(t, err)
	assert.NotEqual(t, k.key, o.key)

	// NewEncryptionKeys keeps index keys; NewKeys changes them.
	next, err := alice.NewEncryptionKeys()
	require.NoError(t, err)
	nk, err := next.IndexKey("com.example.note", "tag")
	require.NoError(t, err)
	assert.Equal(t, k.key, nk.key)
	full, err := alice.NewKeys()
	require.NoError(t, err)
	fk, err := full.IndexKey("com.example.note", "tag")
	require.NoError(t, err)
	assert.NotEqual(t, k.key, fk.key)

	for _, c := range [][2]string{{"", "tag"}, {"com.example.note", ""}, {"c", string(make([]byte, 2049))}} {
		_, err := alice.IndexKey(c[0], c[1])
		assert.Error(t, err)
	}
}

func TestBeacon(t *testing.T) {
	k, err := newAgent(t, aliceDID, false).IndexKey("com.example.note", "tag")
	require.NoError(t, err)
	full, err := k.Beacon([]byte("groceries"), 256)
	require.NoError(t, err)
	require.Len(t, full, 32)
	for bits := 8; bits <= 256; bits += 8 {
		b, err := k.Beacon([]byte("groceries"), bits)
		require.NoError(t, err, "%d bits", bits)
		assert.Equal(t, full[:bits/8], b, "%d bits is a prefix", bits)
	}
	for _, v := range [][]byte{[]byte("groceries"), nil, make([]byte, 1000)} {
		m := hmac.New(sha256.New, k.key[:])
		m.Write(v)
		b, err := k.Beacon(v, 256)
		require.NoError(t, err)
		assert.Equal(t, m.Sum(nil), b, "HMAC-SHA256 of a %d-byte value", len(v))
	}
	other, err := k.Beacon([]byte("groceries!"), 256)
	require.NoError(t, err)
	assert.NotEqual(t, full, other)
	empty, err := k.Beacon(nil, 64)
	require.NoError(t, err)
	assert.Len(t, empty, 8)

	for _, bits := range []int{-8, 0, 1, 7, 9, 12, 255, 257, 264, 1 << 20} {
		_, err := k.Beacon([]byte("x"), bits)
		require.Error(t, err, "%d bits", bits)
		assert.ErrorContains(t, err, fmt.Sprintf("%d bits: want a multiple of 8 from 8 to 256", bits))
		assert.NotContains(t, err.Error(), "x\"")
	}
}

func TestIndexKeyShare(t *testing.T) {
	for _, pq := range []bool{false, true} {
		alice, bob, carol := newAgent(t, aliceDID, false), newAgent(t, bobDID, pq), newAgent(t, carolDID, false)
		k, err := alice.IndexKey("com.example.note", "tag")
		require.NoError(t, err)
		w, err := k.Wrap(bob.Recipient())
		require.NoError(t, err)
		assert.Len(t, w, wrappedIndexKeySize(bob.Recipient().Key.Suite()))

		ic := k.Context()
		got, err := bob.UnwrapIndexKey(ic, w)
		require.NoError(t, err)
		assert.Equal(t, k.key, got.key)
		want, err := k.Beacon([]byte("groceries"), 32)
		require.NoError(t, err)
		b, err := got.Beacon([]byte("groceries"), 32)
		require.NoError(t, err)
		assert.Equal(t, want, b)

		// Bound to the owner, collection, field and recipient.
		for name, moved := range map[string]IndexContext{
			"owner":      {carolDID, ic.Collection, ic.Field},
			"collection": {ic.DID, "com.example.other", ic.Field},
			"field":      {ic.DID, ic.Collection, "topic"},
			"shifted":    {ic.DID, ic.Collection + "t", "ag"},
		} {
			_, err := bob.UnwrapIndexKey(moved, w)
			assert.ErrorIs(t, err, ErrDecrypt, name)
		}
		_, err = carol.UnwrapIndexKey(ic, w)
		assert.ErrorIs(t, err, ErrDecrypt, "another recipient")
		impostor := &Agent{did: carolDID, enc: bob.enc, pq: bob.pq, sign: bob.sign}
		_, err = impostor.UnwrapIndexKey(ic, w)
		assert.ErrorIs(t, err, ErrDecrypt, "bob's keys under carol's DID")

		for n := range len(w) {
			_, err := bob.UnwrapIndexKey(ic, w[:n])
			require.ErrorIs(t, err, ErrDecrypt, "truncated to %d", n)
		}
		if !pq { // every bit of the X25519 form; the X-Wing form is 1186 bytes
			flips(w, func(c []byte, i, bit int) {
				_, err := bob.UnwrapIndexKey(ic, c)
				require.ErrorIs(t, err, ErrDecrypt, "byte %d bit %d", i, bit)
			})
		}

		// A wrapped index key is not a wrapped data key, nor the reverse, even for the same
		// recipient.
		rc := RecordContext{DID: aliceDID, Collection: "com.example.note", RKey: "tag", Version: 1}
		_, err = bob.Unwrap(rc, w)
		assert.ErrorIs(t, err, ErrDecrypt)
		s, err := alice.Seal(rc, []byte("x"), bob.Recipient())
		require.NoError(t, err)
		_, err = bob.UnwrapIndexKey(ic, s.Shared[0].WrappedKey)
		assert.ErrorIs(t, err, ErrDecrypt)
		_, err = alice.UnwrapIndexKey(ic, s.Owner.WrappedKey)
		assert.ErrorIs(t, err, ErrDecrypt, "an owner grant is no wrapped index key")
	}
	_, err := newAgent(t, bobDID, false).UnwrapIndexKey(IndexContext{}, nil)
	assert.Error(t, err)
}
