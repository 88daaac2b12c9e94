package records

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/syntax"
)

// Search over sealed records: blind indexes.
//
// A field named in CollectionOptions.Index gets, for each of its values in a record, a beacon:
// a truncated HMAC-SHA256 of the value under a key derived from the owner's keys for this
// collection and field (crypto.Agent.IndexKey). Beacons are stored in record_beacons beside
// the record, written in the same atomic request as the record, replaced by every update,
// re-key and share, and deleted with it. Find looks a value's beacon up in one query, then
// opens and verifies each record and keeps only those whose field really holds the value:
// beacons the truncation makes collide (false positives), or that a database altered, can
// hide results or add candidates, never make a wrong record come back.
//
// What the database learns (see crypto.IndexKey for each length's figures): which records
// share a value in a field (equality), how many do (frequency), and, as Find runs, which
// beacons are looked up. It never learns a value, nor which field a beacon belongs to beyond a
// 16-byte tag. Shorter beacons leak less (more values share each beacon) and cost more
// records opened per Find.
//
// Index keys derive from the owner's owner key: a rotation with new keys (old.NewKeys(), and
// every compromise rotation) makes new ones, after which Find matches nothing until the
// collection is re-indexed (Collection.Reindex); new encryption keys alone keep them. An
// index key shared with another agent (ShareIndex) cannot be taken back short of such a
// rotation and a re-index: its holder can test guesses against every record of the index.

// DefaultBeaconBits is the beacon length when CollectionOptions.BeaconBits is zero: 32 bits,
// so that among a million distinct values each beacon is shared by about one in 4,000 other
// values' beacons, and a Find opens about one false positive per 4 billion records.
const DefaultBeaconBits = 32

// maxBeaconsPerStatement keeps an insert of beacons under D1's 100 bound parameters.
const maxBeaconsPerStatement = 32

// A field's tag is the 128-bit beacon of tagInput under its index key; a value's beacon is that
// of 0x01 || value. The first byte keeps a value from ever yielding the tag.
const tagInput = "\x00field tag"

func valueInput(v string) []byte { return append([]byte{0x01}, v...) }

type index[T any] struct {
	fields map[string]func(T) []string
	keys   map[string]*crypto.IndexKey
	tags   map[string][]byte
	bits   int
}

