package main

import (
	"context"
	"time"

	"github.com/d1seal/d1seal/d1/d1local"
)

// cmdLocal serves the local D1 on a port, as cmd/d1local does.
func cmdLocal(ctx context.Context, e *env, args []string) error {
	fs := flags("local", e)
	addr := fs.String("addr", "127.0.0.1:8787", "address to listen on")
	dir := fs.String("dir", e.local, `folder of the SQLite files ("" keeps databases in memory); default: the -local folder the other commands use`)
	token := fs.String("token", "", "API token to require (default: accept any request)")
	latency := fs.Duration("latency", 0*time.Millisecond, "added to every request, to resemble a remote D1")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	srv, err := d1local.New(d1local.Options{Dir: *dir, Token: *token, Latency: *latency})
	if err != nil {
		return err
	}
	defer srv.Close()
	return d1local.ListenAndServe(ctx, srv, *addr, e.stdout)
}
