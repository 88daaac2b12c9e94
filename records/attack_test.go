package records_test

// The attacks of the trust issue, each carried out as an attacker holding a D1 API token
// would: the public API, plus plain SQL on the database. Each test carries a control that
// proves the attack really happened (the forged row is valid on its own, the injected row is
// there, the same forgery with the genuine key is accepted), so that none can pass because
// the attack silently stopped working.

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

func count(t *testing.T, db *d1.Client, sql string, args ...any) int {
	t.Helper()
	n, err := d1.QueryOne[int](context.Background(), db, sql, args...)
	require.NoError(t, err)
	return n
}

func exec(t *testing.T, db *d1.Client, sql string, args ...any) {
	t.Helper()
	_, err := db.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

// freshNotes is alice's collection in a Store that never saw anything: a new process with
// no trust store and no state, the control that a forged row is valid on its own.
func freshNotes(t *testing.T, e *env, a *crypto.Agent) *records.Collection[note] {
	t.Helper()
	c, err := records.NewCollection[note](records.NewStore(e.db, records.StoreOptions{}), a, "agent.memory.note", records.CollectionOptions[note]{})
	require.NoError(t, err)
	return c
}

// TestAttackRecipientInjection: the database adds a reader by copying a grant row under
// another DID; the owner's next ordinary update must not wrap the new data key for it. The
// same row put back after a revocation must not undo it.
func TestAttackRecipientInjection(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice, bob, mallory := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob"), e.agent(t, "did:plc:mallory")
	ca, cb, cm := notes(t, e, alice), notes(t, e, bob), notes(t, e, mallory)

	r, err := ca.Create(ctx, note{Body: "v1"})
	require.NoError(t, err)
	require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"))

	// The attack: bob's grant row copied under mallory's DID.
	exec(t, e.db, `INSERT INTO shared_records (record_id, recipient_did, encrypted_dek, shared_at, version, key_id)
SELECT record_id, 'did:plc:mallory', encrypted_dek, shared_at, version, key_id FROM shared_records WHERE record_id = ? AND recipient_did = 'did:plc:bob'`, r.Ref.ID())
	require.Equal(t, 1, count(t, e.db, "SELECT count(*) FROM shared_records WHERE recipient_did = 'did:plc:mallory'"), "control: the injected grant row is there")

	cur, err := ca.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, []records.DID{"did:plc:bob"}, cur.SharedWith, "the signed access list names bob only")
	cur.Value.Body = "v2, for bob"
	_, err = ca.Update(ctx, cur)
	require.NoError(t, err)

	_, err = cm.Open(ctx, r.Ref)
	assert.ErrorIs(t, err, records.ErrNotShared, "the update wrapped nothing for mallory")
	assert.Zero(t, count(t, e.db, "SELECT count(*) FROM shared_records WHERE recipient_did = 'did:plc:mallory'"), "the injected row was removed by the write")
	got, err := cb.Open(ctx, r.Ref)
	require.NoError(t, err)
	assert.Equal(t, "v2, for bob", got.Value.Body)

	// Revocation undone by one INSERT: bob's grant is kept, bob revoked, the grant put back.
	type grant struct {
		EncryptedDek []byte
		Version      int64
		KeyID        []byte
	}
	saved, err := d1.QueryOne[grant](ctx, e.db, "SELECT encrypted_dek, version, key_id FROM shared_records WHERE record_id = ? AND recipient_did = 'did:plc:bob'", r.Ref.ID())
	require.NoError(t, err)
	require.NoError(t, ca.Unshare(ctx, r.Ref.RKey, "did:plc:bob"))
	exec(t, e.db, "INSERT INTO shared_records (record_id, recipient_did, encrypted_dek, shared_at, version, key_id) VALUES (?, 'did:plc:bob', ?, 'now', ?, ?)",
		r.Ref.ID(), saved.EncryptedDek, saved.Version, saved.KeyID)
	require.Equal(t, 1, count(t, e.db, "SELECT count(*) FROM shared_records WHERE recipient_did = 'did:plc:bob'"), "control: the old grant is back")
	cur, err = ca.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	cur.Value.Body = "v3, after bob's revocation"
	_, err = ca.Update(ctx, cur)
	require.NoError(t, err)
	_, err = cb.Open(ctx, r.Ref)
	assert.ErrorIs(t, err, records.ErrNotShared, "the revoked agent stays revoked")

	// Control: mallory's own reads work when alice really shares with her.
	require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:mallory"))
	got, err = cm.Open(ctx, r.Ref)
	require.NoError(t, err)
	assert.Equal(t, "v3, after bob's revocation", got.Value.Body)
}

