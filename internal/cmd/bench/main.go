// Command bench measures d1seal against the local D1 with an injected round-trip latency, each
// scenario beside its baseline in the same run, and prints the results as Markdown for
// BENCHMARKS.md.
//
//	go run ./internal/cmd/bench                        # every scenario, 50 ms latency
//	go run ./internal/cmd/bench -latency 20ms -n 5000  # smaller
//	go run ./internal/cmd/bench -only bulk,memory      # scenarios: bulk list decode seal blob budget memory fleet bridge bridgeblob localvsworkerd
//
// The local D1 runs in a child process (this program re-executed with -serve), so that the
// figures for client CPU time, allocations and peak heap are the client's alone. Requests and
// bytes are counted on the client's side of the connection.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
)

type config struct {
	latency  time.Duration
	n        int   // records for bulk create
	seedN    int   // records for the per-record pattern's sample
	listN    int   // records for list and open
	memoryNs []int // record counts for the memory scenario
	goBench  bool  // run the go test benchmarks (decode, sealing)
	only     map[string]bool
}

func main() {
	log.SetFlags(0)
	cfg := config{only: map[string]bool{}}
	flag.DurationVar(&cfg.latency, "latency", 50*time.Millisecond, "round-trip latency added by the local D1 to every request")
	flag.IntVar(&cfg.n, "n", 10_000, "records in the bulk-create scenario")
	flag.IntVar(&cfg.seedN, "seed-n", 300, "records the per-record pattern (one request each) writes; its time per record is extrapolated to -n")
	flag.IntVar(&cfg.listN, "list-n", 1_000, "records in the list-and-open scenario")
	memory := flag.String("memory", "10000,50000,100000", "record counts of the memory scenario")
	flag.BoolVar(&cfg.goBench, "go-bench", true, "also run the go test benchmarks for decoding and sealing")
	only := flag.String("only", "", "comma-separated scenarios to run: bulk,list,decode,seal,blob,budget,memory,bridge,bridgeblob,localvsworkerd,fleet (default all)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the client to this file")
	flag.Parse()
	if os.Getenv(childEnv) != "" {
		if err := serveLocal(); err != nil {
			log.Fatal(err)
		}
		return
	}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.only[s] = true
		}
	}
	for _, s := range strings.Split(*memory, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n <= 0 {
			log.Fatalf("bench: -memory: %q is not a record count", s)
		}
		cfg.memoryNs = append(cfg.memoryNs, n)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		pprof.StopCPUProfile()
		log.Fatal("bench: ", err)
	}
}

// childEnv marks the child process and carries its latency.
const childEnv = "D1SEAL_BENCH_CHILD_LATENCY"

// serveLocal is the child process: an in-memory local D1 on a loopback port.
func serveLocal() error {
	latency, err := time.ParseDuration(os.Getenv(childEnv))
	if err != nil {
		return err
	}
	srv, err := d1local.New(d1local.Options{Latency: latency})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("ADDR %s\n", ln.Addr())
	go func() {
		io.Copy(io.Discard, os.Stdin) // the parent closes stdin to stop us
		os.Exit(0)
	}()
	return http.Serve(ln, srv)
}

// server is the child local D1.
type server struct {
	cmd  *exec.Cmd
	addr string
	in   io.WriteCloser
}

func startServer(latency time.Duration) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"="+latency.String())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		cmd.Process.Kill()
		return nil, fmt.Errorf("local D1 child did not start: %q %v", line, err)
	}
	return &server{cmd: cmd, addr: strings.TrimSpace(strings.TrimPrefix(line, "ADDR ")), in: in}, nil
}

func (s *server) stop() {
	s.in.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
	}
}

// newDatabase creates a fresh database on the server and returns a client for it whose
// traffic is counted.
func (s *server) newDatabase(ctx context.Context, name string, m *meter) (*d1.Client, error) {
	base := "http://" + s.addr + "/client/v4"
	hc := &http.Client{Transport: &counting{next: http.DefaultTransport, m: m}}
	opts := d1.Options{BaseURL: base, HTTPClient: hc, RateLimit: d1.RateLimit{Disabled: true}}
	admin, err := d1.NewAccount(d1local.DefaultAccountID, "local", opts)
	if err != nil {
		return nil, err
	}
	db, err := admin.CreateDatabase(ctx, name)
	if err != nil {
		return nil, err
	}
	return admin.Database(db.ID), nil
}
