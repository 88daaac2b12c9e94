package d1

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Environment variables read by NewBridgeClientFromEnv.
const (
	EnvBridgeURL    = "D1SEAL_BRIDGE_URL"
	EnvBridgeSecret = "D1SEAL_BRIDGE_SECRET"
)

// MinBridgeSecret is the shortest bridge secret accepted, in bytes.
const MinBridgeSecret = 32

// BridgeOptions are the settings of a client that reaches D1 through the d1seal bridge Worker
// (the bridge/ folder of this module) instead of the REST API.
type BridgeOptions struct {
	// Binding is the Worker's D1 binding to use. Default "DB".
	Binding string

	// AccountID, DatabaseID and APIToken, all optional, are REST credentials for what a Worker
	// binding cannot do (export, import, Time Travel, database administration). Without them
	// those calls fail with an *Error naming the REST path they need.
	AccountID, DatabaseID, APIToken string

	// RESTBaseURL is the REST API root for those calls. Default DefaultBaseURL.
	RESTBaseURL string

	// AccessClientID and AccessClientSecret, when set, are sent as Cloudflare Access service
	// token headers (CF-Access-Client-Id, CF-Access-Client-Secret) on every bridge request.
	AccessClientID, AccessClientSecret string

	// Now is the clock that timestamps signatures. Default time.Now.
	Now func() time.Time
}

// NewBridgeClient returns a client whose statements go to the bridge Worker at bridgeURL
// (such as https://d1seal-bridge.example.workers.dev), each request signed with secret (the
// Worker's BRIDGE_SECRET, at least MinBridgeSecret bytes). It has the same API as a REST
// client. The bridge has no account-wide request cap, so the rate-limit budget is off unless
// opts.RateLimit says otherwise; retries, limits and errors are as on REST. BLOBs travel as
// base64 both ways (CompactBlobs), bound by the Worker as BLOBs.
//
// Statements run on the primary unless the client is bound to a Session (WithSession), which
// lets D1 serve reads from replicas while each session still reads its own writes.
func NewBridgeClient(bridgeURL, secret string, bo BridgeOptions, opts Options) (*Client, error) {
	u, err := url.Parse(bridgeURL)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("d1: new bridge client: bridge URL %q is not an http(s) URL without query", bridgeURL)
	}
	if len(secret) < MinBridgeSecret {
		return nil, fmt.Errorf("d1: new bridge client: the bridge secret has %d bytes, fewer than %d", len(secret), MinBridgeSecret)
	}
	binding := bo.Binding
	if binding == "" {
		binding = "DB"
	}
	if !validBinding(binding) {
		return nil, fmt.Errorf("d1: new bridge client: binding %q is not a Worker binding name", binding)
	}
	next := http.DefaultTransport
	if opts.HTTPClient != nil && opts.HTTPClient.Transport != nil {
		next = opts.HTTPClient.Transport
	}
	now := bo.Now
	if now == nil {
		now = time.Now
	}
	bt := &bridgeTransport{
		next: next, base: strings.TrimRight(u.String(), "/"), secret: []byte(secret), binding: binding,
		accessID: bo.AccessClientID, accessSecret: bo.AccessClientSecret, now: now,
	}
	if bo.APIToken != "" {
		if bo.AccountID == "" || bo.DatabaseID == "" {
			return nil, errors.New("d1: new bridge client: REST credentials need AccountID and DatabaseID with APIToken")
		}
		rest := bo.RESTBaseURL
		if rest == "" {
			rest = DefaultBaseURL
		}
		bt.rest = strings.TrimRight(rest, "/")
		bt.restToken, bt.restAccount, bt.restDatabase = bo.APIToken, bo.AccountID, bo.DatabaseID
	}
	hc := &http.Client{Transport: bt}
	if opts.HTTPClient != nil {
		hc.Timeout = opts.HTTPClient.Timeout
	}
	opts.HTTPClient = hc
	opts.BaseURL = bridgeClientBase
	if opts.RateLimit == (RateLimit{}) {
		opts.RateLimit = RateLimit{Disabled: true}
	}
	account := bo.AccountID
	if account == "" {
		account = "bridge"
	}
	a, err := NewAccount(account, "bridge", opts)
	if err != nil {
		return nil, err
	}
	a.compact = true
	return a.Database(binding), nil
}

// NewBridgeClientFromEnv returns a bridge client for D1SEAL_BRIDGE_URL and
// D1SEAL_BRIDGE_SECRET, with CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and D1_DATABASE_ID as
// its REST credentials when all three are set. It returns an error wrapping ErrNoCredentials
// when neither bridge variable is set, and an error naming the missing one when only one is.
func NewBridgeClientFromEnv(bo BridgeOptions, opts Options) (*Client, error) {
	u, s := os.Getenv(EnvBridgeURL), os.Getenv(EnvBridgeSecret)
	switch {
	case u == "" && s == "":
		return nil, fmt.Errorf("%w: set %s and %s", ErrNoCredentials, EnvBridgeURL, EnvBridgeSecret)
	case u == "":
		return nil, fmt.Errorf("d1: bridge client from environment: %s not set", EnvBridgeURL)
	case s == "":
		return nil, fmt.Errorf("d1: bridge client from environment: %s not set", EnvBridgeSecret)
	}
	acct, token, db := os.Getenv(EnvAccountID), os.Getenv(EnvAPIToken), os.Getenv(EnvDatabaseID)
	if bo.APIToken == "" && acct != "" && token != "" && db != "" {
		bo.AccountID, bo.APIToken, bo.DatabaseID = acct, token, db
		if base := os.Getenv(EnvBaseURL); base != "" && bo.RESTBaseURL == "" {
			bo.RESTBaseURL = base
		}
	}
	return NewBridgeClient(u, s, bo, opts)
}

