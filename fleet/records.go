package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/records"
	"github.com/d1seal/d1seal/syntax"
)

// Records is the agent-records store of a fleet: each agent (a tenant, by DID) has its
// records in the database the directory routes it to, through one records.Store per
// database. It is safe for concurrent use.
//
// Where agents' key logs live: in every database where the agent acts. The agent registers
// in its home database (RegisterAgent); when a record is shared with it from another
// database, its key log is copied there first. Key log rows are signed and every reader
// verifies them from its own TrustStore, so a copy can be trusted exactly as much as the
// original. They are not kept in the directory database because the records package reads
// a record's keys in the same request as the record (one request per page of shared
// records, whatever the number of owners), and because a database then stands on its own: a
// backup, an export or a moved tenant carries the keys that verify it.
//
// All the Stores share StoreOptions.Trust (a NewMemoryTrust when nil), so an agent's keys
// are trusted, or pinned, once for the whole fleet. Give StoreOptions.State to keep rollback
// protection across a move (a Store's own memory is per database).
type Records struct {
	f    *Fleet
	opts records.StoreOptions

	mu     sync.Mutex
	stores map[string]*records.Store
}

// Records returns the fleet's agent-records store. It sends nothing.
func (f *Fleet) Records(opts records.StoreOptions) *Records {
	if opts.Trust == nil {
		opts.Trust = records.NewMemoryTrust()
	}
	return &Records{f: f, opts: opts, stores: map[string]*records.Store{}}
}

// Fleet returns the fleet.
func (r *Records) Fleet() *Fleet { return r.f }

// StoreIn returns the Store of database id.
func (r *Records) StoreIn(id string) (*records.Store, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.stores[id]; s != nil {
		return s, nil
	}
	c, err := r.f.Client(id)
	if err != nil {
		return nil, err
	}
	s := records.NewStore(c, r.opts)
	r.stores[id] = s
	return s, nil
}