// forgeGenesis replaces did's key log in the database with a valid, self-signed genesis of
// keys the attacker holds (and the registry's columns to match), and returns those keys.
func forgeGenesis(t *testing.T, e *env, did string) *crypto.Agent {
	t.Helper()
	fake, err := crypto.GenerateAgent(did, crypto.GenerateOptions{})
	require.NoError(t, err)
	entry, err := fake.KeyGenesis(time.Now())
	require.NoError(t, err)
	exec(t, e.db, "DELETE FROM agent_key_log WHERE did = ?", did)
	exec(t, e.db, "INSERT INTO agent_key_log (did, seq, entry, created_at) VALUES (?, 0, ?, 'now')", did, entry.Marshal())
	exec(t, e.db, "UPDATE agents SET public_key = ?, signing_key = ?, pq_key = NULL, metadata = NULL, metadata_sig = NULL WHERE did = ?",
		fake.RecipientKey().Bytes(), fake.VerifyingKey().Bytes(), did)
	return fake
}

// TestAttackKeySubstitution: the database swaps a recipient's published keys for the
// attacker's, so that a share is wrapped for the attacker.
func TestAttackKeySubstitution(t *testing.T) {
	ctx := context.Background()

	t.Run("registry columns only", func(t *testing.T) {
		e := newEnv(t, d1local.Options{})
		alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
		mallory, err := crypto.GenerateAgent("did:plc:bob", crypto.GenerateOptions{})
		require.NoError(t, err)
		exec(t, e.db, "UPDATE agents SET public_key = ? WHERE did = 'did:plc:bob'", mallory.RecipientKey().Bytes())
		exec(t, e.db, "INSERT INTO agent_keys (key_id, did, kind, public_key, created_at) VALUES (?, 'did:plc:bob', 'x25519', ?, 'now')",
			keyID(mallory.RecipientKey().KeyID()), mallory.RecipientKey().Bytes())
		require.Equal(t, 1, count(t, e.db, "SELECT count(*) FROM agents WHERE did = 'did:plc:bob' AND public_key = ?", mallory.RecipientKey().Bytes()), "control: the registry holds mallory's key")

		ca := notes(t, e, alice)
		r, err := ca.Create(ctx, note{Body: "for bob"})
		require.NoError(t, err)
		require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"))
		got, err := notes(t, e, bob).Open(ctx, r.Ref)
		require.NoError(t, err, "the grant is for bob's real key")
		assert.Equal(t, "for bob", got.Value.Body)
		grant, err := d1.QueryOne[[]byte](ctx, e.db, "SELECT encrypted_dek FROM shared_records WHERE recipient_did = 'did:plc:bob'")
		require.NoError(t, err)
		_, err = mallory.Unwrap(crypto.RecordContext{DID: "did:plc:alice", Collection: "agent.memory.note", RKey: r.Ref.RKey, Version: got.Version}, grant)
		assert.ErrorIs(t, err, crypto.ErrDecrypt, "mallory cannot unwrap it")
	})

	t.Run("forged key log, pinned", func(t *testing.T) {
		e := newEnv(t, d1local.Options{})
		alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
		bobKeys, err := records.PublicKeys(bob)
		require.NoError(t, err)
		fake := forgeGenesis(t, e, "did:plc:bob")

		// Control: a client that neither pinned bob nor saw him before believes the forgery.
		a, err := records.NewStore(e.db, records.StoreOptions{}).Agent(ctx, "did:plc:bob")
		require.NoError(t, err, "control: the forged log is valid on its own")
		require.True(t, a.Recipient.Equal(fake.RecipientKey()))

		store := records.NewStore(e.db, records.StoreOptions{})
		require.NoError(t, store.Pin(bobKeys))
		ca, err := records.NewCollection[note](store, alice, "agent.memory.note", records.CollectionOptions[note]{})
		require.NoError(t, err)
		r, err := ca.Create(ctx, note{Body: "for bob"})
		require.NoError(t, err)
		err = ca.Share(ctx, r.Ref.RKey, "did:plc:bob")
		assert.ErrorIs(t, err, records.ErrUntrusted)
		assert.Contains(t, err.Error(), "did:plc:bob", "the error names the agent")
		assert.Zero(t, count(t, e.db, "SELECT count(*) FROM shared_records"), "nothing was wrapped for the forged keys")
	})

	t.Run("forged key log, learned before", func(t *testing.T) {
		e := newEnv(t, d1local.Options{})
		alice := e.agent(t, "did:plc:alice")
		e.agent(t, "did:plc:bob")
		ca := notes(t, e, alice)
		r, err := ca.Create(ctx, note{Body: "first"})
		require.NoError(t, err)
		require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"), "alice's client learns bob's keys")
		forgeGenesis(t, e, "did:plc:bob")
		r2, err := ca.Create(ctx, note{Body: "second"})
		require.NoError(t, err)
		assert.ErrorIs(t, ca.Share(ctx, r2.Ref.RKey, "did:plc:bob"), records.ErrUntrusted, "a fork of a log already trusted")
		cur, err := ca.Get(ctx, r.Ref.RKey)
		require.NoError(t, err)
		_, err = ca.Update(ctx, cur)
		assert.ErrorIs(t, err, records.ErrUntrusted, "an update does not wrap for the forged keys either")
	})
}

