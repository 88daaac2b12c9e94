package crypto_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/syntax"
)

// Alice seals a note for herself and Bob; each opens it with his or her own grant and
// Alice's registered verifying key. A row moved to another record key fails closed.
func Example() {
	alice, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	bob, _ := crypto.GenerateAgent("did:plc:bob", crypto.GenerateOptions{PostQuantum: true})

	// What the agents table holds, validated on registration.
	bobKey, _ := crypto.ParseRecipientKey(bob.PostQuantumKey().Bytes())
	aliceSigning, _ := crypto.ParseVerifyingKey(alice.VerifyingKey().Bytes())

	rc := crypto.RecordContext{DID: "did:plc:alice", Collection: "com.example.note", RKey: "3jzfcijpj2z2a", Version: 1}
	s, err := alice.Seal(rc, []byte("remember the milk"), crypto.Recipient{DID: "did:plc:bob", Key: bobKey})
	if err != nil {
		panic(err)
	}
	fmt.Println("columns:", len(s.Ciphertext), len(s.Nonce), len(s.Signature), len(s.Owner.WrappedKey), len(s.Shared[0].WrappedKey))

	pt, _ := bob.Open(rc, s.Envelope, s.Shared[0].WrappedKey, aliceSigning)
	fmt.Printf("bob reads: %s\n", pt)

	moved := rc
	moved.RKey = "3jzfcijpj2z2b"
	_, err = alice.Open(moved, s.Envelope, s.Owner.WrappedKey, aliceSigning)
	fmt.Println("moved row:", errors.Is(err, crypto.ErrDecrypt))
	// Output:
	// columns: 67 12 81 78 1186
	// bob reads: remember the milk
	// moved row: true
}

// Sealing many new records at once: one Ed25519 signature for all of them, over a Merkle tree;
// each record still verifies on its own, and one altered or moved fails.
func ExampleAgent_SealBatch() {
	alice, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	var rcs []crypto.RecordContext
	var notes [][]byte
	for i, rkey := range []syntax.RecordKey{"3jzfcijpj2z2a", "3jzfcijpj2z2b", "3jzfcijpj2z2c", "3jzfcijpj2z2d", "3jzfcijpj2z2e"} {
		rcs = append(rcs, crypto.RecordContext{DID: "did:plc:alice", Collection: "com.example.note", RKey: rkey, Version: 1})
		notes = append(notes, fmt.Appendf(nil, "note %d", i))
	}
	sealed, err := alice.SealBatch(rcs, notes)
	if err != nil {
		panic(err)
	}
	for i, s := range sealed {
		pt, err := alice.Open(rcs[i], s.Envelope, s.Owner.WrappedKey, alice.VerifyingKey())
		fmt.Printf("%s: %s, signature column %d bytes, %v\n", rcs[i].RKey, pt, len(s.Signature), err)
	}
	_, err = alice.Open(rcs[0], sealed[1].Envelope, sealed[1].Owner.WrappedKey, alice.VerifyingKey())
	fmt.Println("record b's row under a's key:", errors.Is(err, crypto.ErrDecrypt))
	// Output:
	// 3jzfcijpj2z2a: note 0, signature column 181 bytes, <nil>
	// 3jzfcijpj2z2b: note 1, signature column 181 bytes, <nil>
	// 3jzfcijpj2z2c: note 2, signature column 181 bytes, <nil>
	// 3jzfcijpj2z2d: note 3, signature column 181 bytes, <nil>
	// 3jzfcijpj2z2e: note 4, signature column 117 bytes, <nil>
	// record b's row under a's key: true
}

// Revoking Bob: Alice re-keys the record as version 2 for Carol only. Bob's old grant
// opens nothing in the new version.
func ExampleAgent_Rekey() {
	alice, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	bob, _ := crypto.GenerateAgent("did:plc:bob", crypto.GenerateOptions{})
	carol, _ := crypto.GenerateAgent("did:plc:carol", crypto.GenerateOptions{})

	v1 := crypto.RecordContext{DID: "did:plc:alice", Collection: "com.example.note", RKey: "k", Version: 1}
	s1, _ := alice.Seal(v1, []byte("plans"), bob.Recipient(), carol.Recipient())

	s2, err := alice.Rekey(v1, s1.Envelope, s1.Owner.WrappedKey, 2, carol.Recipient())
	if err != nil {
		panic(err)
	}
	v2 := v1
	v2.Version = 2
	pt, _ := carol.Open(v2, s2.Envelope, s2.Shared[0].WrappedKey, alice.VerifyingKey())
	fmt.Printf("carol reads v2: %s\n", pt)
	_, err = bob.Open(v2, s2.Envelope, s1.Shared[0].WrappedKey, alice.VerifyingKey())
	fmt.Println("bob on v2:", errors.Is(err, crypto.ErrDecrypt))
	// Output:
	// carol reads v2: plans
	// bob on v2: true
}

