package fleet

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/records"
)

//go:embed directory/*.sql
var directoryFS embed.FS

// DirectorySchema returns the migrations of a fleet's directory database.
func DirectorySchema() *migrations.Set {
	set, err := migrations.Load(directoryFS, "directory")
	if err != nil {
		panic("fleet: embedded directory schema: " + err.Error())
	}
	return set
}

// Errors callers branch on.
var (
	// ErrUnknownTenant is returned by Route for a tenant the directory has no entry for.
	ErrUnknownTenant = errors.New("fleet: tenant not in the directory")

	// ErrUntrusted is returned when a directory entry is not signed by the operator key the
	// client pinned, or names another tenant, fleet or database than its signature: the
	// directory was altered, and the tenant is not routed anywhere.
	ErrUntrusted = errors.New("fleet: directory entry not signed by the fleet's operator")

	// ErrRollback is returned when the directory serves a tenant's entry older (a lower epoch)
	// than one this client already saw: an old route replayed, after a move.
	ErrRollback = errors.New("fleet: directory entry older than one already seen")

	// ErrReadOnly is returned by calls that sign directory entries (placing a tenant, moving
	// one) on a Fleet opened without Options.Operator.
	ErrReadOnly = errors.New("fleet: no operator key to sign directory entries")
)

// Options holds a Fleet's settings; only OperatorKey (or Operator) is required.
type Options struct {
	// Name is the fleet's name, bound into every signed directory entry so that entries of
	// one fleet are refused by another. Default "default".
	Name string

	// OperatorKey is the operator's verifying key, from the service's configuration (never
	// from the directory): only entries it signed route a tenant. Default: Operator's key.
	OperatorKey *crypto.VerifyingKey

	// Operator signs new directory entries (placing and moving tenants). Clients that only
	// route leave it nil.
	Operator *crypto.Agent

	// Placement decides which database a new tenant goes to. Default OnePerTenant.
	Placement Placement

	// NamePattern names new databases: a fmt pattern with one integer verb, filled with the
	// database's sequence number (1, 2, ...). Default Name + "-%05d".
	NamePattern string

	// LocationHint and Jurisdiction are given to every database the fleet creates
	// (d1.CreateOptions).
	LocationHint string
	Jurisdiction string

	// Schema is the migration set applied to each new database before a tenant is routed to
	// it. Default records.Schema().
	Schema *migrations.Set

	// NoSchema leaves new databases empty (Schema is ignored).
	NoSchema bool

	// Now is the clock for the directory's timestamps. Default time.Now.
	Now func() time.Time

	// Logger receives a line per database created, migrated or moved step. Default: none.
	Logger *slog.Logger
}

// Fleet is a set of D1 databases of one account with a directory, in a small D1 database of
// its own, that routes each tenant to one of them. A Fleet caches verified routes and is safe
// for concurrent use. Every client it hands out shares the directory client's rate-limit
// budget, as Cloudflare counts requests per token.
type Fleet struct {
	dir    *d1.Client
	opts   Options
	name   string
	opKey  *crypto.VerifyingKey
	schema *migrations.Set
	now    func() time.Time
	log    *slog.Logger
	init   *migrations.Initializer

	mu      sync.Mutex
	routes  map[string]Route  // verified, current as far as this client knows
	epochs  map[string]uint64 // the highest epoch seen per tenant; never lowered
	clients map[string]*d1.Client

	placeMu sync.Mutex // one placement at a time in this process
}

// New returns a fleet whose directory is the database of dir. It sends nothing until used;
// the directory's schema is applied on first use.
func New(dir *d1.Client, opts Options) (*Fleet, error) {
	if dir == nil {
		return nil, errors.New("fleet: nil directory client")
	}
	f := &Fleet{dir: dir, opts: opts, name: opts.Name, opKey: opts.OperatorKey, schema: opts.Schema, now: opts.Now, log: opts.Logger,
		routes: map[string]Route{}, epochs: map[string]uint64{}, clients: map[string]*d1.Client{}}
	if f.name == "" {
		f.name = "default"
	}
	if f.opKey == nil && opts.Operator != nil {
		f.opKey = opts.Operator.VerifyingKey()
	}
	if f.opKey == nil {
		return nil, errors.New("fleet: Options.OperatorKey is required: the operator's verifying key, from configuration")
	}
	if opts.Operator != nil && !opts.Operator.VerifyingKey().Equal(f.opKey) {
		return nil, errors.New("fleet: Options.Operator does not hold Options.OperatorKey")
	}
	if f.opts.NamePattern == "" {
		f.opts.NamePattern = f.name + "-%05d"
	}
	if strings.Count(f.opts.NamePattern, "%") != 1 || fmt.Sprintf(f.opts.NamePattern, 1) == fmt.Sprintf(f.opts.NamePattern, 2) {
		return nil, fmt.Errorf("fleet: name pattern %q needs exactly one integer verb, such as %%05d", f.opts.NamePattern)
	}
	if err := (d1.CreateOptions{LocationHint: opts.LocationHint, Jurisdiction: opts.Jurisdiction}).Validate(); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	switch {
	case opts.NoSchema:
		f.schema = nil
	case f.schema == nil:
		f.schema = records.Schema()
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.opts.Placement == (Placement{}) {
		f.opts.Placement = OnePerTenant
	}
	f.init = migrations.NewInitializer(dir, DirectorySchema(), migrations.InitOptions{})
	return f, nil
}

// Name returns the fleet's name.
func (f *Fleet) Name() string { return f.name }

// Directory returns the directory database's client.
func (f *Fleet) Directory() *d1.Client { return f.dir }

// Schema returns the migration set applied to new databases (nil with NoSchema).
func (f *Fleet) Schema() *migrations.Set { return f.schema }

// Init applies the directory's schema now if it is not current (one read when it is).
// Every call does it first.
func (f *Fleet) Init(ctx context.Context) error {
	if err := f.init.Init(ctx); err != nil {
		return fmt.Errorf("fleet: directory schema: %w", err)
	}
	return nil
}

// Client returns a client for the database with the given id, sharing the directory
// client's settings and rate-limit budget.
func (f *Fleet) Client(id string) (*d1.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.clients[id]; c != nil {
		return c, nil
	}
	c := f.dir.Account().Database(id)
	f.clients[id] = c
	return c, nil
}

func (f *Fleet) timestamp() string { return f.now().UTC().Format(time.RFC3339Nano) }