// forgePayload is the sealed payload format (version 2) as the records package documents it,
// with readers (sorted by DID) on the access list: what an attacker who read the docs would
// build.
func forgePayload(createdAt, updatedAt, writeID string, value []byte, readers []crypto.Recipient) []byte {
	b := []byte{2}
	for _, s := range []string{createdAt, updatedAt, writeID} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(readers)))
	for _, r := range readers {
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.DID)))
		b = append(b, r.DID...)
		id := r.Key.KeyID()
		b = append(append(b, byte(r.Key.Suite())), id[:]...)
	}
	return append(b, value...)
}

// forgeVersion overwrites the record ref with a new version of value signed by signer, its data
// key wrapped for the owner's key owner and for readers (whose grant rows it replaces).
func forgeVersion(t *testing.T, e *env, ref records.Ref, version uint64, value string, signer *crypto.Agent, owner *crypto.RecipientKey, readers ...crypto.Recipient) {
	t.Helper()
	rc := crypto.NewRecordContext(ref, version)
	created := "2026-01-01T00:00:00.000000000Z"
	recipients := append([]crypto.Recipient{{DID: string(ref.DID), Key: owner}}, readers...)
	sealed, err := signer.Seal(rc, forgePayload(created, "", "forged", []byte(`{"title":"","body":"`+value+`"}`), readers), recipients...)
	require.NoError(t, err)
	exec(t, e.db, "UPDATE records SET ciphertext = ?, nonce = ?, signature = ?, encrypted_dek = ?, key_id = ?, version = ?, created_at = ?, updated_at = NULL, write_id = 'forged', public = 0 WHERE id = ?",
		sealed.Ciphertext, sealed.Nonce, sealed.Signature, sealed.Shared[0].WrappedKey, keyID(sealed.Shared[0].KeyID), int64(version), created, ref.ID())
	for i, g := range sealed.Shared[1:] {
		exec(t, e.db, "UPDATE shared_records SET encrypted_dek = ?, key_id = ?, version = ? WHERE record_id = ? AND recipient_did = ?",
			g.WrappedKey, keyID(g.KeyID), int64(version), ref.ID(), readers[i].DID)
	}
}

// TestAttackSigningKeyInjection: the database adds an Ed25519 key for alice and serves a row
// signed with it.
func TestAttackSigningKeyInjection(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	ca := notes(t, e, alice)
	r, err := ca.Create(ctx, note{Body: "genuine"})
	require.NoError(t, err)

	forger, err := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	require.NoError(t, err)
	exec(t, e.db, "INSERT INTO agent_keys (key_id, did, kind, public_key, created_at) VALUES (?, 'did:plc:alice', 'ed25519', ?, 'now')",
		keyID(forger.VerifyingKey().KeyID()), forger.VerifyingKey().Bytes())
	exec(t, e.db, "UPDATE agents SET signing_key = ? WHERE did = 'did:plc:alice'", forger.VerifyingKey().Bytes())
	// A key log entry for the forger's keys, self-signed like a genesis: it does not follow
	// alice's log.
	fe, err := forger.KeyGenesis(time.Now())
	require.NoError(t, err)
	exec(t, e.db, "INSERT INTO agent_key_log (did, seq, entry, created_at) VALUES ('did:plc:alice', 1, ?, 'now')", fe.Marshal())

	forgeVersion(t, e, r.Ref, 2, "forged by mallory", forger, alice.RecipientKey())
	_, err = ca.Get(ctx, r.Ref.RKey)
	assert.ErrorIs(t, err, records.ErrUntrusted, "alice's own process refuses the forged key")
	_, err = freshNotes(t, e, alice).Get(ctx, r.Ref.RKey)
	assert.ErrorIs(t, err, records.ErrUntrusted, "so does a fresh reader following alice's key log")

	// Control: the same forgery signed with alice's genuine key is accepted, so only the key
	// decided.
	exec(t, e.db, "DELETE FROM agent_key_log WHERE did = 'did:plc:alice' AND seq = 1")
	forgeVersion(t, e, r.Ref, 3, "written with alice's key", alice, alice.RecipientKey())
	got, err := ca.Get(ctx, r.Ref.RKey)
	require.NoError(t, err, "control: the forged construction is a valid record")
	assert.Equal(t, "written with alice's key", got.Value.Body)
}

