// Package d1local is a local D1: an http.Handler that serves Cloudflare D1's REST API over
// SQLite (modernc.org/sqlite, no cgo), faithfully enough that Cloudflare's own clients cannot
// tell it from D1. Users test against it, CI tests d1seal against it, and it is the embedded
// default when no Cloudflare account is configured, reached in process through
// Server.Transport (no socket).
//
// # Routes
//
// Under /client/v4/accounts/{account_id}/d1/database (any account id is accepted):
//
//	POST   ""                         create ({"name"}); names are unique
//	GET    ""                         list (?name= substring, page, per_page; result_info)
//	GET    /{id}                      get; {id} may also be the database's name
//	DELETE /{id}                      delete
//	POST   /{id}/query                rows as objects
//	POST   /{id}/raw                  rows as arrays, with columns
//	POST   /{id}/export               polling export; the dump is served at its signed URL
//	POST   /{id}/import               init -> PUT upload (ETag = quoted MD5) -> ingest -> poll
//	GET    /{id}/time_travel/bookmark [?timestamp=RFC 3339]
//	POST   /{id}/time_travel/restore  ?bookmark= or ?timestamp=
//
// and, for wrangler without CLOUDFLARE_ACCOUNT_ID, GET /client/v4/accounts and GET
// /client/v4/memberships, each listing one account (Options.AccountID, by default
// DefaultAccountID).
//
// Signed URLs live under /client/v4/d1local/files/ and are built from the request's scheme and
// host, so they work in process and over a socket alike.
//
// # D1's behaviour
//
// Each database is one SQLite connection (a file <uuid>.sqlite in Options.Dir, or memory), and
// requests to it run one at a time. Every request is one transaction: a batch or a
// multi-statement sql commits entirely or not at all. As in D1:
//
//   - every JSON number binds as a REAL (5 into a TEXT column stores '5.0'; LIMIT 1.5 fails
//     with "datatype mismatch: SQLITE_MISMATCH"); booleans bind as 1 and 0; arrays of byte
//     values bind as BLOBs; ?NNN, :x, @x and $x bind positionally;
//   - values come back as JavaScript would print them: integers past 2^53 lose precision,
//     reals use the shortest round-trip form, BLOBs are arrays of byte values;
//   - foreign keys are on and PRAGMA foreign_keys=OFF is a no-op; defer_foreign_keys lasts one
//     request;
//   - an SQLite authorizer refuses transactions, savepoints, ATTACH/DETACH, TEMP objects,
//     tables named _cf_*, PRAGMAs outside D1's documented list and functions such as
//     sqlite_version(), with SQLite's messages ("not authorized: SQLITE_AUTH", "not authorized
//     to use function: sqlite_version at offset 7: SQLITE_ERROR");
//   - SQLite enforces D1's limits: 100 parameters, 100,000-byte statements, 2,000,000-byte
//     strings, BLOBs and rows;
//   - errors are HTTP 400, code 7500, "<SQLite message>[ at offset N]: SQLITE_<CLASS>[
//     (extended: SQLITE_<CLASS>_<DETAIL>)]"; an unknown database is 404/7404; a missing token
//     401/10000 and a wrong one 403/10000 (when Options.Token is set); malformed bodies
//     400/7400.
//
// Prepared statements are kept per database and reused (Options.StatementCacheSize; see
// stmtcache.go for when the cache empties itself), and query bodies are read in one pass
// (reqparse.go), with encoding/json deciding anything unusual: neither changes an answer.
//
// meta: last_row_id is the connection's last insert rowid, passed through a JavaScript number
// as D1 does (past 2^53 it rounds: 9007199254740993 answers 9007199254740992); changes and
// rows_written the total_changes() delta; changed_db is true when changes, rowid or size moved;
// size_after is (page_count - freelist_count) * page_size, as workerd's databaseSize, so it
// shrinks after DROP TABLE. rows_read approximates D1's cursor count: 0 for a statement that
// reads no table (SELECT 1, VALUES), else the rows full scans visited or the rows returned,
// whichever is larger. served_by is "d1local", served_by_region "WNAM" and served_by_colo
// "LOCAL".
//
// # Compared with Cloudflare's D1 (the differential test)
//
// internal/d1test's TestDifferential runs 68 requests (types and affinity, errors, batches,
// functions, PRAGMAs, modules, foreign keys, meta) on this emulator and on Cloudflare's local
// D1 in workerd (wrangler 4.164.0, workerd 1.20261117.1) through the bridge, and compares
// errors, columns, values and meta field by field; CI runs it. Where they differed, the
// emulator now answers as workerd:
//
//   - BEGIN, COMMIT, ROLLBACK, END, SAVEPOINT and RELEASE: D1's message "To execute a
//     transaction, please use the state.storage.transaction() ... APIs instead of the SQL BEGIN
//     TRANSACTION or SAVEPOINT statements. ..." (no SQLite class), not SQLite's "not authorized";
//   - a batch item that is only whitespace or a comment is skipped, as in D1;
//   - a deferred foreign key violation left at the end of a request: HTTP 500, code 7500,
//     "internal error; reference = <24 characters>", as D1 answers it (the d1 client treats
//     it as a possibly transient failure), not a 400 constraint error;
//   - functions, PRAGMAs and virtual table modules follow workerd's authorizer
//     (src/workerd/util/sqlite.c++): an allowlist of functions (log10, for example, is refused;
//     soundex is allowed but not built, "no such function"; load_extension fails "not
//     authorized: SQLITE_ERROR" when called), PRAGMAs only with the arguments D1 accepts
//     (PRAGMA page_size reads but page_size = N is refused), and only fts5, fts5vocab, rtree
//     and rtree_i32 modules (fts4: "not authorized");
//   - size_after and last_row_id as above.
//
// What remains different, each for a reason:
//
//   - rows_read and rows_written: workerd counts VDBE cursor steps with a patched SQLite
//     (patches/sqlite/0001-row-counts-plain.patch: +1 per Rewind/Next/Seek, the table size for
//     count(*), +1 per row or index entry written, so DDL and indexed inserts write more than
//     changes). modernc.org/sqlite has no such counters; the emulator's numbers are close for
//     scans and plain writes and low for DDL, indexes, count(*) and FK checks. Estimate D1 costs
//     from workerd (the bridge backend) when they matter.
//   - ANALYZE also creates sqlite_stat4 (modernc.org/sqlite is built with STAT4, D1's SQLite is
//     not), so the database is a page larger, and PRAGMA optimize may judge differently.
//   - the dbstat virtual table exists here; D1's SQLite is built without it.
//   - served_by, served_by_colo, served_by_region, duration and timings are fixed or local.
//
// Time Travel names each state of a database by a write sequence number and captures a state
// only when a bookmark of it is handed out (GET bookmark, export, import, restore), before a
// request when the last capture is older than Options.TimeTravelInterval, and when the Server
// closes, so ordinary writes cost no capture. Restoring a bookmark that was handed out is
// exact; a timestamp resolves to a state the database was in within one interval before it
// (exact when the database stayed in that state a whole interval, or still is). The history
// keeps what changed, not copies: each captured state keeps only its 4 KiB chunks that differ
// from the next captured state (an undo record), and a restore applies them, newest first, to
// the newest captured state (see timeline.go for why this design with modernc.org/sqlite). A
// small write to a 4 MB database costs about 12 KB of history (TestTimeTravelCostsWhatChanged),
// where a copy per bookmark cost the whole file. With a Dir the history is a log beside the
// database (<uuid>.timetravel/), so a later process restores bookmarks and times of earlier
// ones, embedded or over HTTP alike; in memory it lasts as long as the Server. States the
// database left more than Options.TimeTravelRetention ago (default 30 days, as D1) are
// dropped, and so are the oldest past Options.TimeTravelMaxBytes of history (default 256 MiB)
// or, when set, past Options.TimeTravelLimit states. Restore puts a state back in place and
// answers the bookmark current before it as previous_bookmark, the undo point.
//
// Export writes the dump byte for byte as the dumpSql function in miniflare's D1 worker, which
// wrangler ships (see dump.go and testdata/dump.golden.sql); such dumps import back intact.
//
// # Where the emulator guesses
//
// These behaviours are not pinned down by Cloudflare's documentation or by wrangler, and the
// emulator makes a documented guess:
//
//   - Time Travel: real D1 keeps 30 days of history at fine grain; here the history keeps
//     30 days too (Options.TimeTravelRetention) up to a byte cap, survives restarts with a Dir
//     (a process killed after writes, or another program writing to the file, loses nothing:
//     the changes since the last capture become one more state; only if the kept image of that
//     capture is missing or damaged is the history dropped, with a logged message, rather than
//     restored wrongly), and timestamps resolve within Options.TimeTravelInterval (see above). A timestamp later
//     than the last write resolves to the current state; one before the history answers
//     400/7500 "No bookmark found at or before ...". Bookmarks have D1's shape (hex groups that sort in time order) but encode a
//     local write sequence; restoring an unknown one answers "Bookmark ... is not available
//     for this database.". The restore message text is a guess.
//   - Export: D1's production export is assumed to match miniflare's dumpSql. Integers past
//     2^53 and integral REALs go through a JavaScript Number there (9007199254740993 dumps as
//     9007199254740992, REAL 5.0 as 5); TEXT with a NUL byte or invalid UTF-8 is written as
//     CAST(X'..' AS TEXT) here, where JavaScript would mangle it. The export job completes at
//     the first poll.
//   - Import: "init" always answers an upload_url, even for an etag uploaded before (D1 may
//     skip the upload then; wrangler uploads whenever it is given a URL, so both work). The
//     ingest runs at once and the first poll answers "complete".
//   - GET /database/{name}: names resolve on GET only; query, export and the other routes take
//     the uuid.
//   - /accounts and /memberships: one account named "d1local" with the Administrator role.
//   - meta: rows_read and rows_written approximate D1's cursor counts (see above); served_by_*
//     are fixed values.
//   - Errors D1 never showed us (an unknown export or import bookmark, bad page numbers) use
//     D1's envelope with code 7500 or 7400 and messages of our own.
//
// # wrangler
//
// Cloudflare's CLI talks to the emulator as to D1. Serve it with cmd/d1local, which prints the
// environment to export:
//
//	$ go run ./cmd/d1local -addr 127.0.0.1:8787 -dir .d1local -token T
//	d1local serving D1's REST API at http://127.0.0.1:8787/client/v4
//
//	export CLOUDFLARE_API_BASE_URL=http://127.0.0.1:8787/client/v4
//	export CLOUDFLARE_ACCOUNT_ID=d10ca1d10ca1d10ca1d10ca1d10ca100
//	export CLOUDFLARE_API_TOKEN=<the -token value>
//	export D1_DATABASE_ID=e58bd756-502a-4622-8356-2b799c71a61f
//
// Then, with wrangler 4.164.0 (abbreviated output of real runs of scripts/wrangler-check.sh):
//
//	$ wrangler d1 create d1seal-check-23959 --binding DB --update-config
//	✅ Successfully created DB 'd1seal-check-23959'
//
//	$ wrangler d1 execute DB --remote --command "INSERT INTO notes (body) VALUES ('hello'), ('it''s wrangler')"
//	🌀 Executing on remote database DB (7544b7d1-b4fa-4958-8c73-5b5f88ec8fcc):
//	🚣 Executed 1 command in 0.21ms
//	[ { "results": [], "success": true, "meta": { "changed_db": true, "changes": 2, "last_row_id": 2,
//	    "rows_written": 2, "size_after": 8192, "served_by": "d1local", ... } } ]
//
//	$ wrangler d1 execute DB --remote --yes --file seed.sql
//	├ 🌀 Uploading 7544b7d1-...-c762b59aac6f2dca7c5fe53f1faf8d34.sql
//	│ 🌀 Uploading complete.
//	🌀 Ingesting 7544b7d1-...-c762b59aac6f2dca7c5fe53f1faf8d34.sql
//	🌀 Import complete
//	🚣 Executed 4 queries in 0.34ms (0 rows read, 3 rows written)
//	   Database is currently at bookmark 000660e5-73b791af-6b037438-de1c0f39b39505e69134babcf03adc25.
//
//	$ wrangler d1 migrations list DB --remote
//	Migrations to be applied:
//	│ 0001_create_users.sql │
//	│ 0002_add_posts.sql    │
//
//	$ wrangler d1 migrations apply DB --remote
//	🚣 Executed 3 commands in 0.46ms
//	│ 0001_create_users.sql │ ✅     │
//	🚣 Executed 4 commands in 0.58ms
//	│ 0002_add_posts.sql    │ ✅     │
//
//	$ wrangler d1 migrations list DB --remote
//	✅ No migrations to apply!
//
//	$ wrangler d1 export DB --remote --output export.sql
//	├ Creating export
//	├ Downloading SQL to export.sql
//	🌀 Downloaded to export.sql successfully!
//
// and the dump begins
//
//	PRAGMA defer_foreign_keys=TRUE;
//	CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
//	INSERT INTO "notes" ("id","body") VALUES(1,'hello');
//	INSERT INTO "notes" ("id","body") VALUES(2,'it''s wrangler');
//
// wrangler d1 time-travel info and restore work too, and without CLOUDFLARE_ACCOUNT_ID, or with
// only database_name in the config, wrangler finds the account and the database by itself.
// scripts/wrangler-check.sh runs all of the above and checks the answers: it installs Node 22
// and wrangler into a cache folder the first time (npm needed once), starts
// go run ./cmd/d1local, and exits non-zero on the first failure:
//
//	D1SEAL_WRANGLER_CACHE=$HOME/.cache/d1seal-wrangler bash scripts/wrangler-check.sh
//
// # Faults
//
// Server.InjectFaults queues a Fault for each following API request, Server.SetFaultFunc decides
// per request, and any client can ask for one with the X-D1local-Fault header. A fault adds
// latency, answers a status before executing (502 and 504 with Cloudflare's HTML page), drops
// the connection after committing (the write happened, the response is lost), or answers a D1
// transient error. Transient errors are answered as HTTP 500, code 7500, "D1_ERROR: <message>"
// (for example "D1_ERROR: Network connection lost."): D1 reports them through the same error
// path as SQL errors, but they are failures of the service, not of the request. Options.RateLimit
// emulates Cloudflare's API limit: past N requests in a window, every request gets 429 with
// Retry-After until the lockout ends.
package d1local
