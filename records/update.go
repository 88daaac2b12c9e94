package records

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
)

// anyVersion asks rewrite to write over whatever version the record is at.
const anyVersion = 0

// current is one of the acting agent's records as stored, opened and verified.
type current[T any] struct {
	rec    *Record[T]
	row    recordRow
	access []DID // the version's signed access list (nil for a version 1 payload)
	grants []DID // who the database holds grant rows for: only reported, never believed
	keyLog *d1.Result
}

// load reads one of the acting agent's records in one request and opens it: the row, the
// DIDs of its grant rows, the owner's key log, and the key logs of those DIDs (a prefetch:
// only the signed access list says who the recipients are).
func (c *Collection[T]) load(ctx context.Context, rkey RecordKey) (*current[T], error) {
	ref := c.ref(rkey)
	id := ref.ID()
	mark := c.s.versions.mark()
	rs, err := c.s.db.Batch(ctx,
		d1.Statement{SQL: "SELECT " + recordColumns(c.s.db, "") + " FROM records WHERE id = ?", Args: []any{id}},
		d1.Statement{SQL: "SELECT recipient_did FROM shared_records WHERE record_id = ? ORDER BY recipient_did", Args: []any{id}},
		c.s.keyLogStatement(c.did),
		d1.Statement{SQL: "SELECT did, seq, " + blobsOf(c.s.db).out("entry") + " AS entry FROM agent_key_log WHERE did IN (SELECT recipient_did FROM shared_records WHERE record_id = ?) ORDER BY did, seq LIMIT " + fmt.Sprint(maxKeyLog*4+1), Args: []any{id}})
	if err != nil {
		return nil, fmt.Errorf("records: read %s: %w", id, err)
	}
	cur := &current[T]{keyLog: rs[3]}
	if cur.row, err = d1.CollectOne[recordRow](rs[0]); errors.Is(err, d1.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	} else if err != nil {
		return nil, err
	}
	var p *payload
	if cur.rec, p, err = c.openPayload(ctx, mark, ref, &cur.row, cur.row.EncryptedDek, rs[2]); err != nil {
		return nil, err
	}
	cur.access = dids(p.access)
	grants, err := d1.Collect[string](rs[1])
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		cur.grants = append(cur.grants, DID(g))
	}
	if extra := outside(cur.grants, cur.access); len(extra) > 0 {
		c.s.warn("records: grant rows outside the record's signed access list are ignored (and removed by the next write)",
			"record", id, "version", cur.rec.Version, "agents", extra)
	}
	return cur, nil
}

// outside returns the DIDs of have that are not in list.
func outside(have, list []DID) []DID {
	var out []DID
	for _, d := range have {
		if !slices.Contains(list, d) {
			out = append(out, d)
		}
	}
	return out
}

// Update writes rec.Value as a new version of the record rec names, which must still be at
// rec.Version: otherwise it returns ErrConflict and writes nothing, so that no concurrent
// change is lost. The new version has a new data key, wrapped again for every agent on the
// signed access list of the version read (never for anyone the database merely holds a
// grant row for), and a new signature. A public record stays public and a private one
// private: rec.Public must match (ErrVisibility). It returns the record as written.
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
	return c.rewrite(ctx, rec.Ref.RKey, rec.Version, func(cur *current[T]) (T, []DID, error) {
		if cur.rec.Public != rec.Public {
			return rec.Value, nil, c.visibilityErr(cur.rec.Ref, cur.rec.Public)
		}
		return rec.Value, cur.access, nil
	}, nil)
}

