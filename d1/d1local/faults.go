package d1local

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/d1seal/d1seal/internal/wire"
)

// Fault is a failure injected into one API request, for testing clients against what D1 and
// Cloudflare's edge do under stress. The zero Fault injects nothing.
type Fault struct {
	// Latency is added before the request is answered.
	Latency time.Duration
	// Status answers the request with this HTTP status before executing it: 500 (Cloudflare's
	// internal-error envelope), 502 and 504 (an HTML page, as Cloudflare's gateway sends),
	// 503 (an error envelope) or 429 (the rate-limit envelope).
	Status int
	// RetryAfter is sent as Retry-After (whole seconds, rounded up) with a 429 or 503.
	RetryAfter time.Duration
	// DropAfterCommit executes the request and commits, then drops the connection: the
	// response is lost but the write happened. Over a socket the connection is closed; through
	// Server.Transport the round trip returns an error.
	DropAfterCommit bool
	// Transient answers with this D1 transient message (for example "Network connection lost.")
	// without executing anything: HTTP 500, code 7500, message "D1_ERROR: " + Transient.
	Transient string
}

// FaultHeader lets any HTTP client ask for a fault on its own request: a JSON object with the
// fields latency_ms, status, retry_after_s, drop_after_commit and transient, for example
// `X-D1local-Fault: {"status":503,"retry_after_s":2}`. It takes precedence over queued faults.
const FaultHeader = "X-D1local-Fault"

type headerFault struct {
	LatencyMS       float64 `json:"latency_ms"`
	Status          int     `json:"status"`
	RetryAfterS     float64 `json:"retry_after_s"`
	DropAfterCommit bool    `json:"drop_after_commit"`
	Transient       string  `json:"transient"`
}

// faultQueue holds the injected faults.
type faultQueue struct {
	mu    sync.Mutex
	queue []Fault
	fn    func(*http.Request) Fault
}

// InjectFaults queues faults; each applies to one following API request, first in first out.
func (s *Server) InjectFaults(f ...Fault) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.queue = append(s.faults.queue, f...)
}

// SetFaultFunc installs fn, consulted for every API request that no header or queued fault
// claims (for random soak tests); nil removes it. fn must be safe for concurrent use.
func (s *Server) SetFaultFunc(fn func(*http.Request) Fault) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.fn = fn
}

// nextFault returns the fault for r: from its header, else the queue, else the fault func.
func (s *Server) nextFault(r *http.Request) Fault {
	if v := r.Header.Get(FaultHeader); v != "" {
		var h headerFault
		if json.Unmarshal([]byte(v), &h) == nil {
			return Fault{
				Latency:         time.Duration(h.LatencyMS * float64(time.Millisecond)),
				Status:          h.Status,
				RetryAfter:      time.Duration(h.RetryAfterS * float64(time.Second)),
				DropAfterCommit: h.DropAfterCommit,
				Transient:       h.Transient,
			}
		}
	}
	s.faults.mu.Lock()
	if len(s.faults.queue) > 0 {
		f := s.faults.queue[0]
		s.faults.queue = s.faults.queue[1:]
		s.faults.mu.Unlock()
		return f
	}
	fn := s.faults.fn
	s.faults.mu.Unlock()
	if fn != nil {
		return fn(r)
	}
	return Fault{}
}

// answer writes the fault's response, if it has one, and reports whether it did.
func (f Fault) answer(w http.ResponseWriter) bool {
	switch {
	case f.Transient != "":
		writeError(w, &apiError{status: http.StatusInternalServerError, code: wire.CodeSQL, msg: "D1_ERROR: " + f.Transient})
	case f.Status == http.StatusBadGateway || f.Status == http.StatusGatewayTimeout:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
		}
		writeGatewayPage(w, f.Status)
	case f.Status == http.StatusTooManyRequests:
		writeError(w, &apiError{status: f.Status, code: 971, msg: "Please wait and consider throttling your request speed", retryAfter: f.RetryAfter})
	case f.Status == http.StatusServiceUnavailable:
		writeError(w, &apiError{status: f.Status, code: wire.CodeInternal, msg: "Service temporarily unavailable", retryAfter: f.RetryAfter})
	case f.Status >= 400:
		writeError(w, &apiError{status: f.Status, code: wire.CodeInternal, msg: "internal error; reference = injected", retryAfter: f.RetryAfter})
	default:
		return false
	}
	return true
}

// writeGatewayPage answers like Cloudflare's edge when the origin fails: an HTML page.
func writeGatewayPage(w http.ResponseWriter, status int) {
	text := strconv.Itoa(status) + " " + http.StatusText(status)
	body := "<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text +
		"</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// dropper is implemented by the in-process transport's response writer.
type dropper interface{ drop() }

// dropConnection loses the response: in process the round trip fails; over a socket the
// connection is closed without a response.
func dropConnection(w http.ResponseWriter) {
	if d, ok := w.(dropper); ok {
		d.drop()
		return
	}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// discardWriter swallows the response of a request whose connection will be dropped.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}
