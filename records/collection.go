package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/syntax"
)

// Errors about records.
var (
	// ErrNotFound is returned when a record does not exist (or is not visible to the agent).
	ErrNotFound = errors.New("records: record not found")

	// ErrExists is returned when creating a record whose key is taken.
	ErrExists = errors.New("records: record already exists")

	// ErrConflict is returned by Update when the record changed since the version given:
	// read it again and reapply the change. A write is never lost silently.
	ErrConflict = errors.New("records: record changed concurrently")

	// ErrTampered is returned when a stored record or grant fails authentication: a column
	// altered, rows swapped or moved, a signature that does not verify. It wraps
	// crypto.ErrDecrypt when the cryptography caught it.
	ErrTampered = errors.New("records: stored record failed authentication (tampered with or corrupted)")

	// ErrRollback is returned when the database serves an older version of a record than
	// this Store has already seen (a replayed row), a record this Store deleted (a
	// resurrected row), or an agent's event log shorter than this Store saw it. With
	// StoreOptions.State it holds across restarts.
	ErrRollback = errors.New("records: database served an older version of the record than this process has seen")

	// ErrNotShared is returned when an agent opens another agent's private record that is
	// not (or no longer) shared with it.
	ErrNotShared = errors.New("records: record is not shared with this agent")

	// ErrVisibility is returned when a write would change a record between public and
	// private: Put and Update write private records private and PutPublic public ones
	// public, and never convert one into the other (a database could otherwise flip a row to
	// public and have the owner's next write store its value in clear). To change a record's
	// visibility, Delete it and create it again.
	ErrVisibility = errors.New("records: the record is public and the write private, or the other way round")

	// ErrTooLarge is returned before sending when a sealed record would exceed D1's
	// 2,000,000-byte value limit.
	ErrTooLarge = errors.New("records: record too large for a D1 value once sealed")
)

// Codec encodes a collection's values. JSON is the default.
type Codec[T any] interface {
	Marshal(v T) ([]byte, error)
	Unmarshal(data []byte, v *T) error
}

// JSON is the default Codec: encoding/json.
type JSON[T any] struct{}

func (JSON[T]) Marshal(v T) ([]byte, error)       { return json.Marshal(v) }
func (JSON[T]) Unmarshal(data []byte, v *T) error { return json.Unmarshal(data, v) }

// CollectionOptions holds a collection's optional settings.
type CollectionOptions[T any] struct {
	Codec Codec[T] // default JSON[T]

	// Index names the fields Find can search by equality, each with a function returning
	// that field's values in a record (one, or several for a field such as tags). The values
	// never leave the process: each is stored as a beacon, a truncated HMAC under a key of the
	// owner's (see Find for what the database learns). Every process writing the collection
	// must give the same Index, or its writes leave stale or missing beacons (stale ones are
	// filtered out by Find; missing ones hide records from it).
	Index map[string]func(T) []string

	// BeaconBits is the length of each beacon: a multiple of 8 from 8 to 256. Default
	// DefaultBeaconBits.
	BeaconBits int

	// Pad pads every private value before sealing (Padmé: to a length with few significant
	// bits, at most 12% longer), so that ciphertext sizes stop revealing plaintext lengths
	// beyond their order of magnitude. Records written without it still read.
	Pad bool

	// SignEachRecord has CreateMany and CreateAll sign every record on its own instead of
	// signing each group of 16 once (a batch signature, crypto.Agent.SealBatch): about
	// 20 µs more client CPU per record, 132 fewer bytes per row. Releases of d1seal before
	// batch signatures refuse them (crypto.ErrUnsupported), so set it while readers on such a
	// release remain, and upgrade readers before writers.
	SignEachRecord bool
}

// Collection is one collection (an NSID) of records of type T, seen by one acting agent: it
// creates, reads, lists, updates and deletes that agent's records, shares them, and opens
// records other agents shared with it. Every private value is sealed before it leaves the
// process. A Collection is safe for concurrent use.
type Collection[T any] struct {
	s     *Store
	agent *crypto.Agent
	did   DID
	nsid  NSID // canonical: authority lower-cased, as sealed into every record
	codec Codec[T]
	index *index[T] // nil without CollectionOptions.Index
	pad   bool
	group int // how many records of a CreateMany share one signature

	registered atomic.Bool // the acting agent's keys were found to be its registered ones

	// resealing is set while RotateKeys seals the agent's records again after a compromise:
	// the revoked signing key whose signatures the agent itself still accepts on its own
	// records, to seal them anew.
	resealing crypto.KeyID
}