func newIndex[T any](agent *crypto.Agent, nsid NSID, fields map[string]func(T) []string, bits int) (*index[T], error) {
	if len(fields) == 0 {
		return nil, nil
	}
	if bits == 0 {
		bits = DefaultBeaconBits
	}
	if bits < 8 || bits > 256 || bits%8 != 0 {
		return nil, &InputError{Field: "beacon bits", Reason: fmt.Sprintf("%d: must be a multiple of 8 from 8 to 256", bits)}
	}
	ix := &index[T]{fields: fields, keys: map[string]*crypto.IndexKey{}, tags: map[string][]byte{}, bits: bits}
	for name, f := range fields {
		if name == "" || f == nil {
			return nil, &InputError{Field: "index", Reason: "a field needs a name and a function"}
		}
		k, err := agent.IndexKey(string(nsid), name)
		if err != nil {
			return nil, &InputError{Field: "index", Reason: "field " + name, Err: err}
		}
		ix.keys[name] = k
		if ix.tags[name], err = k.Beacon([]byte(tagInput), 128); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

// beacon is one row of record_beacons.
type beacon struct {
	tag, beacon []byte
}

// beacons returns the beacons of value, sorted, without repeats.
func (ix *index[T]) beacons(value T) ([]beacon, error) {
	var out []beacon
	for name, f := range ix.fields {
		for _, v := range f(value) {
			b, err := ix.keys[name].Beacon(valueInput(v), ix.bits)
			if err != nil {
				return nil, err
			}
			out = append(out, beacon{tag: ix.tags[name], beacon: b})
		}
	}
	slices.SortFunc(out, func(a, b beacon) int {
		if c := strings.Compare(string(a.tag), string(b.tag)); c != 0 {
			return c
		}
		return strings.Compare(string(a.beacon), string(b.beacon))
	})
	return slices.CompactFunc(out, func(a, b beacon) bool {
		return string(a.tag) == string(b.tag) && string(a.beacon) == string(b.beacon)
	}), nil
}

// beaconStatements replaces the beacons of the record id with bs, guarded by the write id of
// the write they belong to: they land only if that write did.
func beaconStatements(bl blobForm, id, writeID string, bs []beacon, replace bool) []d1.Statement {
	var stmts []d1.Statement
	guard := "EXISTS (SELECT 1 FROM records WHERE id = ? AND write_id = ?)"
	if replace {
		stmts = append(stmts, d1.Statement{SQL: "DELETE FROM record_beacons WHERE record_id = ? AND " + guard, Args: []any{id, id, writeID}})
	}
	for len(bs) > 0 {
		n := min(len(bs), maxBeaconsPerStatement)
		var sql strings.Builder
		sql.WriteString("INSERT OR IGNORE INTO record_beacons (record_id, field_tag, beacon) SELECT column1, " + bl.in("column2") + ", " + bl.in("column3") + " FROM (VALUES ")
		args := make([]any, 0, 3*n+2)
		for i, b := range bs[:n] {
			if i > 0 {
				sql.WriteString(", ")
			}
			sql.WriteString("(?, ?, ?)")
			args = append(args, id, bl.arg(b.tag), bl.arg(b.beacon))
		}
		sql.WriteString(") WHERE " + guard)
		stmts = append(stmts, d1.Statement{SQL: sql.String(), Args: append(args, id, writeID)})
		bs = bs[n:]
	}
	return stmts
}

// Find returns one page of the acting agent's records in this collection whose field (one of
// CollectionOptions.Index) holds one of values, opened and verified, in record key order.
// It costs one request per page. A page may hold fewer than opts.Limit records even when more
// follow (candidates whose beacon matched but whose value did not are dropped after opening);
// HasMore and Cursor say whether to go on.
func (c *Collection[T]) Find(ctx context.Context, field string, values []string, opts ListOptions) (Page[*Record[T]], error) {
	if _, err := pageLimit(opts.Limit); err != nil {
		return Page[*Record[T]]{}, err
	}
	if c.index == nil || c.index.fields[field] == nil {
		return Page[*Record[T]]{}, &InputError{Field: "field", Reason: fmt.Sprintf("%q is not indexed in this collection (CollectionOptions.Index)", field)}
	}
	if len(values) == 0 || len(values) > 90 {
		return Page[*Record[T]]{}, &InputError{Field: "values", Reason: "between 1 and 90 values"}
	}
	bl := blobsOf(c.s.db)
	var bs []any
	for _, v := range values {
		b, err := c.index.keys[field].Beacon(valueInput(v), c.index.bits)
		if err != nil {
			return Page[*Record[T]]{}, err
		}
		bs = append(bs, bl.arg(b))
	}
	where := " AND id IN (SELECT record_id FROM record_beacons WHERE field_tag = " + bl.in("?") + " AND beacon IN (" +
		strings.Repeat(bl.in("?")+", ", len(bs)-1) + bl.in("?") + "))"
	return c.listOwn(ctx, "find in", where, append([]any{bl.arg(c.index.tags[field])}, bs...), opts, "f", func(r *Record[T]) bool {
		return slices.ContainsFunc(c.index.fields[field](r.Value), func(v string) bool { return slices.Contains(values, v) })
	})
}

// FindAll walks every record Find would return, page by page.
func (c *Collection[T]) FindAll(ctx context.Context, field string, values ...string) iter.Seq2[*Record[T], error] {
	return walk(ctx, "", func(cursor string) (Page[*Record[T]], error) {
		return c.Find(ctx, field, values, ListOptions{Limit: 200, Cursor: cursor})
	})
}

// ShareIndex lets the agent with search this collection's field among the records the acting
// agent shares with it (FindShared): the field's index key is wrapped for with's key, reached
// through its verified key log, and stored in index_keys. Sharing an index key lets with
// compute the beacon of any value it guesses and compare it with the beacons of every record
// of the collection, shared with it or not: it learns which of the owner's records hold each
// value it guesses (never their content). Without it, a recipient cannot search.
func (c *Collection[T]) ShareIndex(ctx context.Context, field string, with DID) error {
	if c.index == nil || c.index.keys[field] == nil {
		return &InputError{Field: "field", Reason: fmt.Sprintf("%q is not indexed in this collection (CollectionOptions.Index)", field)}
	}
	if _, err := syntax.ParseDID(string(with)); err != nil {
		return &InputError{Field: "recipient DID", Err: err}
	}
	if with == c.did {
		return &InputError{Field: "recipient DID", Reason: "an agent cannot share an index with itself"}
	}
	if err := c.ready(ctx); err != nil {
		return err
	}
	v, err := c.s.fresh(ctx, with)
	if err != nil {
		return fmt.Errorf("records: share index %s#%s with %s: %w", c.nsid, field, with, err)
	}
	keys := v.agentKeys()
	wrapped, err := c.index.keys[field].Wrap(keys.recipient())
	if err != nil {
		return fmt.Errorf("records: share index %s#%s with %s: %w", c.nsid, field, with, err)
	}
	bl := blobsOf(c.s.db)
	_, err = c.s.db.Run(ctx, d1.Statement{
		SQL: `INSERT INTO index_keys (owner_did, collection, field_tag, recipient_did, wrapped_key, shared_at) VALUES (?, ?, ` + bl.in("?") + `, ?, ` + bl.in("?") + `, ?)
ON CONFLICT (owner_did, collection, field_tag, recipient_did) DO UPDATE SET wrapped_key = excluded.wrapped_key, shared_at = excluded.shared_at`,
		Args:       []any{string(c.did), string(c.nsid), bl.arg(c.index.tags[field]), string(with), bl.arg(wrapped), c.s.timestamp()},
		Idempotent: true,
	})
	if err != nil {
		return fmt.Errorf("records: share index %s#%s with %s: %w", c.nsid, field, with, err)
	}
	return nil
}

// sharedIndexKey returns the index key of owner's field that owner shared with the acting
// agent, and its tag.
func (c *Collection[T]) sharedIndexKey(ctx context.Context, owner DID, field string) (*crypto.IndexKey, []byte, error) {
	type row struct {
		FieldTag, WrappedKey d1.Hex
	}
	bl := blobsOf(c.s.db)
	rows, err := d1.QueryAll[row](ctx, c.s.db, "SELECT "+bl.out("field_tag")+" AS field_tag, "+bl.out("wrapped_key")+" AS wrapped_key FROM index_keys WHERE owner_did = ? AND collection = ? AND recipient_did = ?",
		string(owner), string(c.nsid), string(c.did))
	if err != nil {
		return nil, nil, fmt.Errorf("records: index keys of %s: %w", owner, err)
	}
	ic := crypto.IndexContext{DID: string(owner), Collection: string(c.nsid), Field: field}
	for _, r := range rows {
		k, err := c.agent.UnwrapIndexKey(ic, r.WrappedKey)
		if err != nil {
			continue // another field's key (or an altered row)
		}
		tag, err := k.Beacon([]byte(tagInput), 128)
		if err != nil || string(tag) != string(r.FieldTag) {
			continue
		}
		return k, tag, nil
	}
	return nil, nil, fmt.Errorf("%w: %s has not shared the index of %s#%s with this agent (Collection.ShareIndex)", ErrNotShared, owner, c.nsid, field)
}

// FindShared is Find among the records of owner's collection that owner shared with the
// acting agent, using the index key owner shared with it (ShareIndex). The acting agent's
// collection must index field with the same function as the owner's.
func (c *Collection[T]) FindShared(ctx context.Context, owner DID, field string, values []string, opts ListOptions) (Page[*Record[T]], error) {
	limit, err := pageLimit(opts.Limit)
	if err != nil {
		return Page[*Record[T]]{}, err
	}
	if _, err := syntax.ParseDID(string(owner)); err != nil {
		return Page[*Record[T]]{}, &InputError{Field: "owner DID", Err: err}
	}
	if c.index == nil || c.index.fields[field] == nil {
		return Page[*Record[T]]{}, &InputError{Field: "field", Reason: fmt.Sprintf("%q is not indexed in this collection (CollectionOptions.Index)", field)}
	}
	if len(values) == 0 || len(values) > 90 {
		return Page[*Record[T]]{}, &InputError{Field: "values", Reason: "between 1 and 90 values"}
	}
	if err := c.s.Init(ctx); err != nil {
		return Page[*Record[T]]{}, err
	}
	k, tag, err := c.sharedIndexKey(ctx, owner, field)
	if err != nil {
		return Page[*Record[T]]{}, err
	}
	bl := blobsOf(c.s.db)
	var bs []any
	for _, v := range values {
		b, err := k.Beacon(valueInput(v), c.index.bits)
		if err != nil {
			return Page[*Record[T]]{}, err
		}
		bs = append(bs, bl.arg(b))
	}
	where := "s.recipient_did = ? AND r.did = ? AND r.collection = ? AND r.id IN (SELECT record_id FROM record_beacons WHERE field_tag = " + bl.in("?") + " AND beacon IN (" +
		strings.Repeat(bl.in("?")+", ", len(bs)-1) + bl.in("?") + "))"
	args := append([]any{string(c.did), string(owner), string(c.nsid), bl.arg(tag)}, bs...)
	if opts.Cursor != "" {
		after, err := decodeCursor(opts.Cursor, "g")
		if err != nil {
			return Page[*Record[T]]{}, err
		}
		where, args = where+" AND r.id > ?", append(args, after)
	}
	mark := c.s.versions.mark()
	rs, err := c.s.db.Batch(ctx,
		d1.Statement{SQL: "SELECT " + recordColumns(c.s.db, "r.") + ", " + bl.out("s.encrypted_dek") + " AS grant_dek, s.version AS grant_version, " + bl.out("s.key_id") + " AS grant_key_id FROM shared_records s JOIN records r ON r.id = s.record_id WHERE " +
			where + " ORDER BY r.id LIMIT ?", Args: append(args, limit+1)},
		c.s.keyLogStatement(owner))
	if err != nil {
		return Page[*Record[T]]{}, fmt.Errorf("records: find in %s's %s: %w", owner, c.nsid, err)
	}
	return sharedPage(ctx, c, mark, rs[0], rs[1], limit, "g", func(r *Record[T]) bool {
		return slices.ContainsFunc(c.index.fields[field](r.Value), func(v string) bool { return slices.Contains(values, v) })
	})
}

// Reindex writes the beacons of every record of the acting agent in this collection again,
// under its current index keys: after RotateKeys with new keys (old.NewKeys(), and always
// after a compromise), the old beacons were made with the old owner key and Find no longer
// matches them. Each record is opened and verified; its beacon rows are replaced in the same
// request only if the record is still the version read. It returns how many records it
// re-indexed.
func (c *Collection[T]) Reindex(ctx context.Context) (int, error) {
	if c.index == nil {
		return 0, &InputError{Field: "index", Reason: "this collection indexes no field (CollectionOptions.Index)"}
	}
	if err := c.ready(ctx); err != nil {
		return 0, err
	}
	done := 0
	for cursor := ""; ; {
		page, err := c.List(ctx, ListOptions{Limit: 100, Cursor: cursor})
		if err != nil {
			return done, err
		}
		// The write id of each version read: the beacons are replaced only if it still holds.
		ids := make([]any, len(page.Items))
		for i, r := range page.Items {
			ids[i] = r.Ref.ID()
		}
		type row struct {
			ID      string
			Version int64
			WriteID *string
		}
		var rows []row
		if len(ids) > 0 {
			if rows, err = d1.QueryAll[row](ctx, c.s.db, "SELECT id, version, write_id FROM records WHERE id IN ("+strings.Repeat("?, ", len(ids)-1)+"?)", ids...); err != nil {
				return done, fmt.Errorf("records: reindex %s: %w", c.nsid, err)
			}
		}
		var stmts []d1.Statement
		for _, r := range page.Items {
			i := slices.IndexFunc(rows, func(w row) bool { return w.ID == r.Ref.ID() && uint64(w.Version) == r.Version && w.WriteID != nil })
			if i < 0 {
				continue // changed or deleted since: its writer wrote its beacons
			}
			bs, err := c.index.beacons(r.Value)
			if err != nil {
				return done, err
			}
			stmts = append(stmts, beaconStatements(blobsOf(c.s.db), r.Ref.ID(), *rows[i].WriteID, bs, true)...)
		}
		if len(stmts) > 0 {
			for i := range stmts {
				stmts[i].Idempotent = true
			}
			if err := c.s.sendChunked(ctx, stmts); err != nil {
				return done, fmt.Errorf("records: reindex %s: %w", c.nsid, err)
			}
		}
		done += len(page.Items)
		if !page.HasMore {
			return done, nil
		}
		cursor = page.Cursor
	}
}
