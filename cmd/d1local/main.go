// Command d1local serves a local D1 (package d1/d1local) on a port, for wrangler, curl and other
// SDKs:
//
//	go run ./cmd/d1local -addr 127.0.0.1:8787 -dir .d1local [-token T]
//
// It creates a database called "default" when the folder holds none, then prints the base URL
// and the environment variables that point wrangler and d1seal at it. SIGINT or SIGTERM shut it
// down cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

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
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv, err := d1local.New(d1local.Options{Dir: *dir, Token: *token, Logger: logger, AccountID: *account, Latency: *latency})
	if err != nil {
		return err
	}
	defer srv.Close()
	id, err := defaultDatabase(srv, *addr, *account, *token)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String() + "/client/v4"
	shownToken := *token
	if shownToken == "" {
		shownToken = "local" // any value works when no token is required
	}
	fmt.Printf("d1local serving D1's REST API at %s\n\n", base)
	fmt.Printf("export CLOUDFLARE_API_BASE_URL=%s\n", base)
	fmt.Printf("export CLOUDFLARE_ACCOUNT_ID=%s\n", *account)
	if *token == "" {
		fmt.Printf("export CLOUDFLARE_API_TOKEN=%s\n", shownToken)
	} else {
		fmt.Println("export CLOUDFLARE_API_TOKEN=<the -token value>")
	}
	fmt.Printf("export D1_DATABASE_ID=%s\n", id)

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// defaultDatabase returns the id of the first database, creating "default" when there is none.
func defaultDatabase(srv *d1local.Server, addr, account, token string) (string, error) {
	client := &http.Client{Transport: srv.Transport()}
	ctx := context.Background()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/client/v4/accounts/"+account+"/d1/database?per_page=1", nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var list struct {
		Result []struct {
			UUID string `json:"uuid"`
		} `json:"result"`
	}
	if err := decodeJSON(resp, &list); err != nil {
		return "", err
	}
	if len(list.Result) > 0 {
		return list.Result[0].UUID, nil
	}
	return srv.CreateDatabase(ctx, "default")
}
