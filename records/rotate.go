package records

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
)

// RotateOptions tunes RotateKeys.
type RotateOptions struct {
	// BatchSize is how many grants are re-wrapped per request. Default 100.
	BatchSize int

	// Progress, if set, is called after each batch with the grants re-wrapped so far.
	Progress func(rewrapped int)

	// Compromised revokes the old keys instead of retiring them: nothing they signed is
	// accepted any more, by this client or any other that follows the agent's key log, so a
	// thief holding them can forge nothing. next must then have all new keys
	// (old.NewKeys()). After re-wrapping, every record of the agent is sealed again under a
	// new data key and signed with next (the old data keys may be known to the thief). That
	// re-sealing vouches for the records as they are stored: a record the thief changed with
	// the stolen key before the revocation keeps the change, so review what matters.
	Compromised bool
}

// Rotated says what RotateKeys did.
type Rotated struct {
	Records  int // the agent's own records whose grant was re-wrapped
	Shared   int // records shared with the agent whose grant was re-wrapped
	Resealed int // with Compromised: the agent's records sealed again under new data keys
}

// RotateKeys replaces an agent's keys: it appends to the agent's key log an entry signed by
// the old signing key that names next's keys (from old.NewKeys, or old.NewEncryptionKeys to
// keep the signing key), publishes them, re-wraps every grant wrapped for an old key (the
// agent's own records and those shared with it) for the new one in batches of
// opts.BatchSize, and marks the old keys retired, after which nobody wraps for them and
// processes still holding them get ErrKeyRetired. Every client following the agent's key log
// accepts the new keys; what the old signing key signed before still verifies, unless
// opts.Compromised revokes it.
//
// Content is not touched by a routine rotation. After a compromise, set opts.Compromised.
// Stop processes that write with the old keys first. RotateKeys can be run again with the
// same old and next to finish a rotation that was interrupted.
func (s *Store) RotateKeys(ctx context.Context, old, next *crypto.Agent, opts RotateOptions) (Rotated, error) {
	var done Rotated
	if old == nil || next == nil || old.DID() != next.DID() {
		return done, &InputError{Field: "agents", Reason: "old and next must be the same agent's keys"}
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	oldKeys, err := PublicKeys(old)
	if err != nil {
		return done, err
	}
	nextKeys, err := PublicKeys(next)
	if err != nil {
		return done, err
	}
	if oldKeys.Recipient.Equal(nextKeys.Recipient) {
		return done, &InputError{Field: "agents", Reason: "next has the same encryption key as old; make it with old.NewKeys()"}
	}
	if opts.Compromised && oldKeys.Verifying.Equal(nextKeys.Verifying) {
		return done, &InputError{Field: "agents", Reason: "a compromised agent needs a new signing key too; make next with old.NewKeys()"}
	}
	if err := s.Init(ctx); err != nil {
		return done, err
	}
	did := oldKeys.DID
	v, err := s.fresh(ctx, did)
	if err != nil {
		return done, fmt.Errorf("records: rotate %s: %w", did, err)
	}
	// Publish next unless a previous run already did.
	if !v.head().Keys.Equal(next.Keys()) {
		if !v.head().Keys.Equal(old.Keys()) {
			return done, fmt.Errorf("records: rotate %s: the agent's current keys are neither old nor next: %w", did, ErrKeyRetired)
		}
		change := crypto.KeyRotate
		if opts.Compromised {
			change = crypto.KeyRevoke
		}
		entry, err := old.KeyRotation(v.head(), next, change, nil, s.now())
		if err != nil {
			return done, fmt.Errorf("records: rotate %s: %w", did, err)
		}
		if err := s.publish(ctx, &oldKeys, &nextKeys, entry); err != nil {
			return done, err
		}
	}
	oldIDs := []any{oldKeys.Recipient.KeyID()}
	if oldKeys.PostQuantum != nil {
		oldIDs = append(oldIDs, oldKeys.PostQuantum.KeyID())
	}
	ownIDs := oldIDs
	if old.HasOwnerKey() && old.OwnerKeyID() != next.OwnerKeyID() {
		ownIDs = append(slices.Clone(oldIDs), old.OwnerKeyID())
	}
	to := nextKeys.recipient()
	report := func() {
		if opts.Progress != nil {
			opts.Progress(done.Records + done.Shared + done.Resealed)
		}
	}
	// The agent's own records.
	for {
		n, err := s.rewrapOwn(ctx, old, next, string(did), ownIDs, opts.BatchSize)
		done.Records += n
		if err != nil {
			return done, err
		}
		report()
		if n < opts.BatchSize {
			break
		}
	}
	// Records shared with the agent.
	for {
		n, err := s.rewrapShared(ctx, old, string(did), oldIDs, to, opts.BatchSize)
		done.Shared += n
		if err != nil {
			return done, err
		}
		report()
		if n < opts.BatchSize {
			break
		}
	}
	if opts.Compromised {
		n, err := s.reseal(ctx, next, old.VerifyingKey().KeyID(), report)
		done.Resealed += n
		if err != nil {
			return done, err
		}
	}
	retire, args := keyIDArgs("UPDATE agent_keys SET retired_at = ? WHERE did = ? AND retired_at IS NULL AND key_id IN ", oldIDs)
	if _, err := s.db.Run(ctx, d1.Statement{SQL: retire, Args: append([]any{s.timestamp(), string(did)}, args...), Idempotent: true}); err != nil {
		return done, fmt.Errorf("records: rotate %s: retire old keys: %w", did, err)
	}
	return done, nil
}

// publish appends entry to the agent's key log and makes next its registered keys, keeping
// old in the key history.
func (s *Store) publish(ctx context.Context, old, next *AgentKeys, entry *crypto.KeyEntry) error {
	did := string(old.DID)
	var pq any
	if next.PostQuantum != nil {
		pq = next.PostQuantum.Bytes()
	}
	raw := entry.Marshal()
	stmts := []d1.Statement{{
		SQL:  "INSERT INTO agent_key_log (did, seq, entry, created_at) VALUES (?, ?, ?, ?)",
		Args: []any{did, int64(entry.Seq), raw, s.timestamp()},
	}, {
		SQL:  "UPDATE agents SET public_key = ?, signing_key = ?, pq_key = ?, updated_at = ? WHERE did = ?",
		Args: []any{next.Recipient.Bytes(), next.Verifying.Bytes(), pq, s.timestamp(), did},
	}}
	for _, k := range registeredKeys(next) {
		stmts = append(stmts, d1.Statement{
			SQL:  "INSERT INTO agent_keys (key_id, did, kind, public_key, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING",
			Args: []any{k.id[:], did, k.kind, k.public, s.timestamp()},
		})
	}
	committed := func(ctx context.Context) (bool, error) {
		got, err := d1.QueryAll[d1.Hex](ctx, s.db, "SELECT "+blobsOf(s.db).out("entry")+" FROM agent_key_log WHERE did = ? AND seq = ?", did, int64(entry.Seq))
		return len(got) == 1 && bytes.Equal(got[0], raw), err
	}
	_, err := s.write(ctx, stmts, committed)
	if d1.IsUniqueViolation(err) {
		if ok, cerr := committed(ctx); cerr == nil && ok {
			err = nil
		} else {
			return fmt.Errorf("%w: rotate %s: another rotation was published first; load the agent's current keys", ErrConflict, did)
		}
	}
	if err != nil {
		return fmt.Errorf("records: rotate %s: publish new keys: %w", did, err)
	}
	if _, err := s.fresh(ctx, old.DID); err != nil {
		return fmt.Errorf("records: rotate %s: %w", did, err)
	}
	return nil
}

// reseal seals every record of next's agent signed with the revoked signing key again, under
// new data keys, signed with next: see RotateOptions.Compromised.
func (s *Store) reseal(ctx context.Context, next *crypto.Agent, revoked crypto.KeyID, report func()) (int, error) {
	did := next.DID()
	type row struct{ Collection, RKey string }
	done := 0
	for {
		rows, err := d1.QueryAll[row](ctx, s.db, "SELECT collection, rkey FROM records WHERE did = ? AND substr(signature, 2, 16) = ? ORDER BY id LIMIT 100", did, revoked[:])
		if err != nil {
			return done, fmt.Errorf("records: rotate %s: %w", did, err)
		}
		if len(rows) == 0 {
			return done, nil
		}
		for _, r := range rows {
			c, err := NewCollection[[]byte](s, next, NSID(r.Collection), CollectionOptions[[]byte]{Codec: rawCodec{}})
			if err != nil {
				return done, fmt.Errorf("%w: rotate %s: record %s/%s: %w", ErrTampered, did, r.Collection, r.RKey, err)
			}
			c.resealing = revoked
			_, err = c.rewrite(ctx, RecordKey(r.RKey), anyVersion, func(cur *current[[]byte]) ([]byte, []DID, error) {
				return cur.rec.Value, cur.access, nil
			}, nil)
			if err != nil {
				return done, fmt.Errorf("records: rotate %s: reseal %s/%s: %w", did, r.Collection, r.RKey, err)
			}
			done++
		}
		report()
	}
}

// rawCodec passes a record's encoded value through unchanged.
type rawCodec struct{}

func (rawCodec) Marshal(v []byte) ([]byte, error) { return v, nil }
func (rawCodec) Unmarshal(data []byte, v *[]byte) error {
	*v = append([]byte(nil), data...)
	return nil
}

func keyIDArgs(sql string, ids []any) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		k := id.(crypto.KeyID)
		args[i] = k[:]
	}
	return sql + "(" + strings.Repeat("?, ", len(ids)-1) + "?)", args
}

