// Package vectors reads the AT Protocol interop vector files that the tid and records tests
// check their parsers against. It is for tests only.
package vectors

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// Lines returns the values in one interop file: one per line, blank lines and lines starting
// with # skipped, nothing trimmed (leading and trailing spaces are part of some invalid
// values). Lines may be long (some vectors test length limits).
func Lines(tb testing.TB, path string) []string {
	tb.Helper()
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
