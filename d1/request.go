package d1

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/d1seal/d1seal/internal/wire"
)

// RequestInfo describes one HTTP attempt, for Options.OnRequest. It holds no SQL arguments,
// token or body.
type RequestInfo struct {
	Op            string   // "query", "batch", "script", "export", ...
	Method        string   // HTTP method
	Path          string   // URL path, such as /client/v4/accounts/…/d1/database/…/raw
	SQL           []string // the statements' SQL text, for statement requests
	Attempt       int      // 1 for the first attempt
	Status        int      // HTTP status; 0 when no response arrived
	Duration      time.Duration
	BytesSent     int64
	BytesReceived int64
	Meta          []Meta // per statement, when the request succeeded
	Err           error  // nil on success
}

// call is one logical operation: the SDK method to invoke and how to read its answer.
type call struct {
	op   string
	sql  []string
	safe bool // may be repeated even if an earlier attempt reached D1

	// committed, when set, says whether a write that may have reached D1 committed (SendOnce):
	// the call ends without error when it did, and may be repeated when it did not.
	committed func(context.Context) (bool, error)

	// do invokes the cloudflare-go method with the extra options.
	do func(ctx context.Context, opts ...option.RequestOption) error

	// decode reads a 2xx body; it returns an *Error for an envelope that reports failure.
	decode func(body []byte) error

	meta []Meta // filled by decode, for the hook
}

// capture takes the raw response away from cloudflare-go: its middleware reads the body
// itself (size-capped) and hands the SDK an empty 200, so that the SDK never decodes numbers
// as float64, never reads HTML error pages as JSON and never prints a body in an error.
type capture struct {
	method, path string
	sent         int64
	status       int
	header       http.Header
	body         []byte
	readErr      error
}

func (cp *capture) middleware(max int64) option.Middleware {
	return func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		cp.method, cp.path, cp.sent = req.Method, req.URL.Path, req.ContentLength
		res, err := next(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		cp.status, cp.header = res.StatusCode, res.Header
		cp.body, cp.readErr = readCapped(res.Body, res.ContentLength, max)
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	}
}

// readCapped reads r whole unless it holds more than max bytes, in which case it stops
// reading there and returns an error matching ErrResponseTooLarge. length is the declared
// Content-Length (-1 when unknown): a body declared too long is refused without being read.
func readCapped(r io.Reader, length, max int64) ([]byte, error) {
	if length > max {
		return nil, fmt.Errorf("%w: %d bytes announced, over the client's limit of %d (Limits.MaxResponseBytes)", ErrResponseTooLarge, length, max)
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		io.Copy(io.Discard, io.LimitReader(r, 1<<20)) // let the connection be reused if cheap
		return nil, fmt.Errorf("%w: over the client's limit of %d bytes (Limits.MaxResponseBytes)", ErrResponseTooLarge, max)
	}
	return b, nil
}

// run sends cl as conn.run does, its requests carrying the client's session in their context
// for the bridge transport.
func (c *Client) run(ctx context.Context, cl *call) error {
	if c.idErr != nil {
		return c.idErr
	}
	if ctx != nil && c.session != nil {
		ctx = context.WithValue(ctx, sessionKey{}, c.session)
	}
	return c.conn.run(ctx, cl)
}

// run sends cl, retrying as the policy allows, and returns once decode accepted a response.
// A failure it returns describes the whole call: Sent is true if any attempt may have
// reached D1, and Attempts counts every request sent.
func (c *conn) run(ctx context.Context, cl *call) error {
	if ctx == nil {
		return errNilCtx
	}
	var last *Error // the previous attempt's failure
	sent := false   // whether any attempt so far may have reached D1
	for attempt := 1; ; attempt++ {
		if err := c.budget.wait(ctx, cl.op); err != nil {
			err = stopped(err, last, attempt-1, sent)
			if cl.committed != nil && sent {
				if ok, cerr := cl.landed(ctx, err); cerr != nil || ok {
					return cerr
				}
			}
			return err
		}
		e := c.attempt(ctx, cl, attempt)
		if e == nil {
			return nil
		}
		sentBefore := sent
		sent = sent || e.Sent
		e.Attempts, e.Sent = attempt, sent
		last = e
		if e.StatusCode == http.StatusTooManyRequests {
			// Everyone waits, whether or not this call retries: the next budget.wait honours
			// the pause, or fails fast when a caller's deadline comes first.
			c.budget.pause(max(e.RetryAfter, time.Second))
		}
		if cl.committed != nil && (sentBefore || e.Sent && e.transient()) {
			// This attempt may have committed with its answer lost, or an earlier one may have
			// landed since (this failure may be meeting it): ask before resending or reporting.
			if ok, err := cl.landed(ctx, e); err != nil || ok {
				return err
			}
		}
		if ctx.Err() != nil {
			e.Err = errors.Join(e.Err, context.Cause(ctx))
			return e
		}
		if !e.transient() || sent && !cl.safe && cl.committed == nil || attempt >= c.retry.MaxAttempts {
			return e
		}
		if e.StatusCode == http.StatusTooManyRequests {
			continue
		}
		d := max(c.retry.backoff(attempt), e.RetryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
			return e // waiting would outlast the caller
		}
		c.logger.DebugContext(ctx, "d1 retry", "op", cl.op, "attempt", attempt, "wait", d, "status", e.StatusCode)
		if err := sleep(ctx, d); err != nil {
			e.Err = errors.Join(e.Err, err)
			return e
		}
	}
}

// landed asks cl.committed whether the write committed after failure. A failed check is
// returned as an error wrapping failure.
func (cl *call) landed(ctx context.Context, failure error) (bool, error) {
	ok, err := cl.committed(ctx)
	if err != nil {
		return false, fmt.Errorf("%w (and checking whether it committed failed: %v)", failure, err)
	}
	return ok, nil
}

