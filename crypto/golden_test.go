package crypto

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/syntax"
)

// Frozen vectors of this package's formats (version 1). They were generated once with
//
//	go test ./crypto -run TestGolden -update-golden
//
// and committed. The test only decrypts them: any change that stops today's code from
// reading yesterday's rows fails here. Never regenerate them to make a change pass; add a
// new format version and a new file instead.
var updateGolden = flag.Bool("update-golden", false, "regenerate testdata/golden_v1.json and the fuzz seed corpora (never for a format change)")

const goldenFile = "testdata/golden_v1.json"

type goldenAgent struct {
	DID          string   `json:"did"`
	X25519       hexBytes `json:"x25519_private"`
	Ed25519Seed  hexBytes `json:"ed25519_seed"`
	XWingSeed    hexBytes `json:"xwing_seed,omitempty"`
	PublicKey    hexBytes `json:"public_key"`
	PQPublicKey  hexBytes `json:"pq_public_key,omitempty"`
	SigningKey   hexBytes `json:"signing_key"`
	PublicKeyID  string   `json:"public_key_id"`
	SigningKeyID string   `json:"signing_key_id"`
}

type goldenGrant struct {
	RecipientDID string   `json:"recipient_did"`
	KeyID        string   `json:"key_id"`
	EncryptedDEK hexBytes `json:"encrypted_dek"`
}

type goldenRecord struct {
	DID        string        `json:"did"`
	Collection string        `json:"collection"`
	RKey       string        `json:"rkey"`
	Version    uint64        `json:"version"`
	Plaintext  string        `json:"plaintext"`
	Ciphertext hexBytes      `json:"ciphertext"`
	Nonce      hexBytes      `json:"nonce"`
	Signature  hexBytes      `json:"signature"`
	Owner      goldenGrant   `json:"owner"`
	Shared     []goldenGrant `json:"shared"`
}

// context is the record context of a golden record.
func (r goldenRecord) context() RecordContext {
	return RecordContext{DID: syntax.DID(r.DID), Collection: syntax.NSID(r.Collection), RKey: syntax.RecordKey(r.RKey), Version: r.Version}
}

type goldenKeyFile struct {
	DID        string   `json:"did"`
	Passphrase string   `json:"passphrase"`
	File       hexBytes `json:"file"`
}

type golden struct {
	Note     string          `json:"note"`
	Agents   []goldenAgent   `json:"agents"`
	Records  []goldenRecord  `json:"records"`
	KeyFiles []goldenKeyFile `json:"key_files"`
}

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// agentFromSecrets rebuilds an agent from its private key bytes, as the key file does.
func agentFromSecrets(t testing.TB, did string, x, ed, pq []byte) *Agent {
	t.Helper()
	p := appendString16(nil, did)
	p = append(append(p, x...), ed...)
	if pq == nil {
		p = append(p, 0)
	} else {
		p = append(append(p, 1), pq...)
	}
	a, err := unmarshalPrivate(p, 1)
	require.NoError(t, err)
	return a
}

func readGolden(t testing.TB) (golden, map[string]*Agent) {
	t.Helper()
	var g golden
	readGoldenJSON(t, goldenFile, &g)
	agents := map[string]*Agent{}
	for _, ga := range g.Agents {
		var pq []byte
		if len(ga.XWingSeed) > 0 {
			pq = ga.XWingSeed
		}
		agents[ga.DID] = agentFromSecrets(t, ga.DID, ga.X25519, ga.Ed25519Seed, pq)
	}
	return g, agents
}