// TestAttackPrivateWriteInClear: a record flipped or resurrected as public must not make the
// owner's next private write store its value in clear.
func TestAttackPrivateWriteInClear(t *testing.T) {
	ctx := context.Background()
	inClear := func(t *testing.T, e *env, secret string) int {
		return count(t, e.db, "SELECT count(*) FROM records WHERE instr(CAST(ciphertext AS TEXT), ?) > 0", secret)
	}

	t.Run("flipped", func(t *testing.T) {
		e := newEnv(t, d1local.Options{})
		ca := notes(t, e, e.agent(t, "did:plc:alice"))
		r, err := ca.Put(ctx, "3jzfcijpj2z2a", note{Body: "private"})
		require.NoError(t, err)
		exec(t, e.db, "UPDATE records SET public = 1 WHERE id = ?", r.Ref.ID())
		_, err = ca.Put(ctx, r.Ref.RKey, note{Body: "top secret one"})
		assert.Error(t, err)
		assert.Zero(t, inClear(t, e, "top secret one"))
	})

	t.Run("resurrected", func(t *testing.T) {
		e := newEnv(t, d1local.Options{})
		alice := e.agent(t, "did:plc:alice")
		ca := notes(t, e, alice)
		const rkey = "3jzfcijpj2z2a"
		r, err := ca.PutPublic(ctx, rkey, note{Body: "public announcement"})
		require.NoError(t, err)
		type row struct {
			Ciphertext, Signature []byte
			CreatedAt, WriteID    string
			Version               int64
		}
		saved, err := d1.QueryOne[row](ctx, e.db, "SELECT ciphertext, signature, created_at, write_id, version FROM records WHERE id = ?", r.Ref.ID())
		require.NoError(t, err)
		require.NoError(t, ca.Delete(ctx, rkey))
		_, err = ca.Put(ctx, rkey, note{Body: "private now"})
		require.NoError(t, err)

		// The attack: the private row replaced by the old public one.
		exec(t, e.db, "DELETE FROM records WHERE id = ?", r.Ref.ID())
		exec(t, e.db, `INSERT INTO records (id, did, collection, rkey, ciphertext, encrypted_dek, nonce, public, created_at, version, signature, write_id)
VALUES (?, 'did:plc:alice', 'agent.memory.note', ?, ?, NULL, X'', 1, ?, ?, ?, ?)`, r.Ref.ID(), rkey, saved.Ciphertext, saved.CreatedAt, saved.Version, saved.Signature, saved.WriteID)
		got, err := freshNotes(t, e, alice).Get(ctx, rkey)
		require.NoError(t, err, "control: the resurrected public row is a validly signed record")
		require.True(t, got.Public)

		_, err = ca.Put(ctx, rkey, note{Body: "top secret two"})
		assert.Error(t, err)
		assert.Zero(t, inClear(t, e, "top secret two"), "the private value never reached the database in clear")
		// Even a process that never saw the record refuses to write a private value as public.
		_, err = freshNotes(t, e, alice).Put(ctx, rkey, note{Body: "top secret three"})
		assert.ErrorIs(t, err, records.ErrVisibility)
		assert.Zero(t, inClear(t, e, "top secret three"))
	})
}

// savedRow is a whole records row kept by the attacker to serve again later.
type savedRow struct {
	Ciphertext, EncryptedDek, Nonce, Signature, KeyID []byte
	CreatedAt                                         string
	UpdatedAt, WriteID                                *string
	Version                                           int64
}

func saveRow(t *testing.T, e *env, id string) savedRow {
	t.Helper()
	r, err := d1.QueryOne[savedRow](context.Background(), e.db, "SELECT ciphertext, encrypted_dek, nonce, signature, key_id, created_at, updated_at, write_id, version FROM records WHERE id = ?", id)
	require.NoError(t, err)
	return r
}

