// Package migrations applies numbered SQL migrations to a D1 database, keeping wrangler's
// ledger so that wrangler and d1seal agree, both ways, on what is applied; and unlike wrangler
// it applies each migration atomically, records checksums, reports status, survives
// concurrent runners and initializes a service's schema for the price of one read.
//
// # Files
//
// A Set is read from a folder (LoadDir) or any fs.FS such as an embed.FS (Load): the top-level
// files NNNN_label.sql, ordered by number then name exactly as wrangler orders them. Duplicate
// numbers, names that are not NNNN_label.sql, files with no statement and files holding
// BEGIN/COMMIT are errors naming the file. Create writes the next file as
// `wrangler d1 migrations create` does. d1seal's own agent-records schema is one such set,
// records.Schema.
//
// # Ledger and checksums
//
// The ledger is wrangler's table (d1_migrations unless the options' Table says otherwise,
// like wrangler's migrations_table), created with wrangler's DDL byte for byte, and rows are
// added with wrangler's INSERT. A migration is applied when its file name is in the ledger,
// whichever tool put it there. The SHA-256 of each applied file is kept beside it, in
// d1seal_migration_checksums (ledger table, name, sha256, recorded_at), which wrangler never
// reads; wrangler's table is never altered. A migration applied by wrangler has no checksum:
// the next Apply records the current file's (trust on first use; Result.Recorded lists them,
// and Status shows an empty Entry.Checksum until then). From then on a changed file stops Apply
// with ErrDrift unless ApplyOptions.AllowDrift is set.
//
// # Atomicity
//
// D1 has no interactive transactions, but it runs every request as one transaction. Each
// migration is one request (a batch) holding, in order:
//
//  1. the claim: wrangler's `INSERT INTO "d1_migrations" (name) values ('0001_x.sql');`
//  2. the checksum row;
//  3. the file's statements, split as SQLite splits them.
//
// If any statement fails, D1 rolls the whole request back: the database is exactly as after
// the previous migration, and Apply stops with an *Error naming the file and the statement.
// D1 does not say which statement of a batch failed, so Apply finds it by bisection, resending
// prefixes of the file's statements followed by a statement that always fails (each probe is
// rolled back): about log2(n) extra requests, spent only on failure.
//
// # Concurrency
//
// Two runners (goroutines, processes, machines) may apply the same set at once; each migration
// runs exactly once, and both runners succeed. The argument:
//
//   - D1 executes the requests of one database one at a time, each as one transaction.
//   - The ledger's name column is UNIQUE, and the claim is the first statement of a
//     migration's request. Of two requests for the same migration, the one D1 runs second fails
//     at its claim, before any of the file's statements run, and is rolled back whole. So the
//     file's statements commit at most once, and only together with their ledger row.
//   - The loser recognises that failure (a UNIQUE violation on the ledger's name column), reads
//     the ledger again to confirm the migration is there (and that its recorded checksum
//     matches the loser's file, else ErrDrift), lists it in Result.Concurrent and moves on to
//     the next one. Each runner goes through the set in order and moves past a migration only
//     once it is in the ledger, so no runner applies migration k+1 before k is applied.
//   - Putting the claim first matters: were it last, as in wrangler, the loser's own DDL would
//     run first and fail with whatever the migration's first conflicting statement says ("table
//     already exists"), or, for a data migration with no such conflict, run again until the
//     ledger INSERT at the end rolled it back: still once, but with errors that cannot be told
//     from a broken migration. With the claim first, the loser's failure is always the same,
//     recognisable one, and nothing of the file ever runs twice, not even inside a rolled-back
//     transaction.
//
// The same claim makes a migration's request safe to resend after a failure that may have
// reached D1 (a lost response): if the first attempt committed, the resent one fails at the
// claim. Apply therefore lets the client retry it, and reports such a migration as Concurrent.
//
// Runners using wrangler at the same time are safe in the first sense too (wrangler's request
// also commits its file with its ledger row, and the second ledger INSERT for a name fails),
// but a wrangler request that loses fails with the migration's own error.
//
// # Automatic initialization
//
// Apply begins with one read request (the ledger joined with the checksums). When the schema
// is current, that is all it sends; so a service may call Apply at start, or use an
// Initializer, which does it on the first request (Initializer.Handler is the middleware form)
// and then never again in the process. Pending migrations are applied as above, safely under
// concurrency, which a naive "migrate on first request" middleware is not.
//
// # Operations and options
//
// Each operation takes its own options, whose zero value means the defaults: Apply takes
// ApplyOptions, where Target stops after a given number, DryRun returns the plan without
// changing anything and Bookmark captures a Time Travel bookmark before the first migration
// runs, the point to restore to (d1.Client.Restore) to undo the run. Baseline (with
// BaselineOptions, the same fields) records migrations as applied without running them, for a
// schema created by other means. An Initializer takes InitOptions. Status (with StatusOptions)
// reports every migration as applied (with its applied_at and checksum), pending, changed, or
// unknown (in the ledger with no file).
//
// A migration is one request: it must fit the client's per-request limits (d1.Limits, 1,000
// statements by default, minus the two Apply adds) and D1's 30 seconds per request.
package migrations
