package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/d1"
)

func localOnly(t *testing.T) {
	for _, v := range []string{"CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "D1_DATABASE_ID", "CLOUDFLARE_API_BASE_URL"} {
		t.Setenv(v, "")
	}
}

func TestChittyConnect(t *testing.T) {
	localOnly(t)
	ctx := context.Background()
	dir := t.TempDir()

	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, dir), out.String())
	s := out.String()
	t.Log(s)
	assert.Contains(t, s, "request 1: GET /contexts -> 200, 7 D1 requests") // ledger read, ledger, 4 migrations, the query
	assert.Contains(t, s, "applied 4 migrations: 0001_create_contexts_table.sql, 0002_create_installations_table.sql, 0003_create_actors_table.sql, 0004_create_connections_table.sql")
	assert.Contains(t, s, "request 2: GET /contexts -> 200, 1 D1 requests") // no migration check any more
	assert.Regexp(t, `0004_create_connections_table.sql +applied`, s)
	assert.Regexp(t, `actor ACT-human-nick +human +3 capabilities`, s)
	assert.Contains(t, s, `issues permission "write"`)
	assert.Regexp(t, `POST CTX-0001 chittyconnect-main +-> 201\n`, s)
	assert.Regexp(t, `POST CTX-0099 chittyconnect-main +-> 409 a context named "chittyconnect-main" already exists`, s)
	assert.Regexp(t, `POST CTX-0098 orphan +-> 422 FOREIGN KEY constraint failed`, s)
	assert.Regexp(t, `POST CTX-0097 bad-json +-> 422 CHECK constraint failed`, s)
	assert.Contains(t, s, "using the github tool (json_each): chittyconnect-main, evidence-ledger\n")
	assert.Regexp(t, `CTX-missing +-> slack +refused: FOREIGN KEY constraint failed: connections.source_chitty_id names no context or actor\n`, s)
	assert.Contains(t, s, "DELETE /contexts/CTX-0003 -> 204")
	assert.Contains(t, s, "GET /contexts: chittyconnect-main, evidence-ledger\n")
	assert.Contains(t, s, "rows kept in contexts: 2 active, 1 deleted")
	assert.Contains(t, s, "hard DELETE of CTX-0003: refused: FOREIGN KEY constraint failed: a connection names this context")
	assert.Regexp(t, `name +TEXT +not null`, s)
	assert.Regexp(t, `sqlite_autoindex_contexts_2 +unique=true +\(UNIQUE constraint\)`, s)
	for _, table := range []string{"actors", "connections", "contexts", "d1_migrations", "d1seal_migration_checksums", "installations"} {
		assert.Regexp(t, table+` +\d+ rows  equal`, s)
	}
	assert.Contains(t, s, "restore verified: schema and every row identical; restore database deleted")

	backups, err := filepath.Glob(filepath.Join(dir, "chittyconnect-backup-*.sql"))
	require.NoError(t, err)
	require.Len(t, backups, 1)
	dump, err := os.ReadFile(backups[0])
	require.NoError(t, err)
	assert.Contains(t, string(dump), `INSERT INTO "contexts"`)

	// A second run on the same folder finds the schema current and ends the same way.
	out.Reset()
	require.NoError(t, run(ctx, &out, dir), out.String())
	s = out.String()
	assert.Contains(t, s, "request 1: GET /contexts -> 200, 2 D1 requests")
	assert.Contains(t, s, "schema already current: 4 migrations applied before")
	assert.Contains(t, s, "rows kept in contexts: 2 active, 1 deleted")
	assert.Contains(t, s, "restore verified")

	// Only the example's database is left: every restore database was deleted.
	db, err := d1seal.Open(ctx, d1seal.Options{LocalDir: dir, LocalName: "chittyconnect"})
	require.NoError(t, err)
	defer db.Close()
	dbs, err := db.Client.Account().ListDatabases(ctx, "")
	require.NoError(t, err)
	var names []string
	for _, d := range dbs {
		names = append(names, d.Name)
	}
	assert.Equal(t, []string{"chittyconnect"}, names)
	n, err := d1.QueryOne[int](ctx, db.Client, "SELECT count(*) FROM contexts")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
}

// The reason backup writes the schema before the data: a whole dump in one part does not
// import, because contexts rows come before the actors table exists. If this starts passing,
// backup can go back to one Export.
func TestWholeDumpDoesNotImport(t *testing.T) {
	localOnly(t)
	ctx := context.Background()
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, dir), out.String())

	db, err := d1seal.Open(ctx, d1seal.Options{LocalDir: dir, LocalName: "chittyconnect"})
	require.NoError(t, err)
	defer db.Close()
	var dump bytes.Buffer
	_, err = db.Client.Export(ctx, &dump, d1.ExportOptions{PollInterval: 1})
	require.NoError(t, err)
	fresh, err := db.Client.Account().CreateDatabase(ctx, "whole-dump")
	require.NoError(t, err)
	rc := db.Client.Account().Database(fresh.ID)
	_, err = rc.Import(ctx, bytes.NewReader(dump.Bytes()), d1.ImportOptions{PollInterval: 1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such table: main.actors")
}
