package crypto

import (
	"bytes"
	"flag"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Frozen vectors of the owner keyring (owner grants, suite 0x10 of wrapped key format
// version 1), of key file version 2 and of index keys and beacons, generated once with
//
//	go test ./crypto -run TestOwnerGolden -update-owner-golden
//
// and committed. The test decrypts the grants and the key file, and recomputes the owner key
// ids, index keys and beacons (deterministic, so their derivation is frozen too: a beacon
// stored today must match the one computed tomorrow). Never regenerate them to make a
// change pass; add a new format version and a new file instead.
var updateOwnerGolden = flag.Bool("update-owner-golden", false, "regenerate testdata/owner_v1.json and its fuzz seed corpora (never for a format change)")

const ownerGoldenFile = "testdata/owner_v1.json"

type goldenOwnerAgent struct {
	goldenAgent
	OwnerKey   hexBytes `json:"owner_key"`
	OwnerKeyID string   `json:"owner_key_id"`
}

type goldenBeacon struct {
	Collection string   `json:"collection"`
	Field      string   `json:"field"`
	Value      string   `json:"value"`
	Bits       int      `json:"bits"`
	Beacon     hexBytes `json:"beacon"`
}

type goldenWrappedIndexKey struct {
	DID          string   `json:"did"`
	Collection   string   `json:"collection"`
	Field        string   `json:"field"`
	RecipientDID string   `json:"recipient_did"`
	Wrapped      hexBytes `json:"wrapped"`
	Beacon       hexBytes `json:"beacon_of_value"` // the 256-bit beacon of "value" under the key
}

type goldenOwner struct {
	Note            string                  `json:"note"`
	Agents          []goldenOwnerAgent      `json:"agents"`
	Records         []goldenRecord          `json:"records"`
	KeyFiles        []goldenKeyFile         `json:"key_files"`
	Beacons         []goldenBeacon          `json:"beacons"`
	WrappedIndexKey []goldenWrappedIndexKey `json:"wrapped_index_keys"`
}

// ownerAgentFromSecrets rebuilds an agent with an owner key, as a version 2 key file does.
func ownerAgentFromSecrets(t testing.TB, ga goldenOwnerAgent) *Agent {
	t.Helper()
	p := appendString16(nil, ga.DID)
	p = append(append(p, ga.X25519...), ga.Ed25519Seed...)
	if len(ga.XWingSeed) == 0 {
		p = append(p, 0)
	} else {
		p = append(append(p, 1), ga.XWingSeed...)
	}
	p = append(append(p, 1), ga.OwnerKey...)
	a, err := unmarshalPrivate(p, 2)
	require.NoError(t, err)
	return a
}

func readOwnerGolden(t testing.TB) (goldenOwner, map[string]*Agent) {
	t.Helper()
	var g goldenOwner
	readGoldenJSON(t, ownerGoldenFile, &g)
	agents := map[string]*Agent{}
	for _, ga := range g.Agents {
		agents[ga.DID] = ownerAgentFromSecrets(t, ga)
	}
	return g, agents
}

func TestOwnerGolden(t *testing.T) {
	if *updateOwnerGolden {
		writeOwnerGolden(t)
	}
	g, agents := readOwnerGolden(t)
	require.Len(t, g.Agents, 2)
	require.Len(t, g.Records, 2)
	require.Len(t, g.KeyFiles, 1)
	require.NotEmpty(t, g.Beacons)
	require.Len(t, g.WrappedIndexKey, 1)

	for _, ga := range g.Agents {
		a := agents[ga.DID]
		assert.Equal(t, ga.OwnerKeyID, a.OwnerKeyID().String(), ga.DID)
		assert.Equal(t, []byte(ga.PublicKey), a.RecipientKey().Bytes(), ga.DID)
		assert.Equal(t, []byte(ga.SigningKey), a.VerifyingKey().Bytes(), ga.DID)
	}

	for _, r := range g.Records {
		rc := r.context()
		env := Envelope{Ciphertext: r.Ciphertext, Nonce: r.Nonce, Signature: r.Signature}
		author := agents[r.DID].VerifyingKey()
		suite, kid, err := WrappedKeyID(r.Owner.EncryptedDEK)
		require.NoError(t, err)
		assert.Equal(t, SuiteOwner, suite)
		assert.Equal(t, r.Owner.KeyID, kid.String())
		assert.Equal(t, agents[r.DID].OwnerKeyID(), kid)
		assert.Len(t, r.Owner.EncryptedDEK, 78)
		for _, gr := range append([]goldenGrant{r.Owner}, r.Shared...) {
			_, kid, err := WrappedKeyID(gr.EncryptedDEK)
			require.NoError(t, err)
			assert.Equal(t, gr.KeyID, kid.String())
			pt, err := agents[gr.RecipientDID].Open(rc, env, gr.EncryptedDEK, author)
			require.NoError(t, err, "%s as %s", rc, gr.RecipientDID)
			assert.Equal(t, r.Plaintext, string(pt))
		}
	}

	kf := g.KeyFiles[0]
	require.Equal(t, byte(2), kf.File[8], "key file version 2")
	a, err := ParseKeyFile(kf.File, []byte(kf.Passphrase))
	require.NoError(t, err)
	want := agents[kf.DID]
	assert.True(t, want.Keys().Equal(a.Keys()))
	require.True(t, a.HasOwnerKey())
	assert.Equal(t, want.OwnerKeyID(), a.OwnerKeyID())
	_, err = ParseKeyFile(kf.File, []byte(kf.Passphrase+"!"))
	assert.ErrorIs(t, err, ErrDecrypt)

	for _, b := range g.Beacons {
		k, err := agents[g.Agents[0].DID].IndexKey(b.Collection, b.Field)
		require.NoError(t, err)
		got, err := k.Beacon([]byte(b.Value), b.Bits)
		require.NoError(t, err)
		assert.Equal(t, []byte(b.Beacon), got, "%s#%s %q at %d bits", b.Collection, b.Field, b.Value, b.Bits)
	}

	w := g.WrappedIndexKey[0]
	ic := IndexContext{DID: w.DID, Collection: w.Collection, Field: w.Field}
	k, err := agents[w.RecipientDID].UnwrapIndexKey(ic, w.Wrapped)
	require.NoError(t, err)
	got, err := k.Beacon([]byte("value"), 256)
	require.NoError(t, err)
	assert.Equal(t, []byte(w.Beacon), got)
	own, err := agents[w.DID].IndexKey(w.Collection, w.Field)
	require.NoError(t, err)
	assert.Equal(t, own.key, k.key)
}

func writeOwnerGolden(t *testing.T) {
	alice, bob := newAgent(t, aliceDID, false), newAgent(t, bobDID, true)
	g := goldenOwner{Note: "d1seal owner keyring, frozen: owner grants (wrapped key version 1, suite 0x10), key file version 2, index keys and beacons; decrypt-only test vectors (crypto/owner_golden_test.go). The private keys are test keys."}
	for _, a := range []*Agent{alice, bob} {
		g.Agents = append(g.Agents, goldenOwnerAgent{
			goldenAgent: toGoldenAgent(t, a),
			OwnerKey:    a.owner.raw[:],
			OwnerKeyID:  a.OwnerKeyID().String(),
		})
	}
	grant := func(gr Grant) goldenGrant {
		return goldenGrant{RecipientDID: gr.RecipientDID, KeyID: gr.KeyID.String(), EncryptedDEK: gr.WrappedKey}
	}
	for _, c := range []struct {
		rc RecordContext
		pt string
		to []Recipient
	}{
		{RecordContext{aliceDID, "com.example.note", "3jzfcijpj2z2a", 1}, "golden record under an owner grant", nil},
		{RecordContext{aliceDID, "agent.memory.note", "3kabcdefghij2", 7}, "owner grant and an X-Wing share", []Recipient{bob.Recipient()}},
	} {
		s, err := alice.Seal(c.rc, []byte(c.pt), c.to...)
		require.NoError(t, err)
		r := goldenRecord{
			DID: string(c.rc.DID), Collection: string(c.rc.Collection), RKey: string(c.rc.RKey), Version: c.rc.Version,
			Plaintext: c.pt, Ciphertext: s.Ciphertext, Nonce: s.Nonce, Signature: s.Signature,
			Owner: grant(s.Owner), Shared: []goldenGrant{},
		}
		for _, sh := range s.Shared {
			r.Shared = append(r.Shared, grant(sh))
		}
		g.Records = append(g.Records, r)
	}
	kf, err := marshalKeyFile(alice, []byte("golden passphrase"), testKDF)
	require.NoError(t, err)
	g.KeyFiles = []goldenKeyFile{{DID: aliceDID, Passphrase: "golden passphrase", File: kf}}

	for _, c := range []struct{ coll, field, value string }{
		{"com.example.note", "tag", "groceries"},
		{"com.example.note", "tag", ""},
		{"com.example.note", "topic", "groceries"},
		{"agent.memory.note", "tag", "groceries"},
	} {
		k, err := alice.IndexKey(c.coll, c.field)
		require.NoError(t, err)
		for _, bits := range []int{8, 32, 64, 256} {
			b, err := k.Beacon([]byte(c.value), bits)
			require.NoError(t, err)
			g.Beacons = append(g.Beacons, goldenBeacon{c.coll, c.field, c.value, bits, b})
		}
	}
	k, err := alice.IndexKey("com.example.note", "tag")
	require.NoError(t, err)
	w, err := k.Wrap(Recipient{DID: bobDID, Key: bob.RecipientKey()})
	require.NoError(t, err)
	b, err := k.Beacon([]byte("value"), 256)
	require.NoError(t, err)
	g.WrappedIndexKey = []goldenWrappedIndexKey{{aliceDID, "com.example.note", "tag", bobDID, w, b}}

	writeGoldenJSON(t, ownerGoldenFile, g)

	r0, r1 := g.Records[0], g.Records[1]
	owner := []byte(r0.Owner.EncryptedDEK)
	seeds := map[string][][]byte{
		"FuzzUnwrapOwner": {
			owner,
			r1.Owner.EncryptedDEK.bytes(),
			r1.Shared[0].EncryptedDEK.bytes(),
			owner[:wrapHeadSize],
			append([]byte{1, byte(SuiteX25519)}, owner[2:]...),
		},
		"FuzzUnwrapIndexKey": {
			w,
			w[:wrapHeadSize],
			owner,
		},
		"FuzzParseKeyFile": {kf},
	}
	for target, cases := range seeds {
		for i, c := range cases {
			writeFuzzSeed(t, target, fmt.Sprintf("owner-%d", i), c)
		}
	}
}

// TestKeyFileVersion1HasNoOwnerKey: the frozen version 1 key file still reads, without an
// owner key, and is rewritten as version 2 with the owner key absent.
func TestKeyFileVersion1HasNoOwnerKey(t *testing.T) {
	g, _ := readGolden(t)
	kf := g.KeyFiles[0]
	require.Equal(t, byte(1), kf.File[8])
	a, err := ParseKeyFile(kf.File, []byte(kf.Passphrase))
	require.NoError(t, err)
	assert.False(t, a.HasOwnerKey())
	rc := noteContext(1)
	s, err := a.Seal(rc, []byte("x"))
	require.NoError(t, err)
	suite, _, err := WrappedKeyID(s.Owner.WrappedKey)
	require.NoError(t, err)
	assert.Equal(t, a.Recipient().Key.Suite(), suite, "owner grants stay HPKE")

	data, err := marshalKeyFile(a, []byte("pw"), testKDF)
	require.NoError(t, err)
	assert.Equal(t, byte(2), data[8], "written as version 2")
	b, err := ParseKeyFile(data, []byte("pw"))
	require.NoError(t, err)
	assert.False(t, b.HasOwnerKey())
	assert.True(t, a.Keys().Equal(b.Keys()))

	// Version 2 payloads are parsed exactly: bad flags and trailing bytes are refused.
	c := newAgent(t, aliceDID, false)
	p, err := c.marshalPrivate()
	require.NoError(t, err)
	got, err := unmarshalPrivate(p, 2)
	require.NoError(t, err)
	assert.Equal(t, c.OwnerKeyID(), got.OwnerKeyID())
	v1, err := unmarshalPrivate(unclamped(p[:len(p)-33], len(aliceDID)), 1)
	require.NoError(t, err, "version 1 takes an unclamped X25519 key")
	assert.True(t, c.Keys().Equal(v1.Keys()))
	for name, bad := range map[string][]byte{
		"trailing":     append(bytes.Clone(p), 0),
		"short":        p[:len(p)-1],
		"flag 2":       append(bytes.Clone(p[:len(p)-33]), append([]byte{2}, p[len(p)-32:]...)...),
		"no flag":      p[:len(p)-33],
		"v1 with tail": p,
		"unclamped":    unclamped(p, len(aliceDID)),
	} {
		v := byte(2)
		if name == "v1 with tail" {
			v = 1
		}
		_, err := unmarshalPrivate(bad, v)
		assert.Error(t, err, name)
	}
}

// unclamped returns payload p with the X25519 key's bit 254 cleared: the same key, spelt
// as version 1 files could.
func unclamped(p []byte, didLen int) []byte {
	c := bytes.Clone(p)
	c[2+didLen+31] &^= 0x40
	return c
}
