package d1

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	cfd1 "github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"
)

// DefaultBaseURL is Cloudflare's API endpoint.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

// Options holds a Client's optional settings. The zero value of every field means the default.
type Options struct {
	// BaseURL is the API root, such as a local D1's "http://127.0.0.1:8787/client/v4".
	// Default DefaultBaseURL.
	BaseURL string

	// HTTPClient sends the requests. Default http.DefaultClient. The client's Timeout, if any,
	// bounds each attempt; use contexts to bound whole operations.
	HTTPClient *http.Client

	// Logger receives debug lines for each request (operation, statement count, attempt,
	// status, duration, sizes): never SQL arguments, tokens or bodies. Default: no logging.
	Logger *slog.Logger

	// Retry says how transient failures are retried. Each zero field takes its default:
	// 4 attempts, backoff from 200 ms doubling to at most 10 s.
	Retry RetryPolicy

	// RateLimit is the client-side request budget. Each zero field takes its default:
	// 1,200 requests per five minutes (Cloudflare's limit), bursts of 50.
	RateLimit RateLimit

	// Limits are checked before anything is sent. Each zero field takes its default (D1's
	// documented limits and the caps listed in Limits).
	Limits Limits

	// OnRequest, if set, is called after every HTTP attempt with what happened. It must be
	// safe for concurrent use and return quickly.
	OnRequest func(RequestInfo)
}

// Limits are D1's documented per-statement limits plus the client's own request caps.
type Limits struct {
	MaxParams        int   // bound parameters per statement; default 100 (D1's limit)
	MaxSQLBytes      int   // bytes of SQL per statement; default 100,000 (D1's limit)
	MaxValueBytes    int   // bytes of one string or BLOB; default 2,000,000 (D1's limit)
	MaxStatements    int   // statements per request (not documented by D1); default 1,000
	MaxRequestBytes  int   // encoded request body; default 50 MB
	MaxResponseBytes int64 // bytes of one response body the client reads; default 64 MiB (see ErrResponseTooLarge)
}

// defaultLimits are D1's limits and the client's default caps.
var defaultLimits = Limits{
	MaxParams:        100,
	MaxSQLBytes:      100_000,
	MaxValueBytes:    2_000_000,
	MaxStatements:    1_000,
	MaxRequestBytes:  50_000_000,
	MaxResponseBytes: 64 << 20,
}

func (l Limits) withDefaults() Limits {
	d := defaultLimits
	if l.MaxParams > 0 {
		d.MaxParams = l.MaxParams
	}
	if l.MaxSQLBytes > 0 {
		d.MaxSQLBytes = l.MaxSQLBytes
	}
	if l.MaxValueBytes > 0 {
		d.MaxValueBytes = l.MaxValueBytes
	}
	if l.MaxStatements > 0 {
		d.MaxStatements = l.MaxStatements
	}
	if l.MaxRequestBytes > 0 {
		d.MaxRequestBytes = l.MaxRequestBytes
	}
	if l.MaxResponseBytes > 0 {
		d.MaxResponseBytes = l.MaxResponseBytes
	}
	return d
}

// conn is what an Account shares with every Client it makes: the account, the token's
// service, the settings and the rate-limit budget.
type conn struct {
	accountID string
	svc       *cfd1.DatabaseService
	http      *http.Client // for signed export and import URLs, which get no Authorization
	logger    *slog.Logger
	retry     RetryPolicy
	limits    Limits
	budget    *budget
	onRequest func(RequestInfo)
	compact   bool // BLOBs travel as base64 (bridge clients; see CompactBlobs)
}

// Account is a Cloudflare account reached with one API token. It creates, lists and deletes
// the account's D1 databases, and Database returns a Client for one of them. It is safe for
// concurrent use; it and every Client it returns share one rate-limit budget, as Cloudflare
// counts requests per token.
type Account struct {
	*conn
}

// Client talks to one D1 database. Get one from Account.Database, NewClientFromEnv or
// NewBridgeClient. It is safe for concurrent use; all goroutines share its account's
// rate-limit budget.
type Client struct {
	*conn
	acct       *Account
	databaseID string
	idErr      error    // an invalid database id, returned by every request
	session    *Session // set by WithSession; carried to the bridge transport in the context
}

