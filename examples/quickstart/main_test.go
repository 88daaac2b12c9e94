package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// localOnly makes d1seal.Open pick the embedded local D1 whatever the environment holds.
func localOnly(t *testing.T) {
	for _, v := range []string{"CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "D1_DATABASE_ID", "CLOUDFLARE_API_BASE_URL"} {
		t.Setenv(v, "")
	}
}

func TestQuickstart(t *testing.T) {
	localOnly(t)
	dir := t.TempDir()
	// Twice on the same folder: the second run must not trip over the first one's agents.
	for i := range 2 {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, dir), "run %d:\n%s", i+1, out.String())
		s := out.String()
		t.Log(s)
		assert.Regexp(t, `database: local D1 in .*\.sqlite`, s)
		if i == 0 {
			assert.Regexp(t, `generated did:example:alice-\S+ and saved its keys in .*alice\.key`, s)
		} else {
			assert.Regexp(t, `loaded did:example:alice-\S+ from .*alice\.key`, s, "the second run keeps the first run's agents")
		}
		assert.Regexp(t, `pinned did:example:bob-\S+'s keys from configuration`, s)
		assert.Contains(t, s, "stored 5 sealed notes in agent.memory.note")
		// Pagination: 5 notes per run so far, 2 per page, in creation order (a later run lists
		// the earlier runs' notes too: they are alice's, and kept).
		pages := regexp.MustCompile(`(?m)^   page (\d+)  .*$`).FindAllStringSubmatch(s, -1)
		require.Len(t, pages, 5*(i+1))
		last := pages[len(pages)-1]
		assert.Equal(t, fmt.Sprint((5*(i+1)+1)/2), last[1], "the last page")
		assert.Contains(t, last[0], `"ask before deleting anything"`)
		assert.Contains(t, s, `bob reads it: "Bob found the flaky test: a clock in the fixture"`)
		assert.Contains(t, s, "bob tries again: records: record is not shared with this agent")
		for _, ev := range []string{"agent.decision ok", "records.create_many ok", "records.share ok", "records.unshare ok"} {
			assert.Regexp(t, regexp.QuoteMeta(ev)+` +x1`, s)
		}
		assert.Regexp(t, `ciphertext +\d+ bytes  0101`, s, "the envelope starts with format and suite bytes")
		assert.Regexp(t, `encrypted_dek +\d+ bytes  01`, s)
		assert.Regexp(t, `version +3\n`, s, "the share wrote version 2, the revocation re-keyed it as version 3")
		assert.Contains(t, s, "shared_records rows for it: 0")
		assert.Contains(t, s, "appear in the row: false")
	}
	for _, f := range []string{"alice.key", "bob.key", "trust.json", "state"} {
		assert.FileExists(t, filepath.Join(dir, f), "kept beside the database")
	}
	st, err := os.Stat(filepath.Join(dir, "alice.key"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}
