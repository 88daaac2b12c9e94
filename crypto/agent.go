package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
)

// Agent is one agent's identity: its DID and its private keys, an X25519 decryption key,
// an Ed25519 signing key, optionally an X-Wing decryption key, and an owner key (a
// symmetric key that wraps the data keys of the agent's own records, see OwnerKeyID; absent
// for agents read from version 1 key files). The keys are independent: none is derived from
// or converted into another.
//
// An Agent never prints its secrets (every fmt verb shows only the DID and key ids). Save it
// with WriteKeyFile. Make one with GenerateAgent or ReadKeyFile (the zero Agent is not
// usable). An Agent is immutable and safe for concurrent use.
type Agent struct {
	did   string
	enc   *decryptionKey // SuiteX25519, always present
	pq    *decryptionKey // SuiteXWing, or nil
	sign  *signingKey
	owner *ownerKey // the owner keyring's key, or nil (agents from version 1 key files)
}

// GenerateOptions are the settings of GenerateAgent. The zero value generates X25519 and
// Ed25519 keys only.
type GenerateOptions struct {
	// PostQuantum adds an X-Wing (ML-KEM-768 + X25519) decryption key. Grants for the agent
	// itself then use it (see Agent.Recipient).
	PostQuantum bool
}

// GenerateAgent makes fresh keys for the agent named by did, owner key included. The
// caller validates the DID (syntax.ParseDID); here it only has to be non-empty and at most
// 2048 bytes.
func GenerateAgent(did string, opts GenerateOptions) (*Agent, error) {
	if err := checkDID(did); err != nil {
		return nil, fmt.Errorf("crypto: generate agent: %w", err)
	}
	a := &Agent{did: did, owner: generateOwnerKey()}
	var err error
	if a.enc, err = generateDecryptionKey(SuiteX25519); err != nil {
		return nil, fmt.Errorf("crypto: generate agent: %w", err)
	}
	if opts.PostQuantum {
		if a.pq, err = generateDecryptionKey(SuiteXWing); err != nil {
			return nil, fmt.Errorf("crypto: generate agent: %w", err)
		}
	}
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	a.sign = newSigningKey(seed)
	clear(seed)
	return a, nil
}

// NewEncryptionKeys returns a copy of a with fresh decryption keys (X25519, and X-Wing if a
// has one) and the same DID, signing key and owner key: the next step of a routine
// rotation of the published encryption keys. Keep a until every grant is re-wrapped
// (Agent.Rewrap for grants others made for a, Agent.RewrapForOwner for a's own records'
// HPKE grants), then publish the new keys and retire a.
//
// The owner key is kept because it is never published and is not what a routine rotation
// retires: the owner grants and index keys made under it stay valid, so the rotation
// rewrites no owner grant and no beacon. If a has no owner key (read from a version 1 key
// file), next gets a fresh one, so that this rotation also moves a's own records to owner
// grants (RewrapForOwner). To replace the owner key too, use NewKeys.
func (a *Agent) NewEncryptionKeys() (*Agent, error) {
	next := &Agent{did: a.did, sign: a.sign, owner: a.owner}
	if next.owner == nil {
		next.owner = generateOwnerKey()
	}
	var err error
	if next.enc, err = generateDecryptionKey(SuiteX25519); err != nil {
		return nil, fmt.Errorf("crypto: rotate agent keys: %w", err)
	}
	if a.pq != nil {
		if next.pq, err = generateDecryptionKey(SuiteXWing); err != nil {
			return nil, fmt.Errorf("crypto: rotate agent keys: %w", err)
		}
	}
	return next, nil
}

func checkDID(did string) error {
	switch {
	case did == "":
		return fmt.Errorf("empty DID")
	case len(did) > maxContextField:
		return fmt.Errorf("DID is %d bytes, limit %d", len(did), maxContextField)
	}
	return nil
}

// DID returns the agent's DID.
func (a *Agent) DID() string { return a.did }

// RecipientKey returns the agent's X25519 public key (agents.public_key).
func (a *Agent) RecipientKey() *RecipientKey { return a.enc.pub }

// PostQuantumKey returns the agent's X-Wing public key, or nil if it has none.
func (a *Agent) PostQuantumKey() *RecipientKey {
	if a.pq == nil {
		return nil
	}
	return a.pq.pub
}

// VerifyingKey returns the agent's Ed25519 public key (agents.signing_key).
func (a *Agent) VerifyingKey() *VerifyingKey { return a.sign.pub }

// Recipient returns the agent as a recipient of its own records: its X-Wing key when it has
// one, else its X25519 key.
func (a *Agent) Recipient() Recipient {
	if a.pq != nil {
		return Recipient{DID: a.did, Key: a.pq.pub}
	}
	return Recipient{DID: a.did, Key: a.enc.pub}
}

// keyFor returns the agent's key of suite s, or nil.
func (a *Agent) keyFor(s Suite) *decryptionKey {
	switch s {
	case SuiteX25519:
		return a.enc
	case SuiteXWing:
		return a.pq
	}
	return nil
}

// String returns a redacted description: the DID and public key ids.
func (a Agent) String() string {
	if a.enc == nil || a.sign == nil {
		return "crypto.Agent(" + a.did + ", REDACTED)"
	}
	s := "crypto.Agent(" + a.did + ", " + a.enc.pub.String()
	if a.pq != nil {
		s += ", " + a.pq.pub.String()
	}
	s += ", " + a.sign.pub.String()
	if a.owner != nil {
		s += ", owner:" + a.owner.id.String()
	}
	return s + ", REDACTED)"
}

// GoString is String.
func (a Agent) GoString() string { return a.String() }

// Format prints String for every verb.
func (a Agent) Format(f fmt.State, _ rune) { fmt.Fprint(f, a.String()) }

// Recipient is someone a data key is wrapped for: an agent's DID and one of its registered
// encryption keys, as read from the agents table and checked by ParseRecipientKey.
type Recipient struct {
	DID string
	Key *RecipientKey
}

func (r Recipient) check() error {
	if err := checkDID(r.DID); err != nil {
		return fmt.Errorf("recipient: %w", err)
	}
	if r.Key == nil || r.Key.pub == nil {
		return fmt.Errorf("recipient %s: no key (use ParseRecipientKey or Agent.Recipient)", r.DID)
	}
	return nil
}
