package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary serve as the bench's child local D1.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := serveLocal(); err != nil {
			panic(err)
		}
		return
	}
	os.Exit(m.Run())
}

// TestBenchRuns runs every scenario but the go test benchmarks at a tiny size, so the bench
// command keeps working; its figures are not checked for speed, only for being reported.
func TestBenchRuns(t *testing.T) {
	var out bytes.Buffer
	cfg := config{latency: time.Millisecond, n: 300, seedN: 5, listN: 50, memoryNs: []int{100, 200}, only: map[string]bool{}}
	require.NoError(t, run(context.Background(), cfg, &out))
	s := out.String()
	for _, want := range []string{
		"## 1. Bulk create of 300", "| `CreateMany` | **1** |", "## 2. List and open 50 records",
		"## 5. BLOB transport", "| ratio hex / JSON | 0.56", "## 6. Rate-limit budget", "locked out: **false**", "## 7. Memory", "| 200 |",
	} {
		assert.True(t, strings.Contains(s, want), "output lacks %q:\n%s", want, s)
	}
}