// NewAccount returns the account accountID, authenticated by token. It sends nothing.
func NewAccount(accountID, token string, opts Options) (*Account, error) {
	var missing []string
	if accountID == "" {
		missing = append(missing, "account id")
	}
	if token == "" {
		missing = append(missing, "API token")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("d1: new account: missing %s", strings.Join(missing, ", "))
	}
	if !validID(accountID) {
		return nil, fmt.Errorf("d1: new account: account id %q contains characters that cannot appear in an account id", accountID)
	}
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("d1: new account: base URL %q is not an http(s) URL", base)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b, err := newBudget(opts.RateLimit)
	if err != nil {
		return nil, err
	}
	cn := &conn{
		accountID: accountID,
		http:      hc,
		logger:    logger,
		retry:     opts.Retry.withDefaults(),
		limits:    opts.Limits.withDefaults(),
		budget:    b,
		onRequest: opts.OnRequest,
	}
	cn.svc = cfd1.NewDatabaseService(
		option.WithBaseURL(base),
		option.WithAPIToken(token),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(0), // retries are ours: the SDK would replay writes on 5xx
	)
	return &Account{conn: cn}, nil
}

// validID reports whether id can be a path segment of an API URL as it is.
func validID(id string) bool { return id != "" && !strings.ContainsAny(id, "/?#% ") }

// Database returns a client for the database with the given id. It sends nothing; an id that
// cannot be a database id makes every request of the client fail with an *ArgError.
func (a *Account) Database(id string) *Client {
	c := &Client{conn: a.conn, acct: a, databaseID: id}
	if !validID(id) {
		c.idErr = &ArgError{Statement: -1, Index: -1, Type: "database id", Reason: fmt.Sprintf("%q is not a database id", id)}
	}
	return c
}

// ID returns the account id.
func (a *Account) ID() string { return a.accountID }

// String describes the account without its token.
func (a *Account) String() string { return "d1.Account(" + a.accountID + ")" }

// Environment variables read by NewAccountFromEnv and NewClientFromEnv.
const (
	EnvAccountID  = "CLOUDFLARE_ACCOUNT_ID"
	EnvAPIToken   = "CLOUDFLARE_API_TOKEN"
	EnvDatabaseID = "D1_DATABASE_ID"
	EnvBaseURL    = "CLOUDFLARE_API_BASE_URL" // the override wrangler honours too
)

// NewAccountFromEnv returns the account of CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN,
// reached at CLOUDFLARE_API_BASE_URL if set (which overrides opts.BaseURL). It returns an
// error wrapping ErrNoCredentials when neither is set, and an error naming the missing one
// when only one is.
func NewAccountFromEnv(opts Options) (*Account, error) {
	return accountFromEnv(opts)
}

// NewClientFromEnv returns a client configured from CLOUDFLARE_ACCOUNT_ID,
// CLOUDFLARE_API_TOKEN, D1_DATABASE_ID and, if set, CLOUDFLARE_API_BASE_URL (which overrides
// opts.BaseURL). It returns an error wrapping ErrNoCredentials when none of the three is set,
// and an error naming the missing ones when only some are.
func NewClientFromEnv(opts Options) (*Client, error) {
	db := os.Getenv(EnvDatabaseID)
	a, err := accountFromEnv(opts, [2]string{EnvDatabaseID, db})
	if err != nil {
		return nil, err
	}
	return a.Database(db), nil
}

// accountFromEnv reads the account's variables and checks extra ones (name, value) with them.
func accountFromEnv(opts Options, extra ...[2]string) (*Account, error) {
	acct, token := os.Getenv(EnvAccountID), os.Getenv(EnvAPIToken)
	vars := append([][2]string{{EnvAccountID, acct}, {EnvAPIToken, token}}, extra...)
	var missing, names []string
	for _, kv := range vars {
		names = append(names, kv[0])
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) == len(vars) {
		return nil, fmt.Errorf("%w: set %s and %s", ErrNoCredentials, strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("d1: client from environment: %s not set", strings.Join(missing, " and "))
	}
	if base := os.Getenv(EnvBaseURL); base != "" {
		opts.BaseURL = base
	}
	return NewAccount(acct, token, opts)
}

// DatabaseID returns the id of the client's database.
func (c *Client) DatabaseID() string { return c.databaseID }

// AccountID returns the client's account id.
func (c *Client) AccountID() string { return c.accountID }

// Account returns the account the client belongs to, for database administration.
func (c *Client) Account() *Account { return c.acct }

// String describes the client without its token.
func (c *Client) String() string {
	return "d1.Client(account=" + c.accountID + ", database=" + c.databaseID + ")"
}

func (c *conn) ctxOK(ctx context.Context) error {
	if ctx == nil {
		return errNilCtx
	}
	return ctx.Err()
}

// setField sets a cloudflare-go param.Field through its exported members (the type itself
// lives in an internal package, and its constructor in the root package that would compile
// every Cloudflare product into the binary).
func setField[T any](value *T, present *bool, v T) {
	*value, *present = v, true
}
