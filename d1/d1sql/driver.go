package d1sql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/d1"
)

// DriverName is the name the driver is registered under with database/sql.
const DriverName = "d1seal"

func init() { sql.Register(DriverName, Driver{}) }

// Errors the driver returns for what D1 cannot do.
var (
	// ErrReadAfterWrite is returned by a query inside a transaction that has buffered
	// writes (which it could not see), and by a statement that both writes and returns rows
	// inside a transaction.
	ErrReadAfterWrite = errors.New("d1sql: a read after a write in the same transaction cannot see the write: D1 has no interactive transactions, so writes wait for Commit; read before writing, or commit first")

	// ErrNotCommitted is returned by the Result of a write inside a transaction until the
	// transaction commits, and forever if it rolls back or fails.
	ErrNotCommitted = errors.New("d1sql: the write has not been committed")

	// ErrNamedArgs is returned for sql.Named arguments: D1 binds parameters by position.
	ErrNamedArgs = errors.New("d1sql: named arguments are not supported; D1 binds ?, ?NNN, :x, @x and $x by position")
)

// Options tune the driver. The zero value is the default.
type Options struct {
	// ParseTime returns TEXT values that are RFC 3339 times or SQLite date-times
	// ("YYYY-MM-DD HH:MM:SS[.fff]", what CURRENT_TIMESTAMP writes) as time.Time, so that
	// time.Time destinations work. Data source parameter parse_time=1.
	ParseTime bool
}

// Driver is the database/sql driver. Its zero value is ready to use; sql.Open("d1seal", dsn)
// uses it.
type Driver struct{}

// Open opens a connection for a data source name; see OpenConnector.
func (d Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector parses a data source name:
//
//	env:                           Cloudflare D1 from CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and D1_DATABASE_ID
//	cloudflare:ACCOUNT_ID/DATABASE_ID   that database, with the token from CLOUDFLARE_API_TOKEN
//	local:DIR                      the embedded local D1 in folder DIR ("local:" keeps it in memory)
//
// each optionally followed by ?parse_time=1 (Options.ParseTime) and, for local:, name=NAME
// (the local database's name, default d1seal). CLOUDFLARE_API_BASE_URL overrides the
// endpoint of env: and cloudflare:. An API token in the name is refused.
func (Driver) OpenConnector(dsn string) (driver.Connector, error) {
	scheme, rest, ok := strings.Cut(dsn, ":")
	if !ok {
		return nil, fmt.Errorf("d1sql: data source %q: want env:, cloudflare:ACCOUNT_ID/DATABASE_ID or local:DIR", redactDSN(dsn))
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("d1sql: data source parameters: %w", err)
	}
	var opts Options
	for k, v := range q {
		switch {
		case k == "parse_time":
			opts.ParseTime = v[0] == "1" || v[0] == "true"
		case k == "name" && scheme == "local":
		case strings.Contains(strings.ToLower(k), "token"):
			return nil, errors.New("d1sql: keep the API token out of the data source name: set CLOUDFLARE_API_TOKEN")
		default:
			return nil, fmt.Errorf("d1sql: unknown data source parameter %q", k)
		}
	}
	switch scheme {
	case "env":
		if rest != "" {
			return nil, fmt.Errorf("d1sql: data source env: takes no path (got %q)", rest)
		}
		c, err := d1.NewClientFromEnv(d1.Options{})
		if err != nil {
			return nil, fmt.Errorf("d1sql: data source \"env:\": %w", err)
		}
		return NewConnector(c, opts), nil
	case "cloudflare":
		account, database, ok := strings.Cut(rest, "/")
		if !ok || account == "" || database == "" || strings.Contains(database, "/") {
			return nil, fmt.Errorf("d1sql: data source cloudflare:%s: want cloudflare:ACCOUNT_ID/DATABASE_ID", rest)
		}
		token := strings.TrimSpace(os.Getenv(d1.EnvAPIToken))
		if token == "" {
			return nil, fmt.Errorf("d1sql: data source \"cloudflare:\" needs %s", d1.EnvAPIToken)
		}
		acct, err := d1.NewAccount(account, token, d1.Options{BaseURL: os.Getenv(d1.EnvBaseURL)})
		if err != nil {
			return nil, fmt.Errorf("d1sql: data source \"cloudflare:\": %w", err)
		}
		c := acct.Database(database)
		return NewConnector(c, opts), nil
	case "local":
		db, err := d1seal.OpenLocal(context.Background(), d1seal.Options{LocalDir: rest, LocalName: q.Get("name")})
		if err != nil {
			return nil, fmt.Errorf("d1sql: data source local:%s: %w", rest, err)
		}
		c := NewConnector(db.Client, opts)
		c.close = db.Close
		return c, nil
	}
	return nil, fmt.Errorf("d1sql: data source %q: unknown kind %q (want env:, cloudflare:ACCOUNT_ID/DATABASE_ID or local:DIR)", redactDSN(dsn), scheme)
}

// redactDSN keeps only the kind of a data source name that failed to parse, in case a
// caller put a secret in it.
func redactDSN(dsn string) string {
	if i := strings.IndexAny(dsn, ":?"); i >= 0 {
		return dsn[:i] + "…"
	}
	if len(dsn) > 12 {
		return dsn[:12] + "…"
	}
	return dsn
}

// Connector opens connections over one *d1.Client. sql.OpenDB(NewConnector(client, opts))
// gives a *sql.DB without going through the registry.
type Connector struct {
	client *d1.Client
	opts   Options
	close  func() error
}

// NewConnector returns a Connector for client. The caller keeps ownership of the client.
func NewConnector(client *d1.Client, opts Options) *Connector {
	return &Connector{client: client, opts: opts}
}

// Connect implements driver.Connector. It sends nothing: D1 is reached over HTTP, request
// by request.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &conn{client: c.client, opts: c.opts}, nil
}

// Driver implements driver.Connector.
func (c *Connector) Driver() driver.Driver { return Driver{} }

// Close releases what the data source opened (the embedded local D1 of local:); sql.DB.Close
// calls it.
func (c *Connector) Close() error {
	if c.close != nil {
		return c.close()
	}
	return nil
}
