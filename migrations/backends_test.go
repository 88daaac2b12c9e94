package migrations_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/internal/d1test"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/records"
)

func TestMain(m *testing.M) { d1test.Main(m) }

// TestMigrationsOnEveryBackend runs the migrations suite on every backend of internal/d1test:
// the local D1 in process and over HTTP, Cloudflare's local D1 in workerd through the bridge,
// and real D1 on opt-in. Each subtest gets a fresh database.
func TestMigrationsOnEveryBackend(t *testing.T) {
	d1test.Run(t, func(t *testing.T, b *d1test.Backend) {
		t.Run("apply in order then nothing", func(t *testing.T) { migrationsApply(t, b.Open(t)) })
		t.Run("a failing migration stops the run atomically", func(t *testing.T) { migrationsAtomic(t, b.Open(t)) })
		t.Run("drift", func(t *testing.T) { migrationsDrift(t, b.Open(t)) })
		t.Run("agent records schema", func(t *testing.T) { migrationsAgentRecords(t, b.Open(t)) })
	})
}

func migrationsApply(t *testing.T, c *d1.Client) {
	ctx := context.Background()
	s := set(t, threeFiles)
	res, err := migrations.Apply(ctx, c, s, migrations.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"0001_users.sql", "0002_posts.sql", "0010_tags.sql"}, res.Applied)
	assert.Equal(t, []string{"0001_users.sql", "0002_posts.sql", "0010_tags.sql"}, ledgerNames(t, c, "d1_migrations"))
	assert.Equal(t, []string{"d1_migrations", "d1seal_migration_checksums", "posts", "tags", "users"}, objects(t, c, "table"))
	body, err := d1.QueryOne[string](ctx, c, "SELECT body FROM posts")
	require.NoError(t, err)
	assert.Equal(t, "first; post", body)

	// The ledger is wrangler's, byte for byte.
	ddl, err := d1.QueryOne[string](ctx, c, "SELECT sql FROM sqlite_master WHERE name = 'd1_migrations'")
	require.NoError(t, err)
	assert.Equal(t, "CREATE TABLE \"d1_migrations\"(\n\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n\t\tname       TEXT UNIQUE,\n\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n)", ddl)

	res, err = migrations.Apply(ctx, c, s, migrations.ApplyOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Applied)
	assert.Empty(t, res.Plan)
	n, err := d1.QueryOne[int64](ctx, c, "SELECT count(*) FROM users")
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "the data migration ran once")
	st, err := migrations.Status(ctx, c, s, migrations.StatusOptions{})
	require.NoError(t, err)
	require.Len(t, st, 3)
	for i, e := range st {
		assert.Equal(t, migrations.Applied, e.State, e.Name)
		assert.Equal(t, int64(i+1), e.ID)
		assert.False(t, e.AppliedAt.IsZero())
		assert.Equal(t, e.FileChecksum, e.Checksum)
		assert.Len(t, e.Checksum, 64)
	}
	assert.Equal(t, int64(10), st[2].Number)
}

