package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSQLC runs the sqlc-generated queries through the database/sql driver on a local D1,
// twice on the same folder.
func TestSQLC(t *testing.T) {
	for _, v := range []string{"CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "D1_DATABASE_ID", "CLOUDFLARE_API_BASE_URL"} {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	for range 2 {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, dir), out.String())
		s := out.String()
		t.Log(s)
		assert.Regexp(t, `created 1 Ada \(bio "first programmer", avatar 4 bytes, joined \d{4}-\d\d-\d\d\) and 2 Grace \(bio NULL: true\)`, s)
		assert.Contains(t, s, "list: 1 Ada\nlist: 2 Grace\n")
		assert.Contains(t, s, "updated 1 row")
		assert.Contains(t, s, "read inside the transaction after its writes: true")
		assert.Contains(t, s, `after commit: 1 author, Ada's bio "analytical engine"`)
		assert.Contains(t, s, "get deleted author: sql.ErrNoRows true")
	}
}
