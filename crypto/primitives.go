package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
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
func hkdfSHA256(ikm, salt, info []byte, length int) ([]byte, error) {
	return hkdf.Key(sha256.New, ikm, salt, string(info), length)
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
