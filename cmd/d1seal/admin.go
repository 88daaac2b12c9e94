package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/d1seal/d1seal/d1"
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
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected argument " + fs.Arg(0)}
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
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
		fmt.Fprintf(e.stderr, "exported %d bytes to %s at bookmark %s\n", info.Bytes, *out, info.Bookmark)
	}
	return nil
}

func cmdImport(ctx context.Context, e *env, args []string) error {
	fs := flags("import", e)
	file := fs.String("file", "", "the SQL file to import (or give it as the argument)")
	if err := parse(fs, args); err != nil {
		return err
	}
	path := *file
	switch {
	case path == "" && fs.NArg() == 1:
		path = fs.Arg(0)
	case path == "" || fs.NArg() > 0:
		return usageError{"give one SQL file: -file FILE"}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	info, err := db.Client.Import(ctx, f, d1.ImportOptions{Progress: progressBar(e)})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "imported %s: %d queries, %d rows written; bookmark after import: %s\n",
		path, info.NumQueries, info.Meta.RowsWritten, info.Bookmark)
	return nil
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
	if err := parse(fs, args); err != nil {
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
	fmt.Fprintln(e.stdout, bm)
	return nil
}

func cmdRestore(ctx context.Context, e *env, args []string) error {
	fs := flags("restore", e)
	at := fs.String("at", "", "restore to this time (RFC 3339) instead of a bookmark")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*at == "") == (fs.NArg() != 1) {
		return usageError{"give one bookmark or -at"}
	}
	db, err := e.open(ctx)
	if err != nil {
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
	fmt.Fprintf(e.stdout, "restored; now at bookmark %s\nto undo: d1seal restore %s\n", r.Bookmark, r.Undo)
	return nil
}

func cmdDB(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"give list, create or delete"}
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	c := db.Client
	switch args[0] {
	case "list":
		if len(args) > 2 {
			return usageError{"list takes at most a name"}
		}
		name := ""
		if len(args) == 2 {
			name = args[1]
		}
		dbs, err := c.ListDatabases(ctx, name)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTABLES\tBYTES\tCREATED")
		for _, d := range dbs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", d.ID, d.Name, d.NumTables, d.FileSize, d.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "create":
		if len(args) != 2 {
			return usageError{"create takes a name"}
		}
		d, err := c.CreateDatabase(ctx, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created %s (%s)\n", d.Name, d.ID)
		return nil
	case "delete":
		if len(args) != 2 {
			return usageError{"delete takes a database id"}
		}
		if err := c.DeleteDatabase(ctx, args[1]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", args[1])
		return nil
	}
	return usageError{"unknown db subcommand " + args[0]}
}

// cmdTimeTravel groups bookmark and restore, as wrangler's d1 time-travel does.
func cmdTimeTravel(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"give bookmark or restore"}
	}
	switch args[0] {
	case "bookmark", "info":
		return cmdBookmark(ctx, e, args[1:])
	case "restore":
		return cmdRestore(ctx, e, args[1:])
	}
	return usageError{"unknown time-travel subcommand " + args[0]}
}
