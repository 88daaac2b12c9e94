package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/d1seal/d1seal/d1"
)

func cmdExec(ctx context.Context, e *env, args []string) error {
	fs := flags("exec", e)
	file := fs.String("file", "", "read the SQL from this file (- for standard input)")
	command := fs.String("command", "", "the SQL to run (or give it as arguments)")
	if err := e.parse(fs, args); err != nil {
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
	if e.asJSON {
		return printJSON(e.stdout, results)
	}
	for i, r := range results {
		if len(results) > 1 {
			fmt.Fprintf(e.stdout, "-- statement %d: %d rows, %d changed\n", i+1, r.Len(), r.Meta.Changes)
		}
		printTable(e.stdout, r)
	}
	if len(results) == 1 && len(results[0].Columns) == 0 {
		fmt.Fprintf(e.stdout, "%d rows changed\n", results[0].Meta.Changes)
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

// cell prints one value so that every kind reads differently: NULL, BLOBs as x'hex', text
// as is unless it could be mistaken for one of those (then as a quoted SQL string literal).
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return "x'" + hex.EncodeToString(v) + "'"
	case string:
		if ambiguous(v) {
			return "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
		return strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(v)
	}
	return fmt.Sprint(v)
}

// ambiguous reports whether text would print like a NULL, a BLOB, a number or a quoted
// string, or hides its ends or its escapes.
func ambiguous(s string) bool {
	if s == "" || strings.EqualFold(s, "NULL") || strings.HasPrefix(s, "'") || strings.TrimSpace(s) != s {
		return true
	}
	if len(s) > 1 && (s[0] == 'x' || s[0] == 'X') && s[1] == '\'' {
		return true
	}
	if strings.Contains(s, `\`) {
		return true
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// printJSON prints the results in wrangler's d1 execute --json shape: one object per
// statement with "results" (rows as objects), "success" and "meta" (D1's names). BLOBs are
// arrays of byte values, as D1 itself returns them, so they never read like text.
func printJSON(w io.Writer, results []*d1.Result) error {
	type out struct {
		Results []map[string]any `json:"results"`
		Success bool             `json:"success"`
		Meta    jsonMeta         `json:"meta"`
	}
	all := make([]out, len(results))
	for i, r := range results {
		m := r.Meta
		o := out{Results: []map[string]any{}, Success: true, Meta: jsonMeta{
			Changes: m.Changes, LastRowID: m.LastRowID, RowsRead: m.RowsRead, RowsWritten: m.RowsWritten,
			ChangedDB: m.ChangedDB, SizeAfter: m.SizeAfter, DurationMS: float64(m.Duration) / float64(time.Millisecond), ServedBy: m.ServedBy,
		}}
		for _, row := range r.All() {
			obj := make(map[string]any, row.Len())
			for j, col := range row.Columns() {
				v := row.Value(j)
				if b, ok := v.([]byte); ok {
					arr := make([]int, len(b))
					for k, c := range b {
						arr[k] = int(c)
					}
					v = arr
				}
				obj[col] = v
			}
			o.Results = append(o.Results, obj)
		}
		all[i] = o
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(all)
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
