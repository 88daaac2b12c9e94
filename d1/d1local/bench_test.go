package d1local_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
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
