// Package d1 is a client for Cloudflare D1's REST API, for Go services that reach D1 without
// a Worker.
//
// It is built on the official SDK, github.com/cloudflare/cloudflare-go/v7 (its d1 and option
// packages only, not the root client that compiles every Cloudflare product), which builds the
// requests, paths and authentication. Everything D1-specific is this package's own, because the
// SDK's defaults are unsafe for a database: it retries POSTs on 5xx (duplicating writes),
// ignores long Retry-After waits, decodes every number as float64 (ids past 2^53 come back
// wrong), types parameters as strings, never checks the envelope's success flag, and prints
// URLs and bodies in its errors. Here the raw response is taken from the SDK in a middleware
// and decoded by this package.
//
// # Statements
//
// Query returns rows, Exec only metadata, Run honours a Statement's Idempotent flag, Batch
// sends several statements in one request that commits or fails as a whole, and ExecScript
// runs a multi-statement script (split as SQLite splits it: quotes, comments,
// CREATE TRIGGER … BEGIN … END and CRLF are handled). All of them use the /raw endpoint,
// whose rows are arrays: smaller than /query's objects, in column order, duplicates kept.
//
// # Types
//
// Arguments: nil; bool (sent as 1/0); every Go integer kind within ±(2^53−1) (beyond that D1's
// JavaScript numbers would round it: an *ArgError, never silent rounding); float32 and float64
// (not NaN or ±Inf); string (valid UTF-8); []byte (a BLOB, sent as a JSON array of byte
// values on REST, as base64 on the bridge: CompactBlobs); Hex (a BLOB sent as hex text, for
// unhex(?)); time.Time (RFC 3339 text in UTC); driver.Valuer; pointers to these (nil is NULL);
// named types of these kinds. Anything else is an *ArgError before anything is sent.
//
// Note that D1 binds every JSON number as a SQLite REAL: 5 written into a TEXT column is stored
// as '5.0', and LIMIT ? accepts 2 but not 1.5. Bind text for TEXT columns.
//
// Results: NULL is nil, INTEGER int64 (decoded exactly, never through float64), REAL float64,
// TEXT string, BLOB []byte. D1 sends a REAL with an integral value, such as 5.0, as the JSON
// number 5, so it comes back as int64 5: scan into a float64 where a REAL is expected. Row.Scan
// converts to the destination (integers, floats, bool from 0/1, string, []byte, time.Time from
// RFC 3339 or SQLite's "YYYY-MM-DD HH:MM:SS", sql.Scanner, encoding.TextUnmarshaler, pointers
// for NULL), refusing overflow and NULL into non-pointers with a *ScanError. Collect, CollectOne,
// QueryAll and QueryOne map rows to structs by `d1:"column"` tag or by field name.
//
// # Limits
//
// D1 refuses statements with more than 100 bound parameters, more than 100,000 bytes of SQL, or
// a string or BLOB over 2,000,000 bytes. The client checks these, and its own caps on statements
// and bytes per request (Limits), before sending, with an *ArgError naming the limit and the
// statement. It reads at most Limits.MaxResponseBytes (64 MiB by default) of any response, and
// fails with an error matching ErrResponseTooLarge past it.
//
// # Errors and retries
//
// Failures are *Error values carrying the HTTP status, Cloudflare's codes, D1's message, the
// SQLite result class and extended code (SQLITE_CONSTRAINT, SQLITE_CONSTRAINT_UNIQUE), the
// statement when known, and whether any attempt of the call may have reached D1 (Sent: once one
// may have, the error says so, whatever later attempts met). Branch with IsConstraint,
// IsUniqueViolation, IsNoSuchTable and IsRetryable, or on the *Error's StatusCode and Codes;
// errors caused by the rate limit match ErrRateLimited. A statement or request refused before
// sending (a bad argument, a limit exceeded) is an *ArgError matching ErrBadArg. The API
// token, SQL arguments and response bodies never appear in errors or logs.
//
// Transient failures (5xx, gateway pages, lost connections, and the D1 messages Cloudflare
// documents as transient) are retried with exponential backoff and jitter, but a write is
// retried only when the request certainly did not reach D1 (the connection was refused, or a
// 429 refused it), or when every statement is read-only or marked Idempotent: a write whose
// response was lost may have committed, and replaying it could duplicate it.
//
// # Rate limit
//
// Cloudflare allows 1,200 API requests per five minutes per token and then refuses every request
// for five minutes. A client keeps a budget shared by all its goroutines (RateLimit; by default
// a token bucket that can never exceed 1,200 requests in any five-minute window), honours a
// 429's Retry-After however long by pausing every caller, and fails at once with an error
// matching ErrRateLimited when a caller's deadline comes before the wait ends. Batch to save
// requests: they are the scarce resource.
//
// # Accounts and databases
//
// An Account is a Cloudflare account and its API token: NewAccount(accountID, token, opts), or
// NewAccountFromEnv. It manages the account's databases (CreateDatabase, GetDatabase,
// ListDatabases, DeleteDatabase, SetReadReplication) and Database(id) returns the Client of one
// of them; NewClientFromEnv does both from the environment. An Account and all its Clients
// share one rate-limit budget, as Cloudflare counts requests per token.
//
// # Administration
//
// A Client's Info describes its database; Export writes
// a SQL dump through D1's polling export; Import runs a SQL file through D1's upload-and-ingest
// import, checking the uploaded object's ETag against the file's MD5; Bookmark, Restore and
// RestoreAt use Time Travel. Signed URLs never receive the API token.
//
// # Local D1
//
// Package d1/d1local serves the same API over SQLite, in process (through an http.RoundTripper)
// or on a port. The conformance suite (internal/d1test) runs against it in process and over
// HTTP, against Cloudflare's local D1 in workerd through the bridge, and against real D1 only
// with D1SEAL_TEST_CLOUDFLARE=1, on a throwaway database it creates and deletes (never the one
// in D1_DATABASE_ID). The root package d1seal picks a backend from the environment.
//
// # Bridge and sessions
//
// NewBridgeClient reaches D1 through the d1seal bridge Worker (module bridge) instead of the
// REST API: the same Client API, each request signed with HMAC-SHA256 over method, path,
// timestamp, nonce, session and body hash, no account-wide request cap (the budget is off unless
// set). What a binding cannot do (export, import, Time Travel, administration) goes to REST when
// BridgeOptions carries account credentials, and otherwise fails naming the REST path. A Session
// (WithSession) carries D1's Sessions API bookmarks, so reads may be served by replicas while a
// session still reads its own writes; Meta.ServedByRegion and ServedByPrimary say who served.
//
// On the bridge, BLOBs travel as base64 both ways (CompactBlobs): a []byte argument is sent as
// {"base64": "…"} and bound by the Worker as a BLOB, so SQL binds it with a plain ?, and BLOB
// results come back as {"base64": "…"}, asked for by the signed query ?blobs=base64 (a Worker
// without it answers REST's arrays, which the decoder reads too). Base64 was chosen over hex by
// measurement (BENCHMARKS.md): 1381 bytes on the wire for a 1 KiB BLOB against 2050 for hex and
// 3657 for REST's array of byte values, with encoding and decoding as fast as hex's. What the
// measurement also shows: past the Worker, D1's binding carries a bound BLOB to D1 as an array
// of numbers, which costs the Worker and D1 4 to 5 times the CPU of hex text converted by
// SQLite's unhex() and hex(); Hex with unhex(?) remains available on the bridge for callers who
// would rather spend bytes than Worker CPU. REST is unchanged: its API takes BLOBs only as
// arrays of byte values.
package d1
