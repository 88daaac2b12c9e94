package d1

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors callers branch on.
var (
	// ErrNoRows is returned by QueryOne and CollectOne when the result has no row.
	ErrNoRows = errors.New("d1: no rows in result")

	// ErrNoCredentials is returned by NewClientFromEnv when none of CLOUDFLARE_ACCOUNT_ID,
	// CLOUDFLARE_API_TOKEN and D1_DATABASE_ID is set (use the local D1 instead).
	ErrNoCredentials = errors.New("d1: no Cloudflare credentials in the environment")

	// ErrRateLimited is matched (errors.Is) by every error caused by the API rate limit:
	// a 429 from Cloudflare, or the client's own budget or pause outlasting the caller's deadline.
	ErrRateLimited = errors.New("d1: rate limited")

	// ErrBadArg is matched by every *ArgError: a statement or request the client refused
	// before sending anything.
	ErrBadArg = errors.New("d1: bad argument")

	// ErrResponseTooLarge is matched (errors.Is) by the *Error of any call whose response
	// body was longer than the client's Limits.MaxResponseBytes: the client stops reading
	// there, so a broken or hostile server cannot make it hold more in memory. The call is
	// not retried; raise the limit, or ask for fewer rows at a time.
	ErrResponseTooLarge = errors.New("d1: response too large")
)

// Error is a failure reported by D1 or met on the way to it: an HTTP error status, an
// envelope with success false, a transport failure, or a response that cannot be decoded.
// Its message never holds the API token, SQL arguments or response bodies.
//
// One call (Query, Batch, Send, an administration call) may send several requests: an Error
// describes the call as a whole. Its status, codes and message come from the last attempt,
// but Sent and Attempts describe every attempt, so that a caller can decide what happened
// from the returned error alone.
type Error struct {
	// Op is the client operation: "query", "batch", "script", "export", "import", ...
	Op string

	// StatusCode is the HTTP status of the last attempt's response; 0 when no response
	// arrived (a transport failure, a lost connection) or when the client refused to send
	// (its rate-limit budget or a 429 pause outlasting the caller's deadline).
	StatusCode int

	// Codes are Cloudflare's error codes from the last response's envelope, in order.
	Codes []int

	// Message is the first error message of the last response, without a "D1_ERROR: "
	// prefix, or the client's own description of the failure.
	Message string

	// SQLiteCode is the SQLite result class at the end of a SQL error message, such as
	// "SQLITE_CONSTRAINT"; ExtendedCode is the extended code when D1 gives it, such as
	// "SQLITE_CONSTRAINT_UNIQUE". Both are empty for errors that are not SQL errors. A SQL
	// error means D1 ran the request and rolled it back; an earlier attempt of the same call
	// may still have committed (see Sent).
	SQLiteCode   string
	ExtendedCode string

	// Statement is the index of the statement the error belongs to in a batch, or -1 when it
	// cannot be known: D1 reports a failed batch as a whole, so Statement is set only for
	// single statements and for failures detected per statement.
	Statement int

	// RetryAfter is the wait D1 asked for (a 429's or 503's Retry-After), or, for an error
	// the client made itself because of its budget or a pause, how long the caller would have
	// had to wait. Zero when nobody said.
	RetryAfter time.Duration

	// Attempts is how many requests this call sent, retries included; 0 when the client sent
	// nothing (it refused before the first attempt).
	Attempts int

	// Sent reports whether any attempt of the call may have reached D1, whatever later
	// attempts met. False means that no attempt did (each was refused before it was sent, by
	// a refused connection, a DNS failure, a 429, or the client's own budget): the call had
	// no effect, and a write that failed with Sent false did not happen. True means that the
	// call may have had its effect: a write that failed with Sent true may have committed
	// (its response was lost, or a later attempt of it met a 429 or a 5xx), and only reading
	// the database again can tell. Sent never goes back to false once an attempt set it.
	Sent bool

	lostBody bool // the response was cut off while it was read: transient, as a lost connection

	// Err is the underlying transport or decoding error, if any. It matches
	// ErrResponseTooLarge when a response was over Limits.MaxResponseBytes.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("d1: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	switch {
	case e.Message != "":
		b.WriteString(e.Message)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString("request failed")
	}
	if e.StatusCode != 0 {
		b.WriteString(" (HTTP ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		for _, c := range e.Codes {
			b.WriteString(", code ")
			b.WriteString(strconv.Itoa(c))
		}
		b.WriteByte(')')
	}
	if e.Statement >= 0 && e.Op == "batch" {
		fmt.Fprintf(&b, " in statement %d", e.Statement)
	}
	if e.Message != "" && e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if hint := e.hint(); hint != "" {
		b.WriteString("; ")
		b.WriteString(hint)
	}
	return b.String()
}

// hint says what to do, for the failures where the message alone does not.
func (e *Error) hint() string {
	switch {
	case e.StatusCode == 401:
		return "check CLOUDFLARE_API_TOKEN"
	case e.StatusCode == 403:
		return "the token needs the D1 Read and D1 Edit permissions on this account"
	case e.StatusCode == 404 && hasCode(e.Codes, 7404):
		return "check D1_DATABASE_ID and CLOUDFLARE_ACCOUNT_ID"
	case e.StatusCode == 429:
		return "the API allows 1,200 requests per 5 minutes per token; batch statements or lower the client's budget"
	}
	return ""
}

func (e *Error) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.StatusCode == 429 {
		errs = append(errs, ErrRateLimited)
	}
	return errs
}