// restoreRow puts a saved row back, in place of whatever is there.
func restoreRow(t *testing.T, e *env, ref records.Ref, r savedRow) {
	t.Helper()
	exec(t, e.db, "DELETE FROM records WHERE id = ?", ref.ID())
	exec(t, e.db, `INSERT INTO records (id, did, collection, rkey, ciphertext, encrypted_dek, nonce, public, created_at, updated_at, version, signature, key_id, write_id)
VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)`, ref.ID(), string(ref.DID), string(ref.Collection), string(ref.RKey),
		r.Ciphertext, r.EncryptedDek, r.Nonce, r.CreatedAt, r.UpdatedAt, r.Version, r.Signature, r.KeyID, r.WriteID)
}

// TestAttackResurrectionAndReplay: a deleted record served again, and an old version served to
// a share.
func TestAttackResurrectionAndReplay(t *testing.T) {
	ctx := context.Background()

	t.Run("deleted record served again", func(t *testing.T) {
		e := newEnv(t, d1local.Options{})
		alice := e.agent(t, "did:plc:alice")
		ca := notes(t, e, alice)
		r, err := ca.Create(ctx, note{Body: "delete me"})
		require.NoError(t, err)
		saved := saveRow(t, e, r.Ref.ID())
		require.NoError(t, ca.Delete(ctx, r.Ref.RKey))
		restoreRow(t, e, r.Ref, saved)
		_, err = freshNotes(t, e, alice).Get(ctx, r.Ref.RKey)
		require.NoError(t, err, "control: the resurrected row is valid on its own")
		_, err = ca.Get(ctx, r.Ref.RKey)
		assert.ErrorIs(t, err, records.ErrRollback)
	})

	t.Run("deleted record served again after a restart", func(t *testing.T) {
		e := newEnv(t, d1local.Options{})
		alice := e.agent(t, "did:plc:alice")
		dir := t.TempDir()
		open := func() *records.Collection[note] {
			store, err := records.OpenStore(e.db, dir, records.StoreOptions{})
			require.NoError(t, err)
			c, err := records.NewCollection[note](store, alice, "agent.memory.note", records.CollectionOptions[note]{})
			require.NoError(t, err)
			return c
		}
		c1 := open()
		r, err := c1.Create(ctx, note{Body: "delete me"})
		require.NoError(t, err)
		saved := saveRow(t, e, r.Ref.ID())
		require.NoError(t, c1.Delete(ctx, r.Ref.RKey))
		restoreRow(t, e, r.Ref, saved)
		_, err = freshNotes(t, e, alice).Get(ctx, r.Ref.RKey)
		require.NoError(t, err, "control: the resurrected row is valid on its own")
		_, err = open().Get(ctx, r.Ref.RKey)
		assert.ErrorIs(t, err, records.ErrRollback, "the deletion outlives the process")
	})

	t.Run("old version served to a share", func(t *testing.T) {
		e := newEnv(t, d1local.Options{})
		alice := e.agent(t, "did:plc:alice")
		e.agent(t, "did:plc:carol")
		carol := e.agent(t, "did:plc:carol2")
		_ = carol
		ca := notes(t, e, alice)
		r, err := ca.Create(ctx, note{Body: "draft with the password"})
		require.NoError(t, err)
		v1 := saveRow(t, e, r.Ref.ID())
		r.Value.Body = "redacted"
		_, err = ca.Update(ctx, r)
		require.NoError(t, err)
		restoreRow(t, e, r.Ref, v1)
		old, err := freshNotes(t, e, alice).Get(ctx, r.Ref.RKey)
		require.NoError(t, err, "control: the replayed version is genuine")
		require.Equal(t, "draft with the password", old.Value.Body)

		err = ca.Share(ctx, r.Ref.RKey, "did:plc:carol2")
		assert.ErrorIs(t, err, records.ErrRollback, "a share verifies what it re-wraps")
		assert.Zero(t, count(t, e.db, "SELECT count(*) FROM shared_records"), "nothing reached carol")
	})
}

// TestAttackPostQuantumDowngrade: the database drops a recipient's post-quantum key so that
// shares fall back to X25519.
func TestAttackPostQuantumDowngrade(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	bob, err := crypto.GenerateAgent("did:plc:bob", crypto.GenerateOptions{PostQuantum: true})
	require.NoError(t, err)
	_, err = e.store.RegisterAgent(ctx, bob, nil)
	require.NoError(t, err)
	exec(t, e.db, "UPDATE agents SET pq_key = NULL WHERE did = 'did:plc:bob'")
	require.Equal(t, 1, count(t, e.db, "SELECT count(*) FROM agents WHERE did = 'did:plc:bob' AND pq_key IS NULL"), "control: the post-quantum key is gone from the registry")

	ca := notes(t, e, alice)
	r, err := ca.Create(ctx, note{Body: "for bob"})
	require.NoError(t, err)
	require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"))
	grant, err := d1.QueryOne[[]byte](ctx, e.db, "SELECT encrypted_dek FROM shared_records WHERE recipient_did = 'did:plc:bob'")
	require.NoError(t, err)
	suite, _, err := crypto.WrappedKeyID(grant)
	require.NoError(t, err)
	assert.Equal(t, crypto.SuiteXWing, suite, "the grant is post-quantum")
	got, err := notes(t, e, bob).Open(ctx, r.Ref)
	require.NoError(t, err)
	assert.Equal(t, "for bob", got.Value.Body)
}

