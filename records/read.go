package records

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/syntax"
)

// Get opens one of the acting agent's own records.
func (c *Collection[T]) Get(ctx context.Context, rkey RecordKey) (r *Record[T], err error) {
	defer func(start time.Time) { c.emit(ctx, "get", rkey, start, err) }(time.Now())
	return c.get(ctx, rkey)
}

func (c *Collection[T]) get(ctx context.Context, rkey RecordKey) (*Record[T], error) {
	if _, err := syntax.ParseRecordKey(string(rkey)); err != nil {
		return nil, &InputError{Field: "record key", Err: err}
	}
	if err := c.s.Init(ctx); err != nil {
		return nil, err
	}
	ref := c.ref(rkey)
	mark := c.s.versions.mark()
	rs, err := c.s.db.Batch(ctx,
		d1.Statement{SQL: "SELECT " + recordColumns(c.s.db, "") + " FROM records WHERE id = ?", Args: []any{ref.ID()}},
		c.s.keyLogStatement(ref.DID))
	if err != nil {
		return nil, fmt.Errorf("records: get %s: %w", ref.ID(), err)
	}
	row, err := d1.CollectOne[recordRow](rs[0])
	if errors.Is(err, d1.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref.ID())
	}
	if err != nil {
		return nil, err
	}
	return c.open(ctx, mark, ref, &row, row.EncryptedDek, rs[1])
}

// Open opens the record ref as the acting agent: one of its own, a private record another
// agent shared with it (ErrNotShared otherwise), or a public record. ref's collection must be
// this collection.
func (c *Collection[T]) Open(ctx context.Context, ref Ref) (r *Record[T], err error) {
	defer func(start time.Time) { c.emit(ctx, "open", ref.RKey, start, err) }(time.Now())
	return c.openRef(ctx, ref)
}

func (c *Collection[T]) openRef(ctx context.Context, ref Ref) (*Record[T], error) {
	if err := c.checkRef(ref); err != nil {
		return nil, err
	}
	if ref.DID == c.did {
		return c.get(ctx, ref.RKey)
	}
	if err := c.s.Init(ctx); err != nil {
		return nil, err
	}
	id := ref.ID()
	mark := c.s.versions.mark()
	rs, err := c.s.db.Batch(ctx,
		d1.Statement{SQL: "SELECT " + recordColumns(c.s.db, "") + " FROM records WHERE id = ?", Args: []any{id}},
		d1.Statement{SQL: "SELECT " + grantColumns(c.s.db) + " FROM shared_records WHERE record_id = ? AND recipient_did = ?", Args: []any{id, string(c.did)}},
		c.s.keyLogStatement(ref.DID))
	if err != nil {
		return nil, fmt.Errorf("records: open %s: %w", id, err)
	}
	row, err := d1.CollectOne[recordRow](rs[0])
	if errors.Is(err, d1.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	if row.Public != 0 {
		return c.open(ctx, mark, ref, &row, nil, rs[2])
	}
	grant, err := d1.CollectOne[grantRow](rs[1])
	if errors.Is(err, d1.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotShared, id)
	}
	if err != nil {
		return nil, err
	}
	if grant.Version != row.Version {
		return nil, fmt.Errorf("%w: %s: the grant opens version %d, the record is at %d", ErrTampered, id, grant.Version, row.Version)
	}
	if err := checkKeyID(grant.EncryptedDek, grant.KeyID); err != nil {
		return nil, fmt.Errorf("records: open %s: grant: %w", id, err)
	}
	return c.open(ctx, mark, ref, &row, grant.EncryptedDek, rs[2])
}

func (c *Collection[T]) checkRef(ref Ref) error {
	if err := validRef(ref); err != nil {
		return err
	}
	if ref.Collection.Canonical() != c.nsid {
		return &InputError{Field: "record ref", Reason: fmt.Sprintf("collection %s is not this collection (%s)", ref.Collection, c.nsid)}
	}
	return nil
}

