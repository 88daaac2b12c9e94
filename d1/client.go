package d1

import (
	"context"
	"errors"
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

// Client talks to one D1 database through Cloudflare's REST API. It is safe for concurrent
// use; all goroutines share its rate-limit budget.
type Client struct {
	accountID  string
	databaseID string
	svc        *cfd1.DatabaseService
	http       *http.Client // for signed export and import URLs, which get no Authorization
	logger     *slog.Logger
	retry      RetryPolicy
	limits     Limits
	budget     *budget
	onRequest  func(RequestInfo)
	session    *Session // set by WithSession; carried to the bridge transport in the context
	compact    bool     // BLOBs travel as base64 (bridge clients; see CompactBlobs)
}

// NewClient returns a client for database databaseID of account accountID, authenticated by
// token. It sends nothing.
func NewClient(accountID, databaseID, token string, opts Options) (*Client, error) {
	var missing []string
	if accountID == "" {
		missing = append(missing, "account id")
	}
	if databaseID == "" {
		missing = append(missing, "database id")
	}
	if token == "" {
		missing = append(missing, "API token")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("d1: new client: missing %s", strings.Join(missing, ", "))
	}
	for _, id := range []string{accountID, databaseID} {
		if strings.ContainsAny(id, "/?#% ") {
			return nil, fmt.Errorf("d1: new client: id %q contains characters that cannot appear in an account or database id", id)
		}
	}
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("d1: new client: base URL %q is not an http(s) URL", base)
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
	c := &Client{
		accountID:  accountID,
		databaseID: databaseID,
		http:       hc,
		logger:     logger,
		retry:      opts.Retry.withDefaults(),
		limits:     opts.Limits.withDefaults(),
		budget:     b,
		onRequest:  opts.OnRequest,
	}
	c.svc = cfd1.NewDatabaseService(
		option.WithBaseURL(base),
		option.WithAPIToken(token),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(0), // retries are ours: the SDK would replay writes on 5xx
	)
	return c, nil
}

// Environment variables read by NewClientFromEnv.
const (
	EnvAccountID  = "CLOUDFLARE_ACCOUNT_ID"
	EnvAPIToken   = "CLOUDFLARE_API_TOKEN"
	EnvDatabaseID = "D1_DATABASE_ID"
	EnvBaseURL    = "CLOUDFLARE_API_BASE_URL" // the override wrangler honours too
)

// NewClientFromEnv returns a client configured from CLOUDFLARE_ACCOUNT_ID,
// CLOUDFLARE_API_TOKEN, D1_DATABASE_ID and, if set, CLOUDFLARE_API_BASE_URL (which overrides
// opts.BaseURL). It returns an error wrapping ErrNoCredentials when none of the three is set,
// and an error naming the missing ones when only some are.
func NewClientFromEnv(opts Options) (*Client, error) {
	acct, token, db := os.Getenv(EnvAccountID), os.Getenv(EnvAPIToken), os.Getenv(EnvDatabaseID)
	if acct == "" && token == "" && db == "" {
		return nil, fmt.Errorf("%w: set %s, %s and %s", ErrNoCredentials, EnvAccountID, EnvAPIToken, EnvDatabaseID)
	}
	var missing []string
	for _, kv := range [][2]string{{EnvAccountID, acct}, {EnvAPIToken, token}, {EnvDatabaseID, db}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("d1: client from environment: %s not set", strings.Join(missing, " and "))
	}
	if base := os.Getenv(EnvBaseURL); base != "" {
		opts.BaseURL = base
	}
	return NewClient(acct, db, token, opts)
}

// DatabaseID returns the id of the client's database.
func (c *Client) DatabaseID() string { return c.databaseID }

// AccountID returns the client's account id.
func (c *Client) AccountID() string { return c.accountID }

// WithDatabase returns a client for another database of the same account with the same
// token and settings. The two share one rate-limit budget, as Cloudflare counts per token.
func (c *Client) WithDatabase(databaseID string) (*Client, error) {
	if databaseID == "" || strings.ContainsAny(databaseID, "/?#% ") {
		return nil, errors.New("d1: with database: invalid database id")
	}
	c2 := *c
	c2.databaseID = databaseID
	return &c2, nil
}

// String describes the client without its token.
func (c *Client) String() string {
	return "d1.Client(account=" + c.accountID + ", database=" + c.databaseID + ")"
}

func (c *Client) ctxOK(ctx context.Context) error {
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
