// Command d1local serves a local D1 (package d1/d1local) on a port, for wrangler, curl and other
// SDKs:
//
//	go run ./cmd/d1local -addr 127.0.0.1:8787 -dir .d1local [-token T] [-latency 50ms]
//	    [-time-travel-retention 720h] [-time-travel-max-bytes 268435456]
//
// It creates a database called "default" when the folder holds none, then prints the base URL
// and the environment variables that point wrangler and d1seal at it. SIGINT or SIGTERM shut it
// down cleanly. `d1seal local` does the same.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/d1seal/d1seal/d1/d1local"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "d1local:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8787", "address to listen on")
	dir := flag.String("dir", ".d1local", `folder of the SQLite files ("" keeps databases in memory)`)
	token := flag.String("token", "", "API token to require (default: accept any request)")
	account := flag.String("account", d1local.DefaultAccountID, "account id that GET /accounts answers and that is printed (the D1 routes accept any id)")
	latency := flag.Duration("latency", 0, "added to every API request, to resemble a remote D1 (benchmarks use 50ms)")
	retention := flag.Duration("time-travel-retention", d1local.DefaultTimeTravelRetention, "how far back Time Travel reaches (D1 keeps 30 days)")
	maxBytes := flag.Int64("time-travel-max-bytes", d1local.DefaultTimeTravelMaxBytes, "cap on each database's Time Travel history (it keeps what changed, not copies); the oldest states go first")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv, err := d1local.New(d1local.Options{
		Dir: *dir, Token: *token, Logger: logger, AccountID: *account, Latency: *latency,
		TimeTravelRetention: *retention, TimeTravelMaxBytes: *maxBytes,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return d1local.ListenAndServe(ctx, srv, *addr, os.Stdout)
}