// recordColumns is the select list of a records row as recordRow, with each column prefixed by
// prefix (such as "r." in a join), for db (see blobForm). Where BLOBs travel as hex text they
// come as hex, NULL staying NULL, and a ciphertext whose hex would exceed D1's 2,000,000-byte
// value limit comes as a plain BLOB (d1.Hex scans both).
func recordColumns(db *d1.Client, prefix string) string {
	bl := blobsOf(db)
	col := func(name string) string { return prefix + name }
	hex := func(name string) string { return bl.outNull(col(name)) + " AS " + name }
	ct := col("ciphertext")
	ctCol := "iif(length(" + ct + ") > 1000000, " + ct + ", hex(" + ct + ")) AS ciphertext"
	if bl.compact {
		ctCol = ct + " AS ciphertext"
	}
	return strings.Join([]string{
		col("id"), col("did"), col("collection"), col("rkey"),
		ctCol,
		hex("encrypted_dek"), hex("nonce"), col("public"), col("created_at"), col("updated_at"), col("version"),
		hex("signature"), hex("key_id"), col("write_id"),
	}, ", ")
}

type recordRow struct {
	ID           string
	DID          string
	Collection   string
	RKey         string
	Ciphertext   d1.Hex
	EncryptedDek d1.Hex
	Nonce        d1.Hex
	Public       int64
	CreatedAt    string
	UpdatedAt    *string
	Version      int64
	Signature    d1.Hex
	KeyID        d1.Hex
	WriteID      *string
}

type grantRow struct {
	EncryptedDek d1.Hex
	Version      int64
	KeyID        d1.Hex
}

// grantColumns selects a shared_records grant as grantRow, for db.
func grantColumns(db *d1.Client) string {
	bl := blobsOf(db)
	return bl.out("encrypted_dek") + " AS encrypted_dek, version, " + bl.outNull("key_id") + " AS key_id"
}

// checkKeyID checks that a key_id column matches the key id written in the wrapped key.
func checkKeyID(wrapped, keyID []byte) error {
	_, id, err := crypto.WrappedKeyID(wrapped)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTampered, err)
	}
	if string(id[:]) != string(keyID) {
		return fmt.Errorf("%w: key_id column does not match the wrapped key", ErrTampered)
	}
	return nil
}

// open authenticates and decrypts row, which must be the record ref, with wrapped (the
// acting agent's grant), verifying the signature with the owner's key reached through its
// verified key log (keyLog: key log rows from keyLogStatement, or nil). It returns the record
// and its payload (the payload's value is the encoded value).
func (c *Collection[T]) open(ctx context.Context, mark uint64, ref Ref, row *recordRow, wrapped []byte, keyLog *d1.Result) (*Record[T], error) {
	rec, _, err := c.openPayload(ctx, mark, ref, row, wrapped, keyLog)
	return rec, err
}

