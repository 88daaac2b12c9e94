package records_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

// TestTamperedRecordIsDetected alters each column of a stored record, as a hostile database
// could, and checks that reading it fails with ErrTampered.
func TestTamperedRecordIsDetected(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	c := notes(t, e, alice)
	// flipLast changes a BLOB's last byte to another value, whatever it was.
	flipLast := func(col string) string {
		return fmt.Sprintf("CAST(substr(%[1]s, 1, length(%[1]s) - 1) || CASE WHEN substr(%[1]s, -1) = X'00' THEN X'01' ELSE X'00' END AS BLOB)", col)
	}
	alterations := map[string]string{
		"ciphertext":           "UPDATE records SET ciphertext = " + flipLast("ciphertext") + " WHERE id = ?",
		"ciphertext truncated": "UPDATE records SET ciphertext = substr(ciphertext, 1, 40) WHERE id = ?",
		"nonce":                "UPDATE records SET nonce = zeroblob(12) WHERE id = ?",
		"encrypted_dek":        "UPDATE records SET encrypted_dek = " + flipLast("encrypted_dek") + " WHERE id = ?",
		"signature":            "UPDATE records SET signature = " + flipLast("signature") + " WHERE id = ?",
		"version":              "UPDATE records SET version = version + 1 WHERE id = ?",
		"public":               "UPDATE records SET public = 1 WHERE id = ?",
		"created_at":           "UPDATE records SET created_at = '2001-01-01T00:00:00Z' WHERE id = ?",
		"updated_at":           "UPDATE records SET updated_at = '2001-01-01T00:00:00Z' WHERE id = ?",
		"write_id":             "UPDATE records SET write_id = 'forged' WHERE id = ?",
		"key_id":               "UPDATE records SET key_id = zeroblob(16) WHERE id = ?",
		"did column":           "UPDATE records SET did = 'did:plc:mallory' WHERE id = ?",
		"collection column":    "UPDATE records SET collection = 'agent.memory.other' WHERE id = ?",
		"rkey column":          "UPDATE records SET rkey = '3jzfcijpj2z2a' WHERE id = ?",
	}
	for name, sql := range alterations {
		t.Run(name, func(t *testing.T) {
			r, err := c.Create(ctx, note{Title: "secret", Body: name})
			require.NoError(t, err)
			_, err = c.Get(ctx, r.Ref.RKey)
			require.NoError(t, err)
			_, err = e.db.Exec(ctx, sql, r.Ref.ID())
			require.NoError(t, err)
			_, err = c.Get(ctx, r.Ref.RKey)
			assert.ErrorIs(t, err, records.ErrTampered, "altered %s", name)
		})
	}
}

func TestSwappedRowsAndGrantsAreDetected(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
	ca, cb := notes(t, e, alice), notes(t, e, bob)
	r1, err := ca.Create(ctx, note{Title: "one"})
	require.NoError(t, err)
	r2, err := ca.Create(ctx, note{Title: "two"})
	require.NoError(t, err)
	require.NoError(t, ca.Share(ctx, r1.Ref.RKey, "did:plc:bob"))

	// Copy r2's sealed columns into r1 (with its version, so the row looks consistent).
	_, err = e.db.Exec(ctx, `UPDATE records SET (ciphertext, nonce, encrypted_dek, signature, key_id, write_id, created_at, updated_at) =
		(SELECT ciphertext, nonce, encrypted_dek, signature, key_id, write_id, created_at, updated_at FROM records WHERE id = ?) WHERE id = ?`, r2.Ref.ID(), r1.Ref.ID())
	require.NoError(t, err)
	_, err = ca.Get(ctx, r1.Ref.RKey)
	assert.ErrorIs(t, err, records.ErrTampered, "a ciphertext moved to another record")

	// Move bob's grant from r1 to r2: it does not open r2.
	_, err = e.db.Exec(ctx, "UPDATE shared_records SET record_id = ? WHERE record_id = ?", r2.Ref.ID(), r1.Ref.ID())
	require.NoError(t, err)
	_, err = cb.Open(ctx, r2.Ref)
	assert.ErrorIs(t, err, records.ErrTampered, "a grant moved to another record")
}