// Rotating Alice's encryption key: each grant is re-wrapped to the new key, content
// untouched; the old key no longer opens the new grant.
func ExampleAgent_Rewrap() {
	old, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	rc := crypto.RecordContext{DID: "did:plc:alice", Collection: "com.example.note", RKey: "k", Version: 1}
	s, _ := old.Seal(rc, []byte("kept"))

	next, _ := old.NewEncryptionKeys()
	g, err := old.Rewrap(rc, s.Owner.WrappedKey, next.Recipient())
	if err != nil {
		panic(err)
	}
	pt, _ := next.Open(rc, s.Envelope, g.WrappedKey, next.VerifyingKey())
	fmt.Printf("new key reads: %s\n", pt)
	_, err = old.Unwrap(rc, g.WrappedKey)
	fmt.Println("old key:", errors.Is(err, crypto.ErrDecrypt))
	// Output:
	// new key reads: kept
	// old key: true
}

// Saving an agent's keys under a passphrase and loading them back. Secrets never print.
func ExampleWriteKeyFile() {
	dir, _ := os.MkdirTemp("", "keys")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "alice.key")

	alice, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	// The zero KeyFileOptions means strong defaults (argon2id, 3 passes, 64 MiB); the
	// minimum settings here only keep the example fast. Weaker ones are refused.
	opts := crypto.KeyFileOptions{Time: crypto.MinKeyFileTime, MemoryKiB: crypto.MinKeyFileMemory, Threads: 1}
	if err := crypto.WriteKeyFile(path, alice, []byte("correct horse battery staple"), opts); err != nil {
		panic(err)
	}
	fi, _ := os.Stat(path)
	fmt.Println("mode:", fi.Mode().Perm())

	loaded, _ := crypto.ReadKeyFile(path, []byte("correct horse battery staple"))
	fmt.Println("same key:", loaded.RecipientKey().Equal(alice.RecipientKey()))
	_, err := crypto.ReadKeyFile(path, []byte("wrong"))
	fmt.Println("wrong passphrase:", errors.Is(err, crypto.ErrDecrypt))
	fmt.Println("printed:", strings.HasSuffix(fmt.Sprint(loaded), "REDACTED)"))
	// Output:
	// mode: -rw-------
	// same key: true
	// wrong passphrase: true
	// printed: true
}

// An agent's key log: the genesis publishes its first keys, a rotation retires them and a
// revocation declares the next ones compromised. A reader that trusts the genesis (pinned or
// first seen) reaches the current keys by verifying each entry after the one before, from
// the stored bytes.
func ExampleAgent_KeyRotation() {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	alice, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	genesis, _ := alice.KeyGenesis(now)

	next, _ := alice.NewKeys() // new X25519 and Ed25519 keys, same DID
	rotate, _ := alice.KeyRotation(genesis, next, crypto.KeyRotate, nil, now.Add(time.Hour))

	third, _ := next.NewKeys()
	revoke, _ := next.KeyRotation(rotate, third, crypto.KeyRevoke, nil, now.Add(2*time.Hour))

	// What the database stores, and what a reader checks.
	var prev *crypto.KeyEntry
	for _, stored := range [][]byte{genesis.Marshal(), rotate.Marshal(), revoke.Marshal()} {
		e, err := crypto.ParseKeyEntry(stored)
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Seq, e.Change, "verifies:", e.Verify(prev) == nil, "revokes:", len(e.Revoked))
		prev = e
	}
	fmt.Println("current keys are third's:", prev.Keys.Equal(third.Keys()))

	// A forged entry, signed by a key the log never reached, fails.
	mallory, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	forged, _ := mallory.KeyGenesis(now)
	forged.Seq, forged.Change, forged.Prev = 3, crypto.KeyRotate, prev.Hash()
	fmt.Println("forged:", errors.Is(forged.Verify(prev), crypto.ErrDecrypt))
	// Output:
	// 0 genesis verifies: true revokes: 0
	// 1 rotate verifies: true revokes: 0
	// 2 revoke verifies: true revokes: 2
	// current keys are third's: true
	// forged: true
}