// NewCollection returns the collection nsid of agent's repository. The agent must be
// registered (Store.RegisterAgent) before its first write.
func NewCollection[T any](s *Store, agent *crypto.Agent, collection NSID, opts CollectionOptions[T]) (*Collection[T], error) {
	if agent == nil {
		return nil, &InputError{Field: "agent", Reason: "nil"}
	}
	did, err := syntax.ParseDID(agent.DID())
	if err != nil {
		return nil, &InputError{Field: "agent DID", Err: err}
	}
	nsid, err := syntax.ParseNSID(string(collection))
	if err != nil {
		return nil, &InputError{Field: "collection", Err: err}
	}
	c := &Collection[T]{s: s, agent: agent, did: did, nsid: nsid.Canonical(), codec: opts.Codec, pad: opts.Pad, group: signGroup}
	if opts.SignEachRecord {
		c.group = 1
	}
	if c.codec == nil {
		c.codec = JSON[T]{}
	}
	if c.index, err = newIndex(agent, c.nsid, opts.Index, opts.BeaconBits); err != nil {
		return nil, err
	}
	return c, nil
}

// NSID returns the collection's canonical NSID.
func (c *Collection[T]) NSID() NSID { return c.nsid }

// Agent returns the acting agent's DID.
func (c *Collection[T]) Agent() DID { return c.did }

// Record is one version of a record, opened.
type Record[T any] struct {
	Ref       Ref
	Value     T
	Version   uint64 // 1 when created, +1 with every update or re-key
	Public    bool
	CreatedAt time.Time
	UpdatedAt time.Time // zero until the first update

	// SharedWith is the version's access list, signed by the owner: the agents other than the
	// owner its data key is wrapped for, by DID. Empty for public records.
	SharedWith []DID
}

func (c *Collection[T]) ref(rkey RecordKey) Ref {
	return Ref{DID: c.did, Collection: c.nsid, RKey: rkey}
}

func (c *Collection[T]) context(ref Ref, version uint64) crypto.RecordContext {
	return crypto.NewRecordContext(ref, version)
}

// Create stores value as a new private record with a fresh TID as its key.
func (c *Collection[T]) Create(ctx context.Context, value T) (r *Record[T], err error) {
	rkey := RecordKey(c.s.tids.Next())
	defer func(start time.Time) { c.emit(ctx, "create", rkey, start, err) }(time.Now())
	return c.create(ctx, rkey, value, false)
}

// CreatePublic stores value as a new public record: in clear, so that the database (and
// anyone reading it) can read it, but signed by the acting agent, so that every reader can
// check it was not altered. Use it only for what is meant to be public.
func (c *Collection[T]) CreatePublic(ctx context.Context, value T) (r *Record[T], err error) {
	rkey := RecordKey(c.s.tids.Next())
	defer func(start time.Time) { c.emit(ctx, "create", rkey, start, err) }(time.Now())
	return c.create(ctx, rkey, value, true)
}

// Put stores value under rkey: a new private record, or a new version of an existing private
// one (which keeps its access list, wrapped again), whatever version that is. Put on a public
// record is ErrVisibility.
func (c *Collection[T]) Put(ctx context.Context, rkey RecordKey, value T) (*Record[T], error) {
	return c.put(ctx, rkey, value, false)
}

// PutPublic is Put for a public record (see CreatePublic); PutPublic on a private record is
// ErrVisibility.
func (c *Collection[T]) PutPublic(ctx context.Context, rkey RecordKey, value T) (*Record[T], error) {
	return c.put(ctx, rkey, value, true)
}

func (c *Collection[T]) put(ctx context.Context, rkey RecordKey, value T, public bool) (*Record[T], error) {
	if _, err := syntax.ParseRecordKey(string(rkey)); err != nil {
		return nil, &InputError{Field: "record key", Err: err}
	}
	if _, err := c.codec.Marshal(value); err != nil { // before anything is sent
		return nil, &InputError{Field: "value", Reason: "cannot encode", Err: err}
	}
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	id := c.ref(rkey).ID()
	for attempt := 1; ; attempt++ {
		// A record deleted before is created again after its last version, so that readers
		// who saw that version do not take the new one for a replay.
		first, err := c.firstVersion(ctx, id)
		if err != nil {
			return nil, err
		}
		r, err := c.createAt(ctx, rkey, value, public, first)
		if !errors.Is(err, ErrExists) {
			return r, err
		}
		r, err = c.rewrite(ctx, rkey, anyVersion, func(cur *current[T]) (T, []DID, error) {
			if cur.rec.Public != public {
				return value, nil, c.visibilityErr(cur.rec.Ref, cur.rec.Public)
			}
			return value, cur.access, nil
		}, nil)
		if !errors.Is(err, ErrNotFound) || attempt >= c.s.attempts() {
			return r, err
		}
		// Deleted in between: create it again.
	}
}

