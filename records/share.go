package records

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/syntax"
)

// Share lets the agent with read the record: it writes a new version of one of the acting
// agent's private records, under a new data key wrapped for the agents on the current
// version's signed access list and for with, whose signed access list adds with. The current
// version is opened and verified first (a replayed or altered version is refused, never
// passed on), and with's keys are those of its verified key log (trusted on first use, or
// pinned). Later updates keep with on the list. Sharing with an unknown agent is
// ErrUnknownAgent; sharing again is harmless and writes nothing.
func (c *Collection[T]) Share(ctx context.Context, rkey RecordKey, with DID) (err error) {
	defer func(start time.Time) { c.emit(ctx, "share", rkey, start, err) }(time.Now())
	if _, err := syntax.ParseRecordKey(string(rkey)); err != nil {
		return &InputError{Field: "record key", Err: err}
	}
	if _, err := syntax.ParseDID(string(with)); err != nil {
		return &InputError{Field: "recipient DID", Err: err}
	}
	if with == c.did {
		return &InputError{Field: "recipient DID", Reason: "an agent cannot share a record with itself"}
	}
	if err := c.ready(ctx); err != nil {
		return err
	}
	id := c.ref(rkey).ID()
	if _, err := c.s.fresh(ctx, with); err != nil {
		return fmt.Errorf("records: share %s with %s: %w", id, with, err)
	}
	_, err = c.rewrite(ctx, rkey, anyVersion, func(cur *current[T]) (T, []DID, error) {
		if cur.rec.Public {
			return cur.rec.Value, nil, &InputError{Field: "record", Reason: id + " is public: every agent can read it without a share"}
		}
		if slices.Contains(cur.access, with) {
			return cur.rec.Value, nil, errNothingToDo
		}
		return cur.rec.Value, append(slices.Clone(cur.access), with), nil
	}, nil)
	if errors.Is(err, errNothingToDo) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("records: share %s: %w", id, err)
	}
	return nil
}

// Unshare revokes with's access to one of the acting agent's records: it writes a new version
// under a new data key, wrapped only for the agents left on the signed access list, and
// deletes with's grant in the same atomic request, so that the revoked agent cannot open the
// new version even with a data key it kept. What revocation cannot undo: what the agent
// already read or stored, and old versions wherever they survive (backups, D1 Time Travel,
// exports). Unsharing a record that is not shared with the agent writes nothing (a grant row
// the database holds for it outside the access list is deleted).
func (c *Collection[T]) Unshare(ctx context.Context, rkey RecordKey, with DID) (err error) {
	defer func(start time.Time) { c.emit(ctx, "unshare", rkey, start, err) }(time.Now())
	if _, err := syntax.ParseRecordKey(string(rkey)); err != nil {
		return &InputError{Field: "record key", Err: err}
	}
	if _, err := syntax.ParseDID(string(with)); err != nil {
		return &InputError{Field: "recipient DID", Err: err}
	}
	if err := c.ready(ctx); err != nil {
		return err
	}
	id := c.ref(rkey).ID()
	_, err = c.rewrite(ctx, rkey, anyVersion, func(cur *current[T]) (T, []DID, error) {
		if !slices.Contains(cur.access, with) {
			return cur.rec.Value, nil, errNothingToDo
		}
		return cur.rec.Value, slices.DeleteFunc(slices.Clone(cur.access), func(d DID) bool { return d == with }), nil
	}, nil)
	if errors.Is(err, errNothingToDo) {
		_, err = c.s.db.Run(ctx, d1.Statement{SQL: "DELETE FROM shared_records WHERE record_id = ? AND recipient_did = ?", Args: []any{id, string(with)}, Idempotent: true})
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
	bl := blobsOf(c.s.db)
	cols := recordColumns(c.s.db, "r.")
	mark := c.s.versions.mark()
	rs, err := c.s.db.Batch(ctx,
		d1.Statement{SQL: "SELECT " + cols + ", " + bl.out("s.encrypted_dek") + " AS grant_dek, s.version AS grant_version, " + bl.out("s.key_id") + " AS grant_key_id FROM shared_records s JOIN records r ON r.id = s.record_id WHERE " + where + " ORDER BY s.record_id LIMIT ?",
			Args: append(args, limit+1)},
		d1.Statement{SQL: "SELECT did, seq, " + bl.out("entry") + " AS entry FROM agent_key_log WHERE did IN (SELECT r.did FROM shared_records s JOIN records r ON r.id = s.record_id WHERE " + where + ") ORDER BY did, seq LIMIT " + fmt.Sprint(maxKeyLog*4+1),
			Args: args})
	if err != nil {
		return Page[*Record[T]]{}, fmt.Errorf("records: shared with %s: %w", c.did, err)
	}
	return sharedPage(ctx, c, mark, rs[0], rs[1], limit, "s", nil)
}

// sharedPage opens a page of records shared with the acting agent (rows of sharedRow), as
// ownPage does.
func sharedPage[T any](ctx context.Context, c *Collection[T], mark uint64, res, keyLog *d1.Result, limit int, kind string, keep func(*Record[T]) bool) (Page[*Record[T]], error) {
	rows, err := d1.Collect[sharedRow](res)
	if err != nil {
		return Page[*Record[T]]{}, err
	}
	return openPage(rows, limit, kind, func(row *sharedRow) (string, *Record[T], error) {
		r, err := c.openShared(ctx, mark, row, keyLog)
		if err == nil && keep != nil && !keep(r) {
			r = nil
		}
		return row.ID, r, err
	})
}

// sharedRow is a records row joined with the acting agent's grant for it.
type sharedRow struct {
	recordRow
	GrantDek     d1.Hex
	GrantVersion int64
	GrantKeyID   d1.Hex
}

// openShared checks the grant of a sharedRow against its record and opens it.
func (c *Collection[T]) openShared(ctx context.Context, mark uint64, row *sharedRow, keyLog *d1.Result) (*Record[T], error) {
	ref, err := syntax.ParseID(row.ID)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrTampered, row.ID, err)
	}
	if row.GrantVersion != row.Version {
		return nil, fmt.Errorf("%w: %s: the grant opens version %d, the record is at %d", ErrTampered, row.ID, row.GrantVersion, row.Version)
	}
	if err := checkKeyID(row.GrantDek, row.GrantKeyID); err != nil {
		return nil, fmt.Errorf("records: open %s: grant: %w", row.ID, err)
	}
	return c.open(ctx, mark, ref, &row.recordRow, row.GrantDek, keyLog)
}

// SharedWith returns one page of the records, of any collection, shared with the agent did:
// references only, for an index; open them with the collection of their type.
func (s *Store) SharedWith(ctx context.Context, did DID, opts ListOptions) (Page[Ref], error) {
	if _, err := syntax.ParseDID(string(did)); err != nil {
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
		ref, err := syntax.ParseID(id)
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
