package records

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
)

// Share lets the registered agent with grants the current version of one of the acting agent's
// records: the record's data key is unwrapped and wrapped again for that agent's registered key,
// and stored as a shared_records row. Later updates re-wrap it for every recipient. Sharing
// with an unknown agent is ErrUnknownAgent; sharing again is harmless.
func (c *Collection[T]) Share(ctx context.Context, rkey RecordKey, with DID) (err error) {
	defer func(start time.Time) { c.emit(ctx, "share", rkey, start, err) }(time.Now())
	if _, err := ParseRecordKey(string(rkey)); err != nil {
		return &InputError{Field: "record key", Err: err}
	}
	if _, err := ParseDID(string(with)); err != nil {
		return &InputError{Field: "recipient DID", Err: err}
	}
	if with == c.did {
		return &InputError{Field: "recipient DID", Reason: "an agent cannot share a record with itself"}
	}
	if err := c.ready(ctx); err != nil {
		return err
	}
	ref := c.ref(rkey)
	id := ref.ID()
	for attempt := 1; ; attempt++ {
		rs, err := c.s.db.Batch(ctx,
			d1.Statement{SQL: "SELECT " + recordCols + " FROM records WHERE id = ?", Args: []any{id}},
			d1.Statement{SQL: agentSelect + " WHERE did = ?", Args: []any{string(with)}})
		if err != nil {
			return fmt.Errorf("records: share %s: %w", id, err)
		}
		row, err := d1.CollectOne[recordRow](rs[0])
		if errors.Is(err, d1.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		} else if err != nil {
			return err
		}
		if row.Public != 0 {
			return &InputError{Field: "record", Reason: id + " is public: every agent can read it without a share"}
		}
		arow, err := d1.CollectOne[agentRow](rs[1])
		if errors.Is(err, d1.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrUnknownAgent, with)
		} else if err != nil {
			return err
		}
		recipient, err := arow.agent()
		if err != nil {
			return err
		}
		if err := checkKeyID(row.EncryptedDek, row.KeyID); err != nil {
			return fmt.Errorf("records: share %s: %w", id, err)
		}
		grant, err := c.agent.Rewrap(c.context(ref, uint64(row.Version)), row.EncryptedDek, recipient.recipient())
		if err != nil {
			if errors.Is(err, crypto.ErrDecrypt) {
				return fmt.Errorf("%w: %s: %w", ErrTampered, id, err)
			}
			return fmt.Errorf("records: share %s: %w", id, err)
		}
		rs, err = c.s.db.Batch(ctx,
			d1.Statement{
				SQL: `INSERT INTO shared_records (record_id, recipient_did, encrypted_dek, shared_at, version, key_id)
SELECT ?, ?, unhex(?), ?, ?, unhex(?) WHERE EXISTS (SELECT 1 FROM records WHERE id = ? AND version = ?)
ON CONFLICT (record_id, recipient_did) DO UPDATE SET encrypted_dek = excluded.encrypted_dek, shared_at = excluded.shared_at,
  version = excluded.version, key_id = excluded.key_id`,
				Args:       []any{id, string(with), d1.Hex(grant.WrappedKey), c.s.timestamp(), row.Version, d1.Hex(grant.KeyID[:]), id, row.Version},
				Idempotent: true,
			},
			d1.Statement{SQL: "SELECT version FROM shared_records WHERE record_id = ? AND recipient_did = ?", Args: []any{id, string(with)}})
		if err != nil {
			return fmt.Errorf("records: share %s: %w", id, err)
		}
		v, err := d1.CollectOne[int64](rs[1])
		if err == nil && v == row.Version {
			return nil
		}
		if attempt >= c.s.attempts() {
			return fmt.Errorf("%w: %s kept changing while it was being shared", ErrConflict, id)
		}
		// The record was updated (or deleted) between the read and the write: read it again.
	}
}

// UnshareOptions tunes Unshare.
type UnshareOptions struct {
	// KeepKey only deletes the grant, without re-keying the record. The revoked agent can
	// then no longer read the record through d1seal, but it may have kept the data key of the
	// current version, which still opens the stored ciphertext. The default re-keys.
	KeepKey bool
}

// Unshare revokes with's access to one of the acting agent's records. By default it re-keys
// the record in the same atomic request: a new version under a new data key, wrapped for the
// remaining recipients only, so that the revoked agent cannot open the current version even
// with a data key it kept. What revocation cannot undo: what the agent already read or
// stored, and old versions wherever they survive (backups, D1 Time Travel, exports).
// Unsharing a record that is not shared with the agent is not an error.
func (c *Collection[T]) Unshare(ctx context.Context, rkey RecordKey, with DID, opts UnshareOptions) (err error) {
	defer func(start time.Time) { c.emit(ctx, "unshare", rkey, start, err) }(time.Now())
	if _, err := ParseRecordKey(string(rkey)); err != nil {
		return &InputError{Field: "record key", Err: err}
	}
	if _, err := ParseDID(string(with)); err != nil {
		return &InputError{Field: "recipient DID", Err: err}
	}
	if err := c.ready(ctx); err != nil {
		return err
	}
	id := c.ref(rkey).ID()
	revoke := d1.Statement{SQL: "DELETE FROM shared_records WHERE record_id = ? AND recipient_did = ?", Args: []any{id, string(with)}, Idempotent: true}
	if opts.KeepKey {
		if _, err := c.s.db.Run(ctx, revoke); err != nil {
			return fmt.Errorf("records: unshare %s: %w", id, err)
		}
		return nil
	}
	var notShared bool
	_, err = c.rewrite(ctx, rkey, anyVersion, func(cur *current[T]) (T, []*Agent, error) {
		keep := make([]*Agent, 0, len(cur.recipients))
		notShared = true
		for _, a := range cur.recipients {
			if a.DID == with {
				notShared = false
				continue
			}
			keep = append(keep, a)
		}
		if notShared {
			return cur.rec.Value, nil, errNothingToDo
		}
		return cur.rec.Value, keep, nil
	}, func(cur *current[T], w *version) []d1.Statement {
		return []d1.Statement{{
			SQL:  "DELETE FROM shared_records WHERE record_id = ? AND recipient_did = ? AND EXISTS (SELECT 1 FROM records WHERE id = ? AND write_id = ?)",
			Args: []any{id, string(with), id, w.writeID},
		}}
	})
	if errors.Is(err, errNothingToDo) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("records: unshare %s: %w", id, err)
	}
	return nil
}

