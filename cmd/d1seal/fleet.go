package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/fleet"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/records"
)

// fleetFlags are the flags every fleet subcommand takes: which fleet, and the operator's key.
type fleetFlags struct {
	name, operator, operatorKey, passFile string
}

func (ff *fleetFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&ff.name, "name", "default", "the fleet's name (bound into its signed directory entries)")
	fs.StringVar(&ff.operator, "operator", "", "the operator's key file (d1seal keys generate): needed to place or move tenants")
	fs.StringVar(&ff.operatorKey, "operator-key", "", "the operator's verifying key (hex, as fleet list prints it), for commands that only read")
	fs.StringVar(&ff.passFile, "passphrase-file", "", "file holding the operator key file's passphrase (default "+EnvPassphrase+" or a prompt)")
}

// open returns the fleet whose directory is the command's database.
func (ff *fleetFlags) open(ctx context.Context, e *env, opts fleet.Options) (*fleet.Fleet, error) {
	opts.Name = ff.name
	switch {
	case ff.operator != "":
		a, err := loadAgent(e, ff.operator, ff.passFile)
		if err != nil {
			return nil, err
		}
		opts.Operator = a
	case ff.operatorKey != "":
		b, err := hex.DecodeString(ff.operatorKey)
		if err != nil {
			return nil, usageError{"-operator-key: not hex"}
		}
		k, err := crypto.ParseVerifyingKey(b)
		if err != nil {
			return nil, usageError{"-operator-key: " + err.Error()}
		}
		opts.OperatorKey = k
	default:
		return nil, usageError{"give -operator FILE (the operator's key file) or -operator-key HEX"}
	}
	db, err := e.open(ctx)
	if err != nil {
		return nil, err
	}
	return fleet.New(db.Client, opts)
}

// fleetSet reads the migration set of -dir or -agent-records.
func fleetSet(dir string, builtin bool) (*migrations.Set, error) {
	if builtin {
		return records.Schema(), nil
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no migrations folder %s: give -dir DIR, or -agent-records for d1seal's built-in agent-records schema", dir)
	}
	return migrations.LoadDir(dir)
}

