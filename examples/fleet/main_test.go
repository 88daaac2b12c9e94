package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFleet(t *testing.T) {
	for _, v := range []string{"CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "D1_DATABASE_ID", "CLOUDFLARE_API_BASE_URL"} {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	for range 2 { // the same folder works twice
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, dir), out.String())
		s := out.String()
		t.Log(s)
		for _, want := range []string{
			"2. 4 agents placed, 2 per database: 2 databases created on demand\n",
			"   each created with location hint weur, jurisdiction eu and the agent-records schema\n",
			`   dave's SharedWithMe: 1 record(s) in 2 requests: "the quarterly report is due on the 5th"`,
			"4. alice re-routed by editing the directory: ErrUntrusted=true\n",
			"   2 databases: 2 applied, 0 pending, 0 failed, 0 drifted\n",
			"[copy fence sync verify switch delete]; 1 records verified; epoch 2\n",
			`   dave still reads "the quarterly report is due on the 5th"`,
			"7. records per database (3 databases, 0 failed):\n",
			"8. cleaned up: deleted the directory and 3 tenant databases\n",
		} {
			assert.Contains(t, s, want)
		}
	}
}