// rewrapOwn re-wraps up to n of the agent's own grants still wrapped for an old key, for next
// (under its owner key).
func (s *Store) rewrapOwn(ctx context.Context, old, next *crypto.Agent, did string, oldIDs []any, n int) (int, error) {
	bl := blobsOf(s.db)
	sql, args := keyIDArgs("SELECT id, collection, rkey, version, "+bl.out("encrypted_dek")+" AS encrypted_dek FROM records WHERE did = ? AND public = 0 AND key_id IN ", oldIDs)
	type row struct {
		ID, Collection, RKey string
		Version              int64
		EncryptedDek         d1.Hex
	}
	rows, err := d1.QueryAll[row](ctx, s.db, sql+" ORDER BY id LIMIT ?", append(append([]any{did}, args...), n)...)
	if err != nil {
		return 0, fmt.Errorf("records: rotate %s: %w", did, err)
	}
	stmts := make([]d1.Statement, 0, len(rows))
	for _, r := range rows {
		rc := crypto.RecordContext{DID: DID(did), Collection: NSID(r.Collection), RKey: RecordKey(r.RKey), Version: uint64(r.Version)}
		g, err := old.RewrapForOwner(rc, r.EncryptedDek, next)
		if err != nil {
			return 0, rotateErr(did, r.ID, err)
		}
		upd, uargs := keyIDArgs("UPDATE records SET encrypted_dek = "+bl.in("?")+", key_id = "+bl.in("?")+" WHERE id = ? AND version = ? AND key_id IN ", oldIDs)
		stmts = append(stmts, d1.Statement{SQL: upd, Args: append([]any{bl.arg(g.WrappedKey), bl.arg(g.KeyID[:]), r.ID, r.Version}, uargs...), Idempotent: true})
	}
	if len(stmts) > 0 {
		if _, err := s.db.Batch(ctx, stmts...); err != nil {
			return 0, fmt.Errorf("records: rotate %s: %w", did, err)
		}
	}
	return len(rows), nil
}

