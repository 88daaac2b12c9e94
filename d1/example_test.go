package d1_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
)

// exampleClient returns a client for a fresh in-memory local D1, reached in process.
func exampleClient() (*d1.Client, func()) {
	srv, err := d1local.New(d1local.Options{})
	if err != nil {
		log.Fatal(err)
	}
	id, err := srv.CreateDatabase(context.Background(), "example")
	if err != nil {
		log.Fatal(err)
	}
	acct, err := d1.NewAccount("0123456789abcdef0123456789abcdef", "local-token", d1.Options{
		BaseURL:    "http://d1local.invalid/client/v4",
		HTTPClient: &http.Client{Transport: srv.Transport()},
		RateLimit:  d1.RateLimit{Disabled: true},
	})
	if err != nil {
		log.Fatal(err)
	}
	c := acct.Database(id)
	return c, func() { srv.Close() }
}

func Example() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	_, err := c.ExecScript(ctx, `
		CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE, body BLOB);
		INSERT INTO notes (title, body) VALUES ('first', X'CAFE');`)
	if err != nil {
		log.Fatal(err)
	}
	m, err := c.Exec(ctx, "INSERT INTO notes (title, body) VALUES (?, ?)", "second", []byte{1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("inserted row", m.LastRowID)

	type note struct {
		ID    int64
		Title string
		Body  []byte
	}
	notes, err := d1.QueryAll[note](ctx, c, "SELECT id, title, body FROM notes ORDER BY id")
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range notes {
		fmt.Printf("%d %s %x\n", n.ID, n.Title, n.Body)
	}

	_, err = c.Exec(ctx, "INSERT INTO notes (title) VALUES (?)", "first")
	fmt.Println("duplicate title refused:", d1.IsUniqueViolation(err))
	// Output:
	// inserted row 2
	// 1 first cafe
	// 2 second 010203
	// duplicate title refused: true
}

func ExampleClient_Batch() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	c.Exec(ctx, "CREATE TABLE accounts (name TEXT PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0))")
	c.Exec(ctx, "INSERT INTO accounts VALUES ('a', 10), ('b', 0)")

	// Both updates commit together or not at all.
	transfer := func(amount int) error {
		_, err := c.Batch(ctx,
			d1.Statement{SQL: "UPDATE accounts SET balance = balance - ? WHERE name = 'a'", Args: []any{amount}},
			d1.Statement{SQL: "UPDATE accounts SET balance = balance + ? WHERE name = 'b'", Args: []any{amount}},
		)
		return err
	}
	fmt.Println("transfer 7:", transfer(7))
	fmt.Println("transfer 7 again refused:", d1.IsConstraint(transfer(7)))
	res, _ := c.Query(ctx, "SELECT name, balance FROM accounts ORDER BY name")
	for _, row := range res.All() {
		fmt.Println(row.Values()...)
	}
	// Output:
	// transfer 7: <nil>
	// transfer 7 again refused: true
	// a 3
	// b 7
}

func ExampleRow_Scan() {
	c, done := exampleClient()
	defer done()
	res, err := c.Query(context.Background(), "SELECT 9007199254740991 AS big, 'text' AS s, NULL AS n, X'00FF' AS b")
	if err != nil {
		log.Fatal(err)
	}
	var (
		big int64
		s   string
		n   *string
		b   []byte
	)
	if err := res.Row(0).Scan(&big, &s, &n, &b); err != nil {
		log.Fatal(err)
	}
	fmt.Println(big, s, n == nil, b)
	// Output: 9007199254740991 text true [0 255]
}

func ExampleClient_Export() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	c.ExecScript(ctx, "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')")

	var dump bytes.Buffer
	if _, err := c.Export(ctx, &dump, d1.ExportOptions{}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(bytes.Contains(dump.Bytes(), []byte("INSERT INTO \"t\"")))
	// Output: true
}

func ExampleArgError_limit() {
	c, done := exampleClient()
	defer done()
	args := make([]any, 101)
	for i := range args {
		args[i] = i
	}
	// D1 allows 100 bound parameters; the client refuses more before sending anything.
	_, err := c.Exec(context.Background(), "INSERT INTO t VALUES (?)", args...)
	var le *d1.ArgError
	fmt.Println(errors.As(err, &le), le.Limit, le.Max, le.Got)
	fmt.Println(err)
	// Output:
	// true parameters 100 101
	// d1: statement 0 has 101 parameters, over D1's limit of 100
}
