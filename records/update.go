package records

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
)

// anyVersion asks rewrite to write over whatever version the record is at.
const anyVersion = 0

// current is a record as stored, opened, with the recipients of its shares.
type current[T any] struct {
	rec        *Record[T]
	row        recordRow
	recipients []*Agent // sorted by DID
}

// recipientsSQL lists the agents a record is shared with, by DID: the order the update guard
// compares.
const recipientsSQL = `SELECT a.did, a.public_key, a.signing_key, a.pq_key, a.metadata, a.created_at, a.updated_at
FROM shared_records s JOIN agents a ON a.did = s.recipient_did WHERE s.record_id = ? ORDER BY a.did`

// sharesGuard is true when the record's set of recipients is still the one read: a share or
// unshare in between makes an update or re-key fail rather than drop or miss a grant.
const sharesGuard = `coalesce((SELECT group_concat(recipient_did, ' ' ORDER BY recipient_did) FROM shared_records WHERE record_id = ?), '') = ?`

// load reads one of the acting agent's records with its recipients, in one request, and opens it.
func (c *Collection[T]) load(ctx context.Context, rkey RecordKey) (*current[T], error) {
	ref := c.ref(rkey)
	id := ref.ID()
	mark := c.s.versions.mark()
	rs, err := c.s.db.Batch(ctx,
		d1.Statement{SQL: "SELECT " + recordCols + " FROM records WHERE id = ?", Args: []any{id}},
		d1.Statement{SQL: recipientsSQL, Args: []any{id}},
		signersStatement(c.did))
	if err != nil {
		return nil, fmt.Errorf("records: read %s: %w", id, err)
	}
	cur := &current[T]{}
	if cur.row, err = d1.CollectOne[recordRow](rs[0]); errors.Is(err, d1.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	} else if err != nil {
		return nil, err
	}
	if cur.rec, err = c.open(ctx, mark, ref, &cur.row, cur.row.EncryptedDek, rs[2]); err != nil {
		return nil, err
	}
	rows, err := d1.Collect[agentRow](rs[1])
	if err != nil {
		return nil, err
	}
	for i := range rows {
		a, err := rows[i].agent()
		if err != nil {
			return nil, err
		}
		cur.recipients = append(cur.recipients, a)
	}
	return cur, nil
}

func (cur *current[T]) recipientList() string {
	dids := make([]string, len(cur.recipients))
	for i, a := range cur.recipients {
		dids[i] = string(a.DID)
	}
	return strings.Join(dids, " ")
}

// Update writes rec.Value as a new version of the record rec names, which must still be at
// rec.Version: otherwise it returns ErrConflict and writes nothing, so that no concurrent
// change is lost. The new version has a new data key, wrapped again for every agent the record
// is shared with, and a new signature. It returns the record as written.
func (c *Collection[T]) Update(ctx context.Context, rec *Record[T]) (r *Record[T], err error) {
	var rkey RecordKey
	if rec != nil {
		rkey = rec.Ref.RKey
	}
	defer func(start time.Time) { c.emit(ctx, "update", rkey, start, err) }(time.Now())
	return c.update(ctx, rec)
}

func (c *Collection[T]) update(ctx context.Context, rec *Record[T]) (*Record[T], error) {
	if rec == nil {
		return nil, &InputError{Field: "record", Reason: "nil"}
	}
	if err := c.checkRef(rec.Ref); err != nil {
		return nil, err
	}
	if rec.Ref.DID != c.did {
		return nil, &InputError{Field: "record", Reason: fmt.Sprintf("%s belongs to %s; only its owner can update it", rec.Ref.ID(), rec.Ref.DID)}
	}
	if rec.Version == 0 {
		// No record is ever at version 0: a Record built by hand claims no version the
		// stored one could still be at, and updating it would overwrite a change unseen.
		return nil, fmt.Errorf("%w: %s: the record given has no version; update a record read with Get", ErrConflict, rec.Ref.ID())
	}
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	return c.rewrite(ctx, rec.Ref.RKey, rec.Version, func(cur *current[T]) (T, []*Agent, error) {
		return rec.Value, cur.recipients, nil
	}, nil)
}

