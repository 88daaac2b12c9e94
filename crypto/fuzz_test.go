package crypto

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fuzz targets for every decoder of stored bytes. Seed corpora are in testdata/fuzz/, made
// from the golden rows. Run one with, e.g.:
//
//	go test ./crypto -run '^$' -fuzz FuzzUnwrap -fuzztime 1m

func goldenFixture(f *testing.F) (golden, map[string]*Agent, RecordContext) {
	g, agents := readGolden(f)
	r := g.Records[0]
	return g, agents, r.context()
}

func FuzzOpenEnvelope(f *testing.F) {
	g, agents, rc := goldenFixture(f)
	r := g.Records[0]
	author := agents[r.DID].VerifyingKey()
	key, err := agents[r.Shared[0].RecipientDID].Unwrap(rc, r.Shared[0].EncryptedDEK)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, ct, nonce, sig []byte) {
		same := bytes.Equal(ct, r.Ciphertext) && bytes.Equal(nonce, r.Nonce)
		pt, err := key.openContent(ct, nonce)
		if err != nil {
			require.ErrorIs(t, err, ErrDecrypt)
		} else {
			require.True(t, same, "forged content opened")
			require.Equal(t, r.Plaintext, string(pt))
		}
		pt, err = key.Open(Envelope{ct, nonce, sig}, author)
		if err != nil {
			require.ErrorIs(t, err, ErrDecrypt)
		} else {
			require.True(t, same && bytes.Equal(sig, r.Signature), "forged envelope opened")
			require.Equal(t, r.Plaintext, string(pt))
		}
		if id, err := SignatureKeyID(sig); err == nil {
			if sig[0] == formatVersion {
				assert.Len(t, sig, signatureSize)
			}
			assert.Equal(t, sig[1:17], id[:])
		}
	})
}

func FuzzUnwrap(f *testing.F) {
	g, agents, _ := goldenFixture(f)
	r := g.Records[0]
	f.Fuzz(func(t *testing.T, w []byte) {
		unwrapsOnlyItself(t, agents, r, w)
		if s, _, err := WrappedKeyID(w); err == nil {
			require.True(t, s.wraps())
			require.Len(t, w, wrappedKeySize(s))
		}
	})
}

func FuzzParseKeyFile(f *testing.F) {
	g, agents, _ := goldenFixture(f)
	og, ownerAgents := readOwnerGolden(f)
	kf, okf := g.KeyFiles[0], og.KeyFiles[0]
	require.Equal(f, kf.Passphrase, okf.Passphrase)
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := parseKeyFileHeader(data)
		if err != nil {
			require.ErrorIs(t, err, ErrDecrypt)
			return
		}
		require.NoError(t, o.check())
		if o.MemoryKiB > 256 || o.Time > 2 {
			return // within the caps, but too slow to fuzz
		}
		a, err := ParseKeyFile(data, []byte(kf.Passphrase))
		if err != nil {
			require.ErrorIs(t, err, ErrDecrypt)
			return
		}
		// Only the two golden files open: version 1 (no owner key) and version 2.
		switch {
		case bytes.Equal(data, kf.File):
			require.True(t, agents[kf.DID].RecipientKey().Equal(a.RecipientKey()))
			require.False(t, a.HasOwnerKey())
		case bytes.Equal(data, okf.File):
			require.True(t, ownerAgents[okf.DID].Keys().Equal(a.Keys()))
			require.Equal(t, ownerAgents[okf.DID].OwnerKeyID(), a.OwnerKeyID())
		default:
			t.Fatalf("forged key file opened")
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := ParseRecipientKey(b); err == nil {
			require.Equal(t, b, k.Bytes())
			_, err := ParseVerifyingKey(b)
			require.ErrorIs(t, err, ErrKeyType)
		}
		if k, err := ParseVerifyingKey(b); err == nil {
			require.Equal(t, b, k.Bytes())
			_, err := ParseRecipientKey(b)
			require.ErrorIs(t, err, ErrKeyType)
		}
	})
}

