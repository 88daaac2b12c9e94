package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBulkImport(t *testing.T) {
	for _, v := range []string{"CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "D1_DATABASE_ID", "CLOUDFLARE_API_BASE_URL"} {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	for range 2 { // a second run adds its own agent's rows beside the first one's
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, dir, 1200, 600), out.String())
		s := out.String()
		t.Log(s)
		assert.Contains(t, s, "1. sealing and writing 1200 notes with CreateMany")
		progress := regexp.MustCompile(`(?m)^ +(\d+) / 1200 +\d+%  (\d+) D1 requests so far$`).FindAllStringSubmatch(s, -1)
		require.Len(t, progress, 3, "one line per chunk of 500")
		assert.Equal(t, []string{"500", "1000", "1200"}, []string{progress[0][1], progress[1][1], progress[2][1]})
		reqs, _ := strconv.Atoi(progress[2][2])
		assert.LessOrEqual(t, reqs, 6, "CreateMany batches: a few requests, not one per note")
		assert.Contains(t, s, `rows in D1: 1200; first note opens to "observation 1 of the crawl"`)
		assert.Regexp(t, `importing .*events-import.sql \(\d+ bytes, a CREATE TABLE and 600 INSERT statements\)`, s)
		assert.Regexp(t, `uploading +(\d+) / \d+ bytes\n   ingesting\n   complete\n`, s)
		assert.Contains(t, s, "D1 ran 601 statements")
		assert.Contains(t, s, "crawl_log rows of the importer now in D1: 600 (12 with outcome error)")
	}
}
