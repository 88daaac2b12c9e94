package d1local

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Server. The zero value serves in-memory databases without a token.
type Options struct {
	// Dir is the folder of <uuid>.sqlite files (created if missing); "" keeps every database in
	// memory.
	Dir string
	// Token, when non-empty, is required as "Authorization: Bearer <Token>" on every API call.
	Token string
	// Logger receives the emulator's own failures; nil discards them. The token is never logged.
	Logger *slog.Logger
	// Now is the clock for Time Travel, rate-limit windows and Retry-After; nil means time.Now.
	Now func() time.Time
	// RateLimit emulates Cloudflare's API rate limit; the zero value sets none.
	RateLimit RateLimit
	// Latency is added to every API request (benchmarks use 50 ms to resemble a remote D1).
	Latency time.Duration
	// MaxBodyBytes caps request bodies (query, raw, import uploads); 0 means 100 MB.
	MaxBodyBytes int64
	// TimeTravelRetention is how far back Time Travel reaches: a state is dropped once the
	// database left it longer ago than this. 0 means DefaultTimeTravelRetention, D1's 30 days.
	TimeTravelRetention time.Duration
	// TimeTravelMaxBytes caps each database's Time Travel history (on disk with a Dir, else in
	// memory; the history keeps the bytes that changed, see doc.go); past it the oldest states
	// are dropped. 0 means DefaultTimeTravelMaxBytes (256 MiB).
	TimeTravelMaxBytes int64
	// TimeTravelLimit, when positive, is how many captured states each database keeps at most
	// (the current one included); 0 means no limit besides TimeTravelRetention and
	// TimeTravelMaxBytes.
	TimeTravelLimit int
	// TimeTravelInterval is the resolution of timestamp restores: a timestamp resolves to a
	// state the database was in at some moment within TimeTravelInterval before it. Besides
	// the snapshots taken when a bookmark is handed out, a database copies its state before a
	// request at most this often. 0 adapts it to the database: 100 times as long as the last
	// copy took (about 1% of the time goes to copies; well under a millisecond for small
	// databases, about a second at 20 MB).
	TimeTravelInterval time.Duration
	// StatementCacheSize is how many prepared statements each database keeps for reuse (a batch
	// of inserts prepares its INSERT once instead of once per statement); 0 means
	// DefaultStatementCacheSize and a negative value turns the cache off.
	StatementCacheSize int
	// AccountID is the account GET /accounts and GET /memberships list (wrangler asks for them
	// when CLOUDFLARE_ACCOUNT_ID is not set); "" means DefaultAccountID. The D1 routes accept
	// any account id.
	AccountID string
	// QueryTimeout interrupts a query or raw request running longer (D1 allows 30 s); 0 means
	// 30 s. A request is also interrupted when its client goes away.
	QueryTimeout time.Duration
}

// Server is a local D1: an http.Handler serving Cloudflare's D1 REST API under
// /client/v4/accounts/{account_id}/d1/database over SQLite. It is safe for concurrent use;
// requests to one database run one at a time, as in D1.
type Server struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	maxBody int64
	timeout time.Duration
	// accountID is what /accounts and /memberships answer.
	accountID string
	mux       *http.ServeMux
	limiter   *rateLimiter
	faults    faultQueue
	files     fileStore
	jobs      jobStore

	requests atomic.Int64

	mu     sync.Mutex // guards dbs, order, closed
	dbs    map[string]*database
	order  []string // ids in creation order
	closed bool
}

// New opens a Server. With a Dir it opens the databases already there.
func New(opts Options) (*Server, error) {
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		now:     opts.Now,
		maxBody: opts.MaxBodyBytes,
		dbs:     map[string]*database{},
	}
	if s.accountID = opts.AccountID; s.accountID == "" {
		s.accountID = DefaultAccountID
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.timeout = opts.QueryTimeout; s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.maxBody <= 0 {
		s.maxBody = 100 << 20
	}
	s.limiter = newRateLimiter(opts.RateLimit)
	s.files.init()
	s.jobs.init()
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("d1local: %w", err)
		}
		if err := s.loadIndex(); err != nil {
			s.Close()
			return nil, fmt.Errorf("d1local: open %s: %w", opts.Dir, err)
		}
	}
	s.routes()
	return s, nil
}

// Close closes every database. Requests after Close fail.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	dbs := s.dbs
	s.dbs = map[string]*database{}
	s.order = nil
	s.mu.Unlock()
	for _, d := range dbs {
		d.close(s.now(), true)
	}
	return nil
}

// Requests returns how many API requests the server has received, refused ones included.
// Downloads of exports and uploads of imports (the signed URLs) do not count.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Paths the handler serves.
const (
	apiPrefix   = "/client/v4/accounts/"
	filesPrefix = "/client/v4/d1local/files/"
)

func (s *Server) routes() {
	m := http.NewServeMux()
	db := "/client/v4/accounts/{account}/d1/database"
	m.HandleFunc("/client/v4/accounts", s.api(s.handleAccounts))
	m.HandleFunc("/client/v4/memberships", s.api(s.handleMemberships))
	m.HandleFunc(db, s.api(s.collection))
	m.HandleFunc(db+"/{id}", s.api(s.item))
	m.HandleFunc(db+"/{id}/{op}", s.api(s.withDB(s.operation)))
	m.HandleFunc(db+"/{id}/time_travel/{op}", s.api(s.withDB(s.timeTravel)))
	m.HandleFunc("/client/v4/graphql", s.api(s.handleGraphQL))
	m.HandleFunc(filesPrefix+"{key}/{name}", s.serveFile)
	m.HandleFunc("/", s.notFound)
	s.mux = m
}

