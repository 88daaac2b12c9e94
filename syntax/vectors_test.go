package syntax

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readVectors returns the values in one of the AT Protocol interop files in testdata/atproto: one per line, blank lines and lines starting
// with # skipped, nothing trimmed (leading and trailing spaces are part of some invalid
// values). Lines may be long (some vectors test length limits).
func readVectors(tb testing.TB, name string) []string {
	tb.Helper()
	path := filepath.Join("testdata", "atproto", name)
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(lines) == 0 {
		tb.Fatalf("%s holds no vectors", path)
	}
	return lines
}