func (c *Collection[T]) visibilityErr(ref Ref, public bool) error {
	if public {
		return fmt.Errorf("%w: %s is public; write it with PutPublic, or delete it and create it private", ErrVisibility, ref.ID())
	}
	return fmt.Errorf("%w: %s is private; write it with Put or Update, or delete it and create it public", ErrVisibility, ref.ID())
}

// firstVersion returns the version a record created under id starts at: 1, or one past its
// last version if it was deleted (from the tombstones and this client's own state).
func (c *Collection[T]) firstVersion(ctx context.Context, id string) (uint64, error) {
	v, err := d1.QueryAll[int64](ctx, c.s.db, "SELECT version FROM record_tombstones WHERE id = ?", id)
	if err != nil {
		return 0, fmt.Errorf("records: put %s: %w", id, err)
	}
	last := uint64(0)
	if len(v) > 0 && v[0] > 0 {
		last = uint64(v[0])
	}
	if st, ok := c.s.versions.known(id); ok && st.Version > last {
		last = st.Version
	}
	return last + 1, nil
}

func (c *Collection[T]) create(ctx context.Context, rkey RecordKey, value T, public bool) (*Record[T], error) {
	if _, err := syntax.ParseRecordKey(string(rkey)); err != nil {
		return nil, &InputError{Field: "record key", Err: err}
	}
	return c.createAt(ctx, rkey, value, public, 1)
}

// createAt writes a new record at version v (1, or past a deleted record's last version).
func (c *Collection[T]) createAt(ctx context.Context, rkey RecordKey, value T, public bool, v uint64) (*Record[T], error) {
	ref := c.ref(rkey)
	w, err := c.newVersion(ref, v, value, c.s.timestamp(), "", nil, public)
	if err != nil {
		return nil, err
	}
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	id := ref.ID()
	stmts := append([]d1.Statement{w.insert()}, beaconStatements(w.blobs, id, w.writeID, w.beacons, false)...)
	_, err = c.s.write(ctx, stmts, c.committed(w.writeID))
	if d1.IsUniqueViolation(err) {
		return nil, fmt.Errorf("%w: %s", ErrExists, id)
	}
	if err != nil {
		return nil, fmt.Errorf("records: create %s: %w", id, err)
	}
	c.s.see(id, v)
	return recordOf(w, value), nil
}

// ready applies the schema and checks, once per Collection, that the acting agent is
// registered with the keys it holds. (A process that keeps writing with keys another process
// has since rotated out is not caught by this check; see Store.RotateKeys.)
func (c *Collection[T]) ready(ctx context.Context) error {
	if err := c.s.Init(ctx); err != nil {
		return err
	}
	if c.registered.Load() {
		// Cheap re-check against what this Store trusts (no request): a rotation this
		// process published or learned since retires the keys at once.
		if v, err := c.s.trust.known(c.did); err == nil && v != nil && len(v.entries) > 0 {
			return checkSelf(c.agent, v)
		}
		return nil
	}
	if _, err := c.s.self(ctx, c.agent); err != nil {
		return err
	}
	c.registered.Store(true)
	return nil
}

// committed returns a check that the write with writeID committed, from the write log that
// triggers keep in the same transaction as every write (migration 0003): the row's own
// write_id cannot tell once another writer has changed the row since.
func (c *Collection[T]) committed(writeID string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		n, err := d1.QueryOne[int](ctx, c.s.db, "SELECT count(*) FROM record_writes WHERE write_id = ?", writeID)
		return n == 1, err
	}
}

// version is one version ready to be written: sealed, or (public) signed content in clear.
type version struct {
	ref       Ref
	rc        crypto.RecordContext
	sealed    *crypto.Sealed // private records
	public    []byte         // public records: the payload, stored in the ciphertext column
	signature []byte         // public records: crypto.SignPublic
	createdAt string
	updatedAt string
	writeID   string
	access    []accessEntry
	beacons   []beacon // with an index
	blobs     blobForm // how the store's client carries BLOBs
}