func TestTamperedGrantIsDetected(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
	ca, cb := notes(t, e, alice), notes(t, e, bob)
	for name, sql := range map[string]string{
		"encrypted_dek": "UPDATE shared_records SET encrypted_dek = CAST(substr(encrypted_dek, 1, 60) || CASE WHEN substr(encrypted_dek, 61, 1) = X'00' THEN X'01' ELSE X'00' END || substr(encrypted_dek, 62) AS BLOB) WHERE record_id = ?",
		"version":       "UPDATE shared_records SET version = version + 1 WHERE record_id = ?",
		"key_id":        "UPDATE shared_records SET key_id = zeroblob(16) WHERE record_id = ?",
	} {
		t.Run(name, func(t *testing.T) {
			r, err := ca.Create(ctx, note{Title: name})
			require.NoError(t, err)
			require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"))
			_, err = cb.Open(ctx, r.Ref)
			require.NoError(t, err)
			_, err = e.db.Exec(ctx, sql, r.Ref.ID())
			require.NoError(t, err)
			_, err = cb.Open(ctx, r.Ref)
			assert.ErrorIs(t, err, records.ErrTampered, "altered grant %s", name)
		})
	}
	// A grant given to another recipient does not open for bob.
	carol := e.agent(t, "did:plc:carol")
	r, err := ca.Create(ctx, note{Title: "for carol"})
	require.NoError(t, err)
	require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:carol"))
	_, err = e.db.Exec(ctx, "UPDATE shared_records SET recipient_did = 'did:plc:bob' WHERE record_id = ?", r.Ref.ID())
	require.NoError(t, err)
	_, err = cb.Open(ctx, r.Ref)
	assert.ErrorIs(t, err, records.ErrTampered, "a grant moved to another recipient")
	_ = carol
}

func TestReplayedOldVersionIsDetected(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	c := notes(t, e, e.agent(t, "did:plc:alice"))
	r, replay := replayable(t, e, c)
	replay() // the database serves version 1 again: validly signed, but older than what we saw
	_, err := c.Get(ctx, r.Ref.RKey)
	assert.ErrorIs(t, err, records.ErrRollback)
}

// TestConcurrentReadsAreNoRollback reads a record while other goroutines update it: a read
// whose answer predates a concurrent write is not a rollback.
func TestConcurrentReadsAreNoRollback(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	c := notes(t, e, e.agent(t, "did:plc:alice"))
	r, err := c.Create(ctx, note{Title: "v1"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if g%2 == 0 {
					cur, err := c.Get(ctx, r.Ref.RKey)
					if !assert.NoError(t, err) {
						return
					}
					cur.Value.Title = fmt.Sprint(g, i)
					if _, err := c.Update(ctx, cur); err != nil {
						assert.ErrorIs(t, err, records.ErrConflict)
					}
				} else {
					_, err := c.Get(ctx, r.Ref.RKey)
					assert.NoError(t, err)
					_, err = c.List(ctx, records.ListOptions{})
					assert.NoError(t, err)
				}
			}
		})
	}
	wg.Wait()
}

// TestRollbackMemoryIsBounded checks that the versions a Store remembers are bounded: records
// used recently stay protected, the least recently used are forgotten.
func TestRollbackMemoryIsBounded(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	e.store = records.NewStore(e.db, records.StoreOptions{TrackedRecords: 10})
	c := notes(t, e, e.agent(t, "did:plc:alice"))
	first, replay := replayable(t, e, c)
	// Five more records: the first is still among the 10 remembered.
	_, err := c.CreateMany(ctx, make([]note, 5))
	require.NoError(t, err)
	replay()
	_, err = c.Get(ctx, first.Ref.RKey)
	assert.ErrorIs(t, err, records.ErrRollback, "a recently used record is protected")
	// Thirty more: the first is forgotten, so its replay can no longer be told apart.
	_, err = c.CreateMany(ctx, make([]note, 30))
	require.NoError(t, err)
	_, err = c.Get(ctx, first.Ref.RKey)
	assert.NoError(t, err, "beyond TrackedRecords the least recently used are forgotten")
}

// replayable creates a record, keeps a copy of its version 1 row (as a backup or a Time Travel
// copy would), updates it to version 2, and returns it with a function that makes the database
// serve the old row again.
func replayable(t *testing.T, e *env, c *records.Collection[note]) (*records.Record[note], func()) {
	ctx := context.Background()
	r, err := c.Create(ctx, note{Title: "v1"})
	require.NoError(t, err)
	_, err = e.db.Exec(ctx, "CREATE TABLE old_copy AS SELECT * FROM records WHERE id = ?", r.Ref.ID())
	require.NoError(t, err)
	cur, err := c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	cur.Value.Title = "v2"
	_, err = c.Update(ctx, cur)
	require.NoError(t, err)
	return r, func() {
		_, err := e.db.ExecScript(ctx, fmt.Sprintf("DELETE FROM records WHERE id = '%s'; INSERT INTO records SELECT * FROM old_copy", r.Ref.ID()))
		require.NoError(t, err)
	}
}

