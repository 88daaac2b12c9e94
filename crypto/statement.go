package crypto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
)

// Signed statements an agent makes about itself, outside any record: its metadata (the
// agents.metadata column) and the events of its audit log. Both signatures have the layout
// of Envelope.Signature (signatureSize bytes: 0x01, the signer's key id, the Ed25519
// signature) over a message that starts with its own label, so that no signature of one kind
// verifies as another, nor as a record, public record or key log signature:
//
//	metadata: "d1seal agent metadata signature v1" || 0x00 || 0x01 || signer key id (16)
//	            || uint16 len(did) || did || 0x00                        (metadata nil)
//	                                      || 0x01 || SHA-256(metadata)   (metadata not nil, even empty)
//	event:    "d1seal event signature v1" || 0x00 || 0x01 || signer key id (16)
//	            || uint16 len(did) || did || digest (32)
//
// Every label ends in 0x00 and contains no other 0x00, so no label is a prefix of another
// and the messages of different kinds never coincide.
const (
	metadataLabel = "d1seal agent metadata signature v1\x00"
	eventLabel    = "d1seal event signature v1\x00"
)

// signLabelled returns the signatureSize-byte signature 0x01 || key id || Ed25519(label ||
// 0x01 || key id || msg).
func (k *signingKey) signLabelled(label string, msg []byte) []byte {
	sig := make([]byte, 0, signatureSize)
	sig = append(sig, formatVersion)
	sig = append(sig, k.pub.id[:]...)
	return append(sig, ed25519.Sign(k.priv, labelledMessage(label, k.pub.id, msg))...)
}

func labelledMessage(label string, signer KeyID, msg []byte) []byte {
	m := make([]byte, 0, len(label)+1+len(signer)+len(msg))
	m = append(m, label...)
	m = append(m, formatVersion)
	m = append(m, signer[:]...)
	return append(m, msg...)
}

// verifyLabelled checks a signature made by signLabelled with this key. It returns nil or an
// error matching ErrDecrypt.
func (k *VerifyingKey) verifyLabelled(op, label string, msg, sig []byte) error {
	if err := checkSignature(op, sig); err != nil {
		return err
	}
	if id := KeyID(sig[1 : 1+len(KeyID{})]); id != k.id {
		return fmt.Errorf("crypto: %s: signed by key %s, not %s: %w", op, id, k.id, ErrDecrypt)
	}
	if !verifyEd25519(k.pub, labelledMessage(label, k.id, msg), sig[1+len(KeyID{}):]) {
		return ErrDecrypt
	}
	return nil
}

func metadataMessage(did string, metadata []byte) []byte {
	m := appendString16(nil, did)
	if metadata == nil {
		return append(m, 0)
	}
	sum := sha256.Sum256(metadata)
	return append(append(m, 1), sum[:]...)
}

// SignMetadata signs the agent's metadata (the bytes the records package stores in
// agents.metadata) for the agent's DID. A nil metadata and an empty one sign differently.
func (a *Agent) SignMetadata(metadata []byte) []byte {
	return a.sign.signLabelled(metadataLabel, metadataMessage(a.did, metadata))
}

// VerifyMetadata checks sig, made by SignMetadata, against this key (did's verifying key, as
// reached through did's verified key log) for the metadata bytes. It returns nil or an error
// matching ErrDecrypt.
func (k *VerifyingKey) VerifyMetadata(did string, metadata, sig []byte) error {
	const op = "verify metadata signature"
	if err := checkDID(did); err != nil {
		return malformed(op, "%v", err)
	}
	return k.verifyLabelled(op, metadataLabel, metadataMessage(did, metadata), sig)
}

func eventMessage(did string, digest [32]byte) []byte {
	return append(appendString16(nil, did), digest[:]...)
}

// SignEvent signs an event of the agent's audit log: digest is a hash the records package
// computes over the event's fields and the hash of the agent's previous event, so that the
// signatures chain the log.
func (a *Agent) SignEvent(digest [32]byte) []byte {
	return a.sign.signLabelled(eventLabel, eventMessage(a.did, digest))
}

// VerifyEvent checks sig, made by SignEvent, against this key (did's verifying key) for the
// event digest. It returns nil or an error matching ErrDecrypt.
func (k *VerifyingKey) VerifyEvent(did string, digest [32]byte, sig []byte) error {
	const op = "verify event signature"
	if err := checkDID(did); err != nil {
		return malformed(op, "%v", err)
	}
	return k.verifyLabelled(op, eventLabel, eventMessage(did, digest), sig)
}