// TestAttackStolenKeyAfterRotation: a thief holding alice's old key file forges records after
// alice rotated. A routine rotation retires the old key (what it signed still verifies), so
// the control shows the forgery accepted there; a compromise rotation revokes it.
func TestAttackStolenKeyAfterRotation(t *testing.T) {
	ctx := context.Background()
	for _, compromised := range []bool{false, true} {
		name := map[bool]string{false: "retired (control)", true: "revoked"}[compromised]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, d1local.Options{})
			stolen, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
			cb := notes(t, e, bob)
			r, err := notes(t, e, stolen).Create(ctx, note{Body: "before the theft"})
			require.NoError(t, err)
			require.NoError(t, notes(t, e, stolen).Share(ctx, r.Ref.RKey, "did:plc:bob"))
			_, err = cb.Open(ctx, r.Ref)
			require.NoError(t, err, "bob's client learns alice's keys")

			next, err := stolen.NewKeys()
			require.NoError(t, err)
			_, err = e.store.RotateKeys(ctx, stolen, next, records.RotateOptions{Compromised: compromised})
			require.NoError(t, err)
			cn := notes(t, e, next)
			got, err := cb.Open(ctx, r.Ref)
			require.NoError(t, err, "the genuine record still opens for bob")
			assert.Equal(t, "before the theft", got.Value.Body)

			// The thief signs a new version with the stolen key, readable by both.
			forgeVersion(t, e, r.Ref, got.Version+1, "forged with the stolen key", stolen, next.Recipient().Key,
				crypto.Recipient{DID: "did:plc:bob", Key: bob.RecipientKey()})
			_, errBob := cb.Open(ctx, r.Ref)
			_, errNext := cn.Get(ctx, r.Ref.RKey)
			if !compromised {
				assert.NoError(t, errBob, "control: a retired key's signature still verifies")
				assert.NoError(t, errNext)
				return
			}
			assert.ErrorIs(t, errBob, records.ErrKeyRevoked, "bob refuses what the revoked key signed")
			assert.ErrorIs(t, errNext, records.ErrKeyRevoked, "so does alice with her new keys")
			assert.ErrorIs(t, errBob, records.ErrTampered)
		})
	}
}

// TestAttackEventsAndMetadata: the audit trail and agent metadata edited, reordered or
// deleted in the database.
func TestAttackEventsAndMetadata(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*env, *crypto.Agent) {
		e := newEnv(t, d1local.Options{})
		alice := e.agent(t, "did:plc:alice")
		for i, outcome := range []string{"ok", "denied", "ok", "error"} {
			_, err := e.store.RecordEvent(ctx, alice, records.Event{Type: "tool.call", Outcome: outcome, Timestamp: time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC)})
			require.NoError(t, err)
		}
		log, err := e.store.VerifyEvents(ctx, "did:plc:alice")
		require.NoError(t, err, "control: the log verifies before the attack")
		require.Equal(t, 4, log.Events)
		return e, alice
	}
	attacks := map[string]struct {
		sql string
		is  error
	}{
		"edited":    {"UPDATE events SET outcome = 'ok' WHERE agent_did = 'did:plc:alice' AND seq = 1", records.ErrTampered},
		"deleted":   {"DELETE FROM events WHERE agent_did = 'did:plc:alice' AND seq = 2", records.ErrTampered},
		"reordered": {"UPDATE events SET seq = 100 WHERE agent_did = 'did:plc:alice' AND seq = 1; UPDATE events SET seq = 1 WHERE agent_did = 'did:plc:alice' AND seq = 2; UPDATE events SET seq = 2 WHERE agent_did = 'did:plc:alice' AND seq = 100", records.ErrTampered},
		"inserted": {`INSERT INTO events (id, agent_did, event_type, outcome, timestamp, seq, prev_hash, signature)
SELECT '01ARZ3NDEKTSV4RRFFQ69G5FAV', agent_did, 'tool.call', 'ok', timestamp, 9, prev_hash, signature FROM events WHERE seq = 3`, records.ErrTampered},
		"truncated": {"DELETE FROM events WHERE agent_did = 'did:plc:alice' AND seq = 3", records.ErrRollback},
	}
	for name, a := range attacks {
		t.Run(name, func(t *testing.T) {
			e, _ := setup(t)
			for _, sql := range strings.Split(a.sql, "; ") {
				exec(t, e.db, sql)
			}
			_, err := e.store.VerifyEvents(ctx, "did:plc:alice")
			assert.ErrorIs(t, err, a.is)
		})
	}
	t.Run("edited, read by query", func(t *testing.T) {
		e, _ := setup(t)
		exec(t, e.db, "UPDATE events SET outcome = 'ok' WHERE agent_did = 'did:plc:alice' AND outcome = 'denied'")
		_, err := e.store.Events(ctx, records.EventQuery{Agent: "did:plc:alice", Type: "tool.call"})
		assert.ErrorIs(t, err, records.ErrTampered)
	})
	t.Run("metadata", func(t *testing.T) {
		e, _ := setup(t)
		a, err := e.store.Agent(ctx, "did:plc:alice")
		require.NoError(t, err, "control: the signed metadata reads")
		require.JSONEq(t, `{"role":"test"}`, string(a.Metadata))
		exec(t, e.db, `UPDATE agents SET metadata = '{"role":"admin"}' WHERE did = 'did:plc:alice'`)
		_, err = e.store.Agent(ctx, "did:plc:alice")
		assert.ErrorIs(t, err, records.ErrTampered)
		_, err = records.NewStore(e.db, records.StoreOptions{}).Agents(ctx, records.ListOptions{})
		assert.ErrorIs(t, err, records.ErrTampered, "listing agents checks it too")
	})
}

