package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/records"
)

func cmdMigrate(ctx context.Context, e *env, args []string) (err error) {
	sub, args, err := e.subcommand("migrate", args, "status", "apply", "baseline", "create")
	if err != nil {
		return err
	}
	fs := flags("migrate "+sub, e)
	dir := fs.String("dir", "migrations", "folder of NNNN_name.sql files, as wrangler's migrations_dir")
	builtin := fs.Bool("agent-records", false, "use d1seal's built-in agent-records schema instead of -dir")
	check := fs.Bool("check", false, "status: exit with status 3 when migrations are pending or applied files changed")
	yes := fs.Bool("y", false, "baseline: do not ask for confirmation")
	table := fs.String("table", "", "ledger table, like wrangler's migrations_table (default d1_migrations)")
	target := fs.Int64("target", 0, "apply up to this migration number")
	dry := fs.Bool("dry-run", false, "print the plan, change nothing")
	baseline := fs.Bool("baseline", false, "record pending migrations as applied without running them")
	drift := fs.Bool("accept-drift", false, "go on although applied files changed")
	fs.BoolVar(drift, "allow-drift", false, "same as -accept-drift")
	bookmark := fs.Bool("bookmark", false, "capture a Time Travel bookmark before applying (the recovery point)")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	if sub == "create" {
		if fs.NArg() != 1 || *dir == "" {
			return usageError{"create needs a name"}
		}
		path, err := migrations.Create(*dir, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "created", path)
		return nil
	}
	if fs.NArg() != 0 {
		return usageError{"unexpected argument " + fs.Arg(0)}
	}
	dirSet := false
	fs.Visit(func(f *flag.Flag) { dirSet = dirSet || f.Name == "dir" })
	var set *migrations.Set
	switch {
	case *builtin && dirSet:
		return usageError{"give -dir or -agent-records, not both"}
	case *builtin:
		set = records.Schema()
	default:
		if _, err := os.Stat(*dir); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no migrations folder %s: give -dir DIR, or -agent-records for d1seal's built-in agent-records schema", *dir)
		}
		if set, err = migrations.LoadDir(*dir); err != nil {
			return err
		}
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	if sub == "baseline" || *baseline {
		if !*dry {
			if err := e.confirm("baseline records pending migrations as applied in "+db.Where+" without running them", *yes); err != nil {
				return err
			}
		}
		sub, *baseline = "apply", true
	}
	switch sub {
	case "status":
		entries, err := migrations.Status(ctx, db.Client, set, migrations.StatusOptions{Table: *table})
		if err != nil {
			return err
		}
		type entryJSON struct {
			Name      string `json:"name"`
			State     string `json:"state"`
			AppliedAt string `json:"applied_at,omitempty"`
			Checksum  string `json:"checksum,omitempty"`
		}
		out := []entryJSON{}
		clean := true
		for _, en := range entries {
			j := entryJSON{Name: en.Name, State: en.State.String(), Checksum: en.Checksum}
			if !en.AppliedAt.IsZero() {
				j.AppliedAt = en.AppliedAt.UTC().Format(time.RFC3339)
			}
			clean = clean && en.State == migrations.Applied
			out = append(out, j)
		}
		if e.asJSON {
			if err := e.print(out, nil); err != nil {
				return err
			}
			if *check && !clean {
				return exitError{exitPending}
			}
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSTATE\tAPPLIED AT\tCHECKSUM")
		for _, en := range entries {
			at := ""
			if !en.AppliedAt.IsZero() {
				at = en.AppliedAt.Format(time.RFC3339)
			}
			sum := en.Checksum
			if len(sum) > 12 {
				sum = sum[:12]
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", en.Name, en.State, at, sum)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if *check && !clean {
			return exitError{exitPending}
		}
		return nil
	case "apply":
		opts := migrations.ApplyOptions{Table: *table, Target: *target, DryRun: *dry, AllowDrift: *drift, Bookmark: *bookmark}
		var res *migrations.Result
		if *baseline {
			res, err = migrations.Baseline(ctx, db.Client, set, migrations.BaselineOptions(opts))
		} else {
			res, err = migrations.Apply(ctx, db.Client, set, opts)
		}
		if e.asJSON && err == nil {
			return e.print(struct {
				Plan       []string `json:"plan,omitempty"`
				Applied    []string `json:"applied"`
				Recorded   []string `json:"recorded,omitempty"`
				Concurrent []string `json:"concurrent,omitempty"`
				Bookmark   string   `json:"bookmark,omitempty"`
			}{planNames(res.Plan), nonNil(res.Applied), res.Recorded, res.Concurrent, res.Bookmark}, nil)
		}
		if res != nil && res.Bookmark != "" {
			fmt.Fprintf(e.stdout, "recovery point: d1seal restore %s\n", res.Bookmark)
		}
		if err != nil {
			return err
		}
		switch {
		case *dry:
			for _, m := range res.Plan {
				fmt.Fprintln(e.stdout, "would apply", m.Name)
			}
		case len(res.Applied) == 0 && len(res.Recorded) == 0:
			fmt.Fprintln(e.stdout, "no migrations to apply")
		}
		verb := "applied"
		if *baseline {
			verb = "recorded as applied (baseline, not run):"
		}
		for _, n := range res.Applied {
			fmt.Fprintln(e.stdout, verb, n)
		}
		for _, n := range res.Recorded {
			fmt.Fprintln(e.stdout, "recorded", n)
		}
		for _, n := range res.Concurrent {
			fmt.Fprintln(e.stdout, "applied by another runner:", n)
		}
		return nil
	}
	return usageError{"unknown migrate subcommand " + sub}
}

func planNames(ms []migrations.Migration) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
