// Package childproc runs copies of the current test binary as child processes that begin their
// work at the same moment: the harness of tests that show two processes racing (migrations
// applied at once, a schema initialised at once). It is for tests only.
//
// The parent calls Run with the name of a test function and parameters; that test, in each
// child, calls Child to learn its parameters (and skips when it is not a child), Ready to wait
// for the signal that all children have started, and Result to hand back its outcome.
package childproc

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	envDir    = "D1SEAL_CHILDPROC_DIR"
	envName   = "D1SEAL_CHILDPROC_NAME"
	envParams = "D1SEAL_CHILDPROC_PARAMS"
)

// Run starts n children of the test binary running only the test named test, with params,
// waits until every child has called Ready, lets them all go at once, waits for them to end,
// and returns each child's Result (raw JSON), failing tb if a child fails.
func Run(tb testing.TB, test string, n int, params map[string]string) [][]byte {
	tb.Helper()
	dir := tb.TempDir()
	p, err := json.Marshal(params)
	if err != nil {
		tb.Fatal(err)
	}
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), envDir+"="+dir, fmt.Sprintf("%s=child%d", envName, i), envParams+"="+string(p))
		out, err := os.Create(filepath.Join(dir, fmt.Sprintf("child%d.log", i)))
		if err != nil {
			tb.Fatal(err)
		}
		defer out.Close()
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		cmds[i] = cmd
	}
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; i < n; {
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("child%d.ready", i))); err == nil {
			i++
			continue
		}
		if time.Now().After(deadline) {
			tb.Fatalf("child %d did not become ready within 2 minutes", i)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	results := make([][]byte, n)
	for i, cmd := range cmds {
		err := cmd.Wait()
		log, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("child%d.log", i)))
		if err != nil || !strings.Contains(string(log), "--- PASS") {
			tb.Fatalf("child %d failed (%v):\n%s", i, err, log)
		}
		if results[i], err = os.ReadFile(filepath.Join(dir, fmt.Sprintf("child%d.json", i))); err != nil {
			tb.Fatalf("child %d wrote no result:\n%s", i, log)
		}
	}
	return results
}

// Child returns the parameters Run gave this process, and false when the process is not a
// child (the test should then skip).
func Child() (map[string]string, bool) {
	if os.Getenv(envDir) == "" {
		return nil, false
	}
	var params map[string]string
	if err := json.Unmarshal([]byte(os.Getenv(envParams)), &params); err != nil {
		return nil, false
	}
	return params, true
}

// Ready tells the parent this child has started and waits until every child has.
func Ready(tb testing.TB) {
	tb.Helper()
	dir := os.Getenv(envDir)
	if err := os.WriteFile(filepath.Join(dir, os.Getenv(envName)+".ready"), nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// Result hands v (as JSON) back to the parent.
func Result(tb testing.TB, v any) {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(os.Getenv(envDir), os.Getenv(envName)+".json"), b, 0o644); err != nil {
		tb.Fatal(err)
	}
}
