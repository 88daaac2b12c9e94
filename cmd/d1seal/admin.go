package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/internal/sqlsplit"
)

// stringsFlag collects a repeated flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func cmdExport(ctx context.Context, e *env, args []string) error {
	fs := flags("export", e)
	out := fs.String("output", "", "write the dump to this file (default: standard output)")
	fs.StringVar(out, "o", "", "short for -output")
	var tables stringsFlag
	fs.Var(&tables, "table", "export only this table (repeatable)")
	noData := fs.Bool("no-data", false, "schema only")
	noSchema := fs.Bool("no-schema", false, "data only")
	dataOnly := fs.Bool("data-only", false, "the rows of every table except the migrations ledger: a backup to restore into a database that already has the schema")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	if *dataOnly {
		if len(tables) > 0 || *noData {
			return usageError{"-data-only picks the tables itself: leave out -table and -no-data"}
		}
		*noSchema = true
		names, err := d1.QueryAll[string](ctx, db.Client, `SELECT name FROM sqlite_master WHERE type = 'table'
			AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT IN ('d1_migrations', 'd1seal_migration_checksums') ORDER BY name`)
		if err != nil {
			return err
		}
		tables = names
	}
	w := e.stdout
	var tmp *os.File
	if *out != "" {
		// Write beside the target and rename at the end, so a failed export never leaves a
		// truncated backup under the final name.
		if tmp, err = os.CreateTemp(filepath.Dir(*out), ".d1seal-export-*"); err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		w = tmp
	}
	info, err := db.Client.Export(ctx, w, d1.ExportOptions{Tables: tables, NoData: *noData, NoSchema: *noSchema, Progress: progressBar(e)})
	if err != nil {
		return err
	}
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), *out); err != nil {
			return err
		}
		if e.asJSON {
			return e.print(struct {
				File     string `json:"file"`
				Bytes    int64  `json:"bytes"`
				Bookmark string `json:"bookmark"`
			}{*out, info.Bytes, info.Bookmark}, nil)
		}
		fmt.Fprintf(e.stderr, "exported %d bytes to %s at bookmark %s\n", info.Bytes, *out, info.Bookmark)
	}
	return nil
}

