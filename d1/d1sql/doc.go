// Package d1sql is a database/sql driver for D1 over d1seal's REST client (package d1), so
// that sqlc, sqlx, scany, goose and the rest of Go's SQL toolbox work against Cloudflare D1,
// the local D1, or anything else a *d1.Client reaches.
//
// Two ways to open a database. Give it a client you already have (no registration involved):
//
//	client, _ := d1.NewClientFromEnv(d1.Options{})
//	db := sql.OpenDB(d1sql.NewConnector(client, d1sql.Options{}))
//
// or import the package for its side effect and name a data source:
//
//	import _ "github.com/d1seal/d1seal/d1/d1sql"
//	db, err := sql.Open("d1seal", "env:")              // CLOUDFLARE_ACCOUNT_ID, _API_TOKEN, D1_DATABASE_ID
//	db, err := sql.Open("d1seal", "local:.d1seal")     // the embedded local D1 in a folder
//	db, err := sql.Open("d1seal", "cloudflare:ACCOUNT_ID/DATABASE_ID?parse_time=1")
//
// The driver registers itself as "d1seal" (DriverName), a name no other D1 driver uses, in
// the package's init: database/sql offers no other way to serve sql.Open. The API token is
// never part of a data source name (names end up in logs): it always comes from
// CLOUDFLARE_API_TOKEN. CLOUDFLARE_API_BASE_URL overrides the endpoint, as for wrangler.
//
// # Values
//
// Arguments go through the d1 client: nil, bool (as 1/0), integers within ±(2^53−1) (D1
// binds every number as a JavaScript double: larger ones are refused before sending rather
// than rounded), float64, string, []byte (BLOB), time.Time (RFC 3339 text in UTC), and
// driver.Valuer. Named arguments (sql.Named) are refused: D1 binds by position.
//
// Results come back as int64 (exact: the client decodes JSON numbers without a float64
// detour), float64, string, []byte and nil. A value D1 computed (such as sum() past 2^53)
// is already a double inside D1, whatever the client does. With Options.ParseTime (data
// source parameter parse_time=1), TEXT that is an RFC 3339 time or SQLite's
// "YYYY-MM-DD HH:MM:SS[.fff]" comes back as a time.Time, so that time.Time destinations
// work (sqlc maps DATETIME and TIMESTAMP columns to time.Time); without it such text stays
// a string. QueryRow on no rows gives sql.ErrNoRows, as database/sql always does.
//
// Result.RowsAffected is D1's meta.changes, which counts rows changed by triggers too;
// LastInsertId is meta.last_row_id.
//
// # Transactions
//
// D1 has no interactive transactions: every request is one transaction, and BEGIN, COMMIT
// and SAVEPOINT are refused. A *sql.Tx from this driver therefore buffers its writes and
// sends them at Commit as one batch, which D1 runs atomically: all of them or none. Until
// then their Result says ErrNotCommitted; after Commit it holds the statement's own figures.
// Rollback discards the buffer and sends nothing. (So sqlc's :execrows and :execresult queries, which read
// the Result at once, work outside transactions; inside one, use :exec.)
//
// Reads inside a transaction run at once, against the committed database. A read after a
// buffered write could not see that write, so it fails with ErrReadAfterWrite instead of
// returning a silently stale answer; read first, then write, or commit and read after. A
// statement that both writes and returns rows (INSERT … RETURNING) cannot be buffered and is
// refused inside a transaction with ErrReadAfterWrite too. Reads are not isolated from other
// clients' writes, and nothing is locked: use a version column, or a WHERE clause that
// checks the value read, to detect a concurrent change, as package records does.
//
// Cloudflare's Worker binding likewise offers batch() and no transactions. A driver that ran
// each statement as it came and made Commit a no-op would lose atomicity without a word; this
// one sends nothing before Commit and refuses what it cannot do.
// Read-only transactions (sql.TxOptions{ReadOnly: true}) refuse writes; isolation levels
// other than the default are refused.
//
// A Conn is safe for use by one goroutine at a time, as database/sql guarantees; the
// underlying *d1.Client is shared by every connection of a sql.DB.
package d1sql
