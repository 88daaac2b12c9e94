package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing/fstest"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/records"
)

// exampleDB returns a local D1 in memory and a client for one of its databases.
func exampleDB() (*d1local.Server, *d1.Client) {
	srv, err := d1local.New(d1local.Options{})
	if err != nil {
		panic(err)
	}
	id, err := srv.CreateDatabase(context.Background(), "example")
	if err != nil {
		panic(err)
	}
	acct, err := d1.NewAccount("0123456789abcdef0123456789abcdef", "local", d1.Options{
		BaseURL:    "http://d1local.invalid/client/v4",
		HTTPClient: &http.Client{Transport: srv.Transport()},
	})
	if err != nil {
		panic(err)
	}
	c := acct.Database(id)
	return srv, c
}

// Apply the agent-records schema; the second run finds it current and costs one read.
func Example() {
	ctx := context.Background()
	srv, c := exampleDB()
	defer srv.Close()

	res, err := migrations.Apply(ctx, c, records.Schema(), migrations.ApplyOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("applied:", res.Applied)

	before := srv.Requests()
	res, err = migrations.Apply(ctx, c, records.Schema(), migrations.ApplyOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("applied:", res.Applied, "requests:", srv.Requests()-before)
	// Output:
	// applied: [0001_agent_records.sql 0002_sealing.sql 0003_write_log.sql 0004_trust.sql 0005_restorable_write_log.sql 0006_search.sql]
	// applied: [] requests: 1
}

// A migration that fails leaves nothing behind, and the error names the file and the statement.
func ExampleApply_failure() {
	ctx := context.Background()
	srv, c := exampleDB()
	defer srv.Close()
	set, err := migrations.Load(fstest.MapFS{
		"0001_notes.sql": {Data: []byte("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);")},
		"0002_tags.sql": {Data: []byte("CREATE TABLE tags (name TEXT PRIMARY KEY);\n" +
			"INSERT INTO tags VALUES ('a');\nINSERT INTO notes (body) VALUES (NULL);")},
	}, ".")
	if err != nil {
		panic(err)
	}
	res, err := migrations.Apply(ctx, c, set, migrations.ApplyOptions{})
	fmt.Println("applied:", res.Applied)
	var me *migrations.Error
	if errors.As(err, &me) {
		fmt.Println("failed:", me.Name, "statement", me.Statement)
	}
	fmt.Println(err)
	tables, _ := d1.QueryAll[string](ctx, c, "SELECT name FROM sqlite_master WHERE name = 'tags'")
	fmt.Println("tags tables:", len(tables))
	// Output:
	// applied: [0001_notes.sql]
	// failed: 0002_tags.sql statement 3
	// migrations: 0002_tags.sql: statement 3 (INSERT INTO notes (body) VALUES (NULL)): d1: batch: NOT NULL constraint failed: notes.body: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_NOTNULL) (HTTP 400, code 7500); nothing of it was applied
	// tags tables: 0
}

// Status lists what is applied (with when and its checksum), pending, changed or unknown.
func ExampleStatus() {
	ctx := context.Background()
	srv, c := exampleDB()
	defer srv.Close()
	files := fstest.MapFS{
		"0001_a.sql": {Data: []byte("CREATE TABLE a (x);")},
		"0002_b.sql": {Data: []byte("CREATE TABLE b (x);")},
		"0003_c.sql": {Data: []byte("CREATE TABLE c (x);")},
	}
	set, _ := migrations.Load(files, ".")
	if _, err := migrations.Apply(ctx, c, set, migrations.ApplyOptions{Target: 2}); err != nil {
		panic(err)
	}
	files["0002_b.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE b (x, y);")} // edited after applying
	delete(files, "0001_a.sql")                                                   // and removed
	set, _ = migrations.Load(files, ".")

	st, err := migrations.Status(ctx, c, set, migrations.StatusOptions{})
	if err != nil {
		panic(err)
	}
	for _, e := range st {
		fmt.Printf("%-10s %-8s applied=%v checksum=%.8s\n", e.Name, e.State, !e.AppliedAt.IsZero(), e.Checksum)
	}
	_, err = migrations.Apply(ctx, c, set, migrations.ApplyOptions{})
	fmt.Println(errors.Is(err, migrations.ErrDrift))
	// Output:
	// 0001_a.sql unknown  applied=true checksum=5d4dfde3
	// 0002_b.sql changed  applied=true checksum=b1fef1ac
	// 0003_c.sql pending  applied=false checksum=
	// true
}

// An Initializer brings the schema up to date on a service's first request, then never asks
// again.
func ExampleInitializer() {
	srv, c := exampleDB()
	defer srv.Close()
	in := migrations.NewInitializer(c, records.Schema(), migrations.InitOptions{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") })
	h := in.Handler(mux, func(r *http.Request, err error) { fmt.Println("init:", err) })

	for range 3 {
		before := srv.Requests()
		rec := newRecorder()
		h.ServeHTTP(rec, newRequest())
		fmt.Println(rec.Code, "D1 requests:", srv.Requests()-before)
	}
	// Output:
	// 200 D1 requests: 8
	// 200 D1 requests: 0
	// 200 D1 requests: 0
}
