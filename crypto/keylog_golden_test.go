package crypto

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Frozen vectors of the key log and of the metadata and event signatures (version 1),
// generated once with
//
//	go test ./crypto -run TestKeyLogGolden -update-keylog-golden
//
// and committed, like golden_v1.json (which they leave untouched: the genesis agent is that
// file's alice). The test only parses and verifies them, and checks that signing again gives
// the same bytes (Ed25519 is deterministic), so the write side is frozen too. Never
// regenerate them to make a change pass.
var updateKeyLogGolden = flag.Bool("update-keylog-golden", false, "regenerate testdata/keylog_v1.json and the FuzzParseKeyEntry seed corpus (never for a format change)")

const keyLogGoldenFile = "testdata/keylog_v1.json"

type goldenKeyEntry struct {
	Seq     uint64   `json:"seq"`
	Change  string   `json:"change"`
	Time    string   `json:"time"`
	Revoked []string `json:"revoked"`
	Hash    hexBytes `json:"hash"`
	Entry   hexBytes `json:"entry"`
}

type goldenMetadata struct {
	DID       string    `json:"did"`
	Metadata  *hexBytes `json:"metadata"` // null: nil metadata
	Signature hexBytes  `json:"signature"`
}

type goldenEvent struct {
	DID       string   `json:"did"`
	Digest    hexBytes `json:"digest"`
	Signature hexBytes `json:"signature"`
}

type goldenKeyLog struct {
	Note     string           `json:"note"`
	Agents   []goldenAgent    `json:"agents"` // one per entry, all the same DID
	Entries  []goldenKeyEntry `json:"entries"`
	Metadata []goldenMetadata `json:"metadata"`
	Events   []goldenEvent    `json:"events"`
}

func toGoldenAgent(t testing.TB, a *Agent) goldenAgent {
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
	return ga
}

func fromGoldenAgent(t testing.TB, ga goldenAgent) *Agent {
	var pq []byte
	if len(ga.XWingSeed) > 0 {
		pq = ga.XWingSeed
	}
	a := agentFromSecrets(t, ga.DID, ga.X25519, ga.Ed25519Seed, pq)
	require.Equal(t, []byte(ga.PublicKey), a.RecipientKey().Bytes())
	require.Equal(t, []byte(ga.SigningKey), a.VerifyingKey().Bytes())
	require.Equal(t, ga.PublicKeyID, a.RecipientKey().KeyID().String())
	require.Equal(t, ga.SigningKeyID, a.VerifyingKey().KeyID().String())
	if pq != nil {
		require.Equal(t, []byte(ga.PQPublicKey), a.PostQuantumKey().Bytes())
	}
	return a
}

// goldenEventDigests are the digests signed in the event vectors.
var goldenEventDigests = [][32]byte{{}, {0: 0xd1, 31: 0x5e}}

// goldenMetadataValues are the metadata signed in the vectors: nil, empty, and a document.
var goldenMetadataValues = [][]byte{nil, {}, []byte(`{"name":"alice","model":"golden"}`)}

func readKeyLogGolden(t testing.TB) (goldenKeyLog, []*Agent, []*KeyEntry) {
	t.Helper()
	var g goldenKeyLog
	readGoldenJSON(t, keyLogGoldenFile, &g)
	var agents []*Agent
	for _, ga := range g.Agents {
		agents = append(agents, fromGoldenAgent(t, ga))
	}
	var log []*KeyEntry
	for _, ge := range g.Entries {
		e, err := ParseKeyEntry(ge.Entry)
		require.NoError(t, err, "entry %d", ge.Seq)
		log = append(log, e)
	}
	return g, agents, log
}

