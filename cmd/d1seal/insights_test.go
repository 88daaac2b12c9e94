package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInsightsCommand: insights lists the queries run, most runs first with -sort-by count,
// in wrangler's JSON shape; a bad flag value is a usage error; info shows the replication mode.
func TestInsightsCommand(t *testing.T) {
	dir := t.TempDir()
	for range 3 {
		code, _, errOut := d1sealCmd(t, dir, "exec", "SELECT 40 + 2 AS answer")
		require.Equal(t, 0, code, errOut)
	}
	code, out, errOut := d1sealCmd(t, dir, "insights", "-json", "-sort-by", "count", "-limit", "1")
	require.Equal(t, 0, code, errOut)
	var qs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &qs), out)
	require.Len(t, qs, 1)
	assert.Equal(t, "SELECT 40 + 2 AS answer", qs[0]["query"])
	assert.EqualValues(t, 3, qs[0]["numberOfTimesRun"])
	for _, k := range []string{"avgRowsRead", "totalRowsRead", "avgRowsWritten", "totalRowsWritten", "avgDurationMs", "totalDurationMs", "queryEfficiency"} {
		assert.Contains(t, qs[0], k)
	}
	code, out, _ = d1sealCmd(t, dir, "insights")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "SELECT 40 + 2 AS answer")

	code, _, errOut = d1sealCmd(t, dir, "insights", "-sort-by", "size")
	assert.Equal(t, 2, code, "a usage error")
	assert.Contains(t, errOut, "-sort-by")
	code, _, errOut = d1sealCmd(t, dir, "insights", "-period", "3w")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "-period")

	code, out, errOut = d1sealCmd(t, dir, "info")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "read replication  disabled")
}
