package d1local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/wire"
)

// FuzzQueryRequest sends arbitrary bodies to /query and /raw: the handler never panics and
// always answers with a valid envelope, an error one with exactly one error unless it succeeded.
//
// Each input gets a fresh database, so a failure reproduces from its input alone, and a 50 ms
// QueryTimeout: with D1's 30 s, inputs such as an unbounded recursive CTE held a worker for
// 30 s each (and buffered its rows meanwhile), and the fuzzer stalled at 0 execs/sec. The seed
// corpus is in testdata/fuzz/FuzzQueryRequest.
func FuzzQueryRequest(f *testing.F) {
	for _, s := range []string{
		`{"sql":"SELECT 1"}`,
		`{"sql":"SELECT ?, ?","params":[1.5, [0,255]]}`,
		`{"batch":[{"sql":"CREATE TABLE IF NOT EXISTS t(a)"},{"sql":"INSERT INTO t VALUES (?)","params":[true]}]}`,
		`{"sql":"SELECT * FROM t; SELECT sqlite_version()"}`,
		`{"sql":"BEGIN"}`,
		`{"sql":"SELECT ?","params":[{"a":1}]}`,
		`{"sql":5}`,
		`not json`,
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, raw bool) {
		checkQueryRequest(t, body, raw)
	})
}

// checkQueryRequest is FuzzQueryRequest's check of one input.
func checkQueryRequest(t *testing.T, body []byte, raw bool) {
	srv, err := d1local.New(d1local.Options{QueryTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	id, err := srv.CreateDatabase(context.Background(), "fuzz")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: srv.Transport()}
	op := "query"
	if raw {
		op = "raw"
	}
	resp, err := client.Post("http://d1local.test/client/v4/accounts/a/d1/database/"+id+"/"+op, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var env wire.Envelope[json.RawMessage]
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("status %d: body is not an envelope: %v: %s", resp.StatusCode, err, b)
	}
	if env.Success != (resp.StatusCode == 200) {
		t.Fatalf("status %d with success %v: %s", resp.StatusCode, env.Success, b)
	}
	if !env.Success && (len(env.Errors) != 1 || string(env.Result) != "null" || resp.StatusCode == 500) {
		t.Fatalf("bad error envelope (status %d): %s", resp.StatusCode, b)
	}
}