func (c *Collection[T]) newVersion(ref Ref, v uint64, value T, createdAt, updatedAt string, recipients []crypto.Recipient, public bool) (*version, error) {
	return c.newVersionWithID(ref, v, value, createdAt, updatedAt, recipients, newWriteID(), public)
}

func (c *Collection[T]) newVersionWithID(ref Ref, v uint64, value T, createdAt, updatedAt string, recipients []crypto.Recipient, writeID string, public bool) (*version, error) {
	w, plaintext, err := c.draftVersion(ref, v, value, createdAt, updatedAt, recipients, writeID, public)
	if err != nil {
		return nil, err
	}
	if public {
		w.public = plaintext
		if w.signature, err = c.agent.SignPublic(w.rc, w.public); err != nil {
			return nil, fmt.Errorf("records: sign %s: %w", ref.ID(), err)
		}
	} else if w.sealed, err = c.agent.Seal(w.rc, plaintext, recipients...); err != nil {
		return nil, fmt.Errorf("records: seal %s: %w", ref.ID(), err)
	}
	return w, c.finishVersion(w, value)
}

// draftVersion is the first half of newVersionWithID: the version without its sealed or
// signed content, and the plaintext (the payload) to seal or sign.
func (c *Collection[T]) draftVersion(ref Ref, v uint64, value T, createdAt, updatedAt string, recipients []crypto.Recipient, writeID string, public bool) (*version, []byte, error) {
	enc, err := c.codec.Marshal(value)
	if err != nil {
		return nil, nil, &InputError{Field: "value", Reason: "cannot encode", Err: err}
	}
	if public && len(recipients) > 0 {
		return nil, nil, &InputError{Field: "record", Reason: ref.ID() + " is public: it has no recipients"}
	}
	w := &version{ref: ref, rc: c.context(ref, v), createdAt: createdAt, updatedAt: updatedAt, writeID: writeID, access: accessOf(recipients), blobs: blobsOf(c.s.db)}
	p := payload{createdAt: createdAt, updatedAt: updatedAt, writeID: w.writeID, access: w.access, pad: c.pad && !public, value: enc}
	return w, p.marshal(), nil
}

// finishVersion is the second half of newVersionWithID, once w is sealed or signed: the
// size check and the beacons of value.
func (c *Collection[T]) finishVersion(w *version, value T) error {
	stored := len(w.public)
	if w.sealed != nil {
		stored = len(w.sealed.Ciphertext)
	}
	if max := c.s.db.Limits().MaxValueBytes; stored > max {
		return &InputError{Field: "value", Reason: fmt.Sprintf("%d bytes once stored, over D1's %d-byte limit", stored, max), Err: ErrTooLarge}
	}
	if c.index != nil {
		var err error
		if w.beacons, err = c.index.beacons(value); err != nil {
			return fmt.Errorf("records: index %s: %w", w.ref.ID(), err)
		}
	}
	return nil
}

// columns returns the values of the row's sealed columns, as placeholders and arguments:
// ciphertext, encrypted_dek, nonce, public, signature, key_id.
func (w *version) columns() ([]string, []any) {
	f := w.blobs
	if w.sealed == nil {
		ct, ctArg := f.blob(w.public)
		return []string{ct, "NULL", "X''", "1", f.in("?"), "NULL"}, []any{ctArg, f.arg(w.signature)}
	}
	ct, ctArg := f.blob(w.sealed.Ciphertext)
	return []string{ct, f.in("?"), f.in("?"), "0", f.in("?"), f.in("?")},
		[]any{ctArg, f.arg(w.sealed.Owner.WrappedKey), f.arg(w.sealed.Nonce), f.arg(w.sealed.Signature), f.arg(w.sealed.Owner.KeyID[:])}
}

// insertCols are the columns a new record's row is written with; public is the literal 0.
const insertCols = "id, did, collection, rkey, ciphertext, encrypted_dek, nonce, public, created_at, updated_at, version, signature, key_id, write_id"

// insertParams is the number of bound parameters per row of insertRows; each statement adds
// one more, the guard.
const insertParams = 13

func (w *version) insert() d1.Statement { return insertRows([]*version{w}) }

