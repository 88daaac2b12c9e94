package readmecode

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestREADME: every Go block of README.md is, line for line (its import lines aside), the
// body of one region of readme.go, which compiles with the module; and every region is shown.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	code, err := os.ReadFile("readme.go")
	require.NoError(t, err)
	var regions []string
	for _, m := range regexp.MustCompile(`(?s)// README:begin\n(.*?)\n\t// README:end`).FindAllStringSubmatch(string(code), -1) {
		lines := strings.Split(m[1], "\n")
		for i, l := range lines {
			lines[i] = strings.TrimPrefix(l, "\t")
		}
		regions = append(regions, strings.Join(lines, "\n"))
	}
	require.NotEmpty(t, regions)
	shown := map[int]bool{}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)\n```").FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, blocks)
	for _, b := range blocks {
		body := b[1]
		for strings.HasPrefix(body, "import ") {
			_, body, _ = strings.Cut(body, "\n")
			body = strings.TrimLeft(body, "\n")
		}
		i := -1
		for j, r := range regions {
			if r == body {
				i = j
			}
		}
		if assert.GreaterOrEqual(t, i, 0, "README block is not in readme.go (update both together):\n%s", body) {
			shown[i] = true
		}
	}
	for j, r := range regions {
		assert.True(t, shown[j], "readme.go region %d is not in the README:\n%s", j, r)
	}
}
