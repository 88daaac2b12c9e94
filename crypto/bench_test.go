package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// Benchmarks of sealing and opening, side by side with the primitives they are made of, so
// that the overhead of this package (encoding, key derivation, the envelope hash) shows as
// the ratio of the two. Run with:
//
//	go test ./crypto -run '^$' -bench . -benchmem -count 6

var benchSizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

func BenchmarkSeal(b *testing.B) {
	alice := newAgent(b, aliceDID, false)
	var others []Recipient
	for _, did := range []string{bobDID, carolDID, "did:plc:dave"} {
		others = append(others, newAgent(b, did, false).Recipient())
	}
	rc := noteContext(1)
	for _, size := range benchSizes {
		pt := make([]byte, size.n)
		rand.Read(pt)
		for _, c := range []struct {
			name string
			to   []Recipient
		}{{"owner", nil}, {"owner+3", others}} {
			b.Run(c.name+"/"+size.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size.n))
				for b.Loop() {
					if _, err := alice.Seal(rc, pt, c.to...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	alice := newAgent(b, aliceDID, false)
	rc := noteContext(1)
	for _, size := range benchSizes {
		pt := make([]byte, size.n)
		rand.Read(pt)
		s, err := alice.Seal(rc, pt)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(size.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size.n))
			for b.Loop() {
				if _, err := alice.Open(rc, s.Envelope, s.Owner.WrappedKey, alice.VerifyingKey()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPrimitives measures the standard library alone: what sealing and opening could
// cost at best. AES-GCM includes the key schedule, since every version has a fresh key.
func BenchmarkPrimitives(b *testing.B) {
	key := make([]byte, 32)
	nonce := make([]byte, 12)
	rand.Read(key)
	for _, size := range benchSizes {
		pt := make([]byte, size.n)
		rand.Read(pt)
		b.Run("AESGCMSeal/"+size.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size.n))
			for b.Loop() {
				block, _ := aes.NewCipher(key)
				aead, _ := cipher.NewGCM(block)
				aead.Seal(nil, nonce, pt, nil)
			}
		})
		b.Run("SHA256/"+size.name, func(b *testing.B) {
			// Not one of the three primitives, but the signature's hash of the envelope
			// (signatureMessage) is one pass of it over the ciphertext.
			b.ReportAllocs()
			b.SetBytes(int64(size.n))
			for b.Loop() {
				sha256.Sum256(pt)
			}
		})
		block, _ := aes.NewCipher(key)
		aead, _ := cipher.NewGCM(block)
		ct := aead.Seal(nil, nonce, pt, nil)
		b.Run("AESGCMOpen/"+size.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size.n))
			for b.Loop() {
				block, _ := aes.NewCipher(key)
				aead, _ := cipher.NewGCM(block)
				if _, err := aead.Open(nil, nonce, ct, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}

	kem := hpke.DHKEM(ecdh.X25519())
	sk, _ := kem.GenerateKey()
	pk := sk.PublicKey()
	wrapped, _ := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), nil, key)
	b.Run("HPKESeal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), nil, key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("HPKEOpen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := hpke.Open(sk, hpke.HKDFSHA256(), hpke.AES256GCM(), nil, wrapped); err != nil {
				b.Fatal(err)
			}
		}
	})

	_, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 32)
	sig := ed25519.Sign(priv, msg)
	b.Run("Ed25519Sign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ed25519.Sign(priv, msg)
		}
	})
	b.Run("Ed25519Verify", func(b *testing.B) {
		b.ReportAllocs()
		pub := priv.Public().(ed25519.PublicKey)
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("bad signature")
			}
		}
	})
}

// BenchmarkKeyLog measures what a reader pays per key log entry: parsing (which validates
// each public key; the Ed25519 check dominates) and verifying (two Ed25519 signatures and
// the previous entry's hash), and what the statement signatures cost.
func BenchmarkKeyLog(b *testing.B) {
	log, agents := keyLog(b, false)
	raw := log[1].Marshal()
	b.Run("ParseKeyEntry", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseKeyEntry(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := log[1].Verify(log[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	d := sha256.Sum256(raw)
	sig := agents[0].SignEvent(d)
	b.Run("SignEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			agents[0].SignEvent(d)
		}
	})
	b.Run("VerifyEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := agents[0].VerifyingKey().VerifyEvent(aliceDID, d, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWrap compares what wrapping one data key costs: an owner grant (AES-256-GCM under
// a key derived from the owner key) against HPKE to an X25519 and an X-Wing key, and the
// same for unwrapping.
func BenchmarkWrap(b *testing.B) {
	alice := newAgent(b, aliceDID, true)
	rc := noteContext(1)
	k := newDataKey(rc)
	owner, err := k.wrapOwner(alice)
	if err != nil {
		b.Fatal(err)
	}
	x, err := k.Wrap(Recipient{DID: aliceDID, Key: alice.RecipientKey()})
	if err != nil {
		b.Fatal(err)
	}
	pq, err := k.Wrap(Recipient{DID: aliceDID, Key: alice.PostQuantumKey()})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		wrap  func() (Grant, error)
		grant Grant
	}{
		{"Owner", func() (Grant, error) { return k.wrapOwner(alice) }, owner},
		{"X25519", func() (Grant, error) { return k.Wrap(Recipient{DID: aliceDID, Key: alice.RecipientKey()}) }, x},
		{"XWing", func() (Grant, error) { return k.Wrap(Recipient{DID: aliceDID, Key: alice.PostQuantumKey()}) }, pq},
	} {
		b.Run("Wrap/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.wrap(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Unwrap/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := alice.Unwrap(rc, c.grant.WrappedKey); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	ik, err := alice.IndexKey("com.example.note", "tag")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Beacon32", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ik.Beacon([]byte("groceries"), 32); err != nil {
				b.Fatal(err)
			}
		}
	})
}