var errNothingToDo = errors.New("nothing to do")

// SharedWithMe returns one page of the records of this collection that other agents shared
// with the acting agent, opened, in record id order.
func (c *Collection[T]) SharedWithMe(ctx context.Context, opts ListOptions) (Page[*Record[T]], error) {
	limit, err := pageLimit(opts.Limit)
	if err != nil {
		return Page[*Record[T]]{}, err
	}
	if err := c.s.Init(ctx); err != nil {
		return Page[*Record[T]]{}, err
	}
	where, args := "s.recipient_did = ? AND r.collection = ?", []any{string(c.did), string(c.nsid)}
	if opts.Cursor != "" {
		after, err := decodeCursor(opts.Cursor, "s")
		if err != nil {
			return Page[*Record[T]]{}, err
		}
		where, args = where+" AND s.record_id > ?", append(args, after)
	}
	cols := recordColumns("r.")
	mark := c.s.versions.mark()
	rs, err := c.s.db.Batch(ctx,
		d1.Statement{SQL: "SELECT " + cols + ", hex(s.encrypted_dek) AS grant_dek, s.version AS grant_version, hex(s.key_id) AS grant_key_id FROM shared_records s JOIN records r ON r.id = s.record_id WHERE " + where + " ORDER BY s.record_id LIMIT ?",
			Args: append(args, limit+1)},
		d1.Statement{SQL: "SELECT k.did, k.key_id, k.public_key FROM agent_keys k WHERE k.kind = 'ed25519' AND k.did IN (SELECT r.did FROM shared_records s JOIN records r ON r.id = s.record_id WHERE s.recipient_did = ? AND r.collection = ?)",
			Args: []any{string(c.did), string(c.nsid)}})
	if err != nil {
		return Page[*Record[T]]{}, fmt.Errorf("records: shared with %s: %w", c.did, err)
	}
	type sharedRow struct {
		recordRow
		GrantDek     d1.Hex
		GrantVersion int64
		GrantKeyID   d1.Hex
	}
	rows, err := d1.Collect[sharedRow](rs[0])
	if err != nil {
		return Page[*Record[T]]{}, err
	}
	page := Page[*Record[T]]{HasMore: len(rows) > limit}
	rows = rows[:min(len(rows), limit)]
	for i := range rows {
		row := &rows[i]
		ref, err := ParseID(row.ID)
		if err != nil {
			return Page[*Record[T]]{}, fmt.Errorf("%w: %s: %w", ErrTampered, row.ID, err)
		}
		if row.GrantVersion != row.Version {
			return Page[*Record[T]]{}, fmt.Errorf("%w: %s: the grant opens version %d, the record is at %d", ErrTampered, row.ID, row.GrantVersion, row.Version)
		}
		if err := checkKeyID(row.GrantDek, row.GrantKeyID); err != nil {
			return Page[*Record[T]]{}, fmt.Errorf("records: open %s: grant: %w", row.ID, err)
		}
		r, err := c.open(ctx, mark, ref, &row.recordRow, row.GrantDek, rs[1])
		if err != nil {
			return Page[*Record[T]]{}, err
		}
		page.Items = append(page.Items, r)
	}
	if page.HasMore {
		page.Cursor = encodeCursor("s", rows[len(rows)-1].ID)
	}
	return page, nil
}

// SharedWith returns one page of the records, of any collection, shared with the agent did:
// references only, for an index; open them with the collection of their type.
func (s *Store) SharedWith(ctx context.Context, did DID, opts ListOptions) (Page[Ref], error) {
	if _, err := ParseDID(string(did)); err != nil {
		return Page[Ref]{}, &InputError{Field: "agent DID", Err: err}
	}
	limit, err := pageLimit(opts.Limit)
	if err != nil {
		return Page[Ref]{}, err
	}
	if err := s.Init(ctx); err != nil {
		return Page[Ref]{}, err
	}
	sql, args := "SELECT record_id FROM shared_records WHERE recipient_did = ?", []any{string(did)}
	if opts.Cursor != "" {
		after, err := decodeCursor(opts.Cursor, "s")
		if err != nil {
			return Page[Ref]{}, err
		}
		sql, args = sql+" AND record_id > ?", append(args, after)
	}
	ids, err := d1.QueryAll[string](ctx, s.db, sql+" ORDER BY record_id LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return Page[Ref]{}, fmt.Errorf("records: shared with %s: %w", did, err)
	}
	page := Page[Ref]{HasMore: len(ids) > limit}
	ids = ids[:min(len(ids), limit)]
	for _, id := range ids {
		ref, err := ParseID(id)
		if err != nil {
			return Page[Ref]{}, fmt.Errorf("%w: %s: %w", ErrTampered, id, err)
		}
		page.Items = append(page.Items, ref)
	}
	if page.HasMore {
		page.Cursor = encodeCursor("s", ids[len(ids)-1])
	}
	return page, nil
}
