package fleet

import (
	"context"
	"errors"
	"fmt"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/migrations"
)

// Database is one database of the fleet, as the directory lists it.
type Database struct {
	ID           string `json:"id" d1:"id"`
	Name         string `json:"name" d1:"name"`
	Seq          int64  `json:"seq" d1:"seq"`
	LocationHint string `json:"location_hint,omitempty" d1:"location_hint"`
	Jurisdiction string `json:"jurisdiction,omitempty" d1:"jurisdiction"`
	Tenants      int64  `json:"tenants" d1:"tenants"`
	Bytes        int64  `json:"bytes" d1:"bytes"`
	State        string `json:"state" d1:"state"`
	CreatedAt    string `json:"created_at" d1:"created_at"`
}

const databaseCols = "id, name, seq, coalesce(location_hint, '') AS location_hint, coalesce(jurisdiction, '') AS jurisdiction, tenants, bytes, state, created_at"

// Databases lists the fleet's databases in order of creation.
func (f *Fleet) Databases(ctx context.Context) ([]Database, error) {
	if err := f.Init(ctx); err != nil {
		return nil, err
	}
	dbs, err := d1.QueryAll[Database](ctx, f.dir, "SELECT "+databaseCols+" FROM fleet_databases ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("fleet: list databases: %w", err)
	}
	return dbs, nil
}

// Route is a verified directory entry: the tenant's records are in Database.
type Route struct {
	Tenant   string `json:"tenant"`
	Database string `json:"database"`
	Epoch    uint64 `json:"epoch"`
}

type routeRow struct {
	Tenant     string `d1:"tenant"`
	DatabaseID string `d1:"database_id"`
	Epoch      int64  `d1:"epoch"`
	Signature  d1.Hex `d1:"signature"`
}

const routeSelect = "SELECT tenant, database_id, epoch, hex(signature) AS signature FROM fleet_tenants"

