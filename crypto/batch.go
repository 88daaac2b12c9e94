package crypto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
)

// Batch signatures: one Ed25519 signature for many new record versions.
//
// An Ed25519 signature costs about half of sealing an owner-only record (owner grants are
// symmetric), so signing each record of a bulk write dominated its CPU. SealBatch instead
// signs the root of a Merkle tree (RFC 9162 §2.1) whose leaves commit to each record exactly
// as a record signature does, and gives each record its own signature column: the root
// signature, its place in the tree and the sibling hashes from its leaf to the root (the
// audit path). A reader checks one record alone, with one Ed25519 verification and a few
// hashes, as before. Under SHA-256's collision resistance a batch signature proves exactly
// what a record signature proves: the owner's key signed this ciphertext as this version of
// this record. What it adds for a reader is the hashes of the batch's other leaves, which are
// hashes of rows the database already holds, and that the records were written together,
// which the database sees anyway (they arrive in one request). Reading the records of a batch
// together is cheaper too: a key remembers the roots it verified (rootCache), so the others
// cost their leaf and path only.
//
// The cost is bytes: a tree of n leaves adds at most 4 + 32 * ceil(log2 n) bytes to each row,
// so callers keep batches small (the records package signs groups of 16: at most 132 more
// bytes per row for a sixteenth of a signature each; see BENCHMARKS.md). Releases before
// batch signatures refuse them (ErrUnsupported): upgrade readers before writers.

// batchVersion is the first byte of a batch signature (a record signature is formatVersion).
const batchVersion = 0x02

// MaxBatch is the most record versions SealBatch signs together: the tree size is stored in
// 16 bits.
const MaxBatch = 1<<16 - 1

// batchHeadSize is the fixed part of a batch signature: version, signer key id, Ed25519
// signature, uint16 leaf index, uint16 tree size. The audit path follows.
const batchHeadSize = 1 + len(KeyID{}) + ed25519.SignatureSize + 2 + 2

const (
	batchLeafLabel = "d1seal record batch leaf v1\x00"
	batchRootLabel = "d1seal record batch signature v1\x00"
)

// batchLeaf is the Merkle leaf hash of one record version of a batch signed by signer:
//
//	SHA-256(0x00 || "d1seal record batch leaf v1" || 0x00 || 0x02 || signer key id
//	  || record context || SHA-256(uint32 len(ciphertext) || ciphertext || nonce))
//
// the leaf of RFC 9162 over the message a record signature signs, under its own label.
func batchLeaf(rc RecordContext, signer KeyID, ciphertext, nonce []byte) [sha256.Size]byte {
	return sha256.Sum256(recordMessage([]byte{0x00}, batchLeafLabel, batchVersion, rc, signer, ciphertext, nonce))
}

// merkleNode is RFC 9162's interior node hash, SHA-256(0x01 || left || right).
func merkleNode(left, right [sha256.Size]byte) [sha256.Size]byte {
	var b [1 + 2*sha256.Size]byte
	b[0] = 0x01
	copy(b[1:], left[:])
	copy(b[1+sha256.Size:], right[:])
	return sha256.Sum256(b[:])
}

// merkleTree returns the RFC 9162 root of leaves and appends to paths[i] the audit path of
// leaf i, from the leaf up. The left subtree of n leaves holds the largest power of two
// below n.
func merkleTree(leaves [][sha256.Size]byte, paths [][][sha256.Size]byte) [sha256.Size]byte {
	n := len(leaves)
	if n == 1 {
		return leaves[0]
	}
	k := 1 << (bits.Len(uint(n-1)) - 1)
	left := merkleTree(leaves[:k], paths[:k])
	right := merkleTree(leaves[k:], paths[k:])
	for i := range paths[:k] {
		paths[i] = append(paths[i], right)
	}
	for i := range paths[k:] {
		paths[k+i] = append(paths[k+i], left)
	}
	return merkleNode(left, right)
}