// rewrite writes a new version of a record at version expect (anyVersion: whatever version it
// is at, for Unshare; Update always passes the version its caller read):
// change returns the value and the agents to share the new version with. extra statements run
// in the same request after the row is rewritten, guarded by the new write id. A change to
// the record's shares between the read and the write is retried; a change of its version is
// ErrConflict.
func (c *Collection[T]) rewrite(ctx context.Context, rkey RecordKey, expect uint64, change func(*current[T]) (T, []*Agent, error),
	extra func(cur *current[T], w *version) []d1.Statement) (*Record[T], error) {
	for attempt := 1; ; attempt++ {
		cur, err := c.load(ctx, rkey)
		if err != nil {
			return nil, err
		}
		if expect != anyVersion && cur.rec.Version != expect {
			return nil, fmt.Errorf("%w: %s is at version %d, not %d", ErrConflict, cur.rec.Ref.ID(), cur.rec.Version, expect)
		}
		value, keep, err := change(cur)
		if err != nil {
			return nil, err
		}
		recipients := make([]crypto.Recipient, len(keep))
		for i, a := range keep {
			recipients[i] = a.recipient()
		}
		w, err := c.newVersion(cur.rec.Ref, cur.rec.Version+1, value, cur.row.CreatedAt, c.s.timestamp(), recipients, cur.rec.Public)
		if err != nil {
			return nil, err
		}
		id := cur.rec.Ref.ID()
		ph, vals := w.columns() // ciphertext, encrypted_dek, nonce, public, signature, key_id
		args := append(vals, w.updatedAt, int64(w.rc.Version), w.writeID, id, int64(cur.rec.Version), id, cur.recipientList())
		stmts := []d1.Statement{{
			SQL: `UPDATE records SET ciphertext = ` + ph[0] + `, encrypted_dek = ` + ph[1] + `, nonce = ` + ph[2] + `, public = ` + ph[3] +
				`, signature = ` + ph[4] + `, key_id = ` + ph[5] + `, updated_at = ?, version = ?, write_id = ?
WHERE id = ? AND version = ? AND ` + sharesGuard,
			Args: args,
		}}
		if extra != nil {
			stmts = append(stmts, extra(cur, w)...)
		}
		var shared []crypto.Grant
		if w.sealed != nil {
			shared = w.sealed.Shared
		}
		for _, g := range shared {
			stmts = append(stmts, d1.Statement{
				SQL: `UPDATE shared_records SET encrypted_dek = unhex(?), version = ?, key_id = unhex(?)
WHERE record_id = ? AND recipient_did = ? AND EXISTS (SELECT 1 FROM records WHERE id = ? AND write_id = ?)`,
				Args: []any{d1.Hex(g.WrappedKey), int64(w.rc.Version), d1.Hex(g.KeyID[:]), id, g.RecipientDID, id, w.writeID},
			})
		}
		stmts = append(stmts, d1.Statement{SQL: "SELECT version, write_id FROM records WHERE id = ?", Args: []any{id}})
		rs, err := c.s.write(ctx, stmts, c.committed(w.writeID))
		if err != nil {
			return nil, fmt.Errorf("records: update %s: %w", id, err)
		}
		if rs != nil {
			last := rs[len(rs)-1]
			if last.Len() == 0 {
				return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
			}
			var gotVersion int64
			var gotWrite *string
			if err := last.Row(0).Scan(&gotVersion, &gotWrite); err != nil {
				return nil, err
			}
			if deref(gotWrite) != w.writeID {
				if uint64(gotVersion) == cur.rec.Version && attempt < c.s.attempts() {
					continue // only the shares changed: read them again
				}
				return nil, fmt.Errorf("%w: %s was written by someone else", ErrConflict, id)
			}
		}
		c.s.versions.see(id, w.rc.Version)
		return recordOf(w, value), nil
	}
}
