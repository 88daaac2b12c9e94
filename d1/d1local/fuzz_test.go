package d1local_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/wire"
)

// FuzzQueryRequest sends arbitrary bodies to /query and /raw: the handler never panics and
// always answers with a valid envelope, an error one with exactly one error unless it succeeded.
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
	srv, err := d1local.New(d1local.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(f.Context(), "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	client := &http.Client{Transport: srv.Transport()}
	f.Fuzz(func(t *testing.T, body []byte, raw bool) {
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
	})
}