// runFleet is "d1seal fleet": the databases of a fleet, whose directory is the command's
// database (D1_DATABASE_ID, or the local D1's).
func runFleet(ctx context.Context, e *env, args []string) error {
	sub, args, err := e.subcommand("fleet", args, "create", "list", "status", "migrate", "query", "move")
	if err != nil {
		return err
	}
	fs := flags("fleet "+sub, e)
	var ff fleetFlags
	ff.add(fs)
	var (
		n, concurrency, canaries, maxFailures int
		pattern, hint, jurisdiction, dir, to  string
		builtin, noSchema, live, recheck, yes bool
		tenants                               bool
		perTenant                             int64
	)
	switch sub {
	case "create":
		fs.IntVar(&n, "n", 1, "how many databases to create")
		fs.StringVar(&pattern, "pattern", "", "name pattern with one integer verb, filled with the database's number (default NAME-%05d)")
		fs.StringVar(&hint, "location-hint", "", "primary location: "+strings.Join(d1.LocationHints, ", "))
		fs.StringVar(&jurisdiction, "jurisdiction", "", "jurisdiction: "+strings.Join(d1.Jurisdictions, ", "))
		fs.BoolVar(&noSchema, "no-schema", false, "leave the new databases empty (default: the agent-records schema)")
	case "list":
		fs.BoolVar(&tenants, "tenants", false, "list the tenants and their verified routes instead")
	case "status", "migrate":
		fs.StringVar(&dir, "dir", "migrations", "folder of NNNN_name.sql files")
		fs.BoolVar(&builtin, "agent-records", false, "use d1seal's built-in agent-records schema instead of -dir")
		fs.IntVar(&concurrency, "concurrency", 4, "databases at once")
		fs.IntVar(&canaries, "canaries", 1, "databases migrated first, alone; a failure among them stops everything")
		if sub == "status" {
			fs.BoolVar(&live, "live", false, "read every database's ledger (one request each) instead of the recorded statuses")
		} else {
			fs.IntVar(&maxFailures, "max-failures", 0, "stop after this many failed databases (0: try them all)")
			fs.BoolVar(&recheck, "recheck", false, "check databases an earlier run recorded as applied")
		}
	case "query":
		fs.IntVar(&concurrency, "concurrency", 8, "databases at once")
	case "move":
		fs.StringVar(&to, "to", "", "the database (id or name) to move to (default: chosen by placement)")
		fs.Int64Var(&perTenant, "max-tenants", 0, "when choosing: at most this many tenants per database (0: any)")
		fs.BoolVar(&yes, "y", false, "do not ask for confirmation")
	}
	if err := e.parse(fs, args); err != nil {
		return err
	}
	switch sub {
	case "query":
		if fs.NArg() != 1 {
			return usageError{"give one SQL statement"}
		}
	case "move":
		if fs.NArg() != 1 {
			return usageError{"give the tenant to move (a DID)"}
		}
	default:
		if fs.NArg() != 0 {
			return usageError{"unexpected argument " + fs.Arg(0)}
		}
	}
	opts := fleet.Options{NamePattern: pattern, LocationHint: hint, Jurisdiction: jurisdiction, NoSchema: noSchema}
	if perTenant > 0 {
		opts.Placement = fleet.Placement{MaxTenants: perTenant}
	}
	f, err := ff.open(ctx, e, opts)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		var made []fleet.Database
		for range n {
			d, err := f.CreateDatabase(ctx)
			if err != nil {
				return err
			}
			made = append(made, d)
			if !e.asJSON {
				fmt.Fprintf(e.stdout, "created %s (%s)\n", d.Name, d.ID)
			}
		}
		if e.asJSON {
			return e.print(made, nil)
		}
		return nil
	case "list":
		if tenants {
			routes, err := f.Tenants(ctx, "")
			if err != nil {
				return err
			}
			return e.print(nonNilSlice(routes), func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TENANT\tDATABASE\tEPOCH")
				for _, r := range routes {
					fmt.Fprintf(tw, "%s\t%s\t%d\n", r.Tenant, r.Database, r.Epoch)
				}
				tw.Flush()
			})
		}
		dbs, err := f.Databases(ctx)
		if err != nil {
			return err
		}
		return e.print(nonNilSlice(dbs), func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tID\tTENANTS\tBYTES\tLOCATION\tJURISDICTION\tSTATE")
			for _, d := range dbs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", d.Name, d.ID, d.Tenants, d.Bytes, d.LocationHint, d.Jurisdiction, d.State)
			}
			tw.Flush()
		})
	case "status", "migrate":
		set, err := fleetSet(dir, builtin)
		if err != nil {
			return err
		}
		mo := fleet.MigrateOptions{Concurrency: concurrency, Canaries: canaries, MaxFailures: maxFailures, Recheck: recheck}
		if canaries == 0 {
			mo.Canaries = -1
		}
		var rep *fleet.Report
		var runErr error
		if sub == "status" {
			rep, runErr = f.Status(ctx, set, live, mo)
		} else {
			if !e.asJSON {
				var mu sync.Mutex
				done := 0
				mo.Progress = func(s fleet.DatabaseStatus) {
					mu.Lock()
					done++
					fmt.Fprintf(e.stderr, "\rmigrate: %d databases done", done)
					mu.Unlock()
				}
			}
			rep, runErr = f.MigrateAll(ctx, set, mo)
			if !e.asJSON {
				fmt.Fprintln(e.stderr)
			}
		}
		if rep != nil {
			if err := e.print(rep, func(w io.Writer) { _ = rep.WriteTable(w) }); err != nil {
				return err
			}
		}
		return runErr
	case "query":
		rows, err := fanOutQuery(ctx, f, fs.Arg(0), concurrency)
		if err != nil {
			return err
		}
		if err := e.print(rows, func(w io.Writer) { printFleetRows(w, rows) }); err != nil {
			return err
		}
		for _, fe := range rows.Failed {
			fmt.Fprintln(e.stderr, fe)
		}
		if len(rows.Failed) > 0 {
			return fmt.Errorf("%d of %d databases failed", len(rows.Failed), rows.Databases)
		}
		return nil
	case "move":
		tenant := fs.Arg(0)
		rt, err := f.Lookup(ctx, tenant)
		if err != nil {
			return err
		}
		if to != "" {
			dbs, err := f.Databases(ctx)
			if err != nil {
				return err
			}
			for _, d := range dbs {
				if d.Name == to {
					to = d.ID
				}
			}
		}
		dest := to
		if dest == "" {
			dest = "a database chosen by placement"
		}
		if err := e.confirm(fmt.Sprintf("move %s from %s to %s (copy, fence, verify, switch, then delete from %s)", tenant, rt.Database, dest, rt.Database), yes); err != nil {
			return err
		}
		rep, err := f.Move(ctx, tenant, fleet.MoveOptions{To: to})
		if err != nil {
			return err
		}
		return e.print(rep, func(w io.Writer) {
			fmt.Fprintf(w, "moved %s from %s to %s (epoch %d; steps %s", rep.Tenant, rep.From, rep.To, rep.Epoch, strings.Join(rep.Steps, ", "))
			if rep.Resumed != "" {
				fmt.Fprintf(w, "; resumed at %s", rep.Resumed)
			}
			fmt.Fprintf(w, "); %d records verified\n", rep.Rows["records"])
		})
	}
	return nil
}

// fanOutQuery runs sql on every database and merges the rows as column-to-value maps.
func fanOutQuery(ctx context.Context, f *fleet.Fleet, sql string, concurrency int) (*fleet.Rows[map[string]any], error) {
	dbs, err := f.Databases(ctx)
	if err != nil {
		return nil, err
	}
	results := make(map[string]*d1.Result, len(dbs))
	var mu sync.Mutex
	failed, err := f.FanOut(ctx, fleet.QueryOptions{Concurrency: concurrency}, func(ctx context.Context, db fleet.Database, c *d1.Client) error {
		res, err := c.Query(ctx, sql)
		if err != nil {
			return err
		}
		mu.Lock()
		results[db.ID] = res
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &fleet.Rows[map[string]any]{Rows: []fleet.Row[map[string]any]{}, Failed: nonNilSlice(failed), Databases: len(dbs)}
	for _, d := range dbs {
		res := results[d.ID]
		if res == nil {
			continue
		}
		for _, row := range res.All() {
			v := make(map[string]any, row.Len())
			for j, c := range res.Columns {
				v[c] = row.Value(j)
			}
			out.Rows = append(out.Rows, fleet.Row[map[string]any]{Database: d.ID, Value: v})
		}
	}
	return out, nil
}

func printFleetRows(w io.Writer, rows *fleet.Rows[map[string]any]) {
	var cols []string
	seen := map[string]bool{}
	for _, r := range rows.Rows {
		for k := range r.Value {
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	slices.Sort(cols)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DATABASE\t"+strings.Join(cols, "\t"))
	for _, r := range rows.Rows {
		cells := []string{r.Database}
		for _, c := range cols {
			cells = append(cells, cell(r.Value[c]))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d rows from %d databases, %d failed\n", len(rows.Rows), rows.Databases-len(rows.Failed), len(rows.Failed))
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
