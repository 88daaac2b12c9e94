package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/d1seal/d1seal/d1"
)

func cmdExec(ctx context.Context, e *env, args []string) error {
	fs := flags("exec", e)
	asJSON := fs.Bool("json", false, "print results as JSON")
	file := fs.String("file", "", "read the SQL from this file (- for standard input)")
	command := fs.String("command", "", "the SQL to run (or give it as arguments)")
	if err := parse(fs, args); err != nil {
		return err
	}
	sql := strings.Join(fs.Args(), " ")
	if *command != "" {
		if sql != "" {
			return usageError{"give -command or SQL arguments, not both"}
		}
		sql = *command
	}
	switch {
	case *file != "" && sql != "":
		return usageError{"give SQL or -file, not both"}
	case *file == "-":
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		sql = string(b)
	case *file != "":
		b, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		sql = string(b)
	case sql == "":
		return usageError{"no SQL given"}
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	results, err := db.Client.ExecScript(ctx, sql)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, results)
	}
	for i, r := range results {
		if len(results) > 1 {
			fmt.Fprintf(e.stdout, "-- statement %d: %d rows, %d changed\n", i+1, r.Len(), r.Meta.Changes)
		}
		printTable(e.stdout, r)
	}
	return nil
}

// printTable prints rows aligned in columns; BLOBs as hex, NULL as NULL.
func printTable(w io.Writer, r *d1.Result) {
	if len(r.Columns) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(r.Columns, "\t"))
	for _, row := range r.All() {
		cells := make([]string, row.Len())
		for j := range cells {
			cells[j] = cell(row.Value(j))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}

func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return "x'" + hex.EncodeToString(v) + "'"
	case string:
		return strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(v)
	}
	return fmt.Sprint(v)
}

// jsonMeta is D1's metadata as printed by exec -json: D1's own field names, durations in
// milliseconds.
type jsonMeta struct {
	Changes     int64   `json:"changes"`
	LastRowID   int64   `json:"last_row_id"`
	RowsRead    int64   `json:"rows_read"`
	RowsWritten int64   `json:"rows_written"`
	ChangedDB   bool    `json:"changed_db"`
	SizeAfter   int64   `json:"size_after"`
	DurationMS  float64 `json:"duration"`
	ServedBy    string  `json:"served_by,omitempty"`
}

// printJSON prints one object per statement: columns, rows (BLOBs as x'hex') and meta.
func printJSON(w io.Writer, results []*d1.Result) error {
	type out struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
		Meta    jsonMeta `json:"meta"`
	}
	all := make([]out, len(results))
	for i, r := range results {
		m := r.Meta
		o := out{Columns: r.Columns, Rows: [][]any{}, Meta: jsonMeta{
			Changes: m.Changes, LastRowID: m.LastRowID, RowsRead: m.RowsRead, RowsWritten: m.RowsWritten,
			ChangedDB: m.ChangedDB, SizeAfter: m.SizeAfter, DurationMS: float64(m.Duration) / float64(time.Millisecond), ServedBy: m.ServedBy,
		}}
		for _, row := range r.All() {
			vals := row.Values()
			for j, v := range vals {
				if b, ok := v.([]byte); ok {
					vals[j] = "x'" + hex.EncodeToString(b) + "'"
				}
			}
			o.Rows = append(o.Rows, vals)
		}
		all[i] = o
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(all)
}
