package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
)

func TestRotation(t *testing.T) {
	for _, v := range []string{"CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "D1_DATABASE_ID", "CLOUDFLARE_API_BASE_URL"} {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	pass := []byte("test passphrase")
	cheap := crypto.KeyFileOptions{Time: crypto.MinKeyFileTime, MemoryKiB: crypto.MinKeyFileMemory, Threads: 1} // the cheapest allowed
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, dir, pass, cheap), out.String())
	s := out.String()
	t.Log(s)
	for _, want := range []string{
		"2. alice has 240 notes; bob shared 1 with her",
		"a wrong passphrase gives: crypto: decryption failed",
		"   re-wrapped 100 grants\n   re-wrapped 200 grants\n   re-wrapped 240 grants\n   re-wrapped 241 grants\n",
		"done: 240 own records, 1 shared with her; content untouched",
		"old key, write: refused: " + "records: the acting agent's key was retired by a rotation",
		"old key, read:  refused: records:",
		`new key: read all 240 notes, and bob's "bob's handover notes"`,
		"RotateKeys again: 0 + 0 grants left to re-wrap",
		"alice's key log: 1 rotation(s); current signing key ed25519:",
	} {
		assert.Contains(t, s, want)
	}

	// One key file is left, holding the new key, readable with the passphrase only.
	files, err := filepath.Glob(filepath.Join(dir, "*.key*"))
	require.NoError(t, err)
	require.Len(t, files, 1, "the .next file was renamed over the old one")
	fi, err := os.Stat(files[0])
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	a, err := crypto.ReadKeyFile(files[0], pass)
	require.NoError(t, err)
	assert.Contains(t, s, "new encryption key "+a.RecipientKey().String())
	_, err = crypto.ReadKeyFile(files[0], []byte("nope"))
	assert.ErrorIs(t, err, crypto.ErrDecrypt)
}