// verify checks a directory row against the operator key and what this client has seen, and
// caches it.
func (f *Fleet) verify(tenant string, r routeRow) (Route, error) {
	if r.Tenant != tenant || r.Epoch < 1 {
		return Route{}, fmt.Errorf("%w: %s: the directory answered for %q at epoch %d", ErrUntrusted, tenant, r.Tenant, r.Epoch)
	}
	e := crypto.DirectoryEntry{Fleet: f.name, Tenant: tenant, Database: r.DatabaseID, Epoch: uint64(r.Epoch)}
	if err := f.opKey.VerifyDirectoryEntry(e, r.Signature); err != nil {
		return Route{}, fmt.Errorf("%w: %s -> %s (epoch %d): %w", ErrUntrusted, tenant, r.DatabaseID, r.Epoch, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if seen := f.epochs[tenant]; e.Epoch < seen {
		return Route{}, fmt.Errorf("%w: %s: epoch %d served, %d seen", ErrRollback, tenant, e.Epoch, seen)
	}
	rt := Route{Tenant: tenant, Database: r.DatabaseID, Epoch: e.Epoch}
	f.epochs[tenant] = e.Epoch
	f.routes[tenant] = rt
	return rt, nil
}

// Route returns the database of tenant: from this client's cache, or else read from the
// directory and verified against the operator key (one request). It returns an error
// matching ErrUnknownTenant, ErrUntrusted or ErrRollback when no trustworthy route exists.
func (f *Fleet) Route(ctx context.Context, tenant string) (Route, error) {
	f.mu.Lock()
	rt, ok := f.routes[tenant]
	f.mu.Unlock()
	if ok {
		return rt, nil
	}
	return f.Lookup(ctx, tenant)
}

// Lookup reads tenant's route from the directory, ignoring the cache.
func (f *Fleet) Lookup(ctx context.Context, tenant string) (Route, error) {
	if err := f.Init(ctx); err != nil {
		return Route{}, err
	}
	rows, err := d1.QueryAll[routeRow](ctx, f.dir, routeSelect+" WHERE tenant = ?", tenant)
	if err != nil {
		return Route{}, fmt.Errorf("fleet: route %s: %w", tenant, err)
	}
	if len(rows) == 0 {
		return Route{}, fmt.Errorf("%w: %s", ErrUnknownTenant, tenant)
	}
	return f.verify(tenant, rows[0])
}

// Forget drops tenant's cached route (not the highest epoch seen), so that the next Route
// reads the directory again.
func (f *Fleet) Forget(tenant string) {
	f.mu.Lock()
	delete(f.routes, tenant)
	f.mu.Unlock()
}

// Tenants lists the verified routes of every tenant in database id ("" for all), in tenant
// order. An entry that does not verify fails the whole call.
func (f *Fleet) Tenants(ctx context.Context, id string) ([]Route, error) {
	if err := f.Init(ctx); err != nil {
		return nil, err
	}
	sql, args := routeSelect, []any{}
	if id != "" {
		sql, args = sql+" WHERE database_id = ?", append(args, id)
	}
	rows, err := d1.QueryAll[routeRow](ctx, f.dir, sql+" ORDER BY tenant", args...)
	if err != nil {
		return nil, fmt.Errorf("fleet: tenants: %w", err)
	}
	out := make([]Route, 0, len(rows))
	for _, r := range rows {
		rt, err := f.verify(r.Tenant, r)
		if err != nil {
			return nil, err
		}
		out = append(out, rt)
	}
	return out, nil
}

func (f *Fleet) sign(e crypto.DirectoryEntry) ([]byte, error) {
	if f.opts.Operator == nil {
		return nil, ErrReadOnly
	}
	return f.opts.Operator.SignDirectoryEntry(e)
}

// Placement decides where new tenants go: into the first database (in order of creation)
// holding fewer than MaxTenants tenants and fewer than MaxBytes bytes when last measured
// (Fleet.MeasureSizes), or else into a new database.
type Placement struct {
	// MaxTenants is the most tenants a database takes; 1 gives each tenant its own database.
	// 0 means no limit on the count.
	MaxTenants int64
	// MaxBytes closes a database to new tenants once it measures this large. 0 means
	// DefaultMaxBytes.
	MaxBytes int64
}

// DefaultMaxBytes leaves room under D1's 10 GB per database (which cannot be raised) for the
// tenants already placed to grow.
const DefaultMaxBytes = 8 << 30

// OnePerTenant gives each tenant a database of its own.
var OnePerTenant = Placement{MaxTenants: 1}

// Packed places tenants together until a database measures maxBytes.
func Packed(maxBytes int64) Placement { return Placement{MaxBytes: maxBytes} }

func (p Placement) maxBytes() int64 {
	if p.MaxBytes > 0 {
		return p.MaxBytes
	}
	return DefaultMaxBytes
}

// Place returns tenant's route, placing the tenant first when the directory has none: into a
// database chosen by the Placement, created (with the name pattern, location hint and
// jurisdiction, and the Schema applied) when none has room. It needs Options.Operator to sign
// the new entry. Placing a tenant that is already placed changes nothing.
func (f *Fleet) Place(ctx context.Context, tenant string) (Route, error) {
	rt, err := f.Route(ctx, tenant)
	if !errors.Is(err, ErrUnknownTenant) {
		return rt, err
	}
	if f.opts.Operator == nil {
		return Route{}, ErrReadOnly
	}
	f.placeMu.Lock()
	defer f.placeMu.Unlock()
	db, err := f.choose(ctx, "")
	if err != nil {
		return Route{}, fmt.Errorf("fleet: place %s: %w", tenant, err)
	}
	sig, err := f.sign(crypto.DirectoryEntry{Fleet: f.name, Tenant: tenant, Database: db.ID, Epoch: 1})
	if err != nil {
		return Route{}, fmt.Errorf("fleet: place %s: %w", tenant, err)
	}
	rs, err := f.dir.Batch(ctx,
		d1.Statement{SQL: "INSERT INTO fleet_tenants (tenant, database_id, epoch, signature, updated_at) VALUES (?, ?, 1, ?, ?) ON CONFLICT (tenant) DO NOTHING",
			Args: []any{tenant, db.ID, sig, f.timestamp()}, Idempotent: true},
		d1.Statement{SQL: "UPDATE fleet_databases SET tenants = (SELECT count(*) FROM fleet_tenants WHERE database_id = ?) WHERE id = ?", Args: []any{db.ID, db.ID}, Idempotent: true},
		d1.Statement{SQL: routeSelect + " WHERE tenant = ?", Args: []any{tenant}})
	if err != nil {
		return Route{}, fmt.Errorf("fleet: place %s: %w", tenant, err)
	}
	rows, err := d1.Collect[routeRow](rs[2])
	if err != nil || len(rows) != 1 {
		return Route{}, fmt.Errorf("fleet: place %s: the directory did not keep the entry (%v)", tenant, err)
	}
	return f.verify(tenant, rows[0])
}

// choose returns a database with room for one more tenant, other than except, creating one
// when none has room.
func (f *Fleet) choose(ctx context.Context, except string) (Database, error) {
	if err := f.Init(ctx); err != nil {
		return Database{}, err
	}
	p := f.opts.Placement
	dbs, err := d1.QueryAll[Database](ctx, f.dir, "SELECT "+databaseCols+" FROM fleet_databases WHERE state = 'active' AND id != ? AND (? = 0 OR tenants < ?) AND bytes < ? ORDER BY seq LIMIT 1",
		except, p.MaxTenants, p.MaxTenants, p.maxBytes())
	if err != nil {
		return Database{}, err
	}
	if len(dbs) == 1 {
		return dbs[0], nil
	}
	return f.CreateDatabase(ctx)
}

// CreateDatabase adds a database to the fleet: named by the pattern with the next sequence
// number, created with the fleet's location hint and jurisdiction, its Schema applied, then
// listed in the directory. A call interrupted half-way is finished by the next one, which
// adopts the database it finds under the same name.
func (f *Fleet) CreateDatabase(ctx context.Context) (Database, error) {
	if err := f.Init(ctx); err != nil {
		return Database{}, err
	}
	next, err := d1.QueryOne[int64](ctx, f.dir, "SELECT coalesce(max(seq), 0) + 1 FROM fleet_databases")
	if err != nil {
		return Database{}, fmt.Errorf("fleet: create database: %w", err)
	}
	name := fmt.Sprintf(f.opts.NamePattern, next)
	created, err := f.dir.Account().CreateDatabaseWithOptions(ctx, name, d1.CreateOptions{LocationHint: f.opts.LocationHint, Jurisdiction: f.opts.Jurisdiction})
	if err != nil {
		// Created by an earlier attempt whose answer was lost, or by another process: adopt it.
		found, lerr := f.dir.Account().ListDatabases(ctx, name)
		if lerr != nil {
			return Database{}, fmt.Errorf("fleet: create database %s: %w", name, err)
		}
		ok := false
		for _, d := range found {
			if d.Name == name {
				created, ok = d, true
			}
		}
		if !ok {
			return Database{}, fmt.Errorf("fleet: create database %s: %w", name, err)
		}
	}
	if f.schema != nil {
		c, err := f.Client(created.ID)
		if err != nil {
			return Database{}, err
		}
		if _, err := migrations.Apply(ctx, c, f.schema, migrations.ApplyOptions{}); err != nil {
			return Database{}, fmt.Errorf("fleet: create database %s: schema: %w", name, err)
		}
	}
	db := Database{ID: created.ID, Name: name, Seq: next, LocationHint: f.opts.LocationHint, Jurisdiction: f.opts.Jurisdiction, State: "active", CreatedAt: f.timestamp()}
	if _, err := f.dir.Run(ctx, d1.Statement{
		SQL:  "INSERT INTO fleet_databases (id, name, seq, location_hint, jurisdiction, created_at) VALUES (?, ?, ?, nullif(?, ''), nullif(?, ''), ?) ON CONFLICT (id) DO NOTHING",
		Args: []any{db.ID, db.Name, db.Seq, db.LocationHint, db.Jurisdiction, db.CreatedAt}, Idempotent: true,
	}); err != nil {
		return Database{}, fmt.Errorf("fleet: create database %s: record in directory: %w", name, err)
	}
	f.log.Info("fleet: created database", "name", name, "id", db.ID)
	return db, nil
}

// MeasureSizes refreshes the size of every database in the directory from the account's
// database list (one request per hundred databases, plus one write), for Placement.MaxBytes.
func (f *Fleet) MeasureSizes(ctx context.Context) error {
	dbs, err := f.Databases(ctx)
	if err != nil {
		return err
	}
	all, err := f.dir.Account().ListDatabases(ctx, "")
	if err != nil {
		return fmt.Errorf("fleet: measure sizes: %w", err)
	}
	size := map[string]int64{}
	for _, d := range all {
		size[d.ID] = d.FileSize
	}
	var stmts []d1.Statement
	for _, d := range dbs {
		if s, ok := size[d.ID]; ok && s != d.Bytes {
			stmts = append(stmts, d1.Statement{SQL: "UPDATE fleet_databases SET bytes = ? WHERE id = ?", Args: []any{s, d.ID}, Idempotent: true})
		}
	}
	chunks, err := f.dir.PrepareChunks(stmts)
	if err != nil {
		return err
	}
	for _, p := range chunks {
		if _, err := f.dir.Send(ctx, p); err != nil {
			return fmt.Errorf("fleet: measure sizes: %w", err)
		}
	}
	return nil
}

// CloseDatabase stops database id from taking new tenants (its tenants stay until moved).
func (f *Fleet) CloseDatabase(ctx context.Context, id string) error {
	_, err := f.dir.Run(ctx, d1.Statement{SQL: "UPDATE fleet_databases SET state = 'closed' WHERE id = ?", Args: []any{id}, Idempotent: true})
	return err
}