// Do runs fn with the Store of did's database. When fn fails because did was moved (or is
// being moved) out of that database (IsFenced), or with records.ErrNotFound while the
// directory has since moved did, Do reads the route again and runs fn there, waiting while
// a move is between its fence and its switch. fn may run more than once: only the last
// run's error is returned, and a write refused by a fence wrote nothing.
func (r *Records) Do(ctx context.Context, did string, fn func(*records.Store) error) error {
	wait := 5 * time.Millisecond
	for {
		rt, err := r.f.Route(ctx, did)
		if err != nil {
			return err
		}
		s, err := r.StoreIn(rt.Database)
		if err != nil {
			return err
		}
		err = fn(s)
		if err == nil || !IsFenced(err) && !errors.Is(err, records.ErrNotFound) {
			return err
		}
		r.f.Forget(did)
		now, lerr := r.f.Lookup(ctx, did)
		if lerr != nil {
			return errors.Join(err, lerr)
		}
		if now.Database != rt.Database {
			continue
		}
		if !IsFenced(err) {
			return err // not found, and not moved
		}
		if moved, ferr := movedOut(ctx, s.DB(), did); ferr == nil && moved {
			// The move finished (its rows are gone from here), yet the directory still
			// routes did here: it served an entry older than the move's.
			return fmt.Errorf("%w: %s: the database says the tenant moved out, the directory still routes it there", ErrRollback, did)
		}
		// Fenced but not switched yet: the move is copying the last writes.
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// movedOut reports whether a finished move fenced did out of the database of c.
func movedOut(ctx context.Context, c *d1.Client, did string) (bool, error) {
	n, err := d1.QueryOne[int](ctx, c, "SELECT count(*) FROM d1seal_fleet_fences WHERE tenant = ? AND state = 'moved'", did)
	return n == 1, err
}

// RegisterAgent places agent's DID in the fleet (creating a database if the placement
// needs one; this needs the fleet's Operator) and registers the agent in that database.
func (r *Records) RegisterAgent(ctx context.Context, agent *crypto.Agent, metadata []byte) (*records.Agent, error) {
	did := agent.DID()
	if _, err := r.f.Place(ctx, did); err != nil {
		return nil, err
	}
	var out *records.Agent
	err := r.Do(ctx, did, func(s *records.Store) error {
		var err error
		out, err = s.RegisterAgent(ctx, agent, metadata)
		return err
	})
	return out, err
}

// copyKeyLog copies did's key log from its home database into database to (one read, one
// write; rows already there are kept).
func (r *Records) copyKeyLog(ctx context.Context, did, to string) error {
	rt, err := r.f.Route(ctx, did)
	if err != nil {
		return err
	}
	if rt.Database == to {
		return nil
	}
	home, err := r.f.Client(rt.Database)
	if err != nil {
		return err
	}
	res, err := home.Query(ctx, "SELECT did, seq, hex(entry) AS entry, created_at FROM agent_key_log WHERE did = ? ORDER BY seq", did)
	if err != nil {
		return fmt.Errorf("fleet: read key log of %s: %w", did, err)
	}
	if res.Len() == 0 {
		return fmt.Errorf("fleet: copy key log of %s: %w", did, records.ErrUnknownAgent)
	}
	var stmts []d1.Statement
	for _, row := range res.All() {
		stmts = append(stmts, d1.Statement{SQL: "INSERT INTO agent_key_log (did, seq, entry, created_at) VALUES (?, ?, unhex(?), ?) ON CONFLICT (did, seq) DO NOTHING", Args: row.Values(), Idempotent: true})
	}
	dst, err := r.f.Client(to)
	if err != nil {
		return err
	}
	s, err := r.StoreIn(to)
	if err != nil {
		return err
	}
	if err := s.Init(ctx); err != nil {
		return err
	}
	if _, err := dst.Batch(ctx, stmts...); err != nil {
		return fmt.Errorf("fleet: copy key log of %s: %w", did, err)
	}
	return nil
}

// SyncKeyLog copies did's key log from its home database to every database that shares
// records with it (from the share index): run it after the agent rotates its keys, so that
// it can keep reading what others share with it.
func (r *Records) SyncKeyLog(ctx context.Context, did string) error {
	ids, err := d1.QueryAll[string](ctx, r.f.dir, "SELECT DISTINCT database_id FROM fleet_shares WHERE recipient = ?", did)
	if err != nil {
		return fmt.Errorf("fleet: sync key log of %s: %w", did, err)
	}
	for _, id := range ids {
		if err := r.copyKeyLog(ctx, did, id); err != nil {
			return err
		}
	}
	return nil
}

// Collection is a typed collection of one agent's records that follows the agent across
// moves, shares across databases and lists what others shared with it from any database.
// It is safe for concurrent use.
type Collection[T any] struct {
	r     *Records
	agent *crypto.Agent
	nsid  records.NSID
	opts  records.CollectionOptions[T]

	mu   sync.Mutex
	cols map[*records.Store]*records.Collection[T]
}

// NewCollection returns agent's collection nsid in the fleet. It sends nothing.
func NewCollection[T any](r *Records, agent *crypto.Agent, nsid records.NSID, opts records.CollectionOptions[T]) (*Collection[T], error) {
	if _, err := syntax.ParseNSID(string(nsid)); err != nil {
		return nil, err
	}
	return &Collection[T]{r: r, agent: agent, nsid: nsid, opts: opts, cols: map[*records.Store]*records.Collection[T]{}}, nil
}

// in returns the records.Collection of this agent in store s.
func (c *Collection[T]) in(s *records.Store) (*records.Collection[T], error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc := c.cols[s]; rc != nil {
		return rc, nil
	}
	rc, err := records.NewCollection(s, c.agent, c.nsid, c.opts)
	if err != nil {
		return nil, err
	}
	c.cols[s] = rc
	return rc, nil
}

// Do runs fn with the agent's collection in its current database, as Records.Do.
func (c *Collection[T]) Do(ctx context.Context, fn func(*records.Collection[T]) error) error {
	return c.r.Do(ctx, c.agent.DID(), func(s *records.Store) error {
		rc, err := c.in(s)
		if err != nil {
			return err
		}
		return fn(rc)
	})
}

// Create seals and stores a new record in the agent's database.
func (c *Collection[T]) Create(ctx context.Context, value T) (*records.Record[T], error) {
	var out *records.Record[T]
	err := c.Do(ctx, func(rc *records.Collection[T]) error {
		var err error
		out, err = rc.Create(ctx, value)
		return err
	})
	return out, err
}

// Get reads one of the agent's own records.
func (c *Collection[T]) Get(ctx context.Context, rkey records.RecordKey) (*records.Record[T], error) {
	var out *records.Record[T]
	err := c.Do(ctx, func(rc *records.Collection[T]) error {
		var err error
		out, err = rc.Get(ctx, rkey)
		return err
	})
	return out, err
}

// List returns one page of the agent's own records.
func (c *Collection[T]) List(ctx context.Context, opts records.ListOptions) (records.Page[*records.Record[T]], error) {
	var out records.Page[*records.Record[T]]
	err := c.Do(ctx, func(rc *records.Collection[T]) error {
		var err error
		out, err = rc.List(ctx, opts)
		return err
	})
	return out, err
}

// Share lets the agent with read one of this agent's records, wherever with's own records
// live: with's key log is copied into this agent's database, the record is shared there
// (records.Collection.Share), and the share is added to the directory's share index.
func (c *Collection[T]) Share(ctx context.Context, rkey records.RecordKey, with records.DID) error {
	return c.r.Do(ctx, c.agent.DID(), func(s *records.Store) error {
		rc, err := c.in(s)
		if err != nil {
			return err
		}
		db := s.DB().DatabaseID()
		if err := c.r.copyKeyLog(ctx, string(with), db); err != nil {
			return err
		}
		if err := rc.Share(ctx, rkey, with); err != nil {
			return err
		}
		ref := records.Ref{DID: records.DID(c.agent.DID()), Collection: c.nsid, RKey: rkey}
		_, err = c.r.f.dir.Run(ctx, d1.Statement{
			SQL:  "INSERT INTO fleet_shares (recipient, collection, database_id, record_id, owner, shared_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
			Args: []any{string(with), string(c.nsid), db, ref.ID(), c.agent.DID(), c.r.f.timestamp()}, Idempotent: true,
		})
		if err != nil {
			return fmt.Errorf("fleet: share index: %w", err)
		}
		return nil
	})
}

// Unshare revokes with's access to one of this agent's records (records.Collection.Unshare)
// and removes the share from the index.
func (c *Collection[T]) Unshare(ctx context.Context, rkey records.RecordKey, with records.DID) error {
	return c.Do(ctx, func(rc *records.Collection[T]) error {
		if err := rc.Unshare(ctx, rkey, with); err != nil {
			return err
		}
		ref := records.Ref{DID: records.DID(c.agent.DID()), Collection: c.nsid, RKey: rkey}
		_, err := c.r.f.dir.Run(ctx, d1.Statement{SQL: "DELETE FROM fleet_shares WHERE recipient = ? AND record_id = ?", Args: []any{string(with), ref.ID()}, Idempotent: true})
		return err
	})
}

// Open reads a record of another agent shared with this one (or public), from the owner's
// database.
func (c *Collection[T]) Open(ctx context.Context, ref records.Ref) (*records.Record[T], error) {
	var out *records.Record[T]
	err := c.r.Do(ctx, string(ref.DID), func(s *records.Store) error {
		rc, err := c.in(s)
		if err != nil {
			return err
		}
		return c.reading(ctx, s, func() error {
			var err error
			out, err = rc.Open(ctx, ref)
			return err
		})
	})
	return out, err
}

// reading runs read, copying this agent's key log into s's database and trying once more
// when it fails because the agent's keys are not there (nothing shared there yet) or not
// current (rotated since they were copied).
func (c *Collection[T]) reading(ctx context.Context, s *records.Store, read func() error) error {
	err := read()
	if err != nil && (errors.Is(err, records.ErrUnknownAgent) || errors.Is(err, records.ErrUntrusted) || errors.Is(err, records.ErrKeyRetired)) {
		if cerr := c.r.copyKeyLog(ctx, c.agent.DID(), s.DB().DatabaseID()); cerr != nil {
			return errors.Join(err, cerr)
		}
		err = read()
	}
	return err
}

// SharedWithMe returns one page of the records of this collection that agents in any
// database of the fleet shared with this agent. A page comes from one database: the share
// index in the directory says which databases hold shares for the agent, so a page costs at
// most one read of the index and one read of one database (plus, the first time in a
// database, the check of the agent's own keys), however many databases the fleet has. Pages
// may be short, even empty, with HasMore set: keep following Cursor.
func (c *Collection[T]) SharedWithMe(ctx context.Context, opts records.ListOptions) (records.Page[*records.Record[T]], error) {
	var page records.Page[*records.Record[T]]
	db, inner, _ := strings.Cut(opts.Cursor, " ")
	ids, err := d1.QueryAll[string](ctx, c.r.f.dir, "SELECT DISTINCT database_id FROM fleet_shares WHERE recipient = ? AND collection = ? AND database_id >= ? ORDER BY database_id LIMIT 2",
		c.agent.DID(), string(c.nsid), db)
	if err != nil {
		return page, fmt.Errorf("fleet: shared with %s: %w", c.agent.DID(), err)
	}
	if len(ids) == 0 {
		return page, nil
	}
	if ids[0] != db {
		inner = "" // the cursor's database holds no more shares: start the next one
	}
	s, err := c.r.StoreIn(ids[0])
	if err != nil {
		return page, err
	}
	rc, err := c.in(s)
	if err != nil {
		return page, err
	}
	err = c.reading(ctx, s, func() error {
		var err error
		page, err = rc.SharedWithMe(ctx, records.ListOptions{Limit: opts.Limit, Cursor: inner})
		return err
	})
	if err != nil {
		return page, err
	}
	switch {
	case page.HasMore:
		page.Cursor = ids[0] + " " + page.Cursor
	case len(ids) == 2:
		page.HasMore, page.Cursor = true, ids[1]+" "
	default:
		page.Cursor = ""
	}
	return page, nil
}

// Agent returns the acting agent's DID.
func (c *Collection[T]) Agent() string { return c.agent.DID() }

// RotateKeys replaces an agent's keys across the fleet: records.Store.RotateKeys in its home
// database (which appends the signed rotation to its key log and re-wraps its own records),
// then, with the new key log copied there, in every database that holds records shared with
// it (from the share index), so that those grants are re-wrapped for the new keys too. Run it
// again with the same old and next to finish an interrupted rotation.
func (r *Records) RotateKeys(ctx context.Context, old, next *crypto.Agent, opts records.RotateOptions) (records.Rotated, error) {
	var total records.Rotated
	add := func(n records.Rotated) {
		total.Records += n.Records
		total.Shared += n.Shared
		total.Resealed += n.Resealed
	}
	did := old.DID()
	var home string
	err := r.Do(ctx, did, func(s *records.Store) error {
		n, err := s.RotateKeys(ctx, old, next, opts)
		add(n)
		home = s.DB().DatabaseID()
		return err
	})
	if err != nil {
		return total, err
	}
	ids, err := d1.QueryAll[string](ctx, r.f.dir, "SELECT DISTINCT database_id FROM fleet_shares WHERE recipient = ?", did)
	if err != nil {
		return total, fmt.Errorf("fleet: rotate %s: %w", did, err)
	}
	for _, id := range ids {
		if id == home {
			continue
		}
		if err := r.copyKeyLog(ctx, did, id); err != nil {
			return total, fmt.Errorf("fleet: rotate %s: %w", did, err)
		}
		s, err := r.StoreIn(id)
		if err != nil {
			return total, err
		}
		n, err := s.RotateKeys(ctx, old, next, opts)
		add(n)
		if err != nil {
			return total, fmt.Errorf("fleet: rotate %s in database %s: %w", did, id, err)
		}
	}
	return total, nil
}