func (c *Collection[T]) openPayload(ctx context.Context, mark uint64, ref Ref, row *recordRow, wrapped []byte, keyLog *d1.Result) (*Record[T], *payload, error) {
	id := ref.ID()
	if row.ID != id || row.DID != string(ref.DID) || row.Collection != string(ref.Collection) || row.RKey != string(ref.RKey) || row.Version < 1 {
		return nil, nil, fmt.Errorf("%w: %s: row identity does not match", ErrTampered, id)
	}
	rc := c.context(ref, uint64(row.Version))
	env := crypto.Envelope{Ciphertext: row.Ciphertext, Nonce: row.Nonce, Signature: row.Signature}
	signer, err := crypto.SignatureKeyID(row.Signature)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrTampered, id, err)
	}
	vk, err := c.s.signerFor(ctx, ref.DID, signer, keyLog)
	if errors.Is(err, ErrKeyRevoked) && ref.DID == c.did && signer == c.resealing && signer != (crypto.KeyID{}) {
		vk, err = c.s.revokedSigner(ref.DID, signer)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("records: open %s: %w", id, err)
	}
	var plain []byte
	switch {
	case row.Public != 0:
		if len(row.EncryptedDek) != 0 || len(row.Nonce) != 0 || len(row.KeyID) != 0 {
			return nil, nil, fmt.Errorf("%w: %s: a public record with sealing columns", ErrTampered, id)
		}
		if err := vk.VerifyPublic(rc, row.Ciphertext, row.Signature); err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %w", ErrTampered, id, err)
		}
		plain = row.Ciphertext
	case len(wrapped) == 0 && ref.DID == c.did:
		return nil, nil, fmt.Errorf("%w: %s: a private record without its owner's grant", ErrTampered, id)
	case len(wrapped) == 0:
		return nil, nil, fmt.Errorf("%w: %s", ErrNotShared, id)
	default:
		if ref.DID == c.did {
			if err := checkKeyID(wrapped, row.KeyID); err != nil {
				return nil, nil, fmt.Errorf("records: open %s: %w", id, err)
			}
		}
		if err := c.checkHolds(ctx, id, wrapped); err != nil {
			return nil, nil, err
		}
		if plain, err = c.agent.Open(rc, env, wrapped, vk); err != nil {
			if errors.Is(err, crypto.ErrDecrypt) {
				return nil, nil, fmt.Errorf("%w: %s: %w", ErrTampered, id, err)
			}
			return nil, nil, fmt.Errorf("records: open %s: %w", id, err)
		}
	}
	p, err := parsePayload(plain)
	if err != nil {
		return nil, nil, fmt.Errorf("records: open %s: %w", id, err)
	}
	if p.createdAt != row.CreatedAt || p.updatedAt != deref(row.UpdatedAt) || p.writeID != deref(row.WriteID) {
		return nil, nil, fmt.Errorf("%w: %s: created_at, updated_at or write_id column altered", ErrTampered, id)
	}
	if row.Public != 0 && len(p.access) != 0 {
		return nil, nil, fmt.Errorf("%w: %s: a public record with an access list", ErrTampered, id)
	}
	if ref.DID == c.did {
		// The owner reading with keys its key log has rotated out: say so (the owner key
		// may be unchanged, and still open the grant).
		if v, err := c.s.trust.known(c.did); err == nil && v != nil && len(v.entries) > 0 {
			if err := checkSelf(c.agent, v); err != nil {
				return nil, nil, fmt.Errorf("records: open %s: %w", id, err)
			}
		}
	}
	if row.Public == 0 && ref.DID != c.did && !p.legacy {
		// The owner's signature covers the access list: a grant the owner did not list (made
		// by someone else holding the data key) is not the owner's share.
		if _, ok := p.lists(c.did); !ok {
			return nil, nil, fmt.Errorf("%w: %s: this agent holds a grant but is not on the version's signed access list", ErrNotShared, id)
		}
	}
	if err := c.s.versions.check(id, uint64(row.Version), mark); err != nil {
		return nil, nil, err
	}
	rec := &Record[T]{Ref: ref, Version: uint64(row.Version), Public: row.Public != 0, SharedWith: dids(p.access)}
	if err := c.codec.Unmarshal(p.value, &rec.Value); err != nil {
		return nil, nil, fmt.Errorf("records: open %s: decode value: %w", id, err)
	}
	rec.CreatedAt, _ = time.Parse(time.RFC3339Nano, p.createdAt)
	if p.updatedAt != "" {
		rec.UpdatedAt, _ = time.Parse(time.RFC3339Nano, p.updatedAt)
	}
	c.s.see(id, rec.Version)
	return rec, &p, nil
}

// List returns one page of the acting agent's records in this collection, oldest key first
// (TIDs sort by time), as cursor pagination over the records table does: Limit defaults to 50.
func (c *Collection[T]) List(ctx context.Context, opts ListOptions) (Page[*Record[T]], error) {
	return c.listOwn(ctx, "list", "", nil, opts, "r", nil)
}

// listOwn returns one page of the acting agent's records in this collection that also meet
// where (" AND ..." over the records table, with args), in id order, keeping those keep
// accepts after opening (nil: all). kind is the page's cursor kind.
func (c *Collection[T]) listOwn(ctx context.Context, op, where string, args []any, opts ListOptions, kind string, keep func(*Record[T]) bool) (Page[*Record[T]], error) {
	limit, err := pageLimit(opts.Limit)
	if err != nil {
		return Page[*Record[T]]{}, err
	}
	if err := c.s.Init(ctx); err != nil {
		return Page[*Record[T]]{}, err
	}
	sql := "SELECT " + recordColumns(c.s.db, "") + " FROM records WHERE did = ? AND collection = ?" + where
	args = append([]any{string(c.did), string(c.nsid)}, args...)
	if opts.Cursor != "" {
		after, err := decodeCursor(opts.Cursor, kind)
		if err != nil {
			return Page[*Record[T]]{}, err
		}
		sql, args = sql+" AND id > ?", append(args, after)
	}
	mark := c.s.versions.mark()
	rs, err := c.s.db.Batch(ctx,
		d1.Statement{SQL: sql + " ORDER BY id LIMIT ?", Args: append(args, limit+1)},
		c.s.keyLogStatement(c.did))
	if err != nil {
		return Page[*Record[T]]{}, fmt.Errorf("records: %s %s: %w", op, c.nsid, err)
	}
	return ownPage(ctx, c, mark, rs[0], rs[1], limit, kind, keep)
}

