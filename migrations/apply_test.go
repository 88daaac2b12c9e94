package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/migrations"
)

var threeFiles = map[string]string{
	"0001_users.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);\n" +
		"CREATE INDEX users_email ON users (email);\n",
	"0002_posts.sql": "-- Migration number: 0002 \t 2025-01-02T00:00:00.000Z\n" +
		"CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), body TEXT);\n" +
		"INSERT INTO users (email) VALUES ('seed@example.com');\n" +
		"INSERT INTO posts (user_id, body) VALUES (1, 'first; post');\n",
	"0010_tags.sql": "CREATE TABLE tags (name TEXT PRIMARY KEY);",
}

// TestApplyInOrderThenNoOp: what migrationsApply checks on every backend (backends_test.go),
// and that an Apply with nothing to do costs one read request.
func TestApplyInOrderThenNoOp(t *testing.T) {
	srv, c := local(t)
	migrationsApply(t, c)
	before := srv.Requests()
	res, err := migrations.Apply(context.Background(), c, set(t, threeFiles), migrations.ApplyOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Applied)
	assert.Equal(t, int64(1), srv.Requests()-before, "requests for an Apply with nothing to do")
}

func TestFailingStatementFoundAtEveryPosition(t *testing.T) {
	ctx := context.Background()
	for n := 1; n <= 7; n++ {
		for bad := 1; bad <= n; bad++ {
			_, c := local(t)
			var stmts []string
			for i := 1; i <= n; i++ {
				if i == bad {
					stmts = append(stmts, fmt.Sprintf("SELECT * FROM missing_%d", i))
				} else {
					stmts = append(stmts, fmt.Sprintf("CREATE TABLE t%d (x)", i))
				}
			}
			_, err := migrations.Apply(ctx, c, set(t, map[string]string{"0001_x.sql": strings.Join(stmts, ";\n")}), migrations.ApplyOptions{})
			var me *migrations.Error
			require.ErrorAs(t, err, &me)
			assert.Equal(t, bad, me.Statement, "%d statements, bad one at %d", n, bad)
			assert.Equal(t, []string{"d1_migrations", "d1seal_migration_checksums"}, objects(t, c, "table"), "probes left nothing behind")
		}
	}
}

func states(es []migrations.Entry) []migrations.State {
	out := make([]migrations.State, len(es))
	for i, e := range es {
		out[i] = e.State
	}
	return out
}

func TestBaseline(t *testing.T) {
	ctx := context.Background()
	_, c := local(t)
	// The schema of 0001 and 0002 exists already, made by hand.
	_, err := c.ExecScript(ctx, "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE); CREATE TABLE posts (id INTEGER PRIMARY KEY)")
	require.NoError(t, err)
	s := set(t, threeFiles)
	res, err := migrations.Baseline(ctx, c, s, migrations.BaselineOptions{Target: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"0001_users.sql", "0002_posts.sql"}, res.Applied)
	n, err := d1.QueryOne[int64](ctx, c, "SELECT count(*) FROM users")
	require.NoError(t, err)
	assert.Zero(t, n, "baseline runs nothing")
	assert.Empty(t, objects(t, c, "index"), "baseline runs nothing")

	res, err = migrations.Apply(ctx, c, s, migrations.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"0010_tags.sql"}, res.Applied)
	st, err := migrations.Status(ctx, c, s, migrations.StatusOptions{})
	require.NoError(t, err)
	assert.Equal(t, []migrations.State{migrations.Applied, migrations.Applied, migrations.Applied}, states(st))
}

