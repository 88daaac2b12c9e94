package d1

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	cfd1 "github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/d1seal/d1seal/internal/wire"
)

// Database describes a D1 database of the account.
type Database struct {
	ID        string
	Name      string
	CreatedAt time.Time
	Version   string
	NumTables int64
	FileSize  int64 // bytes

	// ReadReplication is the read replication mode, "auto" or "disabled" ("" when the API
	// does not say). Set it with SetReadReplication.
	ReadReplication string
}

func databaseFromWire(w *wire.Database) Database {
	d := Database{ID: w.UUID, Name: w.Name, Version: w.Version, NumTables: w.NumTables, FileSize: w.FileSize}
	if w.ReadReplication != nil {
		d.ReadReplication = w.ReadReplication.Mode
	}
	d.CreatedAt, _ = time.Parse(time.RFC3339Nano, w.CreatedAt)
	return d
}

// decodeEnvelope reads a JSON envelope into out, or returns the *Error it reports.
func decodeEnvelope[T any](op string, b []byte, out *T) error {
	var env wire.Envelope[T]
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	if !env.Success {
		e := &Error{Op: op, Statement: -1, StatusCode: 200, Sent: true}
		e.setMessages(env.Errors)
		if e.Message == "" {
			e.Message = "D1 answered success: false without an error message"
		}
		return e
	}
	*out = env.Result
	return nil
}

// runner sends calls: an Account's conn, or a Client (with its session and database id check).
type runner interface {
	run(ctx context.Context, cl *call) error
}

// admin runs one management call whose answer is an envelope around a T.
func admin[T any](ctx context.Context, c runner, op string, safe bool, do func(context.Context, ...option.RequestOption) error) (T, error) {
	var out T
	cl := &call{op: op, safe: safe, do: do}
	cl.decode = func(b []byte) error { return decodeEnvelope(op, b, &out) }
	err := c.run(ctx, cl)
	return out, err
}

func checkID(op, id string) error {
	if id == "" || strings.ContainsAny(id, "/?#% ") {
		return &ArgError{Statement: -1, Index: -1, Type: "database id", Reason: op + ": invalid database id"}
	}
	return nil
}

// CreateDatabase creates a database named name in the account. It is not retried
// once the request may have reached Cloudflare.
func (a *Account) CreateDatabase(ctx context.Context, name string) (Database, error) {
	return a.CreateDatabaseWithOptions(ctx, name, CreateOptions{})
}

// CreateOptions are the optional settings of a new database; the zero value lets Cloudflare
// place it close to the caller, in no jurisdiction.
type CreateOptions struct {
	// LocationHint asks for the primary in a region: "wnam", "enam", "weur", "eeur", "apac"
	// or "oc". Cloudflare honours it when it can; D1 ignores it when Jurisdiction is set.
	LocationHint string

	// Jurisdiction restricts where the database runs and stores data: "eu", "fedramp" or
	// "us". It cannot be changed after creation.
	Jurisdiction string
}

// LocationHints and Jurisdictions are the values CreateOptions accepts.
var (
	LocationHints = []string{"wnam", "enam", "weur", "eeur", "apac", "oc"}
	Jurisdictions = []string{"eu", "fedramp", "us"}
)

// Validate reports a location hint or jurisdiction D1 does not know, as an *ArgError.
func (o CreateOptions) Validate() error {
	if o.LocationHint != "" && !slices.Contains(LocationHints, o.LocationHint) {
		return &ArgError{Statement: -1, Index: -1, Type: "location hint", Reason: fmt.Sprintf("create database: unknown location hint %q (want one of %s)", o.LocationHint, strings.Join(LocationHints, ", "))}
	}
	if o.Jurisdiction != "" && !slices.Contains(Jurisdictions, o.Jurisdiction) {
		return &ArgError{Statement: -1, Index: -1, Type: "jurisdiction", Reason: fmt.Sprintf("create database: unknown jurisdiction %q (want one of %s)", o.Jurisdiction, strings.Join(Jurisdictions, ", "))}
	}
	return nil
}

