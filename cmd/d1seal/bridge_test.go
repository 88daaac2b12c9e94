package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBridgeProject checks the files `d1seal bridge init` writes: the Worker as shipped, the
// database filled into wrangler.toml, a fresh 256-bit secret in files only the user reads.
func TestBridgeProject(t *testing.T) {
	a, err := bridgeProject("my-bridge", "notes", "7544b7d1-b4fa-4958-8c73-5b5f88ec8fcc")
	require.NoError(t, err)
	b, err := bridgeProject("my-bridge", "notes", "x")
	require.NoError(t, err)
	files := map[string]projectFile{}
	for _, f := range a {
		files[f.name] = f
	}
	cfg := string(files["wrangler.toml"].data)
	assert.Contains(t, cfg, `name = "my-bridge"`)
	assert.Contains(t, cfg, `database_name = "notes"`)
	assert.Contains(t, cfg, `database_id = "7544b7d1-b4fa-4958-8c73-5b5f88ec8fcc"`)
	assert.Contains(t, cfg, `compatibility_flags = ["d1_binding_jsrpc"]`)
	assert.NotContains(t, cfg, "REPLACE_WITH")
	assert.Contains(t, string(files["worker.js"].data), "d1seal-bridge-v1")

	secret := strings.TrimPrefix(strings.TrimSpace(string(files[".dev.vars"].data)), "BRIDGE_SECRET=")
	assert.Len(t, secret, 64)
	assert.Equal(t, "D1SEAL_BRIDGE_SECRET="+secret+"\n", string(files["bridge.env"].data))
	assert.NotContains(t, string(b[2].data), secret, "each project gets its own secret")
	for _, name := range []string{".dev.vars", "bridge.env"} {
		assert.Equal(t, "-rw-------", files[name].mode.String(), name)
		assert.Contains(t, string(files[".gitignore"].data), name)
	}
}