// insertRows writes several new rows in one INSERT statement (D1 allows 100 bound parameters,
// so up to 7 rows). The insert does nothing when the write log already holds the first row's
// write id: the statement is a late copy of a write that committed before (its answer was
// lost and it was sent again), and storing it again could bring back a record deleted since.
func insertRows(ws []*version) d1.Statement {
	var sql strings.Builder
	sql.WriteString("INSERT INTO records (" + insertCols + ") SELECT * FROM (VALUES ")
	args := make([]any, 0, insertParams*len(ws)+1)
	for i, w := range ws {
		if i > 0 {
			sql.WriteString(", ")
		}
		ph, vals := w.columns() // ciphertext, encrypted_dek, nonce, public, signature, key_id
		sql.WriteString("(?, ?, ?, ?, " + strings.Join(ph[:4], ", ") + ", ?, ?, ?, " + strings.Join(ph[4:], ", ") + ", ?)")
		args = append(args, w.ref.ID(), string(w.ref.DID), string(w.ref.Collection), string(w.ref.RKey))
		args = append(args, vals[:placeholders(ph[:4])]...)
		args = append(args, w.createdAt, nullString(w.updatedAt), int64(w.rc.Version))
		args = append(args, vals[placeholders(ph[:4]):]...)
		args = append(args, w.writeID)
	}
	sql.WriteString(") WHERE NOT EXISTS (SELECT 1 FROM record_writes WHERE write_id = ?)")
	args = append(args, ws[0].writeID)
	return d1.Statement{SQL: sql.String(), Args: args}
}

// recordOf returns the record a written version holds.
func recordOf[T any](w *version, value T) *Record[T] {
	r := &Record[T]{Ref: w.ref, Value: value, Version: w.rc.Version, Public: w.sealed == nil, SharedWith: dids(w.access)}
	r.CreatedAt, _ = time.Parse(time.RFC3339Nano, w.createdAt)
	if w.updatedAt != "" {
		r.UpdatedAt, _ = time.Parse(time.RFC3339Nano, w.updatedAt)
	}
	return r
}

// Delete removes one of the acting agent's records and all its shares in one atomic request.
// Deleting a record that does not exist is not an error, so that a retried delete is safe.
func (c *Collection[T]) Delete(ctx context.Context, rkey RecordKey) (err error) {
	defer func(start time.Time) { c.emit(ctx, "delete", rkey, start, err) }(time.Now())
	if _, err := syntax.ParseRecordKey(string(rkey)); err != nil {
		return &InputError{Field: "record key", Err: err}
	}
	if err := c.s.Init(ctx); err != nil {
		return err
	}
	id := c.ref(rkey).ID()
	now := c.s.timestamp()
	rs, err := c.s.db.Batch(ctx,
		d1.Statement{SQL: `INSERT INTO record_tombstones (id, version, deleted_at) SELECT id, version, ? FROM records WHERE id = ?
ON CONFLICT (id) DO UPDATE SET version = max(version, excluded.version), deleted_at = excluded.deleted_at`, Args: []any{now, id}, Idempotent: true},
		d1.Statement{SQL: "DELETE FROM shared_records WHERE record_id = ?", Args: []any{id}, Idempotent: true},
		d1.Statement{SQL: "DELETE FROM records WHERE id = ?", Args: []any{id}, Idempotent: true},
		d1.Statement{SQL: "SELECT version FROM record_tombstones WHERE id = ?", Args: []any{id}})
	if err != nil {
		return fmt.Errorf("records: delete %s: %w", id, err)
	}
	var last uint64
	if v, err := d1.CollectOne[int64](rs[3]); err == nil && v > 0 {
		last = uint64(v)
	}
	if err := c.s.versions.deleted(id, last); err != nil {
		c.s.warn("records: remember deletion", "record", id, "error", err)
	}
	return nil
}

// placeholders counts the ? in a list of placeholders.
func placeholders(ph []string) int {
	n := 0
	for _, p := range ph {
		n += strings.Count(p, "?")
	}
	return n
}

func validRef(ref Ref) error {
	if _, err := syntax.ParseDID(string(ref.DID)); err != nil {
		return &InputError{Field: "record ref", Err: err}
	}
	if _, err := syntax.ParseNSID(string(ref.Collection)); err != nil {
		return &InputError{Field: "record ref", Err: err}
	}
	if _, err := syntax.ParseRecordKey(string(ref.RKey)); err != nil {
		return &InputError{Field: "record ref", Err: err}
	}
	return nil
}