// recipients returns the recipients of a new version: each agent's current keys, reached
// through its verified key log (post-quantum when it has such a key).
func (c *Collection[T]) recipients(ctx context.Context, access []DID, prefetch *d1.Result) ([]crypto.Recipient, error) {
	var raw map[DID][][]byte
	var seqs map[DID][]int64
	if prefetch != nil {
		var err error
		if raw, seqs, err = keyLogRows(prefetch); err != nil {
			return nil, err
		}
	}
	out := make([]crypto.Recipient, 0, len(access))
	for _, did := range access {
		var v *verifiedAgent
		var err error
		if len(raw[did]) > 0 {
			v, err = c.s.trust.learn(did, raw[did], seqs[did], nil)
		} else {
			v, err = c.s.verified(ctx, did, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("records: recipient %s: %w", did, err)
		}
		k := v.agentKeys()
		out = append(out, k.recipient())
	}
	return out, nil
}

// rewrite writes a new version of a record at version expect (anyVersion: whatever version it
// is at): change returns the value and the access list of the new version. extra statements
// run in the same request after the row is rewritten, guarded by the new write id. A change
// of the record between the read and the write is ErrConflict when expect is a version, and
// read again otherwise.
func (c *Collection[T]) rewrite(ctx context.Context, rkey RecordKey, expect uint64, change func(*current[T]) (T, []DID, error),
	extra func(cur *current[T], w *version) []d1.Statement) (*Record[T], error) {
	for attempt := 1; ; attempt++ {
		cur, err := c.load(ctx, rkey)
		if err != nil {
			return nil, err
		}
		if expect != anyVersion && cur.rec.Version != expect {
			return nil, fmt.Errorf("%w: %s is at version %d, not %d", ErrConflict, cur.rec.Ref.ID(), cur.rec.Version, expect)
		}
		value, access, err := change(cur)
		if err != nil {
			return nil, err
		}
		access = slices.Compact(slices.Sorted(slices.Values(access)))
		access = slices.DeleteFunc(access, func(d DID) bool { return d == c.did })
		if len(access) > maxAccessList {
			return nil, &InputError{Field: "recipients", Reason: fmt.Sprintf("%d agents, at most %d", len(access), maxAccessList)}
		}
		recipients, err := c.recipients(ctx, access, cur.keyLog)
		if err != nil {
			return nil, err
		}
		w, err := c.newVersion(cur.rec.Ref, cur.rec.Version+1, value, cur.row.CreatedAt, c.s.timestamp(), recipients, cur.rec.Public)
		if err != nil {
			return nil, err
		}
		id := cur.rec.Ref.ID()
		ph, vals := w.columns() // ciphertext, encrypted_dek, nonce, public, signature, key_id
		args := append(vals, w.updatedAt, int64(w.rc.Version), w.writeID, id, int64(cur.rec.Version))
		stmts := []d1.Statement{{
			SQL: `UPDATE records SET ciphertext = ` + ph[0] + `, encrypted_dek = ` + ph[1] + `, nonce = ` + ph[2] + `, public = ` + ph[3] +
				`, signature = ` + ph[4] + `, key_id = ` + ph[5] + `, updated_at = ?, version = ?, write_id = ?
WHERE id = ? AND version = ?`,
			Args: args,
		}}
		// Grant rows are the signed access list's, and only its.
		drop := d1.Statement{SQL: "DELETE FROM shared_records WHERE record_id = ? AND EXISTS (SELECT 1 FROM records WHERE id = ? AND write_id = ?)", Args: []any{id, id, w.writeID}}
		if len(access) > 0 {
			drop.SQL += " AND recipient_did NOT IN (" + strings.Repeat("?, ", len(access)-1) + "?)"
			for _, d := range access {
				drop.Args = append(drop.Args, string(d))
			}
		}
		stmts = append(stmts, drop)
		if c.index != nil {
			stmts = append(stmts, beaconStatements(w.blobs, id, w.writeID, w.beacons, true)...)
		}
		if extra != nil {
			stmts = append(stmts, extra(cur, w)...)
		}
		var shared []crypto.Grant
		if w.sealed != nil {
			shared = w.sealed.Shared
		}
		now := c.s.timestamp()
		for _, g := range shared {
			stmts = append(stmts, d1.Statement{
				SQL: `INSERT INTO shared_records (record_id, recipient_did, encrypted_dek, shared_at, version, key_id)
SELECT ?, ?, ` + w.blobs.in("?") + `, ?, ?, ` + w.blobs.in("?") + ` WHERE EXISTS (SELECT 1 FROM records WHERE id = ? AND write_id = ?)
ON CONFLICT (record_id, recipient_did) DO UPDATE SET encrypted_dek = excluded.encrypted_dek, version = excluded.version, key_id = excluded.key_id`,
				Args: []any{id, g.RecipientDID, w.blobs.arg(g.WrappedKey), now, int64(w.rc.Version), w.blobs.arg(g.KeyID[:]), id, w.writeID},
			})
		}
		stmts = append(stmts, d1.Statement{SQL: "SELECT version, write_id FROM records WHERE id = ?", Args: []any{id}})
		committed := c.committed(w.writeID)
		rs, err := c.s.write(ctx, stmts, committed)
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
				// Someone else's write is there. It may have come after ours (a resend after a
				// lost answer): ask the write log before calling it a conflict.
				if ok, err := committed(ctx); err == nil && ok {
					c.s.see(id, w.rc.Version)
					return recordOf(w, value), nil
				}
				if expect == anyVersion && attempt < c.s.attempts() {
					continue // read it again and redo the change
				}
				return nil, fmt.Errorf("%w: %s was written by someone else", ErrConflict, id)
			}
		}
		c.s.see(id, w.rc.Version)
		return recordOf(w, value), nil
	}
}
