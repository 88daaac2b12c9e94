package crypto

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/syntax"
)

// Frozen vectors of batch signatures (record signature format version 0x02): five records of
// one batch, so that the tree is not a power of two and the paths have one to three hashes,
// generated once with
//
//	go test ./crypto -run TestBatchGolden -update-batch-golden
//
// and committed. The test opens every record, recomputes the leaves and the root from the
// stored bytes and checks the root against the frozen one. Never regenerate them to make a
// change pass; add a new format version and a new file instead.
var updateBatchGolden = flag.Bool("update-batch-golden", false, "regenerate testdata/batch_v1.json and its fuzz seed corpus (never for a format change)")

const batchGoldenFile = "testdata/batch_v1.json"

type goldenBatch struct {
	Note    string           `json:"note"`
	Agent   goldenOwnerAgent `json:"agent"`
	Root    hexBytes         `json:"root"`
	Records []goldenRecord   `json:"records"`
	Leaves  []hexBytes       `json:"leaves"`
}

func readBatchGolden(t testing.TB) (goldenBatch, *Agent, []RecordContext) {
	t.Helper()
	var g goldenBatch
	readGoldenJSON(t, batchGoldenFile, &g)
	var rcs []RecordContext
	for _, r := range g.Records {
		rcs = append(rcs, r.context())
	}
	return g, ownerAgentFromSecrets(t, g.Agent), rcs
}

func TestBatchGolden(t *testing.T) {
	if *updateBatchGolden {
		writeBatchGolden(t)
	}
	g, alice, rcs := readBatchGolden(t)
	require.Len(t, g.Records, 5)
	require.Len(t, g.Leaves, 5)
	vk := alice.VerifyingKey()
	assert.Equal(t, []byte(g.Agent.SigningKey), vk.Bytes())

	leaves := make([][sha256.Size]byte, len(g.Records))
	for i, r := range g.Records {
		env := Envelope{Ciphertext: r.Ciphertext, Nonce: r.Nonce, Signature: r.Signature}
		require.Equal(t, byte(batchVersion), r.Signature[0])
		id, err := SignatureKeyID(r.Signature)
		require.NoError(t, err)
		assert.Equal(t, g.Agent.SigningKeyID, id.String())
		pt, err := alice.Open(rcs[i], env, r.Owner.EncryptedDEK, vk)
		require.NoError(t, err, "record %d", i)
		assert.Equal(t, r.Plaintext, string(pt))

		leaves[i] = batchLeaf(rcs[i], vk.id, r.Ciphertext, r.Nonce)
		assert.Equal(t, []byte(g.Leaves[i]), leaves[i][:], "leaf %d", i)
		place, err := checkBatchSignature("golden", r.Signature)
		require.NoError(t, err)
		assert.Equal(t, []int{i, len(g.Records)}, []int{place.index, place.size})
		root := batchRoot(leaves[i], place.index, place.size, place.path)
		assert.Equal(t, []byte(g.Root), root[:], "root from record %d", i)
	}
	root := merkleTree(leaves, make([][][sha256.Size]byte, len(leaves)))
	assert.Equal(t, []byte(g.Root), root[:])
}

func writeBatchGolden(t *testing.T) {
	alice := newAgent(t, aliceDID, false)
	g := goldenBatch{
		Note: "d1seal batch signatures, frozen: five owner-only records under one Ed25519 signature over an RFC 9162 Merkle tree (record signature version 0x02); decrypt-only test vectors (crypto/batch_golden_test.go). The private keys are test keys.",
		Agent: goldenOwnerAgent{
			goldenAgent: toGoldenAgent(t, alice),
			OwnerKey:    alice.owner.raw[:],
			OwnerKeyID:  alice.OwnerKeyID().String(),
		},
	}
	var rcs []RecordContext
	var pts [][]byte
	for i := range 5 {
		rcs = append(rcs, RecordContext{DID: aliceDID, Collection: "agent.memory.note", RKey: syntax.RecordKey(fmt.Sprintf("3kabcdefghij%d", i+2)), Version: 1})
		pts = append(pts, fmt.Appendf(nil, "golden batch record %d", i))
	}
	ss, err := alice.SealBatch(rcs, pts)
	require.NoError(t, err)
	leaves := make([][sha256.Size]byte, len(ss))
	for i, s := range ss {
		g.Records = append(g.Records, goldenRecord{
			DID: aliceDID, Collection: string(rcs[i].Collection), RKey: string(rcs[i].RKey), Version: 1,
			Plaintext: string(pts[i]), Ciphertext: s.Ciphertext, Nonce: s.Nonce, Signature: s.Signature,
			Owner:  goldenGrant{RecipientDID: aliceDID, KeyID: s.Owner.KeyID.String(), EncryptedDEK: s.Owner.WrappedKey},
			Shared: []goldenGrant{},
		})
		leaves[i] = batchLeaf(rcs[i], alice.VerifyingKey().id, s.Ciphertext, s.Nonce)
		g.Leaves = append(g.Leaves, leaves[i][:])
	}
	root := merkleTree(leaves, make([][][sha256.Size]byte, len(leaves)))
	g.Root = root[:]
	writeGoldenJSON(t, batchGoldenFile, g)

	r := g.Records[1]
	for i, seed := range [][][]byte{
		{r.Ciphertext, r.Nonce, r.Signature},
		{r.Ciphertext, r.Nonce, g.Records[2].Signature},
		{r.Ciphertext, r.Nonce, r.Signature[:batchHeadSize]},
		{r.Ciphertext, r.Nonce, withIndex(r.Signature, 1, 4)},
		{r.Ciphertext, r.Nonce, append(bytes.Clone(r.Signature), 0)},
	} {
		writeFuzzSeed(t, "FuzzVerifyBatch", fmt.Sprintf("batch-%d", i), seed...)
	}
}

// FuzzVerifyBatch feeds arbitrary envelopes to Verify against a golden record of a batch:
// nothing but the stored bytes verifies, and every failure is ErrDecrypt.
func FuzzVerifyBatch(f *testing.F) {
	g, alice, rcs := readBatchGolden(f)
	r, rc := g.Records[1], rcs[1]
	vk := alice.VerifyingKey()
	f.Fuzz(func(t *testing.T, ct, nonce, sig []byte) {
		err := vk.Verify(rc, Envelope{Ciphertext: ct, Nonce: nonce, Signature: sig})
		if err != nil {
			require.ErrorIs(t, err, ErrDecrypt)
			return
		}
		require.True(t, bytes.Equal(ct, r.Ciphertext) && bytes.Equal(nonce, r.Nonce) && bytes.Equal(sig, r.Signature), "forged envelope verified")
	})
}