// batchRootMessage is what the signer's Ed25519 key signs for a batch:
//
//	"d1seal record batch signature v1" || 0x00 || 0x02 || signer key id || uint16 tree size || root
func batchRootMessage(signer KeyID, size int, root [sha256.Size]byte) []byte {
	msg := make([]byte, 0, len(batchRootLabel)+1+len(signer)+2+sha256.Size)
	msg = append(msg, batchRootLabel...)
	msg = append(msg, batchVersion)
	msg = append(msg, signer[:]...)
	msg = binary.BigEndian.AppendUint16(msg, uint16(size))
	return append(msg, root[:]...)
}

// auditPathLen is the number of hashes in the audit path of leaf index in a tree of size
// leaves (RFC 9162 §2.1.3.2 consumes exactly this many).
func auditPathLen(index, size int) int {
	n := 0
	for fn, sn := index, size-1; sn > 0; fn, sn = fn>>1, sn>>1 {
		if fn&1 == 1 || fn == sn {
			for fn&1 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		}
		n++
	}
	return n
}

// batchRoot recomputes the root from a leaf hash, its index, the tree size and its audit
// path, as RFC 9162 §2.1.3.2 does. The path must have auditPathLen(index, size) hashes.
func batchRoot(leaf [sha256.Size]byte, index, size int, path []byte) [sha256.Size]byte {
	r := leaf
	fn, sn := index, size-1
	for ; len(path) > 0; path = path[sha256.Size:] {
		p := [sha256.Size]byte(path[:sha256.Size])
		if fn&1 == 1 || fn == sn {
			r = merkleNode(p, r)
			for fn&1 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			r = merkleNode(r, p)
		}
		fn, sn = fn>>1, sn>>1
	}
	return r
}

// SealBatch seals each of plaintexts as the record version rcs[i], as Seal does with no
// one to share with, and signs them all with one Ed25519 signature over a Merkle tree of
// them (a batch signature, format version 0x02; see SPEC.md). Each Sealed's Signature
// verifies on its own, with Verify or Open, like a record signature. Every rcs[i] must name
// this agent as its owner; at most MaxBatch versions. One version gets an ordinary record
// signature. Share a batch-sealed version afterwards with Rewrap.
func (a *Agent) SealBatch(rcs []RecordContext, plaintexts [][]byte) ([]*Sealed, error) {
	n := len(rcs)
	if len(plaintexts) != n {
		return nil, fmt.Errorf("crypto: seal batch: %d record contexts for %d plaintexts", n, len(plaintexts))
	}
	if n > MaxBatch {
		return nil, fmt.Errorf("crypto: seal batch: %d record versions, at most %d", n, MaxBatch)
	}
	if a == nil {
		return nil, fmt.Errorf("crypto: seal batch: no owner agent")
	}
	for _, rc := range rcs {
		if err := rc.check(); err != nil {
			return nil, err
		}
		if a.did != string(rc.DID) {
			return nil, fmt.Errorf("crypto: seal batch %s: the owner agent must be %s", rc, rc.DID)
		}
	}
	switch n {
	case 0:
		return nil, nil
	case 1:
		s, err := a.Seal(rcs[0], plaintexts[0])
		if err != nil {
			return nil, err
		}
		return []*Sealed{s}, nil
	}
	id := a.sign.pub.id
	out := make([]*Sealed, n)
	leaves := make([][sha256.Size]byte, n)
	for i, rc := range rcs {
		s, err := sealUnsigned(newDataKey(rc), plaintexts[i], a, nil, batchHeadSize+sha256.Size*auditPathLen(i, n))
		if err != nil {
			return nil, err
		}
		out[i], leaves[i] = s, batchLeaf(rc, id, s.Ciphertext, s.Nonce)
	}
	paths := make([][][sha256.Size]byte, n)
	root := merkleTree(leaves, paths)
	sig := ed25519.Sign(a.sign.priv, batchRootMessage(id, n, root))
	for i, s := range out {
		b := append(s.Signature, batchVersion)
		b = append(b, id[:]...)
		b = append(b, sig...)
		b = binary.BigEndian.AppendUint16(b, uint16(i))
		b = binary.BigEndian.AppendUint16(b, uint16(n))
		for _, p := range paths[i] {
			b = append(b, p[:]...)
		}
		s.Signature = b
	}
	return out, nil
}

