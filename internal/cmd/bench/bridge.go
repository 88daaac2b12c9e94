package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/internal/d1test"
	"github.com/d1seal/d1seal/records"
)

// bridgeVsREST is the bridge scenario: the same work through the d1seal bridge Worker on
// workerd (Cloudflare's runtime and local D1, under wrangler dev --local) and through the REST
// API of the local D1, each request delayed by the same latency: requests per second of small
// reads (REST with and without its request budget), and create-many of sealed records with
// the bytes each record costs on the wire.
func bridgeVsREST(ctx context.Context, cfg config, srv *server, w io.Writer) error {
	fmt.Fprintf(w, "## Bridge versus REST (%s added to every request on both)\n\n", cfg.latency)
	bridge, bm, stop, err := bridgeOnWorkerd(cfg, w)
	if err != nil || bridge == nil {
		return err
	}
	defer stop()
	rm := &meter{}
	rest, err := srv.newDatabase(ctx, "bridge-vs-rest", rm)
	if err != nil {
		return err
	}
	budgeted, err := srv.newDatabase(ctx, "bridge-vs-rest-budget", &meter{})
	if err != nil {
		return err
	}
	budgeted, err = budgetOn(budgeted, srv)
	if err != nil {
		return err
	}

	const workers = 16
	reads := min(400, max(cfg.n/25, workers)) // the budgeted run needs a quarter second per read past its burst
	fmt.Fprintf(w, "Requests per second, %d single-statement reads from %d goroutines:\n\n", reads, workers)
	fmt.Fprintln(w, "| path | requests | wall | requests/s |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: |")
	for _, p := range []struct {
		name string
		c    *d1.Client
	}{{"bridge (no account-wide cap)", bridge}, {"REST, budget off", rest}, {"REST, default budget (1,200 per 5 min)", budgeted}} {
		wall, err := readLoad(ctx, p.c, reads, workers)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.0f |\n", p.name, reads, wall.Round(time.Millisecond), float64(reads)/wall.Seconds())
	}
	fmt.Fprintln(w, "\nThe budget lets a burst through and then holds REST to 4 requests per second for good; the bridge has no such ceiling.")

	n := cfg.n
	fmt.Fprintf(w, "\nCreate-many of %d sealed records (about 1 KiB each):\n\n", n)
	fmt.Fprintln(w, "| path | requests | wall | records/s | bytes sent per record | bytes received per record |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: |")
	for _, p := range []struct {
		name string
		c    *d1.Client
		m    *meter
	}{{"bridge", bridge, bm}, {"REST", rest, rm}} {
		col, err := sealedCollection(ctx, p.c, p.name)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		values := make([]note, n)
		for i := range values {
			values[i] = kib(i)
		}
		r, err := measure(p.m, func() error { _, err := col.CreateMany(ctx, values); return err })
		if err != nil {
			return fmt.Errorf("%s: create many: %w", p.name, err)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %d | %d |\n", p.name, r.requests, r.wall.Round(time.Millisecond),
			float64(n)/r.wall.Seconds(), r.sent/int64(n), r.received/int64(n))
	}
	fmt.Fprintln(w)
	return nil
}

// budgetOn returns c with the REST API's default request budget.
func budgetOn(c *d1.Client, srv *server) (*d1.Client, error) {
	a, err := d1.NewAccount(c.AccountID(), "local", d1.Options{BaseURL: "http://" + srv.addr + "/client/v4"})
	if err != nil {
		return nil, err
	}
	return a.Database(c.DatabaseID()), nil
}

func readLoad(ctx context.Context, c *d1.Client, n, workers int) (time.Duration, error) {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := c.Query(ctx, "SELECT ?", 1); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), firstErr
}

func sealedCollection(ctx context.Context, db *d1.Client, name string) (*records.Collection[note], error) {
	store := records.NewStore(db, records.StoreOptions{})
	agent, err := crypto.GenerateAgent("did:plc:bridge-"+name, crypto.GenerateOptions{})
	if err != nil {
		return nil, err
	}
	if _, err := store.RegisterAgent(ctx, agent, nil); err != nil {
		return nil, err
	}
	c, err := records.NewCollection[note](store, agent, "agent.memory.note", records.CollectionOptions[note]{})
	if err != nil {
		return nil, err
	}
	_, err = c.Create(ctx, kib(0))
	return c, err
}

// bridgeOnWorkerd starts the bridge Worker on workerd behind a proxy that adds cfg.latency to
// every request, and returns a bridge client that counts into its own meter, and what stops
// them. When workerd is not available it writes a "Skipped" line and returns a nil client.
func bridgeOnWorkerd(cfg config, w io.Writer) (*d1.Client, *meter, func(), error) {
	wd, stopWorkerd, err := d1test.LaunchWorkerd()
	if err != nil {
		fmt.Fprintf(w, "Skipped: workerd is not available (%v).\n\n", err)
		return nil, nil, nil, nil
	}
	front, err := delayed(wd.URL, cfg.latency)
	if err != nil {
		stopWorkerd()
		return nil, nil, nil, err
	}
	stop := func() { front.Close(); stopWorkerd() }
	m := &meter{}
	db, err := d1.NewBridgeClient("http://"+front.Addr().String(), wd.Secret, d1.BridgeOptions{Binding: "DB"},
		d1.Options{HTTPClient: &http.Client{Transport: &counting{next: http.DefaultTransport, m: m}}})
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return db, m, stop, nil
}

// delayed serves a reverse proxy to target on 127.0.0.1 that holds each request for latency
// first, as the local D1 does for REST.
func delayed(target string, latency time.Duration) (net.Listener, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		rp.ServeHTTP(w, r)
	}))
	return ln, nil
}