func migrationsAtomic(t *testing.T, c *d1.Client) {
	ctx := context.Background()
	files := map[string]string{
		"0001_a.sql": "CREATE TABLE a (x);",
		"0002_b.sql": "CREATE TABLE b (x); INSERT INTO b VALUES (1);",
		"0003_c.sql": "CREATE TABLE c (x);\nINSERT INTO c VALUES (1);\nCREATE INDEX c_x ON c (x);\n" +
			"INSERT INTO a VALUES ('from 3');\nINSERT INTO nope VALUES (1);\nCREATE TABLE c2 (y);",
		"0004_d.sql": "CREATE TABLE d (x);",
	}
	res, err := migrations.Apply(ctx, c, set(t, files), migrations.ApplyOptions{})
	require.Error(t, err)
	assert.Equal(t, []string{"0001_a.sql", "0002_b.sql"}, res.Applied)
	var me *migrations.Error
	require.ErrorAs(t, err, &me)
	assert.Equal(t, "0003_c.sql", me.Name)
	assert.Equal(t, 5, me.Statement, "the failing statement is the fifth of the file")
	assert.Equal(t, "INSERT INTO nope VALUES (1)", me.SQL)
	assert.False(t, me.Uncertain)
	assert.True(t, d1.IsNoSuchTable(err), "the D1 error is kept: %v", err)
	assert.Contains(t, err.Error(), "0003_c.sql: statement 5 (INSERT INTO nope VALUES (1))")
	assert.Contains(t, err.Error(), "no such table: nope")

	// The database is exactly as after 0002.
	assert.Equal(t, []string{"0001_a.sql", "0002_b.sql"}, ledgerNames(t, c, "d1_migrations"))
	assert.Equal(t, []string{"a", "b", "d1_migrations", "d1seal_migration_checksums"}, objects(t, c, "table"))
	assert.Empty(t, objects(t, c, "index"))
	n, err := d1.QueryOne[int64](ctx, c, "SELECT count(*) FROM a")
	require.NoError(t, err)
	assert.Zero(t, n)
	sums, err := d1.QueryAll[string](ctx, c, "SELECT name FROM d1seal_migration_checksums ORDER BY name")
	require.NoError(t, err)
	assert.Equal(t, []string{"0001_a.sql", "0002_b.sql"}, sums)

	// Fixed, it applies 3 and 4.
	files["0003_c.sql"] = strings.Replace(files["0003_c.sql"], "nope", "b", 1)
	res, err = migrations.Apply(ctx, c, set(t, files), migrations.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"0003_c.sql", "0004_d.sql"}, res.Applied)
}

func migrationsDrift(t *testing.T, c *d1.Client) {
	ctx := context.Background()
	files := map[string]string{"0001_a.sql": "CREATE TABLE a (x);", "0002_b.sql": "CREATE TABLE b (x);"}
	_, err := migrations.Apply(ctx, c, set(t, files), migrations.ApplyOptions{})
	require.NoError(t, err)

	// CRLF line endings are not a change.
	files["0001_a.sql"] = strings.ReplaceAll("CREATE TABLE a (x);", "\n", "\r\n")
	_, err = migrations.Apply(ctx, c, set(t, files), migrations.ApplyOptions{})
	require.NoError(t, err)

	files["0002_b.sql"] = "CREATE TABLE b (x, y);"
	files["0003_c.sql"] = "CREATE TABLE c (x);"
	res, err := migrations.Apply(ctx, c, set(t, files), migrations.ApplyOptions{})
	require.ErrorIs(t, err, migrations.ErrDrift)
	assert.Contains(t, err.Error(), "0002_b.sql")
	assert.NotContains(t, err.Error(), "0001_a.sql")
	assert.Equal(t, []string{"0002_b.sql"}, res.Changed)
	assert.Empty(t, res.Applied, "nothing runs when an applied file changed")
	assert.NotContains(t, objects(t, c, "table"), "c")

	st, err := migrations.Status(ctx, c, set(t, files), migrations.StatusOptions{})
	require.NoError(t, err)
	assert.Equal(t, []migrations.State{migrations.Applied, migrations.Changed, migrations.Pending}, states(st))
	assert.NotEqual(t, st[1].Checksum, st[1].FileChecksum)

	// Explicitly accepted, Apply goes on and keeps the recorded checksum.
	res, err = migrations.Apply(ctx, c, set(t, files), migrations.ApplyOptions{AllowDrift: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"0002_b.sql"}, res.Changed)
	assert.Equal(t, []string{"0003_c.sql"}, res.Applied)
	st, err = migrations.Status(ctx, c, set(t, files), migrations.StatusOptions{})
	require.NoError(t, err)
	assert.Equal(t, []migrations.State{migrations.Applied, migrations.Changed, migrations.Applied}, states(st))
}

func migrationsAgentRecords(t *testing.T, c *d1.Client) {
	ctx := context.Background()
	s := records.Schema()
	res, err := migrations.Apply(ctx, c, s, migrations.ApplyOptions{})
	require.NoError(t, err)
	assert.NotEmpty(t, res.Applied)
	st, err := migrations.Status(ctx, c, s, migrations.StatusOptions{})
	require.NoError(t, err)
	for _, e := range st {
		assert.Equal(t, migrations.Applied, e.State, e.Name)
	}
	assert.Contains(t, objects(t, c, "table"), "records")
}
