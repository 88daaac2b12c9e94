package d1test

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
)

// LocalAccount is the account id the harness's local clients use.
const LocalAccount = "0123456789abcdef0123456789abcdef"

// Local returns a client for a fresh database on an in-process local D1 with opts, and the
// server, for tests that inject faults or look inside it.
func Local(t testing.TB, opts d1local.Options, copts d1.Options) (*d1.Client, *d1local.Server) {
	t.Helper()
	srv, err := d1local.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(bg(), "d1test")
	require.NoError(t, err)
	token := opts.Token
	if token == "" {
		token = "local"
	}
	copts = withTestDefaults(copts)
	copts.BaseURL = "http://d1local.invalid/client/v4"
	copts.HTTPClient = &http.Client{Transport: srv.Transport()}
	if copts.RateLimit == (d1.RateLimit{}) {
		copts.RateLimit = d1.RateLimit{Disabled: true}
	}
	acct, err := d1.NewAccount(LocalAccount, token, copts)
	require.NoError(t, err)
	c := acct.Database(id)
	return c, srv
}

func openLocal(t testing.TB, opts d1.Options) *d1.Client {
	c, _ := Local(t, d1local.Options{}, opts)
	return c
}

// repoRoot is the module's root folder, found from this file's path.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var httpOnce struct {
	sync.Once
	base string
	err  error
}

// httpBackend builds cmd/d1local once per test binary and serves an in-memory local D1 with
// it on a free port of 127.0.0.1.
func httpBackend(t testing.TB) *Backend {
	t.Helper()
	httpOnce.Do(func() { httpOnce.base, httpOnce.err = startD1local() })
	if httpOnce.err != nil {
		t.Fatalf("d1test: http backend: %v", httpOnce.err)
	}
	base := httpOnce.base
	return &Backend{Name: "http", Admin: true, Emulated: true, open: func(t testing.TB, opts d1.Options) *d1.Client {
		t.Helper()
		opts = withTestDefaults(opts)
		opts.BaseURL = base
		if opts.RateLimit == (d1.RateLimit{}) {
			opts.RateLimit = d1.RateLimit{Disabled: true}
		}
		admin, err := d1.NewAccount(LocalAccount, "local", opts)
		require.NoError(t, err)
		db, err := admin.CreateDatabase(bg(), "d1test-"+randomHex(6))
		require.NoError(t, err)
		t.Cleanup(func() { admin.DeleteDatabase(bg(), db.ID) })
		c := admin.Database(db.ID)
		return c
	}}
}

func startD1local() (string, error) {
	dir, err := os.MkdirTemp("", "d1test-d1local-")
	if err != nil {
		return "", err
	}
	atStop(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "d1local")
	build := exec.Command("go", "build", "-o", bin, "./cmd/d1local")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return "", &startError{what: "go build ./cmd/d1local", err: err, out: string(out)}
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-dir", "")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return "", err
	}
	atStop(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	// The first line is "d1local serving D1's REST API at http://127.0.0.1:PORT/client/v4".
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		return "", &startError{what: "cmd/d1local", err: io.ErrUnexpectedEOF}
	}
	first := lines.Text()
	i := strings.Index(first, "http://")
	if i < 0 {
		return "", &startError{what: "cmd/d1local", out: first}
	}
	go io.Copy(io.Discard, stdout)
	return strings.TrimSpace(first[i:]), nil
}

type startError struct {
	what string
	err  error
	out  string
}

func (e *startError) Error() string {
	s := e.what + " did not start"
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	if e.out != "" {
		s += "\n" + e.out
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
