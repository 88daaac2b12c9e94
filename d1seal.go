// Package d1seal opens the D1 database an application works with: Cloudflare D1 when
// credentials are in the environment (through the d1seal bridge Worker or the REST API),
// otherwise the local D1 embedded in the process.
//
// The same code then runs unchanged against either:
//
//	db, err := d1seal.Open(ctx, d1seal.Options{LocalDir: ".d1seal"})
//	if err != nil { ... }
//	defer db.Close()
//	res, err := db.Client.Query(ctx, "SELECT 1")
//
// The packages that do the work are d1 (the REST and bridge client), d1/d1local (the local
// D1), syntax (AT Protocol identifiers), tid (timestamp ids) and records (sealed records).
//
// # What importing it costs
//
// Because Open falls back to the local D1, this package links d1/d1local and with it SQLite
// (modernc.org/sqlite, pure Go). A program that imports d1seal is about 11.7 MB (7.9 MB
// stripped with -ldflags=-s); one that imports only d1 is about 5.6 MB (3.8 MB stripped)
// (go1.26, linux/amd64, a program that prints an Options value). Programs that only ever talk
// to Cloudflare D1 should import d1 alone and build their client with it; import d1seal, or
// d1/d1local directly, where the local D1 is wanted.
package d1seal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
)

// Options says where Open looks. The zero value uses the environment, or else an in-memory
// local D1.
type Options struct {
	// LocalDir is the folder of the embedded local D1's SQLite files when no credentials are
	// set; "" keeps the local database in memory (gone when the process exits).
	LocalDir string

	// LocalName is the local database's name. Default "d1seal".
	LocalName string

	// Client holds the d1 client's settings (logger, retries, limits, hooks). For the local
	// D1, BaseURL and HTTPClient are set by Open and the rate-limit budget is off.
	Client d1.Options

	// Bridge holds the bridge client's settings (binding, Cloudflare Access headers) when
	// D1SEAL_BRIDGE_URL and D1SEAL_BRIDGE_SECRET are set.
	Bridge d1.BridgeOptions
}

// DB is an open D1 database.
type DB struct {
	Client *d1.Client

	// Local is the embedded local D1, or nil when Client talks to Cloudflare.
	Local *d1local.Server

	// Where says in words where the data lives (a file path or a Cloudflare database id).
	Where string
}

// Open returns, in this order of preference:
//
//   - Cloudflare D1 through the d1seal bridge Worker when D1SEAL_BRIDGE_URL and
//     D1SEAL_BRIDGE_SECRET are set (see d1.NewBridgeClient; CLOUDFLARE_ACCOUNT_ID,
//     CLOUDFLARE_API_TOKEN and D1_DATABASE_ID, when also set, serve what the bridge cannot do:
//     export, import, Time Travel);
//   - Cloudflare D1 through the REST API when CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and
//     D1_DATABASE_ID are set (CLOUDFLARE_API_BASE_URL overrides the endpoint);
//   - otherwise a local D1 reached in-process, with no socket, through the same client code.
//
// Setting only some of the variables of a group is an error rather than a silent fallback.
func Open(ctx context.Context, opts Options) (*DB, error) {
	bc, err := d1.NewBridgeClientFromEnv(opts.Bridge, opts.Client)
	if err == nil {
		return &DB{Client: bc, Where: "Cloudflare D1 through the d1seal bridge (binding " + bc.DatabaseID() + ")"}, nil
	}
	if !errors.Is(err, d1.ErrNoCredentials) {
		return nil, err
	}
	c, err := d1.NewClientFromEnv(opts.Client)
	if err == nil {
		return &DB{Client: c, Where: "Cloudflare D1 database " + c.DatabaseID()}, nil
	}
	if !errors.Is(err, d1.ErrNoCredentials) {
		return nil, err
	}
	return OpenLocal(ctx, opts)
}

// OpenLocal returns the embedded local D1 whatever the environment says.
func OpenLocal(ctx context.Context, opts Options) (*DB, error) {
	name := opts.LocalName
	if name == "" {
		name = "d1seal"
	}
	srv, err := d1local.New(d1local.Options{Dir: opts.LocalDir})
	if err != nil {
		return nil, fmt.Errorf("d1seal: open local D1: %w", err)
	}
	co := opts.Client
	co.BaseURL = "http://d1local.invalid/client/v4"
	co.HTTPClient = &http.Client{Transport: srv.Transport()}
	co.RateLimit = d1.RateLimit{Disabled: true}
	admin, err := d1.NewAccount("local", "local", co)
	if err != nil {
		srv.Close()
		return nil, err
	}
	dbs, err := admin.ListDatabases(ctx, name)
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("d1seal: open local D1: %w", err)
	}
	var id string
	for _, d := range dbs {
		if d.Name == name {
			id = d.ID
			break
		}
	}
	if id == "" {
		if id, err = srv.CreateDatabase(ctx, name); err != nil {
			srv.Close()
			return nil, fmt.Errorf("d1seal: open local D1: %w", err)
		}
	}
	c := admin.Database(id)
	where := "in-memory local D1"
	if opts.LocalDir != "" {
		abs, _ := filepath.Abs(opts.LocalDir)
		where = "local D1 in " + filepath.Join(abs, id+".sqlite")
	}
	return &DB{Client: c, Local: srv, Where: where}, nil
}

// Close releases the embedded local D1, if any.
func (db *DB) Close() error {
	if db.Local != nil {
		return db.Local.Close()
	}
	return nil
}