// Agent metadata and audit events carry the agent's signature; a reader checks them with the
// agent's verifying key from its key log.
func ExampleAgent_SignEvent() {
	alice, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	key := alice.VerifyingKey()

	digest := sha256.Sum256([]byte("event fields and the previous event's hash"))
	sig := alice.SignEvent(digest)
	fmt.Println("event:", key.VerifyEvent("did:plc:alice", digest, sig) == nil)
	fmt.Println("as bob's:", errors.Is(key.VerifyEvent("did:plc:bob", digest, sig), crypto.ErrDecrypt))

	md := []byte(`{"name":"alice"}`)
	msig := alice.SignMetadata(md)
	fmt.Println("metadata:", key.VerifyMetadata("did:plc:alice", md, msig) == nil)
	fmt.Println("edited:", errors.Is(key.VerifyMetadata("did:plc:alice", []byte(`{"name":"eve"}`), msig), crypto.ErrDecrypt))
	// Output:
	// event: true
	// as bob's: true
	// metadata: true
	// edited: true
}

// Rotating the owner key: NewKeys gives the agent a new owner key, and each owner grant is
// re-wrapped under it without touching the record's content. (NewEncryptionKeys keeps the
// owner key, and with it every owner grant.)
func ExampleAgent_RewrapForOwner() {
	alice, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	rc := crypto.RecordContext{DID: "did:plc:alice", Collection: "com.example.note", RKey: "k", Version: 1}
	s, _ := alice.Seal(rc, []byte("plans"))
	suite, id, _ := crypto.WrappedKeyID(s.Owner.WrappedKey)
	fmt.Println("owner grant:", suite, len(s.Owner.WrappedKey), "bytes, key_id is OwnerKeyID:", id == alice.OwnerKeyID())

	next, _ := alice.NewKeys()
	g, err := alice.RewrapForOwner(rc, s.Owner.WrappedKey, next)
	if err != nil {
		panic(err)
	}
	pt, _ := next.Open(rc, s.Envelope, g.WrappedKey, alice.VerifyingKey())
	fmt.Printf("next reads: %s, key_id: %v\n", pt, g.KeyID == next.OwnerKeyID())
	_, err = alice.Unwrap(rc, g.WrappedKey)
	fmt.Println("old key opens the new grant:", err == nil)
	// Output:
	// owner grant: owner 78 bytes, key_id is OwnerKeyID: true
	// next reads: plans, key_id: true
	// old key opens the new grant: false
}

// Blind indexes: the owner derives one index key per collection and field and stores the
// beacon of each value beside the record; equal values give equal beacons, which the
// database can match without learning the value. Bob can search the field once Alice shares
// its index key with him.
func ExampleIndexKey_Beacon() {
	alice, _ := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	bob, _ := crypto.GenerateAgent("did:plc:bob", crypto.GenerateOptions{})

	tags, _ := alice.IndexKey("com.example.note", "tag")
	b1, _ := tags.Beacon([]byte("groceries"), 32)
	b2, _ := tags.Beacon([]byte("groceries"), 32)
	b3, _ := tags.Beacon([]byte("taxes"), 32)
	fmt.Println("beacon bytes:", len(b1), "equal values match:", string(b1) == string(b2), "others:", string(b1) == string(b3))
	_, err := tags.Beacon([]byte("groceries"), 12)
	fmt.Println(err)

	wrapped, _ := tags.Wrap(bob.Recipient())
	ic := crypto.IndexContext{DID: "did:plc:alice", Collection: "com.example.note", Field: "tag"}
	bobs, _ := bob.UnwrapIndexKey(ic, wrapped)
	b4, _ := bobs.Beacon([]byte("groceries"), 32)
	fmt.Println("bob's beacon matches:", string(b1) == string(b4))
	fmt.Println("printed:", bobs)
	// Output:
	// beacon bytes: 4 equal values match: true others: false
	// crypto: beacon for did:plc:alice/com.example.note#tag: 12 bits: want a multiple of 8 from 8 to 256
	// bob's beacon matches: true
	// printed: crypto.IndexKey(did:plc:alice/com.example.note#tag, REDACTED)
}
