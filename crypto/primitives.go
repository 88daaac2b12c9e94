package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"errors"
)

// This file holds the thin wrappers through which the package reaches the standard library's
// primitives. The public test vectors (Wycheproof, RFC 9180) run through these same functions,
// so a vector that passes here passes for every format built on them.

const (
	keySize   = 32 // AES-256 keys, data keys, X25519 scalars, Ed25519 seeds
	nonceSize = 12 // AES-GCM nonces
	tagSize   = 16 // AES-GCM tags
)

// errOpen is the internal failure of an authenticated open; callers turn it into ErrDecrypt.
var errOpen = errors.New("open failed")

// newGCM returns AES-256-GCM with the standard 96-bit nonce and 128-bit tag.
func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != keySize {
		return nil, errors.New("AES-256-GCM key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealGCM appends the AES-256-GCM encryption of plaintext (ciphertext, then tag) to dst.
func sealGCM(dst, key, nonce, plaintext, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(nonce) != nonceSize {
		return nil, errors.New("AES-GCM nonce must be 12 bytes")
	}
	return aead.Seal(dst, nonce, plaintext, aad), nil
}

// openGCM appends the decryption of ciphertext (ciphertext, then tag) to dst, or returns
// errOpen when the tag does not verify.
func openGCM(dst, key, nonce, ciphertext, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(nonce) != nonceSize || len(ciphertext) < tagSize {
		return nil, errOpen
	}
	out, err := aead.Open(dst, nonce, ciphertext, aad)
	if err != nil {
		return nil, errOpen
	}
	return out, nil
}

// hkdfSHA256 is HKDF-SHA256 (RFC 5869): extract with salt, expand with info to length bytes.
// It gives the bytes of crypto/hkdf.Key(sha256.New, ...) (TestHKDFMatchesStandardLibrary,
// FuzzHKDF and the Wycheproof vectors check it), through hmacSHA256.
func hkdfSHA256(ikm, salt, info []byte, length int) ([]byte, error) {
	if length < 0 || length > 255*sha256.Size {
		return nil, errors.New("HKDF-SHA256 output length out of range")
	}
	prk := hmacSHA256(salt, ikm, nil, 0)
	return hkdfExpandSHA256(make([]byte, 0, length), prk[:], info, length), nil
}

// hkdfExpandSHA256 appends HKDF-Expand(prk, info, n) (RFC 5869, SHA-256) to dst. n must be
// at most 255*32; this package asks for 16 to 64 bytes.
func hkdfExpandSHA256(dst, prk, info []byte, n int) []byte {
	if n < 0 || n > 255*sha256.Size {
		panic("crypto: HKDF-SHA256 output length out of range")
	}
	var t [sha256.Size]byte
	prev := t[:0]
	for i := 1; n > 0; i++ {
		t = hmacSHA256(prk, prev, info, byte(i))
		prev = t[:]
		c := min(n, len(t))
		dst = append(dst, t[:c]...)
		n -= c
	}
	clear(t[:])
	return dst
}

// hmacStackSize bounds the HMAC input that hmacSHA256 assembles on the stack: a block of
// key, a previous HKDF block, an info of up to about 250 bytes (every info of a realistic
// record context) and a counter byte. Longer inputs take one heap allocation.
const hmacStackSize = 384

// hmacSHA256 returns HMAC-SHA256(key, a || b || counter) (RFC 2104), the counter byte
// included only when counter is not 0 (HKDF-Expand's block counter runs from 1). It is the
// standard construction over one-shot SHA-256, SHA-256((K ^ opad) || SHA-256((K ^ ipad) ||
// message)), so that deriving a key does not cost the dozen allocations of crypto/hmac:
// this package derives three keys for every record it seals.
func hmacSHA256(key, a, b []byte, counter byte) [sha256.Size]byte {
	const blockSize = 64
	var k [blockSize]byte
	if len(key) > blockSize {
		sum := sha256.Sum256(key)
		copy(k[:], sum[:])
	} else {
		copy(k[:], key)
	}
	var stack [hmacStackSize]byte
	buf := stack[:0]
	if need := blockSize + len(a) + len(b) + 1; need > len(stack) {
		buf = make([]byte, 0, need)
	}
	for _, c := range k {
		buf = append(buf, c^0x36)
	}
	buf = append(append(buf, a...), b...)
	if counter != 0 {
		buf = append(buf, counter)
	}
	inner := sha256.Sum256(buf)
	clear(buf)
	buf = buf[:0]
	for _, c := range k {
		buf = append(buf, c^0x5c)
	}
	buf = append(buf, inner[:]...)
	out := sha256.Sum256(buf)
	clear(buf)
	clear(k[:])
	return out
}

// x25519 computes the X25519 function of a 32-byte scalar and a 32-byte u-coordinate. It
// returns an error when the result is all zeros, that is when the peer's point has low order
// (RFC 7748, section 6.1): such a "shared" secret is known to everyone.
func x25519(scalar, point []byte) ([]byte, error) {
	priv, err := ecdh.X25519().NewPrivateKey(scalar)
	if err != nil {
		return nil, err
	}
	pub, err := ecdh.X25519().NewPublicKey(point)
	if err != nil {
		return nil, err
	}
	return priv.ECDH(pub)
}

// verifyEd25519 reports whether sig is a valid RFC 8032 Ed25519 signature (pure, no context)
// of msg under the 32-byte public key pub. It never panics on bad lengths.
func verifyEd25519(pub, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(pub), msg, sig)
}

// hpkeSeal runs HPKE base mode (single shot) to pk with HKDF-SHA256 and AES-256-GCM,
// returning the encapsulated key and the ciphertext of plaintext under aad.
func hpkeSeal(pk hpke.PublicKey, info, aad, plaintext []byte) (enc, ct []byte, err error) {
	enc, sender, err := hpke.NewSender(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), info)
	if err != nil {
		return nil, nil, err
	}
	ct, err = sender.Seal(aad, plaintext)
	if err != nil {
		return nil, nil, err
	}
	return enc, ct, nil
}

// hpkeOpen is the receiving side of hpkeSeal. Every failure (a bad encapsulation, a low-order
// X25519 share, a tag that does not verify) is errOpen.
func hpkeOpen(k hpke.PrivateKey, enc, info, aad, ct []byte) ([]byte, error) {
	r, err := hpke.NewRecipient(enc, k, hpke.HKDFSHA256(), hpke.AES256GCM(), info)
	if err != nil {
		return nil, errOpen
	}
	pt, err := r.Open(aad, ct)
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}
