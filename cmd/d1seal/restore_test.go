package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBookmarkThenRestore takes a bookmark in one run of the CLI and restores it in a later
// one, as an operator would.
func TestBookmarkThenRestore(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := d1sealCmd(t, dir, "exec", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('a'), ('b')")
	require.Equal(t, 0, code, errOut)
	code, out, _ := d1sealCmd(t, dir, "bookmark")
	require.Equal(t, 0, code)
	bookmark := strings.TrimSpace(out)

	code, _, _ = d1sealCmd(t, dir, "exec", "DELETE FROM notes")
	require.Equal(t, 0, code)
	code, out, errOut = d1sealCmd(t, dir, "restore", bookmark, "-y")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "to undo: d1seal restore ")
	code, out, _ = d1sealCmd(t, dir, "exec", "SELECT count(*) FROM notes")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "2", "the restore brought the rows back")

}