func TestKeyLogGolden(t *testing.T) {
	if *updateKeyLogGolden {
		writeKeyLogGolden(t)
	}
	g, agents, log := readKeyLogGolden(t)
	require.Len(t, g.Agents, 3)
	require.Len(t, g.Entries, 3)
	require.Len(t, g.Metadata, len(goldenMetadataValues))
	require.Len(t, g.Events, len(goldenEventDigests))

	// The genesis agent is golden_v1.json's alice.
	_, v1 := readGolden(t)
	assert.True(t, v1[aliceDID].Keys().Equal(agents[0].Keys()))

	var prev *KeyEntry
	for i, e := range log {
		ge := g.Entries[i]
		require.NoError(t, e.Verify(prev), "entry %d", i)
		assert.Equal(t, []byte(ge.Entry), e.Marshal(), "entry %d re-marshals", i)
		h := e.Hash()
		assert.Equal(t, []byte(ge.Hash), h[:], "entry %d hash", i)
		assert.Equal(t, ge.Seq, e.Seq)
		assert.Equal(t, ge.Change, e.Change.String())
		assert.Equal(t, ge.Time, e.Time.Format(time.RFC3339Nano))
		assert.Equal(t, aliceDID, e.DID)
		assert.True(t, agents[i].Keys().Equal(e.Keys), "entry %d keys", i)
		var revoked []string
		for _, id := range e.Revoked {
			revoked = append(revoked, id.String())
		}
		assert.Equal(t, ge.Revoked, revoked, "entry %d revoked", i)
		prev = e
	}
	assert.Equal(t, KeyGenesis, log[0].Change)
	assert.Equal(t, KeyRotate, log[1].Change)
	assert.Equal(t, KeyRevoke, log[2].Change)

	// Signing again gives the same bytes.
	again := goldenKeyLogEntries(t, agents, log)
	for i := range log {
		assert.Equal(t, []byte(g.Entries[i].Entry), again[i].Marshal(), "entry %d signed again", i)
	}

	signer := agents[0]
	for i, gm := range g.Metadata {
		var md []byte
		if gm.Metadata != nil {
			md = []byte(*gm.Metadata)
			if md == nil {
				md = []byte{}
			}
		}
		assert.Equal(t, goldenMetadataValues[i] == nil, md == nil, "metadata %d nil", i)
		assert.NoError(t, signer.VerifyingKey().VerifyMetadata(gm.DID, md, gm.Signature), "metadata %d", i)
		assert.Equal(t, []byte(gm.Signature), signer.SignMetadata(md), "metadata %d signed again", i)
		assert.ErrorIs(t, agents[1].VerifyingKey().VerifyMetadata(gm.DID, md, gm.Signature), ErrDecrypt)
	}
	for i, ge := range g.Events {
		var d [32]byte
		require.Len(t, ge.Digest, len(d))
		copy(d[:], ge.Digest)
		assert.Equal(t, goldenEventDigests[i], d)
		assert.NoError(t, signer.VerifyingKey().VerifyEvent(ge.DID, d, ge.Signature), "event %d", i)
		assert.Equal(t, []byte(ge.Signature), signer.SignEvent(d), "event %d signed again", i)
	}
}

// goldenKeyLogEntries makes the vectors' log: agents[0]'s genesis, a rotation to agents[1],
// and a revocation to agents[2] that also revokes agents[0]'s X25519 key, at the times of
// times (or fixed times when times is nil).
func goldenKeyLogEntries(t testing.TB, agents []*Agent, times []*KeyEntry) []*KeyEntry {
	at := func(i int) time.Time {
		if times != nil {
			return times[i].Time
		}
		return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).Add(time.Duration(i)*24*time.Hour + time.Duration(i)*1001)
	}
	g, err := agents[0].KeyGenesis(at(0))
	require.NoError(t, err)
	r, err := agents[0].KeyRotation(g, agents[1], KeyRotate, nil, at(1))
	require.NoError(t, err)
	v, err := agents[1].KeyRotation(r, agents[2], KeyRevoke, []KeyID{agents[0].RecipientKey().KeyID()}, at(2))
	require.NoError(t, err)
	return []*KeyEntry{g, r, v}
}

func writeKeyLogGolden(t *testing.T) {
	_, v1 := readGolden(t)
	a0 := v1[aliceDID]
	a1, err := a0.NewKeys()
	require.NoError(t, err)
	a2, err := a1.NewKeys()
	require.NoError(t, err)
	agents := []*Agent{a0, a1, a2}
	g := goldenKeyLog{Note: "d1seal crypto key log and statement signatures, format version 1, frozen: verify-only test vectors (crypto/keylog_golden_test.go). The private keys are test keys; agents[0] is golden_v1.json's alice."}
	for _, a := range agents {
		g.Agents = append(g.Agents, toGoldenAgent(t, a))
	}
	log := goldenKeyLogEntries(t, agents, nil)
	for _, e := range log {
		h := e.Hash()
		ge := goldenKeyEntry{Seq: e.Seq, Change: e.Change.String(), Time: e.Time.Format(time.RFC3339Nano), Hash: h[:], Entry: e.Marshal()}
		for _, id := range e.Revoked {
			ge.Revoked = append(ge.Revoked, id.String())
		}
		g.Entries = append(g.Entries, ge)
	}
	for _, md := range goldenMetadataValues {
		gm := goldenMetadata{DID: aliceDID, Signature: a0.SignMetadata(md)}
		if md != nil {
			h := hexBytes(md)
			gm.Metadata = &h
		}
		g.Metadata = append(g.Metadata, gm)
	}
	for _, d := range goldenEventDigests {
		g.Events = append(g.Events, goldenEvent{DID: aliceDID, Digest: d[:], Signature: a0.SignEvent(d)})
	}
	writeGoldenJSON(t, keyLogGoldenFile, g)

	seeds := [][]byte{log[0].Marshal(), log[1].Marshal(), log[2].Marshal(), log[0].Marshal()[:60], {1, 3}}
	for i, s := range seeds {
		writeFuzzSeed(t, "FuzzParseKeyEntry", fmt.Sprintf("golden-%d", i), s)
	}
}
