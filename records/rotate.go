package records

import (
	"context"
	"errors"
	"fmt"
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
}

// Rotated says what RotateKeys did.
type Rotated struct {
	Records int // the agent's own records whose grant was re-wrapped
	Shared  int // records shared with the agent whose grant was re-wrapped
}

// RotateKeys replaces an agent's encryption keys: next (from old.NewEncryptionKeys, or any
// agent with the same DID) is published as the agent's keys, every grant wrapped for an old
// key (the agent's own records and those shared with it) is re-wrapped for the new one in
// batches of opts.BatchSize, and the old keys are marked retired in agent_keys, after which
// nobody can wrap for them and processes still holding them get ErrKeyRetired.
//
// Content is not touched: rotation protects future reads against the loss of the old key
// only if it was not compromised. After a compromise, re-key the records instead (Update
// writes a new data key), since the old key could already have opened their data keys.
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
		return done, &InputError{Field: "agents", Reason: "next has the same encryption key as old; make it with old.NewEncryptionKeys()"}
	}
	did := string(oldKeys.DID)
	reg, err := s.Agent(ctx, oldKeys.DID)
	if err != nil {
		return done, err
	}
	// Publish next unless a previous run already did.
	if checkCurrent(next, reg) != nil {
		if err := checkCurrent(old, reg); err != nil {
			return done, fmt.Errorf("records: rotate %s: the registered keys are neither old nor next: %w", did, err)
		}
		if err := s.publish(ctx, &oldKeys, &nextKeys); err != nil {
			return done, err
		}
	}
	oldIDs := []any{oldKeys.Recipient.KeyID()}
	if oldKeys.PostQuantum != nil {
		oldIDs = append(oldIDs, oldKeys.PostQuantum.KeyID())
	}
	to := nextKeys.recipient()
	report := func() {
		if opts.Progress != nil {
			opts.Progress(done.Records + done.Shared)
		}
	}
	// The agent's own records.
	for {
		n, err := s.rewrapOwn(ctx, old, did, oldIDs, to, opts.BatchSize)
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
		n, err := s.rewrapShared(ctx, old, did, oldIDs, to, opts.BatchSize)
		done.Shared += n
		if err != nil {
			return done, err
		}
		report()
		if n < opts.BatchSize {
			break
		}
	}
	retire, args := keyIDArgs("UPDATE agent_keys SET retired_at = ? WHERE did = ? AND retired_at IS NULL AND key_id IN ", oldIDs)
	if _, err := s.db.Run(ctx, d1.Statement{SQL: retire, Args: append([]any{s.timestamp(), did}, args...), Idempotent: true}); err != nil {
		return done, fmt.Errorf("records: rotate %s: retire old keys: %w", did, err)
	}
	return done, nil
}

// publish makes next the agent's registered keys, keeping old in the key history.
func (s *Store) publish(ctx context.Context, old, next *AgentKeys) error {
	did := string(old.DID)
	var pq any
	if next.PostQuantum != nil {
		pq = next.PostQuantum.Bytes()
	}
	stmts := []d1.Statement{{
		SQL:  "UPDATE agents SET public_key = ?, signing_key = ?, pq_key = ?, updated_at = ? WHERE did = ? AND public_key = ?",
		Args: []any{next.Recipient.Bytes(), next.Verifying.Bytes(), pq, s.timestamp(), did, old.Recipient.Bytes()},
	}}
	for _, k := range registeredKeys(next) {
		stmts = append(stmts, d1.Statement{
			SQL:  "INSERT INTO agent_keys (key_id, did, kind, public_key, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING",
			Args: []any{k.id[:], did, k.kind, k.public, s.timestamp()},
		})
	}
	_, err := s.write(ctx, stmts, func(ctx context.Context) (bool, error) {
		a, err := s.Agent(ctx, old.DID)
		if err != nil {
			return false, err
		}
		return a.Recipient.Equal(next.Recipient), nil
	})
	if err != nil {
		return fmt.Errorf("records: rotate %s: publish new keys: %w", did, err)
	}
	s.keys.put(did, next.Verifying)
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

// rewrapOwn re-wraps up to n of the agent's own grants still wrapped for an old key.
func (s *Store) rewrapOwn(ctx context.Context, old *crypto.Agent, did string, oldIDs []any, to crypto.Recipient, n int) (int, error) {
	sql, args := keyIDArgs("SELECT id, collection, rkey, version, hex(encrypted_dek) AS encrypted_dek FROM records WHERE did = ? AND public = 0 AND key_id IN ", oldIDs)
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
		rc := crypto.RecordContext{DID: did, Collection: r.Collection, RKey: r.RKey, Version: uint64(r.Version)}
		g, err := old.Rewrap(rc, r.EncryptedDek, to)
		if err != nil {
			return 0, rotateErr(did, r.ID, err)
		}
		upd, uargs := keyIDArgs("UPDATE records SET encrypted_dek = unhex(?), key_id = unhex(?) WHERE id = ? AND version = ? AND key_id IN ", oldIDs)
		stmts = append(stmts, d1.Statement{SQL: upd, Args: append([]any{d1.Hex(g.WrappedKey), d1.Hex(g.KeyID[:]), r.ID, r.Version}, uargs...), Idempotent: true})
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
	sql, args := keyIDArgs(`SELECT s.id AS grant_id, r.id, r.did, r.collection, r.rkey, s.version, hex(s.encrypted_dek) AS encrypted_dek
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
		rc := crypto.RecordContext{DID: r.DID, Collection: r.Collection, RKey: r.RKey, Version: uint64(r.Version)}
		g, err := old.Rewrap(rc, r.EncryptedDek, to)
		if err != nil {
			return 0, rotateErr(did, r.ID, err)
		}
		upd, uargs := keyIDArgs("UPDATE shared_records SET encrypted_dek = unhex(?), key_id = unhex(?) WHERE id = ? AND version = ? AND key_id IN ", oldIDs)
		stmts = append(stmts, d1.Statement{SQL: upd, Args: append([]any{d1.Hex(g.WrappedKey), d1.Hex(g.KeyID[:]), r.GrantID, r.Version}, uargs...), Idempotent: true})
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
