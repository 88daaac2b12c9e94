package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/d1test"
	"github.com/d1seal/d1seal/internal/insertload"
)

// localVsWorkerd is the local D1 as a test double beside Cloudflare's own local D1 (workerd
// under wrangler dev --local, reached through the bridge), with no added latency: how long
// each takes to answer its first query, and the batched insert workload of create-many (rows
// of 13 values, a 1 KiB BLOB among them, 7 rows per INSERT, the requests split evenly within
// the client's limits) on the local D1 without its statement cache, with it, and on workerd.
// Each path gets a fresh table; the wall time is the median of three runs.
// The local D1 runs in this process on a loopback socket; workerd in its own processes.
func localVsWorkerd(ctx context.Context, cfg config, _ *server, w io.Writer) error {
	rows := cfg.n
	fmt.Fprintf(w, "## Local D1 versus workerd (no added latency)\n\n")

	start := time.Now()
	wd, stop, err := d1test.LaunchWorkerd()
	if err != nil {
		fmt.Fprintf(w, "Skipped: workerd is not available (%v).\n\n", err)
		return nil
	}
	defer stop()
	bridge, err := d1.NewBridgeClient(wd.URL, wd.Secret, d1.BridgeOptions{Binding: "DB"}, d1.Options{})
	if err != nil {
		return err
	}
	if _, err := bridge.Query(ctx, "SELECT 1"); err != nil {
		return fmt.Errorf("workerd: first query: %w", err)
	}
	workerdStart := time.Since(start)

	start = time.Now()
	on, closeOn, err := localClient(ctx, 0)
	if err != nil {
		return err
	}
	defer closeOn()
	if _, err := on.Query(ctx, "SELECT 1"); err != nil {
		return fmt.Errorf("local D1: first query: %w", err)
	}
	localStart := time.Since(start)
	off, closeOff, err := localClient(ctx, -1)
	if err != nil {
		return err
	}
	defer closeOff()

	fmt.Fprintln(w, "Start to first answered query:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| local D1 (in process) | workerd (wrangler dev --local) | ratio |")
	fmt.Fprintln(w, "| ---: | ---: | ---: |")
	fmt.Fprintf(w, "| %s | %s | %.0fx |\n\n", localStart.Round(10*time.Microsecond), workerdStart.Round(time.Millisecond), float64(workerdStart)/float64(localStart))

	fmt.Fprintf(w, "Batched insert of %d rows as create-many sends them (7 rows per INSERT, 1 KiB BLOB per row):\n\n", rows)
	fmt.Fprintln(w, "| path | requests | wall (median of 3) | rows/s | workerd's time / this |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: |")
	paths := []struct {
		name string
		c    *d1.Client
	}{{"workerd (bridge)", bridge}, {"local D1, statement cache off", off}, {"local D1, statement cache on", on}}
	walls := make([]time.Duration, len(paths))
	requests := make([]int, len(paths))
	for i, p := range paths {
		var runs []time.Duration
		for run := range 3 {
			table := fmt.Sprintf("bench_records_%d", run)
			wall, n, err := batchedInsert(ctx, p.c, table, rows)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			runs, requests[i] = append(runs, wall), n
		}
		slices.Sort(runs)
		walls[i] = runs[1]
	}
	for i, p := range paths {
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %.2fx |\n", p.name, requests[i], walls[i].Round(time.Millisecond),
			float64(rows)/walls[i].Seconds(), float64(walls[0])/float64(walls[i]))
	}
	fmt.Fprintln(w)
	return nil
}

// localClient serves a fresh in-memory local D1 with the given statement cache size on a
// loopback socket and returns a client for a new database on it.
func localClient(ctx context.Context, cacheSize int) (*d1.Client, func(), error) {
	srv, err := d1local.New(d1local.Options{StatementCacheSize: cacheSize})
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	done := func() { hs.Close(); srv.Close() }
	id, err := srv.CreateDatabase(ctx, "local-vs-workerd")
	if err != nil {
		done()
		return nil, nil, err
	}
	acct, err := d1.NewAccount(d1local.DefaultAccountID, "local", d1.Options{
		BaseURL:   "http://" + ln.Addr().String() + "/client/v4",
		RateLimit: d1.RateLimit{Disabled: true},
	})
	if err != nil {
		done()
		return nil, nil, err
	}
	c := acct.Database(id)
	return c, done, nil
}

// batchedInsert creates table afresh (with create-many's columns, unique key and indexes) and
// inserts rows into it the way records.CreateMany does; it returns the time the inserts took
// (the requests are encoded before the clock starts) and how many requests they were.
func batchedInsert(ctx context.Context, c *d1.Client, table string, rows int) (time.Duration, int, error) {
	_, err := c.ExecScript(ctx, `DROP TABLE IF EXISTS "`+table+`"; `+insertload.Schema(table, "bench_writes"))
	if err != nil {
		return 0, 0, err
	}
	var stmts []d1.Statement
	for _, st := range insertload.Inserts(table, "bench_writes", rows) {
		stmts = append(stmts, d1.Statement{SQL: st.SQL, Args: st.Args})
	}
	// As createAll: the fewest requests the statement limit allows, spread evenly, each then
	// kept within the byte limit.
	max := c.Limits().MaxStatements
	groups := (len(stmts) + max - 1) / max
	per := (len(stmts) + groups - 1) / groups
	var prepared []*d1.Prepared
	for from := 0; from < len(stmts); from += per {
		p, err := c.PrepareChunks(stmts[from:min(from+per, len(stmts))])
		if err != nil {
			return 0, 0, err
		}
		prepared = append(prepared, p...)
	}
	start := time.Now()
	for _, p := range prepared {
		if _, err := c.Send(ctx, p); err != nil {
			return 0, 0, err
		}
	}
	return time.Since(start), len(prepared), nil
}