func hasCode(codes []int, c int) bool {
	for _, x := range codes {
		if x == c {
			return true
		}
	}
	return false
}

// ArgError reports a statement or request that cannot be sent to D1 as it is: an argument of
// a type or value D1 cannot take, SQL that is not one statement, or one of D1's limits (or the
// client's Limits) exceeded. It is detected before anything is sent. It names the statement,
// the argument's position and its type, never its value.
type ArgError struct {
	Statement int    // statement index in the request; -1 for the request as a whole
	Index     int    // argument index; -1 for the SQL text, the statement or the request
	Type      string // the argument's type, or what was refused: "sql", "batch", "limit", ...
	Reason    string

	// Limit names the limit exceeded, when one was: "parameters", "SQL bytes", "value
	// bytes", "request bytes" or "statements"; Max is the limit and Got what the statement or
	// request held.
	Limit    string
	Max, Got int

	Err error
}

// limitError is the *ArgError of statement stmt (-1: the request) over limit.
func limitError(limit string, max, got, stmt int) *ArgError {
	return &ArgError{Statement: stmt, Index: -1, Type: "limit", Limit: limit, Max: max, Got: got}
}

func (e *ArgError) Error() string {
	if e.Limit != "" {
		if e.Statement < 0 {
			return fmt.Sprintf("d1: request has %d %s, over the limit of %d; split it into several requests", e.Got, e.Limit, e.Max)
		}
		return fmt.Sprintf("d1: statement %d has %d %s, over D1's limit of %d", e.Statement, e.Got, e.Limit, e.Max)
	}
	s := fmt.Sprintf("d1: statement %d argument %d (%s): %s", e.Statement, e.Index, e.Type, e.Reason)
	if e.Index < 0 {
		s = fmt.Sprintf("d1: statement %d: %s", e.Statement, e.Reason)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ArgError) Is(target error) bool { return target == ErrBadArg }
func (e *ArgError) Unwrap() error        { return e.Err }

// asError returns the *Error in err's chain, if any.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsConstraint reports whether err is a SQLite constraint violation (UNIQUE, NOT NULL,
// CHECK, FOREIGN KEY, PRIMARY KEY).
func IsConstraint(err error) bool {
	e := asError(err)
	return e != nil && e.SQLiteCode == "SQLITE_CONSTRAINT"
}

// IsUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY constraint violation.
func IsUniqueViolation(err error) bool {
	e := asError(err)
	if e == nil || e.SQLiteCode != "SQLITE_CONSTRAINT" {
		return false
	}
	switch e.ExtendedCode {
	case "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY":
		return true
	case "":
		return strings.HasPrefix(e.Message, "UNIQUE constraint failed")
	}
	return false
}

// IsNoSuchTable reports whether err says a table does not exist.
func IsNoSuchTable(err error) bool {
	e := asError(err)
	return e != nil && strings.Contains(e.Message, "no such table")
}

// IsRetryable reports whether the operation may succeed if tried again later: a transient
// D1 failure, an overload, a gateway error or a lost connection. A retryable error from a
// write that was sent (Error.Sent) may nonetheless have committed.
func IsRetryable(err error) bool {
	e := asError(err)
	if e == nil {
		return false
	}
	return e.transient()
}

// transient reports whether the failure is one that goes away by itself.
func (e *Error) transient() bool {
	switch {
	case e.StatusCode == 429, e.StatusCode >= 500:
		return true
	case e.StatusCode == 0 && e.Err != nil:
		return true // no response: connection refused, reset or lost
	case e.lostBody:
		return true // the answer was cut off: the connection was lost while it was read
	}
	return isTransientMessage(e.Message)
}

// transientMessages are D1 failures Cloudflare documents as safe to retry (for idempotent
// work) and overloads that need backoff.
var transientMessages = []string{
	"Network connection lost",
	"storage caused object to be reset",
	"reset because its code was updated",
	"Cannot resolve D1 DB due to transient issue on remote node",
	"D1 DB is overloaded",
	"Too many requests queued",
	"exceeded its memory limit",
	"exceeded its CPU time limit",
	"timed out",
	"internal error",
}

func isTransientMessage(msg string) bool {
	for _, m := range transientMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// parseSQLiteCodes splits D1's "<message>: SQLITE_CLASS" or
// "<message>: SQLITE_CLASS (extended: SQLITE_CLASS_DETAIL)" into its parts.
func parseSQLiteCodes(msg string) (class, extended string) {
	if i := strings.LastIndex(msg, " (extended: "); i >= 0 && strings.HasSuffix(msg, ")") {
		extended = msg[i+len(" (extended: ") : len(msg)-1]
		msg = msg[:i]
	}
	i := strings.LastIndex(msg, ": SQLITE_")
	if i < 0 {
		if strings.HasPrefix(msg, "SQLITE_") && !strings.Contains(msg, " ") {
			return msg, extended
		}
		return "", extended
	}
	class = msg[i+2:]
	if j := strings.IndexAny(class, " :"); j >= 0 {
		class = class[:j]
	}
	return class, extended
}

// trimD1Prefix removes the "D1_ERROR: " (and similar) prefix some D1 paths add.
func trimD1Prefix(msg string) string {
	for _, p := range []string{"D1_ERROR: ", "D1_EXEC_ERROR: ", "D1_TYPE_ERROR: ", "D1_COLUMN_NOTFOUND: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}