// stopped is the error of a call that the budget or its context stopped before attempt n+1:
// the budget's own error when nothing was sent, else the last attempt's failure (a 429 says
// more than the pause it caused), with Sent and Attempts covering every attempt.
func stopped(err error, last *Error, n int, sent bool) error {
	if last == nil {
		return err
	}
	if last.StatusCode == http.StatusTooManyRequests {
		return last
	}
	if e := asError(err); e != nil {
		e.Attempts, e.Sent = n, e.Sent || sent
		return e
	}
	last.Err = errors.Join(last.Err, err)
	return last
}

// attempt sends one HTTP request and classifies its outcome.
func (c *conn) attempt(ctx context.Context, cl *call, n int) *Error {
	var cp capture
	var wrote atomic.Bool
	tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Store(true) },
	})
	var discard *http.Response
	start := time.Now()
	err := cl.do(tctx, option.WithMiddleware(cp.middleware(c.limits.MaxResponseBytes)), option.WithResponseBodyInto(&discard))
	var e *Error
	switch {
	case err != nil:
		e = &Error{Op: cl.op, Statement: -1, Err: redactURL(err), Sent: wrote.Load() || !isDialError(err)}
	case cp.readErr != nil:
		e = &Error{Op: cl.op, Statement: -1, StatusCode: cp.status, Err: cp.readErr, Sent: true, lostBody: !errors.Is(cp.readErr, ErrResponseTooLarge)}
	case cp.status >= 200 && cp.status < 300:
		if derr := cl.decode(cp.body); derr != nil {
			if e = asError(derr); e == nil {
				e = &Error{Op: cl.op, Statement: -1, StatusCode: cp.status, Message: "unreadable response", Err: derr, Sent: true}
			}
		}
	default:
		e = errorFromResponse(cl.op, cp.status, cp.header, cp.body)
	}
	if e != nil && len(cl.sql) == 1 && e.Statement < 0 && e.SQLiteCode != "" {
		e.Statement = 0
	}
	info := RequestInfo{
		Op: cl.op, Method: cp.method, Path: cp.path, SQL: cl.sql, Attempt: n, Status: cp.status,
		Duration: time.Since(start), BytesSent: cp.sent, BytesReceived: int64(len(cp.body)),
	}
	if e != nil {
		info.Err = e
	} else {
		info.Meta = cl.meta
	}
	c.observe(ctx, &info)
	return e
}

func (c *conn) observe(ctx context.Context, info *RequestInfo) {
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		attrs := []slog.Attr{
			slog.String("op", info.Op), slog.Int("statements", len(info.SQL)), slog.Int("attempt", info.Attempt),
			slog.Int("status", info.Status), slog.Duration("duration", info.Duration),
			slog.Int64("sent", info.BytesSent), slog.Int64("received", info.BytesReceived),
		}
		if info.Err != nil {
			attrs = append(attrs, slog.String("error", info.Err.Error()))
		}
		c.logger.LogAttrs(ctx, slog.LevelDebug, "d1 request", attrs...)
	}
	if c.onRequest != nil {
		c.onRequest(*info)
	}
}

// isDialError reports whether err happened before a connection existed, so the request
// certainly did not reach D1.
func isDialError(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// redactURL strips the request URL from transport errors: it holds account and database
// ids, which callers already know, and the message reads better without it.
func redactURL(err error) error {
	var ue interface {
		Unwrap() error
		Timeout() bool
	}
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// errorFromResponse builds the error for a non-2xx response: Cloudflare's envelope when the
// body is one, otherwise (a gateway's HTML page) a message naming the status and body type.
func errorFromResponse(op string, status int, h http.Header, body []byte) *Error {
	e := &Error{Op: op, Statement: -1, StatusCode: status, Sent: status != http.StatusTooManyRequests}
	e.RetryAfter = parseRetryAfter(h, time.Now())
	var env wire.Envelope[json.RawMessage]
	if err := json.Unmarshal(body, &env); err == nil && (len(env.Errors) > 0 || !env.Success) {
		e.setMessages(env.Errors)
		if e.Message == "" {
			e.Message = statusText(status)
		}
		return e
	}
	ct, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if ct == "" {
		ct = "unknown type"
	}
	e.Message = fmt.Sprintf("%s, with a non-JSON body (%s, %d bytes)", statusText(status), ct, len(body))
	return e
}

// statusText describes an HTTP status, Cloudflare's own 5xx included.
func statusText(status int) string {
	switch status {
	case 520:
		return "the origin returned an unknown error (Cloudflare 520)"
	case 521:
		return "the origin is down (Cloudflare 521)"
	case 522:
		return "the connection to the origin timed out (Cloudflare 522)"
	case 523:
		return "the origin is unreachable (Cloudflare 523)"
	case 524:
		return "a timeout occurred (Cloudflare 524)"
	case 525:
		return "the SSL handshake with the origin failed (Cloudflare 525)"
	case 526:
		return "the origin's SSL certificate is invalid (Cloudflare 526)"
	case 527:
		return "the Railgun connection failed (Cloudflare 527)"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "HTTP status " + strconv.Itoa(status)
}

// setMessages fills Codes, Message and the SQLite codes from an envelope's errors.
func (e *Error) setMessages(msgs []wire.Message) {
	for _, m := range msgs {
		e.Codes = append(e.Codes, m.Code)
	}
	if len(msgs) > 0 {
		e.Message = trimD1Prefix(msgs[0].Message)
		e.SQLiteCode, e.ExtendedCode = parseSQLiteCodes(e.Message)
	}
}
