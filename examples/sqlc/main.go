// Command sqlc shows d1seal's database/sql driver (package d1/d1sql) running code that sqlc
// generated for an SQLite schema: the authors package in this folder, made from schema.sql
// and query.sql with
//
//	go run github.com/sqlc-dev/sqlc/cmd/sqlc@v1.29.0 generate
//
// It runs on Cloudflare D1 when CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and
// D1_DATABASE_ID are set, and otherwise on the embedded local D1 in .d1seal/:
//
//	go run ./examples/sqlc
package main

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/d1/d1sql"
	"github.com/d1seal/d1seal/examples/sqlc/authors"
)

//go:embed schema.sql
var schema string

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, ".d1seal"); err != nil {
		log.Fatal("sqlc: ", err)
	}
}

func run(ctx context.Context, w io.Writer, dir string) error {
	local, err := d1seal.Open(ctx, d1seal.Options{LocalDir: dir, LocalName: "sqlc-example"})
	if err != nil {
		return err
	}
	defer local.Close()
	fmt.Fprintln(w, "database:", local.Where)

	// database/sql over the d1 client; ParseTime so that sqlc's time.Time fields scan.
	db := sql.OpenDB(d1sql.NewConnector(local.Client, d1sql.Options{ParseTime: true}))
	defer db.Close()

	// The schema, once (a fresh example table each run).
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS authors"); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return err
	}
	q := authors.New(db)

	// :one with RETURNING, nullable and BLOB columns.
	ada, err := q.CreateAuthor(ctx, authors.CreateAuthorParams{Name: "Ada", Bio: sql.NullString{String: "first programmer", Valid: true}, Avatar: []byte{0x89, 'P', 'N', 'G'}})
	if err != nil {
		return err
	}
	grace, err := q.CreateAuthor(ctx, authors.CreateAuthorParams{Name: "Grace"})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "created %d %s (bio %q, avatar %d bytes, joined %s) and %d %s (bio NULL: %v)\n",
		ada.ID, ada.Name, ada.Bio.String, len(ada.Avatar), ada.JoinedAt.Format(time.DateOnly), grace.ID, grace.Name, !grace.Bio.Valid)

	// :many
	all, err := q.ListAuthors(ctx)
	if err != nil {
		return err
	}
	for _, a := range all {
		fmt.Fprintf(w, "list: %d %s\n", a.ID, a.Name)
	}

	// :execrows
	n, err := q.UpdateAuthorBio(ctx, authors.UpdateAuthorBioParams{Bio: sql.NullString{String: "COBOL", Valid: true}, ID: grace.ID})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "updated %d row\n", n)

	// A transaction: the generated code's WithTx; both writes go to D1 at Commit as one
	// atomic batch. (Use :exec queries inside: an :execrows count is known only after Commit.)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	qtx := q.WithTx(tx)
	if err := qtx.SetAuthorBio(ctx, authors.SetAuthorBioParams{Bio: sql.NullString{String: "analytical engine", Valid: true}, ID: ada.ID}); err != nil {
		tx.Rollback()
		return err
	}
	if err := qtx.DeleteAuthor(ctx, grace.ID); err != nil {
		tx.Rollback()
		return err
	}
	// A read here could not see the two writes above: it is refused, not answered stale.
	_, err = qtx.CountAuthors(ctx)
	fmt.Fprintf(w, "read inside the transaction after its writes: %v\n", errors.Is(err, d1sql.ErrReadAfterWrite))
	if err := tx.Commit(); err != nil {
		return err
	}
	count, err := q.CountAuthors(ctx)
	if err != nil {
		return err
	}
	got, err := q.GetAuthor(ctx, ada.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "after commit: %d author, %s's bio %q\n", count, got.Name, got.Bio.String)

	// :one on a missing row is sql.ErrNoRows, as with any driver.
	_, err = q.GetAuthor(ctx, grace.ID)
	fmt.Fprintf(w, "get deleted author: sql.ErrNoRows %v\n", errors.Is(err, sql.ErrNoRows))
	return nil
}
