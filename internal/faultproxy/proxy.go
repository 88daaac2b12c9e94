// Package faultproxy is an HTTP reverse proxy that stands between a D1 client and a D1 (the
// local one, served over HTTP) and injects the faults the client meets on the way to
// Cloudflare: transient statuses before a request runs or after it committed, answers lost
// after commit, requests delivered late (after the client gave up on them), and 429 storms
// during which every request is refused until Retry-After has passed. It counts what it did,
// so that tests can report faults by kind and requests sent during lockouts.
//
// A Proxy serves real HTTP (ServeHTTP, behind an httptest.Server) or runs in process
// (RoundTrip), for tests that run on a synctest bubble's clock.
package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Delivery says when a request held by a Late fault is finally forwarded.
type Delivery int

const (
	// OnRelease holds the request until Release.
	OnRelease Delivery = iota + 1
	// BeforeResend forwards it just before the next request with the same method, path and
	// body (the client's resend), so that the resend meets what the original wrote; or at
	// Release if none comes.
	BeforeResend
	// BeforeNext forwards it just before the next request of any kind is forwarded.
	BeforeNext
	// AfterN forwards it once Fault.N more requests have been forwarded.
	AfterN
)

// Fault is what the proxy does to one request. The zero Fault forwards it untouched. At
// most one of Status, StatusAfter, LoseAnswer and Late applies, in that order.
type Fault struct {
	// Status answers with this status without forwarding: the request never runs. 429 starts
	// a storm: every request is refused with 429 until RetryAfter has passed. 502 and 524
	// answer with an HTML page, as Cloudflare's edge does; others with an error envelope.
	Status int

	// RetryAfter is sent as Retry-After with Status (whole seconds, rounded up; at least 1 s
	// for a 429).
	RetryAfter time.Duration

	// StatusAfter forwards the request, lets it run (and commit), then answers with this
	// status instead of D1's answer.
	StatusAfter int

	// LoseAnswer forwards the request, lets it run (and commit), then breaks the client's
	// connection: the answer is lost.
	LoseAnswer bool

	// Late breaks the client's connection at once, holding the request, and forwards it
	// later, as Late says: it lands after the client gave up on it.
	Late Delivery
	N    int // requests to wait for, with AfterN
}

// Kind names the fault for the proxy's counts.
func (f Fault) Kind() string {
	switch {
	case f.Status == http.StatusTooManyRequests:
		return "429 storm"
	case f.Status != 0:
		return fmt.Sprintf("%d before commit", f.Status)
	case f.StatusAfter != 0:
		return fmt.Sprintf("%d after commit", f.StatusAfter)
	case f.LoseAnswer:
		return "answer lost after commit"
	case f.Late != 0:
		return "delivered late"
	}
	return ""
}

// Stats counts what a Proxy did.
type Stats struct {
	Requests      int            // requests received from clients
	Forwarded     int            // requests forwarded to D1, late ones included
	Faults        map[string]int // faults injected, by Fault.Kind
	Storms        int            // 429 storms started
	DuringStorms  int            // requests received while a storm was on (each refused with 429)
	MaxInOneStorm int            // the most requests received during one storm
	Held          int            // late requests not yet forwarded
}

// Proxy forwards requests to a D1, injecting faults. It is safe for concurrent use.
type Proxy struct {
	target  *url.URL
	backend http.RoundTripper
	now     func() time.Time

	mu         sync.Mutex
	queue      []Fault
	plan       func(r *http.Request, body []byte) Fault
	held       []*held
	stormUntil time.Time
	stormSeen  int // requests received during the current storm
	stats      Stats
}

type held struct {
	method, path, query string
	header              http.Header
	body                []byte
	fault               Fault
	left                int // AfterN: forwarded requests still to wait for
}

// New returns a proxy to the D1 whose API root is target (such as a local D1's
// "http://127.0.0.1:8787"), reached through backend (nil: http.DefaultTransport).
func New(target string, backend http.RoundTripper) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q is not an absolute URL", target)
	}
	if backend == nil {
		backend = http.DefaultTransport
	}
	return &Proxy{target: u, backend: backend, now: time.Now, stats: Stats{Faults: map[string]int{}}}, nil
}

// Inject queues faults; each applies to one following request, first in first out, before
// the plan is consulted.
func (p *Proxy) Inject(f ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue = append(p.queue, f...)
}

// SetPlan installs fn, which picks the fault of every request no queued fault claims; nil
// removes it. fn is called with the proxy's lock held, one request at a time.
func (p *Proxy) SetPlan(fn func(r *http.Request, body []byte) Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plan = fn
}

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Faults = make(map[string]int, len(p.stats.Faults))
	for k, v := range p.stats.Faults {
		s.Faults[k] = v
	}
	s.Held = len(p.held)
	return s
}

// errBroken is what an in-process client gets for a connection the proxy breaks.
var errBroken = errors.New("faultproxy: connection closed before the answer")

// ServeHTTP proxies one request over real HTTP. A broken connection is a connection the
// server aborts (http.ErrAbortHandler), which the client sees as an EOF or a reset.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res, err := p.handle(r)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer res.Body.Close()
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	io.Copy(w, res.Body)
}

// RoundTrip proxies one request in process.
func (p *Proxy) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := p.handle(r)
	if err != nil {
		return nil, err
	}
	res.Request = r
	return res, nil
}