// batchPlace is where a batch signature puts its record: its leaf index, the tree size (at
// least 2) and the audit path.
type batchPlace struct {
	index, size int
	path        []byte
}

// checkBatchSignature checks the structure of a batch signature and returns its record's
// place in the tree.
func checkBatchSignature(op string, sig []byte) (batchPlace, error) {
	if len(sig) < batchHeadSize {
		return batchPlace{}, malformed(op, "batch signature is %d bytes, want at least %d", len(sig), batchHeadSize)
	}
	at := 1 + len(KeyID{}) + ed25519.SignatureSize
	index, size := int(binary.BigEndian.Uint16(sig[at:])), int(binary.BigEndian.Uint16(sig[at+2:]))
	if size < 2 || index >= size {
		return batchPlace{}, malformed(op, "batch signature for leaf %d of %d", index, size)
	}
	if want := batchHeadSize + sha256.Size*auditPathLen(index, size); len(sig) != want {
		return batchPlace{}, malformed(op, "batch signature for leaf %d of %d is %d bytes, want %d", index, size, len(sig), want)
	}
	return batchPlace{index: index, size: size, path: sig[batchHeadSize:]}, nil
}

// verifyBatch checks the batch signature of the record version rc, whose record sits at
// place in its tree, against this key.
func (k *VerifyingKey) verifyBatch(rc RecordContext, env Envelope, place batchPlace) error {
	root := batchRoot(batchLeaf(rc, k.id, env.Ciphertext, env.Nonce), place.index, place.size, place.path)
	seen := rootEntry{size: uint16(place.size), root: root, sig: [ed25519.SignatureSize]byte(env.Signature[1+len(KeyID{}):])}
	if k.roots.has(seen) {
		return nil
	}
	if !verifyEd25519(k.pub, batchRootMessage(k.id, place.size, root), seen.sig[:]) {
		return ErrDecrypt
	}
	k.roots.add(seen)
	return nil
}

// rootCacheSize is how many verified batch roots a VerifyingKey remembers (about 3 KB when
// full): pages list records in key order, so the records of a batch come together, and a few
// readers interleaving their pages stay within it.
const rootCacheSize = 16

// rootCache remembers the batch roots a key verified last, so that reading the other records
// of a batch (a list, a page) costs a few hashes each instead of an Ed25519 verification. An
// entry is everything the verification depended on besides the key itself (the tree size and
// root, which with the key id make the signed message, and the signature): a hit means these
// exact bytes verified under this key before, so the answer is the same. Only successes are
// remembered. Safe for concurrent use; a nil cache remembers nothing.
type rootCache struct {
	mu   sync.Mutex
	seen map[rootEntry]struct{}
	ring []rootEntry // insertion order, to forget the oldest
	next int
}

type rootEntry struct {
	size uint16
	root [sha256.Size]byte
	sig  [ed25519.SignatureSize]byte
}

func (c *rootCache) has(e rootEntry) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.seen[e]
	return ok
}

func (c *rootCache) add(e rootEntry) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[e]; ok {
		return
	}
	if c.seen == nil {
		c.seen = map[rootEntry]struct{}{} // grown as used: a Store may hold many agents' keys
	}
	if len(c.ring) < rootCacheSize {
		c.ring = append(c.ring, e)
	} else {
		delete(c.seen, c.ring[c.next])
		c.ring[c.next] = e
		c.next = (c.next + 1) % rootCacheSize
	}
	c.seen[e] = struct{}{}
}
