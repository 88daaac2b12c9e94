package d1local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/insertload"
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

// batchInsertWorkload is create-many's insert workload (internal/insertload, the same the
// bench command sends to workerd), with its BLOBs as REST's arrays of byte values, in
// requests of at most 1,000 statements spread evenly (10,000 rows: two requests of 715
// statements).
type batchInsertWorkload struct {
	schema string
	bodies [][]byte // one JSON /query body per request
}

func newBatchInsertWorkload(rows int) batchInsertWorkload {
	const maxStmts = 1000
	stmts := insertload.Inserts("records", "record_writes", rows)
	requests := (len(stmts) + maxStmts - 1) / maxStmts
	perRequest := (len(stmts) + requests - 1) / requests
	var bodies [][]byte
	for from := 0; from < len(stmts); from += perRequest {
		var batch []map[string]any
		for _, st := range stmts[from:min(from+perRequest, len(stmts))] {
			params := make([]any, len(st.Args))
			for i, a := range st.Args {
				params[i] = a
				if b, ok := a.([]byte); ok {
					ints := make([]int, len(b))
					for j, c := range b {
						ints[j] = int(c)
					}
					params[i] = ints
				}
			}
			batch = append(batch, map[string]any{"sql": st.SQL, "params": params})
		}
		body, err := json.Marshal(map[string]any{"batch": batch})
		if err != nil {
			panic(err)
		}
		bodies = append(bodies, body)
	}
	return batchInsertWorkload{schema: insertload.Schema("records", "record_writes"), bodies: bodies}
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
