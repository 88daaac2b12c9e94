package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
)

// BenchmarkSealVsSign puts the cost of sealing an owner-only 1 KiB record (the goal:
// at most twice one Ed25519 signature) beside the signature itself, opening it, and sealing
// with one HPKE recipient. It uses only the API that predates the owner keyring, so the same
// file runs against older commits (a git worktree) for before/after figures:
//
//	go test ./crypto -run '^$' -bench SealVsSign -benchmem -count 6
func BenchmarkSealVsSign(b *testing.B) {
	alice, rc, pt := sealBenchFixture(b)
	bob, err := GenerateAgent(bobDID, GenerateOptions{})
	if err != nil {
		b.Fatal(err)
	}

	_, priv, _ := ed25519.GenerateKey(nil)
	// About the size of what Seal signs: label, key id, record context and a hash.
	msg := make([]byte, 128)
	b.Run("Ed25519Sign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ed25519.Sign(priv, msg)
		}
	})
	b.Run("SealOwner/1KiB", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := alice.Seal(rc, pt); err != nil {
				b.Fatal(err)
			}
		}
	})
	s, err := alice.Seal(rc, pt)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("OpenOwner/1KiB", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := alice.Open(rc, s.Envelope, s.Owner.WrappedKey, alice.VerifyingKey()); err != nil {
				b.Fatal(err)
			}
		}
	})
	to := bob.Recipient()
	b.Run("SealOwnerAnd1/1KiB", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := alice.Seal(rc, pt, to); err != nil {
				b.Fatal(err)
			}
		}
	})
	s1, err := alice.Seal(rc, pt, to)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("OpenShared/1KiB", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bob.Open(rc, s1.Envelope, s1.Shared[0].WrappedKey, alice.VerifyingKey()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSealBatch puts the cost per record of sealing owner-only 1 KiB records in batches
// (one signature per batch, SealBatch) beside sealing them one by one, and opening a record
// of a batch of 16, with and without its root verified before:
//
//	go test ./crypto -run '^$' -bench SealBatch -benchmem -count 6
func BenchmarkSealBatch(b *testing.B) {
	alice, rc, pt := sealBenchFixture(b)
	for _, n := range []int{1, 4, 16, 64} {
		rcs, pts := make([]RecordContext, n), make([][]byte, n)
		for i := range n {
			rcs[i], pts[i] = rc, pt
			rcs[i].Version = uint64(i + 1)
		}
		b.Run(fmt.Sprintf("PerRecord/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := alice.SealBatch(rcs, pts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
		if n != 16 {
			continue
		}
		ss, err := alice.SealBatch(rcs, pts)
		if err != nil {
			b.Fatal(err)
		}
		// Cold: the key has verified no root of this batch (each record opened alone). Warm:
		// it has (the other records of a batch read together, a list or a page).
		for _, warm := range []bool{false, true} {
			b.Run(fmt.Sprintf("OpenOneOf16/warm=%v", warm), func(b *testing.B) {
				vk := alice.VerifyingKey()
				b.ReportAllocs()
				for b.Loop() {
					if !warm {
						vk.roots = new(rootCache)
					}
					if _, err := alice.Open(rcs[5], ss[5].Envelope, ss[5].Owner.WrappedKey, vk); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// sealBenchFixture is the sealing benchmarks' owner, record and 1 KiB of random plaintext.
func sealBenchFixture(b *testing.B) (*Agent, RecordContext, []byte) {
	alice, err := GenerateAgent(aliceDID, GenerateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	pt := make([]byte, 1<<10)
	rand.Read(pt)
	return alice, RecordContext{DID: aliceDID, Collection: "com.example.note", RKey: "3jzfcijpj2z2a", Version: 1}, pt
}
