// Package d1test runs one test suite against every D1 backend d1seal supports, so that a
// behaviour asserted once is asserted everywhere:
//
//   - local: the local D1 in process (d1/d1local through Server.Transport, no socket);
//   - http: the cmd/d1local command, built and started once per test binary, over HTTP on
//     127.0.0.1;
//   - workerd: Cloudflare's own runtime and local D1 (workerd under `wrangler dev --local`),
//     reached through the d1seal bridge Worker (bridge/) and its signed requests;
//   - cloudflare: real D1, only when D1SEAL_TEST_CLOUDFLARE=1 together with
//     CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN; each test gets a throwaway database that
//     the harness creates and deletes. D1_DATABASE_ID is never read: no test can touch a
//     database the user did not hand to it for testing.
//
// Each Open gives the test a database of its own, empty: a new database on local, http and
// cloudflare, and on workerd one of a pool of bindings, wiped before it is handed out.
//
// workerd needs Node 22 and wrangler, installed by scripts/install-wrangler.sh into
// D1SEAL_WRANGLER_CACHE (default ~/.cache/d1seal-wrangler). Without them the workerd backend
// skips, except when CI=true, where a missing runtime fails the test. D1SEAL_TEST_BACKENDS
// (a comma-separated list of names) restricts the backends run.
//
// Packages that use the http or workerd backends call Main from TestMain, which stops the
// processes the harness started; a watchdog also stops them if the test binary dies.
package d1test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/d1seal/d1seal/d1"
)

// Backend is one kind of D1 a suite runs against.
type Backend struct {
	// Name is local, http, workerd or cloudflare.
	Name string

	// Admin says whether export, import, Time Travel and database administration work:
	// not through the bridge, which carries statements only.
	Admin bool

	// Emulated says whether the backend is d1seal's own local D1 (local, http).
	Emulated bool

	open func(t testing.TB, opts d1.Options) *d1.Client
}

// Open returns a client for a fresh, empty database of the backend, released when t ends.
// The client retries quickly (RetryPolicy with millisecond delays) and, except on
// cloudflare, has no rate-limit budget.
func (b *Backend) Open(t testing.TB) *d1.Client {
	t.Helper()
	return b.open(t, d1.Options{})
}

// OpenWith is Open with the client's options (BaseURL and HTTPClient are the harness's).
func (b *Backend) OpenWith(t testing.TB, opts d1.Options) *d1.Client {
	t.Helper()
	return b.open(t, opts)
}

// EnvBackends restricts the backends run (comma-separated names); EnvCloudflare=1 opts in to
// real D1.
const (
	EnvBackends   = "D1SEAL_TEST_BACKENDS"
	EnvCloudflare = "D1SEAL_TEST_CLOUDFLARE"
)

// Names lists every backend, in the order Run runs them.
var Names = []string{"local", "http", "workerd", "cloudflare"}

// Run runs fn as a subtest for each backend, named after it. A backend that is not available
// skips its subtest with the reason (or fails it, for workerd in CI).
func Run(t *testing.T, fn func(t *testing.T, b *Backend)) {
	t.Helper()
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			b := Get(t, name)
			fn(t, b)
		})
	}
}

// Get returns the backend called name, starting what it needs the first time; it skips t
// when the backend is unavailable or not selected.
func Get(t testing.TB, name string) *Backend {
	t.Helper()
	if sel := os.Getenv(EnvBackends); sel != "" && !slices.Contains(strings.Split(sel, ","), name) {
		t.Skipf("backend %s not in %s=%s", name, EnvBackends, sel)
	}
	switch name {
	case "local":
		return &Backend{Name: name, Admin: true, Emulated: true, open: openLocal}
	case "http":
		return httpBackend(t)
	case "workerd":
		return workerdBackend(t)
	case "cloudflare":
		return cloudflareBackend(t)
	}
	t.Fatalf("d1test: unknown backend %q (want one of %s)", name, strings.Join(Names, ", "))
	return nil
}

// InCI reports whether CI=true: then a missing runtime is a failure, never a skip.
func InCI() bool {
	v := os.Getenv("CI")
	return v == "true" || v == "1"
}

// unavailable skips t, or fails it in CI.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI=true: a missing runtime is a failure)", msg)
	}
	t.Skip(msg)
}

// Main runs the tests of a package and then stops the processes the harness started. Call it
// from TestMain: func TestMain(m *testing.M) { d1test.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	stopAll()
	os.Exit(code)
}

var (
	stopMu  sync.Mutex
	stopFns []func()
)

func atStop(f func()) {
	stopMu.Lock()
	defer stopMu.Unlock()
	stopFns = append(stopFns, f)
}

func stopAll() {
	stopMu.Lock()
	fns := stopFns
	stopFns = nil
	stopMu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// fastRetry is the retry policy of test clients unless the test sets its own.
func withTestDefaults(opts d1.Options) d1.Options {
	if opts.Retry == (d1.RetryPolicy{}) {
		opts.Retry = d1.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}
	}
	return opts
}

func bg() context.Context { return context.Background() }