// ownPage opens a page of the acting agent's records (res holds limit+1 rows at most, the
// extra one telling that more follow), verified with the key log rows in keyLog, keeping
// those keep accepts (nil: all). kind is the page's cursor kind.
func ownPage[T any](ctx context.Context, c *Collection[T], mark uint64, res, keyLog *d1.Result, limit int, kind string, keep func(*Record[T]) bool) (Page[*Record[T]], error) {
	rows, err := d1.Collect[recordRow](res)
	if err != nil {
		return Page[*Record[T]]{}, err
	}
	return openPage(rows, limit, kind, func(row *recordRow) (string, *Record[T], error) {
		rkey, err := syntax.ParseRecordKey(row.RKey)
		if err != nil {
			return row.ID, nil, fmt.Errorf("%w: %s: %w", ErrTampered, row.ID, err)
		}
		r, err := c.open(ctx, mark, c.ref(rkey), row, row.EncryptedDek, keyLog)
		if err == nil && keep != nil && !keep(r) {
			r = nil
		}
		return row.ID, r, err
	})
}

// openPage turns rows (limit+1 at most) into a page, each opened by open, which returns the
// row's id and its record (nil to leave it out of the page).
func openPage[R any, T any](rows []R, limit int, kind string, open func(*R) (string, *Record[T], error)) (Page[*Record[T]], error) {
	page := Page[*Record[T]]{HasMore: len(rows) > limit}
	rows = rows[:min(len(rows), limit)]
	var last string
	for i := range rows {
		id, r, err := open(&rows[i])
		if err != nil {
			return Page[*Record[T]]{}, err
		}
		if r != nil {
			page.Items = append(page.Items, r)
		}
		last = id
	}
	if page.HasMore {
		page.Cursor = encodeCursor(kind, last)
	}
	return page, nil
}

// All walks every record of the acting agent in this collection, page by page.
func (c *Collection[T]) All(ctx context.Context) iter.Seq2[*Record[T], error] {
	return walk(ctx, "", func(cursor string) (Page[*Record[T]], error) {
		return c.List(ctx, ListOptions{Limit: 200, Cursor: cursor})
	})
}

// checkHolds tells a grant wrapped for a key the acting agent does not hold apart: when the
// agent's keys are no longer its registered ones, it reads with rotated-out keys
// (ErrKeyRetired: load the current key file); otherwise the grant was altered or moved
// (ErrTampered). It costs a request only in that error case.
func (c *Collection[T]) checkHolds(ctx context.Context, id string, wrapped []byte) error {
	_, kid, err := crypto.WrappedKeyID(wrapped)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrTampered, id, err)
	}
	if c.agent.HasOwnerKey() && kid == c.agent.OwnerKeyID() {
		return nil // the owner's own grant, wrapped with its owner key
	}
	if pq := c.agent.PostQuantumKey(); pq != nil && kid == pq.KeyID() {
		return nil
	}
	if kid == c.agent.RecipientKey().KeyID() {
		if c.agent.PostQuantumKey() != nil {
			// The agent publishes a post-quantum key: a grant without it is a downgrade.
			return fmt.Errorf("%w: %s: its grant is wrapped with X25519 only, though the acting agent has a post-quantum key", ErrTampered, id)
		}
		return nil
	}
	if _, err := c.s.self(ctx, c.agent); errors.Is(err, ErrKeyRetired) {
		return fmt.Errorf("%w: %s: its grant is for key %s, which the acting agent does not hold", ErrKeyRetired, id, kid)
	}
	return fmt.Errorf("%w: %s: its grant is for key %s, not the acting agent's", ErrTampered, id, kid)
}