func TestTarget(t *testing.T) {
	ctx := context.Background()
	_, c := local(t)
	s := set(t, threeFiles)
	_, err := migrations.Apply(ctx, c, s, migrations.ApplyOptions{Target: 3})
	require.ErrorContains(t, err, "target 3 is not the number of a migration")
	assert.Empty(t, objects(t, c, "table"), "a bad target sends nothing")

	res, err := migrations.Apply(ctx, c, s, migrations.ApplyOptions{Target: 1})
	require.NoError(t, err)
	assert.Equal(t, []string{"0001_users.sql"}, res.Applied)
	st, err := migrations.Status(ctx, c, s, migrations.StatusOptions{})
	require.NoError(t, err)
	assert.Equal(t, []migrations.State{migrations.Applied, migrations.Pending, migrations.Pending}, states(st))

	res, err = migrations.Apply(ctx, c, s, migrations.ApplyOptions{Target: 10})
	require.NoError(t, err)
	assert.Equal(t, []string{"0002_posts.sql", "0010_tags.sql"}, res.Applied)
}

func TestDryRun(t *testing.T) {
	ctx := context.Background()
	srv, c := local(t)
	s := set(t, threeFiles)
	before := srv.Requests()
	res, err := migrations.Apply(ctx, c, s, migrations.ApplyOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, int64(1), srv.Requests()-before, "a dry run only reads the ledger")
	require.Len(t, res.Plan, 3)
	assert.Equal(t, "0002_posts.sql", res.Plan[1].Name)
	assert.Equal(t, []string{
		"-- Migration number: 0002 \t 2025-01-02T00:00:00.000Z\nCREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), body TEXT)",
		"INSERT INTO users (email) VALUES ('seed@example.com')",
		"INSERT INTO posts (user_id, body) VALUES (1, 'first; post')",
	}, res.Plan[1].Statements())
	assert.Empty(t, res.Applied)
	assert.Empty(t, objects(t, c, "table"), "a dry run creates nothing, not even the ledger")

	_, err = migrations.Apply(ctx, c, s, migrations.ApplyOptions{Target: 1})
	require.NoError(t, err)
	res, err = migrations.Apply(ctx, c, s, migrations.ApplyOptions{DryRun: true, Target: 2})
	require.NoError(t, err)
	require.Len(t, res.Plan, 1)
	assert.Equal(t, "0002_posts.sql", res.Plan[0].Name)
	assert.Equal(t, []string{"0001_users.sql"}, ledgerNames(t, c, "d1_migrations"))
}

func TestUnknownAndCustomTable(t *testing.T) {
	ctx := context.Background()
	_, c := local(t)
	opts := migrations.ApplyOptions{Table: "schema_history"}
	_, err := migrations.Apply(ctx, c, set(t, threeFiles), opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"0001_users.sql", "0002_posts.sql", "0010_tags.sql"}, ledgerNames(t, c, "schema_history"))
	assert.NotContains(t, objects(t, c, "table"), "d1_migrations")

	fewer := map[string]string{"0001_users.sql": threeFiles["0001_users.sql"], "0002_posts.sql": threeFiles["0002_posts.sql"]}
	st, err := migrations.Status(ctx, c, set(t, fewer), migrations.StatusOptions{Table: opts.Table})
	require.NoError(t, err)
	require.Len(t, st, 3)
	assert.Equal(t, migrations.Unknown, st[2].State)
	assert.Equal(t, "0010_tags.sql", st[2].Name)
	assert.Equal(t, int64(10), st[2].Number)
	assert.Equal(t, int64(3), st[2].ID)
	assert.Empty(t, st[2].FileChecksum)
	res, err := migrations.Apply(ctx, c, set(t, fewer), opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"0010_tags.sql"}, res.Unknown)

	for _, bad := range []string{`x"y`, "1abc", "_cf_x", "sqlite_x", migrations.ChecksumTable, ""} {
		if bad == "" {
			continue
		}
		_, err := migrations.Apply(ctx, c, set(t, threeFiles), migrations.ApplyOptions{Table: bad})
		assert.ErrorContains(t, err, "ledger table name", bad)
	}
}

