package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMigrateCommands(t *testing.T) {
	dir := t.TempDir()
	mig := filepath.Join(dir, "migrations")
	require.NoError(t, os.Mkdir(mig, 0o755))
	code, out, errOut := d1sealCmd(t, dir, "migrate", "create", "-dir", mig, "create notes")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "0001_create_notes.sql")
	require.NoError(t, os.WriteFile(filepath.Join(mig, "0001_create_notes.sql"), []byte("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(mig, "0002_index.sql"), []byte("CREATE INDEX notes_body ON notes(body);"), 0o644))

	code, out, _ = d1sealCmd(t, dir, "migrate", "apply", "-dir", mig, "-dry-run")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "would apply 0001_create_notes.sql")
	code, out, _ = d1sealCmd(t, dir, "migrate", "status", "-dir", mig)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "0002_index.sql")
	assert.Contains(t, out, "pending")

	code, out, errOut = d1sealCmd(t, dir, "migrate", "apply", "-dir", mig, "-bookmark")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "applied 0001_create_notes.sql")
	assert.Contains(t, out, "applied 0002_index.sql")
	assert.Contains(t, out, "recovery point: d1seal restore ")
	code, out, _ = d1sealCmd(t, dir, "migrate", "apply", "-dir", mig)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "no migrations to apply")

	// A changed applied file stops apply until the drift is accepted.
	require.NoError(t, os.WriteFile(filepath.Join(mig, "0001_create_notes.sql"), []byte("CREATE TABLE notes (id INTEGER PRIMARY KEY);"), 0o644))
	code, _, errOut = d1sealCmd(t, dir, "migrate", "apply", "-dir", mig)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "0001_create_notes.sql")

	// The built-in agent-records schema.
	code, out, errOut = d1sealCmd(t, dir, "migrate", "apply", "-agent-records", "-table", "d1seal_migrations")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "applied 0001_agent_records.sql")
}

func TestKeysAndRecordsCommands(t *testing.T) {
	dir := t.TempDir()
	pass := "correct horse battery staple"
	t.Setenv(EnvPassphrase, pass)
	alice, bob := filepath.Join(dir, "alice.key"), filepath.Join(dir, "bob.key")
	for did, file := range map[string]string{"did:plc:alice": alice, "did:plc:bob": bob} {
		code, out, errOut := d1sealCmd(t, dir, "keys", "generate", "-did", did, "-out", file)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, did)
		assert.NotContains(t, out+errOut, pass)
		code, _, errOut = d1sealCmd(t, dir, "keys", "register", "-key", file, "-metadata", `{"name":"`+did+`"}`)
		require.Equal(t, 0, code, errOut)
	}
	st, err := os.Stat(alice)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "key files are private")

	code, out, errOut := d1sealCmd(t, dir, "records", "put", "-key", alice, "-", `{"text":"sealed hello"}`)
	require.Equal(t, 0, code, errOut)
	uri := strings.Fields(strings.TrimPrefix(out, "stored "))[0]
	rkey := uri[strings.LastIndex(uri, "/")+1:]
	code, out, _ = d1sealCmd(t, dir, "records", "list", "-key", alice)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "sealed hello")
	code, out, _ = d1sealCmd(t, dir, "exec", "SELECT count(*) FROM records WHERE ciphertext LIKE '%sealed hello%'")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "0", "the database holds ciphertext")

	code, _, errOut = d1sealCmd(t, dir, "records", "get", "-key", bob, uri)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not shared")
	code, _, errOut = d1sealCmd(t, dir, "records", "share", "-key", alice, rkey, "did:plc:bob")
	require.Equal(t, 0, code, errOut)
	code, out, errOut = d1sealCmd(t, dir, "records", "get", "-key", bob, uri)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "sealed hello")

	// Rotation: the new key file reads everything, the old one is refused.
	next := filepath.Join(dir, "alice-2.key")
	code, out, errOut = d1sealCmd(t, dir, "keys", "rotate", "-key", alice, "-out", next)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "1 own records")
	code, out, errOut = d1sealCmd(t, dir, "records", "get", "-key", next, rkey)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "sealed hello")
	code, _, errOut = d1sealCmd(t, dir, "records", "put", "-key", alice, "-", `{"text":"late"}`)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "rotated out")
	assert.NotContains(t, errOut, "Store.", "errors name commands, not Go identifiers")

	// A wrong passphrase is an error that never echoes a passphrase.
	t.Setenv(EnvPassphrase, "not-the-passphrase")
	code, _, errOut = d1sealCmd(t, dir, "keys", "show", "-key", next)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "wrong passphrase for key file")
	assert.NotContains(t, errOut, "not-the-passphrase")
	assert.NotContains(t, errOut, pass)
}

func TestDBAndKeysShow(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := d1sealCmd(t, dir, "db", "create", "scratch")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "created scratch (")
	id := strings.TrimSuffix(strings.SplitN(out, "(", 2)[1], ")\n")
	code, out, _ = d1sealCmd(t, dir, "db", "list")
	require.Equal(t, 0, code)
	assert.Contains(t, out, id)
	assert.Contains(t, out, "scratch")
	code, out, _ = d1sealCmd(t, dir, "db", "list", "scratch")
	require.Equal(t, 0, code)
	assert.Contains(t, out, id)
	code, out, errOut = d1sealCmd(t, dir, "db", "delete", "-y", id)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "deleted scratch ("+id+")")
	code, out, _ = d1sealCmd(t, dir, "db", "list")
	require.Equal(t, 0, code)
	assert.NotContains(t, out, id)

	t.Setenv(EnvPassphrase, "a passphrase for show")
	key := filepath.Join(dir, "k.key")
	code, _, errOut = d1sealCmd(t, dir, "keys", "generate", "-did", "did:plc:shown", "-pq", "-out", key)
	require.Equal(t, 0, code, errOut)
	code, out, errOut = d1sealCmd(t, dir, "keys", "show", "-key", key)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "did:plc:shown")
	assert.Contains(t, out, "xwing:", "the post-quantum key is listed")
	assert.Contains(t, out, "REDACTED")
	assert.NotContains(t, out, "a passphrase for show")
}