// bridgeClientBase is the base URL the SDK builds request paths on for a bridge client; the
// bridge transport maps them to the Worker (or to REST).
const bridgeClientBase = "http://d1seal-bridge.invalid/client/v4"

func validBinding(s string) bool {
	if s == "" || len(s) > 64 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// bridgeTransport signs statement requests for the bridge Worker and sends what a binding
// cannot do to REST, or answers it with an error naming the REST path.
type bridgeTransport struct {
	next         http.RoundTripper
	base         string // the Worker's URL, without a trailing slash
	secret       []byte
	binding      string
	accessID     string
	accessSecret string
	now          func() time.Time

	rest, restToken, restAccount, restDatabase string // REST fallback, when configured
}

// Bridge request headers.
const (
	hdrTimestamp = "X-D1seal-Timestamp"
	hdrNonce     = "X-D1seal-Nonce"
	hdrSignature = "X-D1seal-Signature"
	hdrSession   = "X-D1seal-Session"
	hdrBookmark  = "X-D1seal-Bookmark"
)

func (t *bridgeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// The SDK's path: /client/v4/accounts/{account}/d1/database/{binding}[/...]
	path := strings.TrimPrefix(req.URL.Path, "/client/v4")
	_, rest, _ := strings.Cut(path, "/d1/database")
	rest = strings.TrimPrefix(rest, "/")
	id, endpoint, _ := strings.Cut(rest, "/")
	if req.Method == http.MethodPost && id == t.binding && (endpoint == "raw" || endpoint == "query") {
		return t.statement(req, endpoint)
	}
	if t.rest == "" {
		closeBody(req)
		return restNeeded(req, path), nil
	}
	// Administration goes to REST with the account's token, for the REST database id.
	out := req.Clone(req.Context())
	restPath := path
	if _, after, ok := strings.Cut(path, "/d1/database"); ok {
		restPath = "/accounts/" + t.restAccount + "/d1/database" + after
		if id == t.binding {
			restPath = "/accounts/" + t.restAccount + "/d1/database/" + t.restDatabase + strings.TrimPrefix(after, "/"+t.binding)
		}
	}
	u, err := url.Parse(t.rest + restPath)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	u.RawQuery = req.URL.RawQuery
	out.URL, out.Host = u, ""
	out.Header.Set("Authorization", "Bearer "+t.restToken)
	return t.next.RoundTrip(out)
}

// statement sends a /raw or /query request to the Worker, signed, with the session's
// bookmark, and records the bookmark the Worker answers.
func (t *bridgeTransport) statement(req *http.Request, endpoint string) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	// blobs=base64 asks for BLOB results as {"base64": …}; a Worker that predates it answers
	// arrays of byte values, which the decoder reads as well. The query is signed with the path.
	u, err := url.Parse(t.base + "/v1/" + t.binding + "/" + endpoint + "?blobs=base64")
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.URL, out.Host = u, ""
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.Header.Del("Authorization")
	if t.accessID != "" {
		out.Header.Set("CF-Access-Client-Id", t.accessID)
		out.Header.Set("CF-Access-Client-Secret", t.accessSecret)
	}
	s := sessionFrom(req.Context())
	constraint := ""
	if s != nil {
		constraint = s.next()
	}
	if err := signBridge(out, body, t.secret, constraint, t.now()); err != nil {
		return nil, err
	}
	res, err := t.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	if s != nil && res.StatusCode < 300 {
		s.advance(res.Header.Get(hdrBookmark))
	}
	return res, nil
}

// signBridge sets the bridge's authentication headers on req for body. The signed message
// is documented in bridge/worker.js.
func signBridge(req *http.Request, body, secret []byte, session string, now time.Time) error {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return err
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := hex.EncodeToString(n[:])
	sum := sha256.Sum256(body)
	path := req.URL.EscapedPath()
	if req.URL.RawQuery != "" {
		path += "?" + req.URL.RawQuery
	}
	m := hmac.New(sha256.New, secret)
	io.WriteString(m, "d1seal-bridge-v1\n"+req.Method+"\n"+path+"\n"+ts+"\n"+nonce+"\n"+session+"\n"+hex.EncodeToString(sum[:]))
	req.Header.Set(hdrTimestamp, ts)
	req.Header.Set(hdrNonce, nonce)
	req.Header.Set(hdrSignature, hex.EncodeToString(m.Sum(nil)))
	if session != "" {
		req.Header.Set(hdrSession, session)
	} else {
		req.Header.Del(hdrSession)
	}
	return nil
}

// restNeeded answers, without sending anything, a call the bridge cannot carry and for which
// no REST credentials were given: a 400 whose message names the REST path.
func restNeeded(req *http.Request, path string) *http.Response {
	msg := fmt.Sprintf("the d1seal bridge carries statements only; %s %s needs D1's REST API: give BridgeOptions.AccountID, DatabaseID and APIToken (or set %s, %s and %s)",
		req.Method, restTemplate(path), EnvAccountID, EnvAPIToken, EnvDatabaseID)
	b := []byte(`{"result":null,"success":false,"errors":[{"code":7400,"message":` + strconv.Quote(msg) + `}],"messages":[]}`)
	return &http.Response{
		StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(b)),
		ContentLength: int64(len(b)), Request: req,
	}
}

// restTemplate names a REST path with its ids as placeholders, as Cloudflare's docs write it.
func restTemplate(path string) string {
	_, after, ok := strings.Cut(path, "/d1/database")
	if !ok {
		return path
	}
	parts := strings.Split(strings.TrimPrefix(after, "/"), "/")
	if parts[0] != "" {
		parts[0] = "{database_id}"
	}
	return "/accounts/{account_id}/d1/database/" + strings.Join(parts, "/")
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