// ServeHTTP serves D1's REST API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v))
			writeError(w, errInternal("panic"))
		}
	}()
	s.mux.ServeHTTP(w, r)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, apiPrefix) {
		s.requests.Add(1)
	}
	writeError(w, errRouteNotFound())
}

// api wraps an API handler: it counts the request, adds latency, checks the token and the
// emulated rate limit, and applies injected faults.
func (s *Server) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		f := s.nextFault(r)
		if !sleep(r.Context(), s.opts.Latency+f.Latency) {
			return
		}
		if err := s.authenticate(r); err != nil {
			writeError(w, err)
			return
		}
		if wait, ok := s.limiter.allow(s.now()); !ok {
			writeError(w, &apiError{status: http.StatusTooManyRequests, code: 971, msg: "Please wait and consider throttling your request speed", retryAfter: wait})
			return
		}
		if f.answer(w) {
			return
		}
		if f.DropAfterCommit {
			h(discardWriter{header: http.Header{}}, r)
			dropConnection(w)
			return
		}
		h(w, r)
	}
}

func (s *Server) authenticate(r *http.Request) *apiError {
	if s.opts.Token == "" {
		return nil
	}
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		return &apiError{status: http.StatusUnauthorized, code: 10000, msg: "Authentication error"}
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.Token)) != 1 {
		return &apiError{status: http.StatusForbidden, code: 10000, msg: "Authentication error"}
	}
	return nil
}

func (s *Server) collection(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		s.handleCreate(w, r)
	case http.MethodGet:
		s.handleList(w, r)
	default:
		writeError(w, errMethod())
	}
}

// withDB resolves {id} to a database, answering 404/7404 for an unknown one.
func (s *Server) withDB(h func(http.ResponseWriter, *http.Request, *database)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d := s.lookup(r.PathValue("id"))
		if d == nil {
			writeError(w, errNotFound())
			return
		}
		h(w, r, d)
	}
}

// item serves GET and DELETE /{id}. GET also takes a database's name (wrangler looks a
// database up by name, with ?fields=uuid,name, when its config has only database_name); every
// other route takes the uuid only.
func (s *Server) item(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d := s.lookup(id)
	if d == nil && r.Method == http.MethodGet {
		d = s.lookupName(id)
	}
	if d == nil {
		writeError(w, errNotFound())
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeResult(w, d.info(), nil)
	case http.MethodDelete:
		s.handleDelete(w, d)
	case http.MethodPatch, http.MethodPut:
		s.handleSettings(w, r, d)
	default:
		writeError(w, errMethod())
	}
}

// handleSettings serves PATCH and PUT /{id}: the read replication mode (which the local D1
// records and reports; it has no replicas, so every query is served by the primary).
func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request, d *database) {
	var body struct {
		ReadReplication *struct {
			Mode string `json:"mode"`
		} `json:"read_replication"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil || body.ReadReplication == nil {
		writeError(w, errBadRequest("read_replication.mode is required"))
		return
	}
	switch mode := body.ReadReplication.Mode; mode {
	case "auto", "disabled":
		d.mu.Lock()
		d.replication = mode
		d.mu.Unlock()
	default:
		writeError(w, errBadRequest(`read_replication.mode must be "auto" or "disabled"`))
		return
	}
	writeResult(w, d.info(), nil)
}

func (s *Server) operation(w http.ResponseWriter, r *http.Request, d *database) {
	op := r.PathValue("op")
	switch op {
	case "query", "raw", "export", "import":
	default:
		writeError(w, errRouteNotFound())
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, errMethod())
		return
	}
	switch op {
	case "query":
		s.handleQuery(w, r, d, false)
	case "raw":
		s.handleQuery(w, r, d, true)
	case "export":
		s.handleExport(w, r, d)
	case "import":
		s.handleImport(w, r, d)
	}
}

func (s *Server) timeTravel(w http.ResponseWriter, r *http.Request, d *database) {
	switch op := r.PathValue("op"); {
	case op == "bookmark" && r.Method == http.MethodGet:
		s.handleBookmark(w, r, d)
	case op == "restore" && r.Method == http.MethodPost:
		s.handleRestore(w, r, d)
	case op == "bookmark" || op == "restore":
		writeError(w, errMethod())
	default:
		writeError(w, errRouteNotFound())
	}
}

// sleep waits for d or until ctx ends; it reports whether the full wait elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// baseURL is the scheme and host the client used, so signed URLs work in process and over a
// socket alike.
func baseURL(r *http.Request) string {
	scheme := r.URL.Scheme
	if scheme == "" {
		scheme = "http"
		if r.TLS != nil {
			scheme = "https"
		}
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	return scheme + "://" + host
}

// drainClose discards and closes a body.
func drainClose(b io.ReadCloser) {
	if b != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(b, 1<<20))
		_ = b.Close()
	}
}

var errDropped = errors.New("d1local: connection dropped after the request committed (injected fault)")