// rewrapShared re-wraps up to n grants of records shared with the agent still wrapped for an
// old key.
func (s *Store) rewrapShared(ctx context.Context, old *crypto.Agent, did string, oldIDs []any, to crypto.Recipient, n int) (int, error) {
	bl := blobsOf(s.db)
	sql, args := keyIDArgs(`SELECT s.id AS grant_id, r.id, r.did, r.collection, r.rkey, s.version, `+bl.out("s.encrypted_dek")+` AS encrypted_dek
FROM shared_records s JOIN records r ON r.id = s.record_id WHERE s.recipient_did = ? AND s.key_id IN `, oldIDs)
	type row struct {
		GrantID                   int64
		ID, DID, Collection, RKey string
		Version                   int64
		EncryptedDek              d1.Hex
	}
	rows, err := d1.QueryAll[row](ctx, s.db, sql+" ORDER BY s.id LIMIT ?", append(append([]any{did}, args...), n)...)
	if err != nil {
		return 0, fmt.Errorf("records: rotate %s: %w", did, err)
	}
	stmts := make([]d1.Statement, 0, len(rows))
	for _, r := range rows {
		rc := crypto.RecordContext{DID: DID(r.DID), Collection: NSID(r.Collection), RKey: RecordKey(r.RKey), Version: uint64(r.Version)}
		g, err := old.Rewrap(rc, r.EncryptedDek, to)
		if err != nil {
			return 0, rotateErr(did, r.ID, err)
		}
		upd, uargs := keyIDArgs("UPDATE shared_records SET encrypted_dek = "+bl.in("?")+", key_id = "+bl.in("?")+" WHERE id = ? AND version = ? AND key_id IN ", oldIDs)
		stmts = append(stmts, d1.Statement{SQL: upd, Args: append([]any{bl.arg(g.WrappedKey), bl.arg(g.KeyID[:]), r.GrantID, r.Version}, uargs...), Idempotent: true})
	}
	if len(stmts) > 0 {
		if _, err := s.db.Batch(ctx, stmts...); err != nil {
			return 0, fmt.Errorf("records: rotate %s: %w", did, err)
		}
	}
	return len(rows), nil
}

func rotateErr(did, id string, err error) error {
	if errors.Is(err, crypto.ErrDecrypt) {
		return fmt.Errorf("records: rotate %s: grant of %s: %w: %w", did, id, ErrTampered, err)
	}
	return fmt.Errorf("records: rotate %s: grant of %s: %w", did, id, err)
}