// TestTrustStoreAcrossRestart: keys learned on first use are kept in a trust file, so that a
// forged key log is caught by the next process too; pins are required when asked for.
func TestTrustStoreAcrossRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	e.agent(t, "did:plc:alice")
	bob := e.agent(t, "did:plc:bob")
	path := t.TempDir() + "/trust.json"
	storeWith := func(opts records.StoreOptions) *records.Store {
		trust, err := records.OpenTrustFile(path)
		require.NoError(t, err)
		opts.Trust = trust
		return records.NewStore(e.db, opts)
	}
	_, err := storeWith(records.StoreOptions{}).Agent(ctx, "did:plc:bob")
	require.NoError(t, err, "learned on first use")
	data, err := readFile(path)
	require.NoError(t, err)
	assert.Contains(t, data, `"did": "did:plc:bob"`)

	forgeGenesis(t, e, "did:plc:bob")
	_, err = records.NewStore(e.db, records.StoreOptions{}).Agent(ctx, "did:plc:bob")
	require.NoError(t, err, "control: a client with no memory of bob believes the forged log")
	_, err = storeWith(records.StoreOptions{}).Agent(ctx, "did:plc:bob")
	assert.ErrorIs(t, err, records.ErrUntrusted, "the next process remembers bob's real keys")

	// RequirePinned: nothing is trusted on first use.
	strict := records.NewStore(e.db, records.StoreOptions{RequirePinned: true})
	_, err = strict.Agent(ctx, "did:plc:alice")
	assert.ErrorIs(t, err, records.ErrUntrusted)
	bobKeys, err := records.PublicKeys(bob)
	require.NoError(t, err)
	require.NoError(t, strict.Pin(bobKeys))
	_, err = strict.Agent(ctx, "did:plc:bob")
	assert.ErrorIs(t, err, records.ErrUntrusted, "the pinned keys are not in the forged log")
}

// TestOpenStoreRemembersKeysAcrossRestart: a Store opened on a folder keeps the keys it
// learned there, so a key log forged after a restart is refused; a Store without that memory
// believes it (the control).
func TestOpenStoreRemembersKeysAcrossRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	e.agent(t, "did:plc:bob")
	dir := filepath.Join(t.TempDir(), "client")
	open := func() *records.Store {
		s, err := records.OpenStore(e.db, dir, records.StoreOptions{})
		require.NoError(t, err)
		return s
	}
	_, err := open().Agent(ctx, "did:plc:bob")
	require.NoError(t, err, "learned on first use")
	assert.FileExists(t, filepath.Join(dir, records.TrustFileName))

	forgeGenesis(t, e, "did:plc:bob")
	_, err = records.NewStore(e.db, records.StoreOptions{}).Agent(ctx, "did:plc:bob")
	require.NoError(t, err, "control: a client with no memory of bob believes the forged log")
	_, err = open().Agent(ctx, "did:plc:bob")
	assert.ErrorIs(t, err, records.ErrUntrusted, "the next process remembers bob's real keys")

	_, err = records.OpenStore(e.db, dir, records.StoreOptions{Trust: records.NewMemoryTrust()})
	var in *records.InputError
	assert.ErrorAs(t, err, &in, "a trust store given as well is refused, not silently dropped")
	_, err = records.OpenStore(e.db, "", records.StoreOptions{})
	assert.ErrorAs(t, err, &in, "no folder is refused, not taken for the working directory")
}

