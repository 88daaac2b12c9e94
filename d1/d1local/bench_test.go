package d1local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/d1seal/d1seal/d1/d1local"
)

// BenchmarkInsertInto20MB sends 1,000 single-row INSERT requests (one op) through the
// in-process Transport to a database holding about 20 MB: the cost of ordinary writes,
// Time Travel included, on a database that is not tiny.
func BenchmarkInsertInto20MB(b *testing.B) {
	for _, dir := range []string{"memory", "dir"} {
		b.Run(dir, func(b *testing.B) {
			opts := d1local.Options{}
			if dir == "dir" {
				opts.Dir = b.TempDir()
			}
			e := newEnv(b, opts)
			rs := e.query(b, map[string]any{"sql": `CREATE TABLE big(id INTEGER PRIMARY KEY, body BLOB);
				WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 20000)
				INSERT INTO big(body) SELECT randomblob(1000) FROM c;
				CREATE TABLE small(id INTEGER PRIMARY KEY, v TEXT)`})
			b.Logf("database size %d bytes", rs[len(rs)-1].Meta.SizeAfter)
			url := e.dbURL("query")
			send := func(i int) {
				body := fmt.Appendf(nil, `{"sql":"INSERT INTO small(v) VALUES (?)","params":["row %d"]}`, i)
				resp, err := e.http.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for range 1000 {
					send(n)
					n++
				}
			}
		})
	}
}

// batchInsertWorkload is create-many's shape (records.CreateMany): rows of 13 values (a TID
// key, names, a 1 KiB ciphertext and small BLOBs sent as arrays of byte values, times, a
// version), 7 rows per INSERT ... SELECT * FROM (VALUES ...) WHERE NOT EXISTS (100 parameters
// at most), into a table with a unique key and three indexes, in requests of at most 1,000
// statements spread evenly (10,000 rows: two requests of 715 statements).
type batchInsertWorkload struct {
	schema string
	bodies [][]byte // one JSON /query body per request
}

func newBatchInsertWorkload(rows int) batchInsertWorkload {
	const perStmt, maxStmts = 7, 1000
	stmts := (rows + perStmt - 1) / perStmt
	requests := (stmts + maxStmts - 1) / maxStmts
	perRequest := (stmts + requests - 1) / requests
	blob := func(n, seed int) []int {
		b := make([]int, n)
		for i := range b {
			b[i] = (i*31 + seed) & 0xff
		}
		return b
	}
	var bodies [][]byte
	var batch []map[string]any
	flush := func() {
		body, err := json.Marshal(map[string]any{"batch": batch})
		if err != nil {
			panic(err)
		}
		bodies, batch = append(bodies, body), nil
	}
	for first := 0; first < rows; first += perStmt {
		var sql strings.Builder
		sql.WriteString("INSERT INTO records (id, did, collection, rkey, ciphertext, encrypted_dek, nonce, public, created_at, updated_at, version, signature, write_id) SELECT * FROM (VALUES ")
		var args []any
		for i := first; i < min(first+perStmt, rows); i++ {
			if i > first {
				sql.WriteString(", ")
			}
			sql.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, fmt.Sprintf("3l%011d", i), "did:plc:bench", "agent.memory.note", fmt.Sprintf("r%d", i),
				blob(1024, i), blob(60, i), blob(12, i), 0, "2026-11-30T00:00:00.000000Z", nil, 1, blob(64, i), fmt.Sprintf("w%d", first))
		}
		sql.WriteString(") WHERE NOT EXISTS (SELECT 1 FROM record_writes WHERE write_id = ?)")
		args = append(args, fmt.Sprintf("w%d", first))
		batch = append(batch, map[string]any{"sql": sql.String(), "params": args})
		if len(batch) == perRequest {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return batchInsertWorkload{
		schema: `CREATE TABLE records (id TEXT PRIMARY KEY, did TEXT NOT NULL, collection TEXT NOT NULL,
			rkey TEXT NOT NULL, ciphertext BLOB NOT NULL, encrypted_dek BLOB, nonce BLOB NOT NULL,
			public INTEGER DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT, version INTEGER,
			signature BLOB, write_id TEXT, UNIQUE(did, collection, rkey));
			CREATE INDEX idx_records_did ON records(did);
			CREATE INDEX idx_records_collection ON records(collection);
			CREATE INDEX idx_records_did_collection ON records(did, collection);
			CREATE TABLE record_writes (write_id TEXT PRIMARY KEY)`,
		bodies: bodies,
	}
}

// BenchmarkBatchInsert inserts 10,000 rows the way create-many sends them (see
// batchInsertWorkload) into a fresh in-memory database per op, through the in-process
// Transport, with the statement cache off (each statement prepared anew, as before the
// cache) and on, side by side.
func BenchmarkBatchInsert(b *testing.B) {
	const rows = 10_000
	w := newBatchInsertWorkload(rows)
	for _, bc := range []struct {
		name string
		size int
	}{{"cache=off", -1}, {"cache=on", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			srv, err := d1local.New(d1local.Options{StatementCacheSize: bc.size})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			hc := &http.Client{Transport: srv.Transport()}
			post := func(url string, body []byte) {
				resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d: %.300s", resp.StatusCode, out)
				}
			}
			schema, err := json.Marshal(map[string]string{"sql": w.schema})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				b.StopTimer()
				id, err := srv.CreateDatabase(context.Background(), fmt.Sprint("bench-", n))
				if err != nil {
					b.Fatal(err)
				}
				n++
				url := "http://d1local.test/client/v4/accounts/a/d1/database/" + id + "/query"
				post(url, schema)
				b.StartTimer()
				for _, body := range w.bodies {
					post(url, body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}
