package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/d1seal/d1seal/migrations"
)

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"give status, apply, baseline or create"}
	}
	sub, args := args[0], args[1:]
	fs := flags("migrate "+sub, e)
	dir := fs.String("dir", "", "folder of NNNN_name.sql files (default: d1seal's built-in agent-records schema)")
	table := fs.String("table", "", "ledger table, like wrangler's migrations_table (default d1_migrations)")
	target := fs.Int64("target", 0, "apply up to this migration number")
	dry := fs.Bool("dry-run", false, "print the plan, change nothing")
	baseline := fs.Bool("baseline", false, "record pending migrations as applied without running them")
	drift := fs.Bool("accept-drift", false, "go on although applied files changed")
	fs.BoolVar(drift, "allow-drift", false, "same as -accept-drift")
	bookmark := fs.Bool("bookmark", false, "capture a Time Travel bookmark before applying (the recovery point)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if sub == "create" {
		if fs.NArg() != 1 || *dir == "" {
			return usageError{"create needs -dir and a name"}
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
	set := migrations.AgentRecords()
	if *dir != "" {
		var err error
		if set, err = migrations.LoadDir(*dir); err != nil {
			return err
		}
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	if sub == "baseline" {
		sub, *baseline = "apply", true
	}
	opts := migrations.Options{Table: *table, Target: *target, DryRun: *dry, Baseline: *baseline, AllowDrift: *drift, Bookmark: *bookmark}
	switch sub {
	case "status":
		entries, err := migrations.Status(ctx, db.Client, set, opts)
		if err != nil {
			return err
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
		return tw.Flush()
	case "apply":
		res, err := migrations.Apply(ctx, db.Client, set, opts)
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