func TestGolden(t *testing.T) {
	if *updateGolden {
		writeGolden(t)
	}
	g, agents := readGolden(t)
	require.Len(t, g.Agents, 2)
	require.Len(t, g.Records, 2)
	require.Len(t, g.KeyFiles, 1)

	for _, ga := range g.Agents {
		a := agents[ga.DID]
		assert.Equal(t, []byte(ga.PublicKey), a.RecipientKey().Bytes(), ga.DID)
		assert.Equal(t, ga.PublicKeyID, a.RecipientKey().KeyID().String(), ga.DID)
		assert.Equal(t, []byte(ga.SigningKey), a.VerifyingKey().Bytes(), ga.DID)
		assert.Equal(t, ga.SigningKeyID, a.VerifyingKey().KeyID().String(), ga.DID)
		if len(ga.PQPublicKey) > 0 {
			assert.Equal(t, []byte(ga.PQPublicKey), a.PostQuantumKey().Bytes(), ga.DID)
		}
		k, err := ParseRecipientKey(ga.PublicKey)
		require.NoError(t, err)
		assert.Equal(t, ga.PublicKeyID, k.KeyID().String())
		v, err := ParseVerifyingKey(ga.SigningKey)
		require.NoError(t, err)
		assert.Equal(t, ga.SigningKeyID, v.KeyID().String())
	}

	for _, r := range g.Records {
		rc := r.context()
		env := Envelope{Ciphertext: r.Ciphertext, Nonce: r.Nonce, Signature: r.Signature}
		author := agents[r.DID].VerifyingKey()
		id, err := SignatureKeyID(r.Signature)
		require.NoError(t, err)
		assert.Equal(t, author.KeyID(), id)
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
	a, err := ParseKeyFile(kf.File, []byte(kf.Passphrase))
	require.NoError(t, err)
	want := agents[kf.DID]
	assert.True(t, want.RecipientKey().Equal(a.RecipientKey()))
	assert.True(t, want.VerifyingKey().Equal(a.VerifyingKey()))
	assert.True(t, want.PostQuantumKey().Equal(a.PostQuantumKey()))
	_, err = ParseKeyFile(kf.File, []byte(kf.Passphrase+"!"))
	assert.ErrorIs(t, err, ErrDecrypt)
}

func writeGolden(t *testing.T) {
	alice, bob := newAgent(t, aliceDID, true), newAgent(t, bobDID, false)
	g := golden{Note: "d1seal crypto format version 1, frozen: decrypt-only test vectors (crypto/golden_test.go). The private keys are test keys."}
	for _, a := range []*Agent{alice, bob} {
		x, err := a.enc.priv.Bytes()
		require.NoError(t, err)
		ga := goldenAgent{
			DID: a.did, X25519: x, Ed25519Seed: a.sign.priv.Seed(),
			PublicKey: a.RecipientKey().Bytes(), SigningKey: a.VerifyingKey().Bytes(),
			PublicKeyID: a.RecipientKey().KeyID().String(), SigningKeyID: a.VerifyingKey().KeyID().String(),
		}
		if a.pq != nil {
			ga.XWingSeed, err = a.pq.priv.Bytes()
			require.NoError(t, err)
			ga.PQPublicKey = a.PostQuantumKey().Bytes()
		}
		g.Agents = append(g.Agents, ga)
	}
	grant := func(gr Grant) goldenGrant {
		return goldenGrant{RecipientDID: gr.RecipientDID, KeyID: gr.KeyID.String(), EncryptedDEK: gr.WrappedKey}
	}
	for _, c := range []struct {
		owner *Agent
		rc    RecordContext
		pt    string
		to    Recipient
	}{
		{alice, RecordContext{aliceDID, "com.example.note", "3jzfcijpj2z2a", 1}, "golden record, format version 1", bob.Recipient()},
		{bob, RecordContext{bobDID, "agent.memory.note", "3kabcdefghij2", 42}, "", alice.Recipient()},
	} {
		s, err := c.owner.Seal(c.rc, []byte(c.pt), c.to)
		require.NoError(t, err)
		g.Records = append(g.Records, goldenRecord{
			DID: string(c.rc.DID), Collection: string(c.rc.Collection), RKey: string(c.rc.RKey), Version: c.rc.Version,
			Plaintext: c.pt, Ciphertext: s.Ciphertext, Nonce: s.Nonce, Signature: s.Signature,
			Owner: grant(s.Owner), Shared: []goldenGrant{grant(s.Shared[0])},
		})
	}
	kf, err := marshalKeyFile(alice, []byte("golden passphrase"), testKDF)
	require.NoError(t, err)
	g.KeyFiles = []goldenKeyFile{{DID: aliceDID, Passphrase: "golden passphrase", File: kf}}

	writeGoldenJSON(t, goldenFile, g)

	// Seed corpora for the fuzz targets, built from the same rows.
	r0 := g.Records[0]
	seeds := map[string][][][]byte{
		"FuzzOpenEnvelope": {
			{[]byte(r0.Ciphertext), []byte(r0.Nonce), []byte(r0.Signature)},
			{[]byte(r0.Ciphertext[:minCiphertextSize]), []byte(r0.Nonce), []byte(r0.Signature)},
			{[]byte{1, 1}, []byte{}, []byte{1}},
		},
		"FuzzUnwrap": {
			{[]byte(r0.Owner.EncryptedDEK)},
			{[]byte(r0.Shared[0].EncryptedDEK)},
			{[]byte{1, 2}},
		},
		"FuzzParseKeyFile": {
			{[]byte(kf)},
			{kf[:keyFileHeadSize]},
		},
		"FuzzParsePublicKey": {
			{g.Agents[0].PublicKey.bytes()},
			{g.Agents[0].PQPublicKey.bytes()},
			{g.Agents[0].SigningKey.bytes()},
		},
	}
	for target, cases := range seeds {
		for i, args := range cases {
			writeFuzzSeed(t, target, fmt.Sprintf("golden-%d", i), args...)
		}
	}
}

// readGoldenJSON reads a golden file into v.
func readGoldenJSON(t testing.TB, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

// writeGoldenJSON writes v to a golden file, indented as committed.
func writeGoldenJSON(t *testing.T, file string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, append(b, '\n'), 0o644))
}

// writeFuzzSeed writes one seed of a fuzz target's corpus: the target's []byte arguments.
func writeFuzzSeed(t *testing.T, target, name string, args ...[]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	s := "go test fuzz v1\n"
	for _, a := range args {
		s += fmt.Sprintf("[]byte(%q)\n", a)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644))
}

func (h hexBytes) bytes() []byte { return []byte(h) }
