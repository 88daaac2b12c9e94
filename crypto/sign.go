package crypto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// signatureSize is the size of Envelope.Signature: version, key id, Ed25519 signature.
const signatureSize = 1 + len(KeyID{}) + ed25519.SignatureSize

const signatureLabel = "d1seal record signature v1\x00"

// signatureMessage is what the owner's Ed25519 key signs:
//
//	"d1seal record signature v1" || 0x00 || version (0x01) || signer key id (16)
//	  || record context (appendContext) || SHA-256(len(ciphertext) as 4 bytes big-endian
//	  || ciphertext || nonce)
//
// The label keeps the signature from meaning anything in another protocol; the context
// binds it to one version of one record; the hash binds the exact stored bytes, commitment
// included, so a recipient holding the data key cannot forge other ciphertext under the
// owner's signature (AES-GCM alone does not prevent that for key holders).
func signatureMessage(rc RecordContext, signer KeyID, ciphertext, nonce []byte) []byte {
	return recordMessage(nil, signatureLabel, formatVersion, rc, signer, ciphertext, nonce)
}

// recordMessage appends to lead what binds a signature to one stored record version:
//
//	label || version || signer key id || record context
//	  || SHA-256(uint32 len(ciphertext) || ciphertext || nonce)
//
// the message of a record signature, and under its own label the leaf of a batch signature.
func recordMessage(lead []byte, label string, version byte, rc RecordContext, signer KeyID, ciphertext, nonce []byte) []byte {
	h := sha256.New()
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(ciphertext)))
	h.Write(n[:])
	h.Write(ciphertext)
	h.Write(nonce)
	msg := make([]byte, 0, len(lead)+len(label)+1+len(signer)+contextSize(rc)+sha256.Size)
	msg = append(msg, lead...)
	msg = append(msg, label...)
	msg = append(msg, version)
	msg = append(msg, signer[:]...)
	msg = appendContext(msg, rc)
	return h.Sum(msg)
}

// signEnvelope returns the signature column for ciphertext and nonce.
func (k *signingKey) signEnvelope(rc RecordContext, ciphertext, nonce []byte) []byte {
	return k.appendEnvelopeSignature(make([]byte, 0, signatureSize), rc, ciphertext, nonce)
}

// appendEnvelopeSignature appends the signature column for ciphertext and nonce to sig.
func (k *signingKey) appendEnvelopeSignature(sig []byte, rc RecordContext, ciphertext, nonce []byte) []byte {
	msg := signatureMessage(rc, k.pub.id, ciphertext, nonce)
	sig = append(sig, formatVersion)
	sig = append(sig, k.pub.id[:]...)
	return append(sig, ed25519.Sign(k.priv, msg)...)
}

// SignatureKeyID returns the id of the key that made an Envelope.Signature, so that a reader
// can look up that key among the owner's registered keys (after a signing-key rotation there
// may be several). It reads record signatures and batch signatures (Agent.SealBatch) alike.
// The id is not authenticated until Verify succeeds.
func SignatureKeyID(sig []byte) (KeyID, error) {
	id, _, err := parseRecordSignature("signature key id", sig)
	return id, err
}

// parseRecordSignature checks the structure of a record signature or a batch signature and
// returns its signer's key id and, for a batch signature, the record's place in the tree
// (the zero place, of size 0, for a record signature).
func parseRecordSignature(op string, sig []byte) (KeyID, batchPlace, error) {
	var place batchPlace
	var err error
	if len(sig) > 0 && sig[0] == batchVersion {
		place, err = checkBatchSignature(op, sig)
	} else {
		err = checkSignature(op, sig)
	}
	if err != nil {
		return KeyID{}, batchPlace{}, err
	}
	return KeyID(sig[1 : 1+len(KeyID{})]), place, nil
}

func checkSignature(op string, sig []byte) error {
	if len(sig) == 0 {
		return malformed(op, "empty signature")
	}
	if sig[0] != formatVersion {
		return unsupported(op, "signature version %d, this package reads %d", sig[0], formatVersion)
	}
	if len(sig) != signatureSize {
		return malformed(op, "signature is %d bytes, want %d", len(sig), signatureSize)
	}
	return nil
}

// Verify checks env.Signature against this key, a signing key of the record's owner
// (rc.DID), for the record version rc. Pass a key reached through the owner's verified key
// log (KeyEntry.Verify), never one read from the record's own row or taken on trust from the
// agents table. env.Signature is a record signature (Seal) or a batch signature
// (SealBatch); the key remembers the batch roots it verified last, so the other records of a
// batch cost a few hashes. It returns nil or an error matching ErrDecrypt.
func (k *VerifyingKey) Verify(rc RecordContext, env Envelope) error {
	const op = "verify signature"
	if err := rc.check(); err != nil {
		return err
	}
	id, place, err := parseRecordSignature(op, env.Signature)
	if err != nil {
		return err
	}
	if err := checkEnvelope(op, env.Ciphertext, env.Nonce); err != nil {
		return err
	}
	if id != k.id {
		return fmt.Errorf("crypto: %s: signed by key %s, not %s: %w", op, id, k.id, ErrDecrypt)
	}
	if place.size > 0 {
		return k.verifyBatch(rc, env, place)
	}
	msg := signatureMessage(rc, k.id, env.Ciphertext, env.Nonce)
	if !verifyEd25519(k.pub, msg, env.Signature[1+len(KeyID{}):]) {
		return ErrDecrypt
	}
	return nil
}
