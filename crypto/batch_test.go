package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/syntax"
)

// The RFC 6962 reference vectors (the leaves, tree heads and two inclusion proofs published
// with Certificate Transparency, in transparency-dev/merkle's testonly package), used as
// data: our tree must be the standard one, not merely one that agrees with itself.
var (
	rfc6962Leaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	rfc6962Roots  = []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	rfc6962Inclusion = []struct {
		index, size int
		path        []string
	}{
		{0, 8, []string{
			"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
		}},
		{5, 8, []string{
			"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
			"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
			"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		}},
	}
)

func rfc6962LeafHashes(t *testing.T) [][sha256.Size]byte {
	var out [][sha256.Size]byte
	for _, l := range rfc6962Leaves {
		b, err := hex.DecodeString(l)
		require.NoError(t, err)
		out = append(out, sha256.Sum256(append([]byte{0x00}, b...)))
	}
	return out
}

func TestMerkleTreeIsRFC6962(t *testing.T) {
	leaves := rfc6962LeafHashes(t)
	for n := 1; n <= len(leaves); n++ {
		paths := make([][][sha256.Size]byte, n)
		root := merkleTree(leaves[:n], paths)
		assert.Equal(t, rfc6962Roots[n-1], hex.EncodeToString(root[:]), "root of %d leaves", n)
		for i := range n {
			assert.Len(t, paths[i], auditPathLen(i, n), "path of leaf %d of %d", i, n)
			got := batchRoot(leaves[i], i, n, flatten(paths[i]))
			assert.Equal(t, root, got, "leaf %d of %d", i, n)
		}
	}
	for _, v := range rfc6962Inclusion {
		paths := make([][][sha256.Size]byte, v.size)
		merkleTree(leaves[:v.size], paths)
		var want []string
		for _, p := range paths[v.index] {
			want = append(want, hex.EncodeToString(p[:]))
		}
		assert.Equal(t, v.path, want, "inclusion proof of leaf %d of %d", v.index, v.size)
	}
}

func flatten(path [][sha256.Size]byte) []byte {
	var b []byte
	for _, p := range path {
		b = append(b, p[:]...)
	}
	return b
}

// TestAuditPathsVerifyOnlyThemselves: in every tree size up to 40 every leaf's path
// verifies, and with a wrong index or leaf, or one flipped bit, it does not. (A path can give
// the same root under another tree size, as in RFC 9162; the size is signed with the root,
// which TestTamperBatch checks.)
func TestAuditPathsVerifyOnlyThemselves(t *testing.T) {
	var leaves [][sha256.Size]byte
	for i := range 40 {
		leaves = append(leaves, sha256.Sum256([]byte{0, byte(i), byte(i * 7)}))
	}
	for n := 2; n <= len(leaves); n++ {
		paths := make([][][sha256.Size]byte, n)
		root := merkleTree(leaves[:n], paths)
		for i := range n {
			p := flatten(paths[i])
			require.Equal(t, root, batchRoot(leaves[i], i, n, p))
			for j := range n {
				if j != i && auditPathLen(j, n) == len(paths[i]) {
					assert.NotEqual(t, root, batchRoot(leaves[i], j, n, p), "leaf %d of %d claimed as %d", i, n, j)
				}
			}
			assert.NotEqual(t, root, batchRoot(leaves[(i+1)%n], i, n, p), "another leaf on leaf %d's path", i)
			flips(p, func(c []byte, at, bit int) {
				assert.NotEqual(t, root, batchRoot(leaves[i], i, n, c), "leaf %d of %d, byte %d bit %d", i, n, at, bit)
			})
		}
	}
}

func batchContexts(n int) []RecordContext {
	rcs := make([]RecordContext, n)
	for i := range rcs {
		rcs[i] = RecordContext{DID: aliceDID, Collection: "com.example.note", RKey: syntax.RecordKey(fmt.Sprintf("3jzfcijpj2z%02d", i)), Version: 1}
	}
	return rcs
}

func batchPlaintexts(n int) [][]byte {
	pts := make([][]byte, n)
	for i := range pts {
		pts[i] = fmt.Appendf(nil, "note %d of a batch", i)
	}
	return pts
}

func TestSealBatchOpens(t *testing.T) {
	for _, ownerKey := range []bool{true, false} {
		alice := newAgent(t, aliceDID, false)
		if !ownerKey {
			alice.owner = nil // an agent from a version 1 key file: HPKE owner grants
		}
		for _, n := range []int{1, 2, 3, 5, 8, 16, 17, 64} {
			rcs, pts := batchContexts(n), batchPlaintexts(n)
			ss, err := alice.SealBatch(rcs, pts)
			require.NoError(t, err)
			require.Len(t, ss, n)
			for i, s := range ss {
				want := signatureSize
				if n > 1 {
					want = batchHeadSize + sha256.Size*auditPathLen(i, n)
					assert.Equal(t, byte(batchVersion), s.Signature[0])
				}
				assert.Len(t, s.Signature, want, "leaf %d of %d", i, n)
				id, err := SignatureKeyID(s.Signature)
				require.NoError(t, err)
				assert.Equal(t, alice.VerifyingKey().id, id)
				pt, err := alice.Open(rcs[i], s.Envelope, s.Owner.WrappedKey, alice.VerifyingKey())
				require.NoError(t, err, "leaf %d of %d, owner key %v", i, n, ownerKey)
				assert.Equal(t, pts[i], pt)
			}
		}
	}
}

// TestSealBatchSignsOnce: the batch is one Ed25519 signature, over the RFC 9162 root of the
// leaves, checked here with crypto/ed25519 directly rather than through Verify.
func TestSealBatchSignsOnce(t *testing.T) {
	alice := newAgent(t, aliceDID, false)
	const n = 7
	rcs := batchContexts(n)
	ss, err := alice.SealBatch(rcs, batchPlaintexts(n))
	require.NoError(t, err)
	id := alice.VerifyingKey().id
	leaves := make([][sha256.Size]byte, n)
	for i, s := range ss {
		leaves[i] = batchLeaf(rcs[i], id, s.Ciphertext, s.Nonce)
	}
	root := merkleTree(leaves, make([][][sha256.Size]byte, n))
	sig := ss[0].Signature[1+len(id) : 1+len(id)+ed25519.SignatureSize]
	assert.True(t, ed25519.Verify(alice.VerifyingKey().pub, batchRootMessage(id, n, root), sig))
	for i, s := range ss {
		assert.Equal(t, sig, s.Signature[1+len(id):1+len(id)+ed25519.SignatureSize], "leaf %d carries the one signature", i)
		assert.Equal(t, uint16(i), binary.BigEndian.Uint16(s.Signature[batchHeadSize-4:]))
		assert.Equal(t, uint16(n), binary.BigEndian.Uint16(s.Signature[batchHeadSize-2:]))
	}
}

func TestSealBatchRefusesBadInput(t *testing.T) {
	alice, bob := newAgent(t, aliceDID, false), newAgent(t, bobDID, false)
	_, err := alice.SealBatch(batchContexts(2), batchPlaintexts(3))
	assert.ErrorContains(t, err, "2 record contexts for 3 plaintexts")
	_, err = bob.SealBatch(batchContexts(2), batchPlaintexts(2))
	assert.ErrorContains(t, err, "the owner agent must be "+aliceDID)
	rcs := batchContexts(2)
	rcs[1].RKey = ""
	_, err = alice.SealBatch(rcs, batchPlaintexts(2))
	assert.ErrorContains(t, err, "empty rkey")
	_, err = alice.SealBatch(make([]RecordContext, MaxBatch+1), make([][]byte, MaxBatch+1))
	assert.ErrorContains(t, err, "at most 65535")
	ss, err := alice.SealBatch(nil, nil)
	assert.NoError(t, err)
	assert.Empty(t, ss)
}

// TestTamperBatch: what an attacker who edits rows might do with a batch fails closed: a
// changed byte anywhere in a row's signature, a signature moved to another record of the
// batch or to another version, a record of one batch with another batch's signature, a
// signature checked under another key.
func TestTamperBatch(t *testing.T) {
	alice, bob := newAgent(t, aliceDID, false), newAgent(t, bobDID, false)
	const n = 5
	rcs := batchContexts(n)
	ss, err := alice.SealBatch(rcs, batchPlaintexts(n))
	require.NoError(t, err)
	other, err := alice.SealBatch(rcs, batchPlaintexts(n))
	require.NoError(t, err)
	vk := alice.VerifyingKey()
	verify := func(rc RecordContext, env Envelope) error { return vk.Verify(rc, env) }
	for i := range n {
		require.NoError(t, verify(rcs[i], ss[i].Envelope), "control: leaf %d verifies", i)
	}

	env := ss[4].Envelope // leaf 4 of 5: a path of one hash
	flips(env.Signature, func(c []byte, at, bit int) {
		e := env
		e.Signature = c
		assert.ErrorIs(t, verify(rcs[4], e), ErrDecrypt, "byte %d bit %d", at, bit)
	})
	env = ss[1].Envelope // leaf 1 of 5: a path of three
	flips(env.Signature, func(c []byte, at, bit int) {
		e := env
		e.Signature = c
		assert.ErrorIs(t, verify(rcs[1], e), ErrDecrypt, "byte %d bit %d", at, bit)
	})
	for i := range n {
		for j := range n {
			if i == j {
				continue
			}
			e := ss[i].Envelope
			e.Signature = ss[j].Signature
			assert.ErrorIs(t, verify(rcs[i], e), ErrDecrypt, "record %d with the signature of %d", i, j)
			assert.ErrorIs(t, verify(rcs[j], ss[i].Envelope), ErrDecrypt, "record %d moved to %d's key", i, j)
		}
		e := ss[i].Envelope
		e.Signature = other[i].Signature
		assert.ErrorIs(t, verify(rcs[i], e), ErrDecrypt, "leaf %d with the same leaf's signature of another batch", i)
		next := rcs[i]
		next.Version++
		assert.ErrorIs(t, verify(next, ss[i].Envelope), ErrDecrypt, "leaf %d as another version", i)
		assert.ErrorIs(t, bob.VerifyingKey().Verify(rcs[i], ss[i].Envelope), ErrDecrypt, "leaf %d under another key", i)
	}
	// A batch signature is no event, metadata or public record signature.
	assert.ErrorIs(t, vk.VerifyPublic(rcs[0], ss[0].Ciphertext, ss[0].Signature), ErrDecrypt)
	assert.ErrorIs(t, vk.VerifyEvent(aliceDID, [32]byte{}, ss[0].Signature), ErrDecrypt)

	// Structure: lengths that do not match the leaf's place are malformed.
	for name, sig := range map[string][]byte{
		"head only":  ss[1].Signature[:batchHeadSize],
		"short path": ss[1].Signature[:len(ss[1].Signature)-1],
		"long path":  append(bytes.Clone(ss[1].Signature), 0),
		"index 5":    withIndex(ss[4].Signature, 5, 5),
		"size 1":     withIndex(ss[0].Signature, 0, 1),
		"size 0":     withIndex(ss[0].Signature, 0, 0),
	} {
		e := ss[1].Envelope
		e.Signature = sig
		err := verify(rcs[1], e)
		assert.ErrorIs(t, err, ErrMalformed, name)
		assert.ErrorIs(t, err, ErrDecrypt, name)
		_, err = SignatureKeyID(sig)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

func withIndex(sig []byte, index, size uint16) []byte {
	c := bytes.Clone(sig)
	binary.BigEndian.PutUint16(c[batchHeadSize-4:], index)
	binary.BigEndian.PutUint16(c[batchHeadSize-2:], size)
	return c
}

// TestVerifiedRootsAreRemembered: once a batch's root verified under a key, its other records
// verify without another Ed25519 verification; only successes are remembered, a tampered
// record of a remembered batch still fails, the memory is bounded, and a batch forgotten
// verifies again the long way.
func TestVerifiedRootsAreRemembered(t *testing.T) {
	alice := newAgent(t, aliceDID, false)
	vk, err := ParseVerifyingKey(alice.VerifyingKey().Bytes()) // a key with nothing remembered
	require.NoError(t, err)
	remembered := func() int {
		vk.roots.mu.Lock()
		defer vk.roots.mu.Unlock()
		return len(vk.roots.seen)
	}
	const n = 16
	rcs := batchContexts(n)
	ss, err := alice.SealBatch(rcs, batchPlaintexts(n))
	require.NoError(t, err)

	bad := ss[2].Envelope
	bad.Signature = bytes.Clone(bad.Signature)
	bad.Signature[20] ^= 1 // inside the Ed25519 signature
	require.ErrorIs(t, vk.Verify(rcs[2], bad), ErrDecrypt)
	assert.Zero(t, remembered(), "a failure is not remembered")

	for i := range n {
		require.NoError(t, vk.Verify(rcs[i], ss[i].Envelope), "leaf %d", i)
	}
	assert.Equal(t, 1, remembered(), "one root for the 16 records")
	assert.ErrorIs(t, vk.Verify(rcs[2], bad), ErrDecrypt, "another signature for a remembered root")
	moved := ss[3].Envelope
	assert.ErrorIs(t, vk.Verify(rcs[2], moved), ErrDecrypt, "a record of a remembered batch moved to another")
	flips(ss[7].Signature[batchHeadSize-4:], func(c []byte, at, bit int) {
		e := ss[7].Envelope
		e.Signature = append(bytes.Clone(e.Signature[:batchHeadSize-4]), c...)
		assert.ErrorIs(t, vk.Verify(rcs[7], e), ErrDecrypt, "index, size or path byte %d bit %d", at, bit)
	})

	var first []*Sealed
	for b := range rootCacheSize + 5 {
		more, err := alice.SealBatch(rcs[:2], batchPlaintexts(2))
		require.NoError(t, err)
		if b == 0 {
			first = more
		}
		require.NoError(t, vk.Verify(rcs[0], more[0].Envelope))
	}
	assert.Equal(t, rootCacheSize, remembered(), "bounded")
	require.NoError(t, vk.Verify(rcs[1], first[1].Envelope), "a forgotten batch verifies the long way")
}

// TestVerifiedRootsConcurrently: many goroutines verifying records of a few batches under
// one key (run with -race).
func TestVerifiedRootsConcurrently(t *testing.T) {
	alice := newAgent(t, aliceDID, false)
	rcs := batchContexts(16)
	var batches [][]*Sealed
	for range 3 {
		ss, err := alice.SealBatch(rcs, batchPlaintexts(16))
		require.NoError(t, err)
		batches = append(batches, ss)
	}
	vk := alice.VerifyingKey()
	errs := make(chan error, 8*48)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for b, ss := range batches {
				for i, s := range ss {
					if err := vk.Verify(rcs[i], s.Envelope); err != nil {
						errs <- fmt.Errorf("batch %d leaf %d: %w", b, i, err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