// TestTamperedBatchIsDetected: the records of a CreateMany share one Ed25519 signature per
// group of 16, each row holding that signature, its leaf index and its audit path (a batch
// signature, crypto/SPEC.md). A hostile database that swaps signatures between records of a
// group, moves a record's sealed columns to another record of it, edits the leaf index or a
// path hash, or gives a row another group's signature gets ErrTampered. Each alteration is
// checked to be in the database, and the rows it leaves alone still open.
func TestTamperedBatchIsDetected(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	c := notes(t, e, alice)
	sigOf := func(t *testing.T, id string) []byte {
		h, err := d1.QueryOne[string](ctx, e.db, "SELECT hex(signature) FROM records WHERE id = ?", id)
		require.NoError(t, err)
		b, err := hex.DecodeString(h)
		require.NoError(t, err)
		return b
	}
	setSig := func(t *testing.T, id string, sig []byte) {
		_, err := e.db.Exec(ctx, fmt.Sprintf("UPDATE records SET signature = X'%x' WHERE id = ?", sig), id)
		require.NoError(t, err)
		require.Equal(t, sig, sigOf(t, id), "control: the forged signature is stored")
	}
	const head = 1 + 16 + 64 // version, key id, Ed25519 signature; then index, size, path
	for name, attack := range map[string]func(t *testing.T, recs []*records.Record[note]) (hit, spared []*records.Record[note]){
		"signatures swapped": func(t *testing.T, recs []*records.Record[note]) (hit, spared []*records.Record[note]) {
			a, b := sigOf(t, recs[3].Ref.ID()), sigOf(t, recs[9].Ref.ID())
			setSig(t, recs[3].Ref.ID(), b)
			setSig(t, recs[9].Ref.ID(), a)
			return []*records.Record[note]{recs[3], recs[9]}, recs[4:5]
		},
		"row moved": func(t *testing.T, recs []*records.Record[note]) (hit, spared []*records.Record[note]) {
			_, err := e.db.Exec(ctx, `UPDATE records SET (ciphertext, nonce, encrypted_dek, signature, key_id) =
				(SELECT ciphertext, nonce, encrypted_dek, signature, key_id FROM records WHERE id = ?) WHERE id = ?`, recs[9].Ref.ID(), recs[3].Ref.ID())
			require.NoError(t, err)
			require.Equal(t, sigOf(t, recs[9].Ref.ID()), sigOf(t, recs[3].Ref.ID()), "control: the row was moved")
			return recs[3:4], recs[9:10]
		},
		"leaf index": func(t *testing.T, recs []*records.Record[note]) (hit, spared []*records.Record[note]) {
			sig := sigOf(t, recs[3].Ref.ID())
			require.Equal(t, []byte{0, 3, 0, 16}, sig[head:head+4], "control: leaf 3 of 16")
			sig[head+1] = 9 // leaf 9 of 16 has a path of the same length
			setSig(t, recs[3].Ref.ID(), sig)
			return recs[3:4], recs[9:10]
		},
		"path hash": func(t *testing.T, recs []*records.Record[note]) (hit, spared []*records.Record[note]) {
			sig := sigOf(t, recs[3].Ref.ID())
			sig[len(sig)-1] ^= 1
			setSig(t, recs[3].Ref.ID(), sig)
			return recs[3:4], recs[2:3]
		},
		"another group's signature": func(t *testing.T, recs []*records.Record[note]) (hit, spared []*records.Record[note]) {
			setSig(t, recs[3].Ref.ID(), sigOf(t, recs[19].Ref.ID()))
			return recs[3:4], recs[19:20]
		},
		"the same leaf of another batch": func(t *testing.T, recs []*records.Record[note]) (hit, spared []*records.Record[note]) {
			more, err := c.CreateMany(ctx, make([]note, 16))
			require.NoError(t, err)
			setSig(t, recs[3].Ref.ID(), sigOf(t, more[3].Ref.ID()))
			return recs[3:4], more[3:4]
		},
	} {
		t.Run(name, func(t *testing.T) {
			values := make([]note, 20)
			for i := range values {
				values[i] = note{Title: fmt.Sprintf("note %d", i)}
			}
			recs, err := c.CreateMany(ctx, values)
			require.NoError(t, err)
			// Control: the rows carry batch signatures, one Ed25519 signature per group.
			s0, s15, s16 := sigOf(t, recs[0].Ref.ID()), sigOf(t, recs[15].Ref.ID()), sigOf(t, recs[16].Ref.ID())
			require.Equal(t, byte(2), s0[0])
			require.Len(t, s0, head+4+4*32, "leaf 0 of 16: a path of four hashes")
			require.Equal(t, s0[17:head], s15[17:head], "records 0 and 15 share a signature")
			require.NotEqual(t, s0[17:head], s16[17:head], "record 16 starts another group")
			for _, r := range recs {
				_, err := c.Get(ctx, r.Ref.RKey)
				require.NoError(t, err, "control: %s opens before the attack", r.Ref.RKey)
			}

			hit, spared := attack(t, recs)
			for _, r := range hit {
				_, err := c.Get(ctx, r.Ref.RKey)
				assert.ErrorIs(t, err, records.ErrTampered, "%s after the attack", r.Ref.RKey)
			}
			for _, r := range spared {
				got, err := c.Get(ctx, r.Ref.RKey)
				require.NoError(t, err, "%s was left alone", r.Ref.RKey)
				assert.Equal(t, r.Value, got.Value)
			}
		})
	}
}