func FuzzParseKeyEntry(f *testing.F) {
	_, _, log := readKeyLogGolden(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseKeyEntry(b)
		if err != nil {
			require.ErrorIs(t, err, ErrDecrypt)
			require.Nil(t, e)
			return
		}
		require.Equal(t, b, e.Marshal(), "the encoding is canonical")
		h := e.Hash()
		require.Equal(t, h, e.Hash())
		// Only the golden entries verify, each after its own predecessor.
		var prev *KeyEntry
		for _, want := range log {
			if e.Verify(prev) == nil {
				require.Equal(t, want.Marshal(), b, "forged entry verified after entry %v", prev)
			}
			prev = want
		}
	})
}

func FuzzUnwrapOwner(f *testing.F) {
	g, agents := readOwnerGolden(f)
	f.Fuzz(func(t *testing.T, w []byte) {
		for _, r := range g.Records {
			unwrapsOnlyItself(t, agents, r, w)
		}
		if s, id, err := WrappedKeyID(w); err == nil {
			require.True(t, s.wraps())
			require.Len(t, w, wrappedKeySize(s))
			require.Equal(t, w[2:18], id[:])
		}
	})
}

func FuzzUnwrapIndexKey(f *testing.F) {
	g, agents := readOwnerGolden(f)
	gw := g.WrappedIndexKey[0]
	ic := IndexContext{DID: gw.DID, Collection: gw.Collection, Field: gw.Field}
	f.Fuzz(func(t *testing.T, w []byte) {
		for did, a := range agents {
			k, err := a.UnwrapIndexKey(ic, w)
			if err != nil {
				require.ErrorIs(t, err, ErrDecrypt)
				continue
			}
			require.Equal(t, gw.RecipientDID, did)
			require.Equal(t, []byte(gw.Wrapped), w, "forged wrapped index key opened")
			require.Equal(t, ic, k.Context())
		}
	})
}

// FuzzUnmarshalPrivate reaches the key file payload decoder directly (through ParseKeyFile
// only authenticated payloads reach it): any input either fails or decodes to an agent that
// encodes back to the same bytes (version 2) or, for version 1, to the same keys plus an
// absent owner key.
func FuzzUnmarshalPrivate(f *testing.F) {
	_, agents := readOwnerGolden(f)
	for _, a := range agents {
		p, err := a.marshalPrivate()
		require.NoError(f, err)
		f.Add(p, byte(2))
		f.Add(p[:len(p)-33], byte(1))
	}
	f.Fuzz(func(t *testing.T, p []byte, version byte) {
		a, err := unmarshalPrivate(p, version)
		if err != nil {
			require.Nil(t, a)
			return
		}
		out, err := a.marshalPrivate()
		require.NoError(t, err)
		if version >= 2 {
			require.Equal(t, p, out, "one encoding per agent")
			return
		}
		// Version 1 took unclamped X25519 keys too; the rest is exact.
		require.False(t, a.HasOwnerKey())
		b, err := unmarshalPrivate(out, 2)
		require.NoError(t, err)
		require.True(t, a.Keys().Equal(b.Keys()))
		x := 2 + len(a.did)
		require.Equal(t, p[:x], out[:x])
		require.Equal(t, p[x+keySize:], out[x+keySize:len(out)-1])
	})
}

// unwrapsOnlyItself checks that w, tried as each grant of golden record r by its recipient,
// fails with ErrDecrypt unless it is that very grant, which opens r's version.
func unwrapsOnlyItself(t *testing.T, agents map[string]*Agent, r goldenRecord, w []byte) {
	rc := r.context()
	for _, gr := range append([]goldenGrant{r.Owner}, r.Shared...) {
		k, err := agents[gr.RecipientDID].Unwrap(rc, w)
		if err != nil {
			require.ErrorIs(t, err, ErrDecrypt)
			continue
		}
		require.Equal(t, []byte(gr.EncryptedDEK), w, "forged grant opened")
		require.Equal(t, rc, k.Context())
	}
}
