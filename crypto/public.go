package crypto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Public records are stored in clear (the database can read them) but signed by their owner,
// so that they cannot be altered, moved or forged. Their signature has the same layout as a
// sealed record's (signatureSize bytes: version, signer key id, Ed25519 signature) over a
// message with its own label, so a sealed record's signature never verifies as a public
// record's and the other way round:
//
//	"d1seal public record signature v1" || 0x00 || version (0x01) || signer key id (16)
//	  || record context (appendContext) || SHA-256(len(content) as 4 bytes big-endian || content)

const publicLabel = "d1seal public record signature v1\x00"

func publicMessage(rc RecordContext, signer KeyID, content []byte) []byte {
	h := sha256.New()
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(content)))
	h.Write(n[:])
	h.Write(content)
	msg := make([]byte, 0, len(publicLabel)+1+len(signer)+contextSize(rc)+sha256.Size)
	msg = append(msg, publicLabel...)
	msg = append(msg, formatVersion)
	msg = append(msg, signer[:]...)
	msg = appendContext(msg, rc)
	return h.Sum(msg)
}

// SignPublic signs content as the public (unencrypted) record version rc: the records
// package stores content in the ciphertext column and the result in the signature column.
// a must be the record's owner, the agent named by rc.DID.
func (a *Agent) SignPublic(rc RecordContext, content []byte) ([]byte, error) {
	if err := rc.check(); err != nil {
		return nil, err
	}
	if a == nil || a.did != string(rc.DID) {
		return nil, fmt.Errorf("crypto: sign public %s: the owner agent must be %s", rc, rc.DID)
	}
	k := a.sign
	sig := make([]byte, 0, signatureSize)
	sig = append(sig, formatVersion)
	sig = append(sig, k.pub.id[:]...)
	return append(sig, ed25519.Sign(k.priv, publicMessage(rc, k.pub.id, content))...), nil
}

// VerifyPublic checks sig, made by SignPublic, against this key (the owner's registered
// verifying key) for the public record version rc holding content. It returns nil or an
// error matching ErrDecrypt.
func (k *VerifyingKey) VerifyPublic(rc RecordContext, content, sig []byte) error {
	const op = "verify public signature"
	if err := rc.check(); err != nil {
		return err
	}
	if err := checkSignature(op, sig); err != nil {
		return err
	}
	if id := KeyID(sig[1 : 1+len(KeyID{})]); id != k.id {
		return fmt.Errorf("crypto: %s: signed by key %s, not %s: %w", op, id, k.id, ErrDecrypt)
	}
	if !verifyEd25519(k.pub, publicMessage(rc, k.id, content), sig[1+len(KeyID{}):]) {
		return ErrDecrypt
	}
	return nil
}
