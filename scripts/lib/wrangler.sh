# scripts/lib/wrangler.sh — sourced by scripts/wrangler-check.sh and
# scripts/wrangler-migrations-interop.sh: installs Node 22 and wrangler into a cache folder (once),
# starts the local D1 (go run ./cmd/d1local) unless D1SEAL_CHECK_API_BASE_URL names a running
# one, points wrangler at it through CLOUDFLARE_API_BASE_URL, and defines the helpers the
# scripts use: say, die, wrangler, expect, expect_re, json_check. Set SCRIPT (a short name for
# messages and the temp folder) before sourcing. Leaves the shell in "$WORK/proj".

# The Go caches, read before HOME is pointed at a scratch folder below.
if command -v go >/dev/null; then
	export GOCACHE=${GOCACHE:-$(go env GOCACHE)} GOMODCACHE=${GOMODCACHE:-$(go env GOMODCACHE)} GOPATH=${GOPATH:-$(go env GOPATH)}
fi

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
START_TIMEOUT=${D1SEAL_CHECK_START_TIMEOUT:-600}

say() { printf '\n==> %s\n' "$*"; }
die() {
	printf '\n%s: FAIL: %s\n' "$SCRIPT" "$*" >&2
	exit 1
}

# ---------------------------------------------------------------------------------------------
# 1. Node 22 + wrangler in the cache dir (scripts/install-wrangler.sh; these scripts need them
#    whether or not CI is set)
# ---------------------------------------------------------------------------------------------
# shellcheck source=../install-wrangler.sh
CI=true source "$REPO_ROOT/scripts/install-wrangler.sh" || die "installing Node and wrangler failed (output above)"
[[ -x $NODE && -f $WRANGLER_JS ]] || die "Node or wrangler missing in $CACHE_DIR"
export PATH="$NODE_BIN_DIR:$PATH"
echo "node $("$NODE" --version), wrangler $("$NODE" -p "require('$CACHE_DIR/node_modules/wrangler/package.json').version")"

# ---------------------------------------------------------------------------------------------
# 2. temp dir, server
# ---------------------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/d1seal-$SCRIPT.XXXXXX")
SERVER_PID=""
SERVER_LOG="$WORK/d1local.log"

cleanup() {
	local rc=$?
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		# d1local runs in its own process group (setsid), so `go run` and the binary it built
		# are stopped together.
		local pgid
		pgid=$(ps -o pgid= -p "$SERVER_PID" 2>/dev/null | tr -d ' ' || true)
		# Wait for the whole group, not only `go run`: the binary it started may still be
		# closing its databases (capturing Time Travel state into $WORK) after `go run` exits,
		# and removing $WORK under it fails.
		local target=$SERVER_PID
		if [[ $pgid == "$SERVER_PID" ]]; then target="-$SERVER_PID"; fi
		kill -TERM -- "$target" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 -- "$target" 2>/dev/null || break; sleep 0.2; done
		if kill -0 -- "$target" 2>/dev/null; then
			kill -KILL -- "$target" 2>/dev/null || true
			for _ in $(seq 1 25); do kill -0 -- "$target" 2>/dev/null || break; sleep 0.2; done
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
