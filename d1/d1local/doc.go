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
//	GET    /{id}                      get
//	DELETE /{id}                      delete
//	POST   /{id}/query                rows as objects
//	POST   /{id}/raw                  rows as arrays, with columns
//	POST   /{id}/export               polling export; the dump is served at its signed URL
//	POST   /{id}/import               init -> PUT upload (ETag = quoted MD5) -> ingest -> poll
//	GET    /{id}/time_travel/bookmark [?timestamp=RFC 3339]
//	POST   /{id}/time_travel/restore  ?bookmark= or ?timestamp=
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
// meta: last_row_id is the connection's last insert rowid, changes and rows_written the
// total_changes() delta, changed_db is true when changes, rowid or size moved, size_after is
// page_count*page_size. rows_read approximates D1's cursor count: the rows full scans visited or
// the rows returned, whichever is larger (SQLite answers count(*) without a scan, so that reads
// 1 here). served_by is "d1local", served_by_region "WNAM" and served_by_colo "LOCAL".
//
// Time Travel names each state of a database by a write sequence number and copies a state
// only when a bookmark of it is handed out (GET bookmark, export, import, restore) or, before a
// request, when the last copy is older than Options.TimeTravelInterval, so ordinary writes cost
// no copy. Restoring a bookmark that was handed out is exact; a timestamp resolves to a state
// the database was in within one interval before it (exact when the database stayed in that
// state a whole interval, or still is). Copies share unchanged pages; the newest
// Options.TimeTravelLimit are kept, in memory, for the life of the Server. Restore puts a copy
// back in place and answers the bookmark current before it as previous_bookmark, the undo
// point.
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