func TestBookmark(t *testing.T) {
	ctx := context.Background()
	_, c := local(t)
	_, err := c.Exec(ctx, "CREATE TABLE before (x)")
	require.NoError(t, err)
	res, err := migrations.Apply(ctx, c, set(t, threeFiles), migrations.ApplyOptions{Bookmark: true})
	require.NoError(t, err)
	require.NotEmpty(t, res.Bookmark)
	_, err = c.Restore(ctx, res.Bookmark)
	require.NoError(t, err)
	assert.Equal(t, []string{"before"}, objects(t, c, "table"), "the bookmark is the state before the run")

	// Nothing pending: no bookmark is taken.
	_, err = migrations.Apply(ctx, c, set(t, threeFiles), migrations.ApplyOptions{})
	require.NoError(t, err)
	res, err = migrations.Apply(ctx, c, set(t, threeFiles), migrations.ApplyOptions{Bookmark: true})
	require.NoError(t, err)
	assert.Empty(t, res.Bookmark)
}

// wranglerApply sends exactly what `wrangler d1 migrations apply --remote` sends for one file:
// the ledger DDL, then the file and the ledger INSERT as one multi-statement request.
func wranglerApply(t *testing.T, c *d1.Client, name, sql string) {
	t.Helper()
	ctx := context.Background()
	_, err := c.ExecScript(ctx, "CREATE TABLE IF NOT EXISTS \"d1_migrations\"(\n\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n\t\tname       TEXT UNIQUE,\n\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n);")
	require.NoError(t, err)
	_, err = c.ExecScript(ctx, sql+"\nINSERT INTO \"d1_migrations\" (name)\nvalues ('"+name+"');")
	require.NoError(t, err)
}

func TestWranglerAppliedMigrationsCount(t *testing.T) {
	ctx := context.Background()
	srv, c := local(t)
	s := set(t, threeFiles)
	wranglerApply(t, c, "0001_users.sql", threeFiles["0001_users.sql"])

	st, err := migrations.Status(ctx, c, s, migrations.StatusOptions{})
	require.NoError(t, err)
	assert.Equal(t, []migrations.State{migrations.Applied, migrations.Pending, migrations.Pending}, states(st))
	assert.Empty(t, st[0].Checksum, "wrangler records no checksum")

	res, err := migrations.Apply(ctx, c, s, migrations.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"0001_users.sql"}, res.Recorded)
	assert.Equal(t, []string{"0002_posts.sql", "0010_tags.sql"}, res.Applied)
	st, err = migrations.Status(ctx, c, s, migrations.StatusOptions{})
	require.NoError(t, err)
	assert.Equal(t, st[0].FileChecksum, st[0].Checksum, "recorded on the next Apply")

	// And the reverse: wrangler's view (file names in the ledger) agrees with ours.
	assert.Equal(t, []string{"0001_users.sql", "0002_posts.sql", "0010_tags.sql"}, ledgerNames(t, c, "d1_migrations"))
	before := srv.Requests()
	_, err = migrations.Apply(ctx, c, s, migrations.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(1), srv.Requests()-before)
}

func TestLostResponseAppliesOnce(t *testing.T) {
	ctx := context.Background()
	srv, c := local(t)
	s := set(t, map[string]string{"0001_a.sql": "CREATE TABLE a (x); INSERT INTO a VALUES (1);", "0002_b.sql": "INSERT INTO a VALUES (2);"})
	_, err := migrations.Apply(ctx, c, s, migrations.ApplyOptions{Target: 1})
	require.NoError(t, err)
	// Read the ledger normally, then lose the response of 0002's request after it committed:
	// the client resends it, the resent claim fails, and Apply sees 0002 applied.
	srv.InjectFaults(d1local.Fault{}, d1local.Fault{DropAfterCommit: true})
	res, err := migrations.Apply(ctx, c, s, migrations.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"0002_b.sql"}, res.Concurrent)
	vals, err := d1.QueryAll[int64](ctx, c, "SELECT x FROM a ORDER BY x")
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2}, vals, "the data migration ran once")
}

func TestErrorsWrap(t *testing.T) {
	e := &migrations.Error{Name: "0001_x.sql", Err: errors.New("boom"), Uncertain: true}
	assert.Equal(t, "migrations: 0001_x.sql: boom; it may or may not have been applied: run Apply again, which is safe", e.Error())
}
