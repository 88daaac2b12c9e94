// Package insertload is create-many's insert workload (records.CreateMany's shape, without
// sealing), shared by the local D1's BatchInsert benchmark and the bench command's
// local-versus-workerd scenario so that both measure the same statements: rows of 13 values
// (a TID-like key, names, a 1 KiB ciphertext and small BLOBs, times, a version), 7 rows per
// INSERT ... SELECT * FROM (VALUES ...) WHERE NOT EXISTS (D1 binds at most 100 parameters), into
// a table with a unique key and three indexes.
package insertload

import (
	"fmt"
	"strings"
)

// RowsPerStatement is how many rows one INSERT carries: 13 parameters each and one for the
// guard, within D1's 100.
const RowsPerStatement = 7

// Statement is one INSERT and its arguments: strings, int64s, nil and []byte BLOBs.
type Statement struct {
	SQL  string
	Args []any
}

// Schema returns the SQL that creates table, with create-many's columns, unique key and
// indexes, and the write log writes that guards the inserts (if it does not exist).
func Schema(table, writes string) string {
	q := `"` + table + `"`
	return `CREATE TABLE ` + q + ` (id TEXT PRIMARY KEY, did TEXT NOT NULL, collection TEXT NOT NULL,
		rkey TEXT NOT NULL, ciphertext BLOB NOT NULL, encrypted_dek BLOB, nonce BLOB NOT NULL,
		public INTEGER DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT, version INTEGER,
		signature BLOB, write_id TEXT, UNIQUE(did, collection, rkey));
	CREATE INDEX "` + table + `_did" ON ` + q + `(did);
	CREATE INDEX "` + table + `_collection" ON ` + q + `(collection);
	CREATE INDEX "` + table + `_did_collection" ON ` + q + `(did, collection);
	CREATE TABLE IF NOT EXISTS "` + writes + `" (write_id TEXT PRIMARY KEY)`
}

// Inserts returns the statements that insert rows rows into table, each guarded by the write
// log writes, as records.CreateMany writes them. The values are deterministic.
func Inserts(table, writes string, rows int) []Statement {
	var out []Statement
	for first := 0; first < rows; first += RowsPerStatement {
		var sql strings.Builder
		sql.WriteString(`INSERT INTO "` + table + `" (id, did, collection, rkey, ciphertext, encrypted_dek, nonce, public, created_at, updated_at, version, signature, write_id) SELECT * FROM (VALUES `)
		var args []any
		for i := first; i < min(first+RowsPerStatement, rows); i++ {
			if i > first {
				sql.WriteString(", ")
			}
			sql.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, fmt.Sprintf("3l%011d", i), "did:plc:bench", "agent.memory.note", fmt.Sprintf("r%d", i),
				blob(1024, i), blob(60, i), blob(12, i), int64(0), "2026-11-30T00:00:00.000000Z", nil, int64(1), blob(64, i), fmt.Sprintf("w%d", first))
		}
		sql.WriteString(`) WHERE NOT EXISTS (SELECT 1 FROM "` + writes + `" WHERE write_id = ?)`)
		args = append(args, fmt.Sprintf("w%d", first))
		out = append(out, Statement{SQL: sql.String(), Args: args})
	}
	return out
}

func blob(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + seed)
	}
	return b
}
