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

SCRIPT=wrangler-migrations-interop
# shellcheck source=lib/wrangler.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/wrangler.sh"


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