// Release forwards every request still held, in the order they were held. Call it before
// checking a database against what its clients were told, so that nothing is still in
// transit.
func (p *Proxy) Release() error {
	p.mu.Lock()
	hs := p.held
	p.held = nil
	p.mu.Unlock()
	var errs []error
	for _, h := range hs {
		errs = append(errs, p.deliver(h))
	}
	return errors.Join(errs...)
}

// handle decides the fault of r and carries it out. A non-nil error means: break the
// client's connection.
func (p *Proxy) handle(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	h := &held{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: body}

	p.mu.Lock()
	p.stats.Requests++
	now := p.now()
	if now.Before(p.stormUntil) {
		p.stats.DuringStorms++
		p.stormSeen++
		p.stats.MaxInOneStorm = max(p.stats.MaxInOneStorm, p.stormSeen)
		wait := p.stormUntil.Sub(now)
		p.mu.Unlock()
		return answer(http.StatusTooManyRequests, wait), nil
	}
	var f Fault
	if len(p.queue) > 0 {
		f, p.queue = p.queue[0], p.queue[1:]
	} else if p.plan != nil {
		f = p.plan(r, body)
	}
	if k := f.Kind(); k != "" {
		p.stats.Faults[k]++
	}
	if f.Status == http.StatusTooManyRequests {
		wait := max(f.RetryAfter, time.Second)
		p.stormUntil, p.stormSeen = now.Add(wait), 0
		p.stats.Storms++
		p.mu.Unlock()
		return answer(http.StatusTooManyRequests, wait), nil
	}
	if f.Status == 0 && f.Late != 0 {
		h.fault = f
		h.left = f.N
		p.held = append(p.held, h)
		p.mu.Unlock()
		return nil, errBroken
	}
	p.mu.Unlock()

	if f.Status != 0 {
		return answer(f.Status, f.RetryAfter), nil
	}
	res, err := p.forward(h)
	if err != nil {
		return nil, err
	}
	switch {
	case f.StatusAfter != 0:
		res.Body.Close()
		return answer(f.StatusAfter, f.RetryAfter), nil
	case f.LoseAnswer:
		res.Body.Close()
		return nil, errBroken
	}
	return res, nil
}

// forward delivers the held requests that are due before h, then h, and returns D1's answer
// read whole (so that a lost answer is lost after the request ran to its end).
func (p *Proxy) forward(h *held) (*http.Response, error) {
	p.release(func(x *held) bool {
		return x.fault.Late == BeforeNext ||
			x.fault.Late == BeforeResend && x.method == h.method && x.path == h.path && bytes.Equal(x.body, h.body)
	})
	res, err := p.send(h)
	if err != nil {
		return nil, err
	}
	p.release(func(x *held) bool {
		if x.fault.Late != AfterN {
			return false
		}
		x.left--
		return x.left <= 0
	})
	return res, nil
}

// release delivers, in the order they were held, the held requests that due reports due
// (called under p.mu, once per held request) and keeps the rest.
func (p *Proxy) release(due func(*held) bool) {
	p.mu.Lock()
	var out []*held
	keep := p.held[:0]
	for _, x := range p.held {
		if due(x) {
			out = append(out, x)
		} else {
			keep = append(keep, x)
		}
	}
	clear(p.held[len(keep):])
	p.held = keep
	p.mu.Unlock()
	for _, x := range out {
		p.deliver(x)
	}
}

// deliver forwards a late request and drops D1's answer: its client gave up long ago.
func (p *Proxy) deliver(h *held) error {
	res, err := p.send(h)
	if err != nil {
		return err
	}
	res.Body.Close()
	return nil
}

// send forwards one request to D1 and reads the answer whole.
func (p *Proxy) send(h *held) (*http.Response, error) {
	u := *p.target
	u.Path = strings.TrimSuffix(u.Path, "/") + h.path
	u.RawQuery = h.query
	req, err := http.NewRequest(h.method, u.String(), bytes.NewReader(h.body))
	if err != nil {
		return nil, err
	}
	req.Header = h.header.Clone()
	p.mu.Lock()
	p.stats.Forwarded++
	p.mu.Unlock()
	res, err := p.backend.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &http.Response{
		Status: res.Status, StatusCode: res.StatusCode, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: res.Header.Clone(), Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)),
	}, nil
}

// answer is the proxy's own answer with status: Cloudflare's envelope, or for 502 and 524
// the HTML page its edge sends.
func answer(status int, retryAfter time.Duration) *http.Response {
	h := http.Header{}
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10))
	}
	var body string
	switch status {
	case http.StatusBadGateway, 524:
		h.Set("Content-Type", "text/html; charset=UTF-8")
		body = fmt.Sprintf("<!DOCTYPE html><html><head><title>%d</title></head><body>cloudflare</body></html>", status)
	case http.StatusTooManyRequests:
		h.Set("Content-Type", "application/json")
		body = `{"result":null,"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}],"messages":[]}`
	default:
		h.Set("Content-Type", "application/json")
		body = `{"result":null,"success":false,"errors":[{"code":7500,"message":"internal error; reference = faultproxy"}],"messages":[]}`
	}
	return &http.Response{
		Status: strconv.Itoa(status), StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
	}
}