// TestRotationFollowedAcrossStores: readers follow a rotation through the signed log, with
// retired keys still verifying old records, in memory and after a restart.
func TestRotationFollowedAcrossStores(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
	path := t.TempDir() + "/bob-trust.json"
	bobStore := func() *records.Collection[note] {
		trust, err := records.OpenTrustFile(path)
		require.NoError(t, err)
		c, err := records.NewCollection[note](records.NewStore(e.db, records.StoreOptions{Trust: trust}), bob, "agent.memory.note", records.CollectionOptions[note]{})
		require.NoError(t, err)
		return c
	}
	ca := notes(t, e, alice)
	old, err := ca.Create(ctx, note{Body: "signed by the first key"})
	require.NoError(t, err)
	require.NoError(t, ca.Share(ctx, old.Ref.RKey, "did:plc:bob"))
	cb := bobStore()
	_, err = cb.Open(ctx, old.Ref)
	require.NoError(t, err)

	next, err := alice.NewKeys()
	require.NoError(t, err)
	_, err = e.store.RotateKeys(ctx, alice, next, records.RotateOptions{})
	require.NoError(t, err)
	_, err = ca.Create(ctx, note{})
	assert.ErrorIs(t, err, records.ErrKeyRetired, "the old keys no longer write")
	cn := notes(t, e, next)
	fresh, err := cn.Create(ctx, note{Body: "signed by the second key"})
	require.NoError(t, err)
	require.NoError(t, cn.Share(ctx, fresh.Ref.RKey, "did:plc:bob"))

	for _, c := range []*records.Collection[note]{cb, bobStore()} {
		got, err := c.Open(ctx, fresh.Ref)
		require.NoError(t, err, "bob follows alice's signed rotation")
		assert.Equal(t, "signed by the second key", got.Value.Body)
		got, err = c.Open(ctx, old.Ref)
		require.NoError(t, err, "what the retired key signed still verifies")
		assert.Equal(t, "signed by the first key", got.Value.Body)
	}
	a, err := records.NewStore(e.db, records.StoreOptions{}).Agent(ctx, "did:plc:alice")
	require.NoError(t, err)
	assert.Equal(t, 1, a.Rotations)
	assert.True(t, a.Verifying.Equal(next.VerifyingKey()))
}

// TestCompromiseReseals: after a compromise rotation every record of the agent is sealed again
// under the new keys, and readers open them.
func TestCompromiseReseals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
	ca := notes(t, e, alice)
	var refs []records.Ref
	for i := range 3 {
		r, err := ca.Create(ctx, note{Body: strings.Repeat("x", i+1)})
		require.NoError(t, err)
		require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"))
		refs = append(refs, r.Ref)
	}
	before := saveRow(t, e, refs[0].ID())
	next, err := alice.NewKeys()
	require.NoError(t, err)
	done, err := e.store.RotateKeys(ctx, alice, next, records.RotateOptions{Compromised: true})
	require.NoError(t, err)
	assert.Equal(t, 3, done.Resealed)
	after := saveRow(t, e, refs[0].ID())
	assert.False(t, bytes.Equal(before.Ciphertext, after.Ciphertext), "sealed again under a new data key")
	for i, ref := range refs {
		got, err := notes(t, e, bob).Open(ctx, ref)
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat("x", i+1), got.Value.Body)
		assert.Equal(t, []records.DID{"did:plc:bob"}, got.SharedWith)
	}
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// TestUpgradeWithoutKeyLog: a database whose agents registered before the key log existed
// (migration 0004 adds it empty) verifies their records once each registers again.
func TestUpgradeWithoutKeyLog(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	r, err := notes(t, e, alice).Create(ctx, note{Body: "written before"})
	require.NoError(t, err)
	exec(t, e.db, "DELETE FROM agent_key_log")
	_, err = freshNotes(t, e, alice).Get(ctx, r.Ref.RKey)
	assert.ErrorIs(t, err, records.ErrUnknownAgent, "no key log: nothing verifies")
	_, err = records.NewStore(e.db, records.StoreOptions{}).RegisterAgent(ctx, alice, nil)
	require.NoError(t, err)
	got, err := freshNotes(t, e, alice).Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, "written before", got.Value.Body)
}