// CreateDatabaseWithOptions creates a database named name with a location hint and a
// jurisdiction. It is not retried once the request may have reached Cloudflare.
func (a *Account) CreateDatabaseWithOptions(ctx context.Context, name string, opts CreateOptions) (Database, error) {
	if name == "" {
		return Database{}, &ArgError{Statement: -1, Index: -1, Type: "name", Reason: "create database: empty name"}
	}
	if err := opts.Validate(); err != nil {
		return Database{}, err
	}
	w, err := admin[wire.Database](ctx, a, "create database", false, func(ctx context.Context, opts2 ...option.RequestOption) error {
		var p cfd1.DatabaseNewParams
		setField(&p.AccountID.Value, &p.AccountID.Present, a.accountID)
		setField(&p.Name.Value, &p.Name.Present, name)
		if opts.LocationHint != "" {
			setField(&p.PrimaryLocationHint.Value, &p.PrimaryLocationHint.Present, cfd1.DatabaseNewParamsPrimaryLocationHint(opts.LocationHint))
		}
		if opts.Jurisdiction != "" {
			setField(&p.Jurisdiction.Value, &p.Jurisdiction.Present, cfd1.DatabaseNewParamsJurisdiction(opts.Jurisdiction))
		}
		_, err := a.svc.New(ctx, p, opts2...)
		return err
	})
	if err != nil {
		return Database{}, err
	}
	return databaseFromWire(&w), nil
}

// GetDatabase returns the database with the given id.
func (a *Account) GetDatabase(ctx context.Context, id string) (Database, error) {
	if err := checkID("get database", id); err != nil {
		return Database{}, err
	}
	return getDatabase(ctx, a, a.conn, id)
}

// Info returns the client's database as D1 describes it (Account.GetDatabase).
func (c *Client) Info(ctx context.Context) (Database, error) {
	if c.idErr != nil {
		return Database{}, c.idErr
	}
	return getDatabase(ctx, c, c.conn, c.databaseID)
}

// getDatabase sends GET /d1/database/{id} through r, a's settings.
func getDatabase(ctx context.Context, r runner, a *conn, id string) (Database, error) {
	w, err := admin[wire.Database](ctx, r, "get database", true, func(ctx context.Context, opts ...option.RequestOption) error {
		var p cfd1.DatabaseGetParams
		setField(&p.AccountID.Value, &p.AccountID.Present, a.accountID)
		_, err := a.svc.Get(ctx, id, p, opts...)
		return err
	})
	if err != nil {
		return Database{}, err
	}
	return databaseFromWire(&w), nil
}

// ListDatabases returns the account's databases, every page of them; a non-empty name keeps
// only those whose name matches, as the API's ?name= filter does.
func (a *Account) ListDatabases(ctx context.Context, name string) ([]Database, error) {
	const perPage = 100
	var all []Database
	for page := 1; ; page++ {
		ws, err := admin[[]wire.Database](ctx, a, "list databases", true, func(ctx context.Context, opts ...option.RequestOption) error {
			var p cfd1.DatabaseListParams
			setField(&p.AccountID.Value, &p.AccountID.Present, a.accountID)
			if name != "" {
				setField(&p.Name.Value, &p.Name.Present, name)
			}
			setField(&p.Page.Value, &p.Page.Present, float64(page))
			setField(&p.PerPage.Value, &p.PerPage.Present, perPage)
			_, err := a.svc.List(ctx, p, opts...)
			return err
		})
		if err != nil {
			return nil, err
		}
		for i := range ws {
			all = append(all, databaseFromWire(&ws[i]))
		}
		if len(ws) < perPage {
			return all, nil
		}
	}
}

// DeleteDatabase deletes the database with the given id.
func (a *Account) DeleteDatabase(ctx context.Context, id string) error {
	if err := checkID("delete database", id); err != nil {
		return err
	}
	_, err := admin[json.RawMessage](ctx, a, "delete database", false, func(ctx context.Context, opts ...option.RequestOption) error {
		var p cfd1.DatabaseDeleteParams
		setField(&p.AccountID.Value, &p.AccountID.Present, a.accountID)
		_, err := a.svc.Delete(ctx, id, p, opts...)
		return err
	})
	return err
}