func cmdImport(ctx context.Context, e *env, args []string) error {
	fs := flags("import", e)
	file := fs.String("file", "", "the SQL file to import (or give it as the argument)")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	path := *file
	switch {
	case path == "" && fs.NArg() == 1:
		path = fs.Arg(0)
	case path == "" || fs.NArg() > 0:
		return usageError{"give one SQL file: -file FILE"}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// A sqlite3 .dump wraps its statements in BEGIN TRANSACTION; ... COMMIT;, which D1 refuses
	// (an import runs as one transaction anyway): drop them, and say so.
	script, dropped := dropTransactionStatements(string(raw))
	if len(dropped) > 0 {
		fmt.Fprintf(e.stderr, "import: dropped %d transaction statements D1 refuses (%s); the import is one transaction anyway\n", len(dropped), strings.Join(dropped, ", "))
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	info, err := db.Client.Import(ctx, strings.NewReader(script), d1.ImportOptions{Progress: progressBar(e)})
	if err != nil {
		return err
	}
	return e.print(struct {
		File        string `json:"file"`
		Queries     int64  `json:"num_queries"`
		RowsWritten int64  `json:"rows_written"`
		Bookmark    string `json:"bookmark"`
	}{path, int64(info.NumQueries), info.Meta.RowsWritten, info.Bookmark}, func(w io.Writer) {
		fmt.Fprintf(w, "imported %s: %d queries, %d rows written; bookmark after import: %s\n",
			path, info.NumQueries, info.Meta.RowsWritten, info.Bookmark)
	})
}

// dropTransactionStatements removes BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT and RELEASE
// statements from a script (as sqlite3's .dump writes them) and returns what it removed.
func dropTransactionStatements(script string) (string, []string) {
	parts := sqlsplit.Split(script)
	var kept, dropped []string
	for _, p := range parts {
		w := strings.ToUpper(strings.Fields(p + " x")[0])
		switch w {
		case "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE":
			dropped = append(dropped, strings.TrimSpace(p))
			continue
		}
		kept = append(kept, p)
	}
	if len(dropped) == 0 {
		return script, nil
	}
	return strings.Join(kept, ";\n") + ";\n", dropped
}

func parseAt(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, usageError{fmt.Sprintf("-at %q is not an RFC 3339 time such as 2026-11-22T10:00:00Z", s)}
	}
	return t, nil
}

func cmdBookmark(ctx context.Context, e *env, args []string) error {
	fs := flags("bookmark", e)
	at := fs.String("at", "", "the bookmark for this time (RFC 3339); default now")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	var t time.Time
	if *at != "" {
		var err error
		if t, err = parseAt(*at); err != nil {
			return err
		}
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	bm, err := db.Client.Bookmark(ctx, t)
	if err != nil {
		return err
	}
	return e.print(map[string]string{"bookmark": bm}, func(w io.Writer) { fmt.Fprintln(w, bm) })
}

func cmdRestore(ctx context.Context, e *env, args []string) error {
	fs := flags("restore", e)
	at := fs.String("at", "", "restore to this time (RFC 3339) instead of a bookmark")
	yes := fs.Bool("y", false, "do not ask for confirmation")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	if (*at == "") == (fs.NArg() != 1) {
		return usageError{"give one bookmark or -at"}
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	if err := e.confirm("restore rewinds "+db.Where+" in place (the undo bookmark is printed)", *yes); err != nil {
		return err
	}
	var r d1.Restored
	if *at != "" {
		t, perr := parseAt(*at)
		if perr != nil {
			return perr
		}
		r, err = db.Client.RestoreAt(ctx, t)
	} else {
		r, err = db.Client.Restore(ctx, fs.Arg(0))
	}
	if err != nil {
		return err
	}
	return e.print(map[string]string{"bookmark": r.Bookmark, "undo": r.Undo}, func(w io.Writer) {
		fmt.Fprintf(w, "restored; now at bookmark %s\nto undo: d1seal restore -y %s\n", r.Bookmark, r.Undo)
	})
}

func cmdDB(ctx context.Context, e *env, args []string) error {
	sub, args, err := e.subcommand("db", args, "list", "create", "delete")
	if err != nil {
		return err
	}
	fs := flags("db "+sub, e)
	yes := fs.Bool("y", false, "do not ask for confirmation (delete)")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	c, err := e.account(ctx)
	if err != nil {
		return err
	}
	type dbJSON struct {
		ID        string    `json:"uuid"`
		Name      string    `json:"name"`
		NumTables int64     `json:"num_tables"`
		FileSize  int64     `json:"file_size"`
		CreatedAt time.Time `json:"created_at"`
	}
	switch sub {
	case "list":
		if fs.NArg() > 1 {
			return usageError{"list takes at most a name"}
		}
		dbs, err := c.ListDatabases(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		list := []dbJSON{}
		for _, d := range dbs {
			list = append(list, dbJSON{d.ID, d.Name, d.NumTables, d.FileSize, d.CreatedAt})
		}
		return e.print(list, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tTABLES\tBYTES\tCREATED")
			for _, d := range dbs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", d.ID, d.Name, d.NumTables, d.FileSize, d.CreatedAt.Format(time.RFC3339))
			}
			tw.Flush()
		})
	case "create":
		if fs.NArg() != 1 {
			return usageError{"create takes a name"}
		}
		d, err := c.CreateDatabase(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		return e.print(dbJSON{d.ID, d.Name, d.NumTables, d.FileSize, d.CreatedAt}, func(w io.Writer) {
			fmt.Fprintf(w, "created %s (%s)\n", d.Name, d.ID)
		})
	case "delete":
		if fs.NArg() != 1 {
			return usageError{"delete takes a database name or id"}
		}
		d, err := findDatabase(ctx, c, fs.Arg(0))
		if err != nil {
			return err
		}
		if err := e.confirm(fmt.Sprintf("delete database %s (%s) and everything in it", d.Name, d.ID), *yes); err != nil {
			return err
		}
		if err := c.DeleteDatabase(ctx, d.ID); err != nil {
			return err
		}
		return e.print(map[string]string{"deleted": d.ID, "name": d.Name}, func(w io.Writer) {
			fmt.Fprintf(w, "deleted %s (%s)\n", d.Name, d.ID)
		})
	}
	return nil
}

// findDatabase finds a database by exact name or id.
func findDatabase(ctx context.Context, c *d1.Account, nameOrID string) (d1.Database, error) {
	dbs, err := c.ListDatabases(ctx, "")
	if err != nil {
		return d1.Database{}, err
	}
	for _, d := range dbs {
		if d.ID == nameOrID || d.Name == nameOrID {
			return d, nil
		}
	}
	return d1.Database{}, fmt.Errorf("no database named %q or with that id (d1seal db list shows them)", nameOrID)
}

// cmdTimeTravel groups bookmark and restore, as wrangler's d1 time-travel does.
func cmdTimeTravel(ctx context.Context, e *env, args []string) error {
	sub, args, err := e.subcommand("time-travel", args, "bookmark", "info", "restore")
	if err != nil {
		return err
	}
	if sub == "restore" {
		return cmdRestore(ctx, e, args)
	}
	return cmdBookmark(ctx, e, args)
}
