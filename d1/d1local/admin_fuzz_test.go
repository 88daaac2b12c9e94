package d1local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/d1seal/d1seal/d1/d1local"
)

// adminRoutes are the routes FuzzAdminRequest picks from: every API route other than query
// and raw (FuzzQueryRequest's), with {db} standing for the database's id.
var adminRoutes = []struct{ method, path string }{
	{"POST", ""},
	{"GET", ""},
	{"GET", "/{db}"},
	{"DELETE", "/{db}"},
	{"POST", "/{db}/export"},
	{"POST", "/{db}/import"},
	{"GET", "/{db}/time_travel/bookmark"},
	{"POST", "/{db}/time_travel/restore"},
	{"GET", "/{anything}"},
}

// FuzzAdminRequest sends arbitrary bodies and query strings to the create, list, get, delete,
// export, import and Time Travel routes: the handler never panics and always answers with a
// JSON envelope whose success flag agrees with the status.
func FuzzAdminRequest(f *testing.F) {
	for i, s := range []string{
		`{"name":"x"}`, `{"name":""}`, `{"output_format":"polling"}`,
		`{"output_format":"polling","dump_options":{"no_data":true,"tables":["t"]}}`,
		`{"current_bookmark":"nope"}`, `{"action":"init","etag":"00"}`, `{"action":"ingest","etag":"a","filename":"../../x"}`,
		`{"action":"poll","current_bookmark":"x"}`, `not json`, `{"name":5}`,
	} {
		f.Add(uint8(i), []byte(s), "timestamp=2026-01-01T00:00:00Z&bookmark=00000001-00000000-00000000-00&name=x&page=-1&per_page=100000")
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte, query string) {
		srv, err := d1local.New(d1local.Options{QueryTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		id, err := srv.CreateDatabase(context.Background(), "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := url.ParseQuery(query); err != nil {
			query = url.QueryEscape(query)
		}
		r := adminRoutes[int(route)%len(adminRoutes)]
		path := r.path
		switch {
		case len(path) >= 5 && path[:5] == "/{db}":
			path = "/" + id + path[5:]
		case path == "/{anything}":
			path = "/" + url.PathEscape(string(body))
		}
		req, err := http.NewRequest(r.method, "http://d1local.test/client/v4/accounts/a/d1/database"+path+"?"+query, bytes.NewReader(body))
		if err != nil {
			return
		}
		resp, err := (&http.Client{Transport: srv.Transport()}).Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", r.method, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Success *bool             `json:"success"`
			Errors  []json.RawMessage `json:"errors"`
		}
		if err := json.Unmarshal(b, &env); err != nil || env.Success == nil {
			t.Fatalf("%s %s: HTTP %d, not an envelope: %.200q", r.method, path, resp.StatusCode, b)
		}
		if *env.Success != (resp.StatusCode == 200) || (!*env.Success && len(env.Errors) == 0) {
			t.Fatalf("%s %s: HTTP %d with success %t and %d errors", r.method, path, resp.StatusCode, *env.Success, len(env.Errors))
		}
	})
}
