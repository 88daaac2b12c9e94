package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/internal/ratelimit"
	"github.com/d1seal/d1seal/records"
	"github.com/d1seal/d1seal/syntax"
)

type note struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// kib is a note of about 1 KiB once encoded.
func kib(i int) note {
	b := make([]byte, 740)
	rand.Read(b)
	return note{Title: fmt.Sprint("note ", i), Body: base64.StdEncoding.EncodeToString(b)}
}

func (cfg config) want(name string) bool { return len(cfg.only) == 0 || cfg.only[name] }

func run(ctx context.Context, cfg config, w io.Writer) error {
	fmt.Fprintf(w, "Measured by `go run ./internal/cmd/bench` on %d CPUs, %s, with %s of latency added to every request by the local D1 (a child process on loopback).\n\n",
		runtime.NumCPU(), runtime.Version(), cfg.latency)
	srv, err := startServer(cfg.latency)
	if err != nil {
		return err
	}
	defer srv.stop()
	for _, s := range []struct {
		name string
		fn   func(context.Context, config, *server, io.Writer) error
	}{
		{"bulk", bulk}, {"list", listOpen}, {"decode", decode}, {"seal", sealing}, {"blob", blobs}, {"budget", budget}, {"memory", memory}, {"fleet", fleetMigrate}, {"bridge", bridgeVsREST}, {"bridgeblob", bridgeBlobs}, {"localvsworkerd", localVsWorkerd},
	} {
		if !cfg.want(s.name) {
			continue
		}
		if err := s.fn(ctx, cfg, srv, w); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// collection returns a collection of notes for a fresh agent in a fresh database, with the
// schema applied and the agent's registration checked (so that runs measure only their work).
func collection(ctx context.Context, srv *server, name string) (*records.Collection[note], *d1.Client, *meter, error) {
	m := &meter{}
	db, err := srv.newDatabase(ctx, name, m)
	if err != nil {
		return nil, nil, nil, err
	}
	store := records.NewStore(db, records.StoreOptions{})
	agent, err := crypto.GenerateAgent("did:plc:bench-"+name, crypto.GenerateOptions{})
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := store.RegisterAgent(ctx, agent, nil); err != nil {
		return nil, nil, nil, err
	}
	c, err := records.NewCollection[note](store, agent, "agent.memory.note", records.CollectionOptions[note]{})
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := c.Create(ctx, kib(0)); err != nil {
		return nil, nil, nil, err
	}
	return c, db, m, nil
}

// bulk is scenario 1: the one-request-per-record pattern against CreateMany.
func bulk(ctx context.Context, cfg config, srv *server, w io.Writer) error {
	c, db, m, err := collection(ctx, srv, "bulk")
	if err != nil {
		return err
	}
	values := make([]note, cfg.n)
	for i := range values {
		values[i] = kib(i)
	}
	seed, err := measure(m, func() error {
		for i := range cfg.seedN {
			if _, err := c.Create(ctx, values[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	many, err := measure(m, func() error { _, err := c.CreateMany(ctx, values); return err })
	if err != nil {
		return err
	}
	// Sealing alone, on every core: the CPU floor of any client.
	agent, _ := crypto.GenerateAgent("did:plc:bench-seal", crypto.GenerateOptions{})
	sealOnly, _ := measure(m, func() error { return sealAll(agent, cfg.n) })

	lim := db.Limits()
	perStmt := lim.MaxParams / 13
	byCount := lim.MaxStatements * perStmt
	perRecord := many.sent / int64(cfg.n)
	byBytes := int(int64(lim.MaxRequestBytes) / perRecord)
	b := min(byCount, byBytes)
	floor := (cfg.n + b - 1) / b
	seedPer := seed.wall / time.Duration(cfg.seedN)
	seedN := seedPer * time.Duration(cfg.n)

	fmt.Fprintf(w, "## 1. Bulk create of %d sealed 1 KiB records\n\n", cfg.n)
	fmt.Fprintf(w, "| | requests | wall time | client CPU | sent | allocs | peak heap |\n|---|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| per-record pattern (`createRecord` per record), %d records measured | %d | %s (%s per record) | %s | %s | %d | %s |\n",
		cfg.seedN, seed.requests, ms(seed.wall), ms(seedPer), ms(seed.cpu), mb(seed.sent), seed.allocs, mb(int64(seed.peakHeap)))
	fmt.Fprintf(w, "| per-record pattern, extrapolated to %d records | %d | %s | | | | |\n", cfg.n, cfg.n, ms(seedN))
	fmt.Fprintf(w, "| `CreateMany` | **%d** | **%s** | %s | %s | %d | %s |\n", many.requests, ms(many.wall), ms(many.cpu), mb(many.sent), many.allocs, mb(int64(many.peakHeap)))
	fmt.Fprintf(w, "| sealing alone, in groups of 16 under one signature as `CreateMany` does, all cores (no I/O) | 0 | %s | %s | | | |\n\n", ms(sealOnly.wall), ms(sealOnly.cpu))
	fmt.Fprintf(w, "- Speed-up over the per-record pattern: **%.0fx** (%s vs %s extrapolated).\n", float64(seedN)/float64(many.wall), ms(many.wall), ms(seedN))
	fmt.Fprintf(w, "- Floor: B = min(%d statements per request x %d records per statement (100 parameters / 13 per row) = %d, %d-byte request cap / %d bytes per record on the wire = %d) = %d records per request, so ceil(%d / %d) = **%d requests**; measured %d.\n",
		lim.MaxStatements, perStmt, byCount, lim.MaxRequestBytes, perRecord, byBytes, b, cfg.n, b, floor, many.requests)
	fmt.Fprintf(w, "- Floor x latency = %s; measured wall time %s = %.1fx. Sealing the records alone takes %s of wall time on this machine's %d cores, so %s is the least any client can take here; `CreateMany` is within %.2fx of max(floor x latency, sealing).\n\n",
		ms(time.Duration(floor)*cfg.latency), ms(many.wall), float64(many.wall)/float64(time.Duration(floor)*cfg.latency),
		ms(sealOnly.wall), runtime.NumCPU(), ms(max(sealOnly.wall, time.Duration(floor)*cfg.latency)),
		float64(many.wall)/float64(max(sealOnly.wall, time.Duration(floor)*cfg.latency)))
	// The local D1's own time for CreateMany's requests: their round trips less the latency
	// the local D1 adds to each.
	own := many.busy - time.Duration(many.requests)*cfg.latency
	goal := max(time.Duration(floor)*cfg.latency, own)
	fmt.Fprintf(w, "- Client CPU per record in `CreateMany`: **%.1f µs** (%s for %d records; goal at most 40 µs); bytes on the wire per record: %d.\n",
		float64(many.cpu.Microseconds())/float64(cfg.n), ms(many.cpu), cfg.n, perRecord)
	fmt.Fprintf(w, "- The local D1's own time for those %d requests (round trips less %s of added latency each): %s. Goal: wall time within 1.5x of max(floor x latency, that) = %s; measured %s = **%.2fx**.\n\n",
		many.requests, cfg.latency, ms(own), ms(goal), ms(many.wall), float64(many.wall)/float64(goal))
	return nil
}

// sendAll sends stmts in as few requests as the client's limits allow.
func sendAll(ctx context.Context, db *d1.Client, stmts []d1.Statement) error {
	chunks, err := db.PrepareChunks(stmts)
	if err != nil {
		return err
	}
	for _, p := range chunks {
		if _, err := db.Send(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// sealAll seals n 1 KiB records on every core as CreateMany does, in groups of 16 under one
// signature each (crypto.Agent.SealBatch), without any I/O.
func sealAll(agent *crypto.Agent, n int) error {
	const group = 16
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, 1)
	payload := []byte(kib(0).Body)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for lo := range next {
				var rcs []crypto.RecordContext
				var pts [][]byte
				for i := lo; i < min(lo+group, n); i++ {
					rcs = append(rcs, crypto.RecordContext{DID: syntax.DID(agent.DID()), Collection: "agent.memory.note", RKey: syntax.RecordKey(strconv.Itoa(i)), Version: 1})
					pts = append(pts, payload)
				}
				if _, err := agent.SealBatch(rcs, pts); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for lo := 0; lo < n; lo += group {
		next <- lo
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// listOpen is scenario 2.
func listOpen(ctx context.Context, cfg config, srv *server, w io.Writer) error {
	c, _, m, err := collection(ctx, srv, "list")
	if err != nil {
		return err
	}
	values := make([]note, cfg.listN-1)
	for i := range values {
		values[i] = kib(i)
	}
	if _, err := c.CreateMany(ctx, values); err != nil {
		return err
	}
	opened := 0
	r, err := measure(m, func() error {
		for rec, err := range c.All(ctx) {
			if err != nil {
				return err
			}
			if rec.Value.Body == "" {
				return fmt.Errorf("record %s opened empty", rec.Ref.RKey)
			}
			opened++ // verified, decrypted and decoded by All
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "## 2. List and open %d records\n\n", opened)
	fmt.Fprintf(w, "| requests | wall time | client CPU | CPU per record | received | allocs per record |\n|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| %d | %s | %s | %.0f µs | %s | %d |\n\n", r.requests, ms(r.wall), ms(r.cpu),
		float64(r.cpu.Microseconds())/float64(opened), mb(r.received), r.allocs/uint64(opened))
	fmt.Fprintf(w, "Pages of 200 (`Collection.All`); each record's signature is verified, its grant unwrapped and its content decrypted.\n\n")
	return nil
}

// goBench runs go test benchmarks and returns the median ns/op of each benchmark.
func goBench(ctx context.Context, pkg, pattern string, count int) (map[string]float64, []string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", pattern, "-benchmem", "-count", strconv.Itoa(count), "-benchtime", "1s", pkg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("go test -bench %s %s: %w\n%s", pattern, pkg, err, out.String())
	}
	runs := map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			continue
		}
		if _, ok := runs[name]; !ok {
			order = append(order, name)
		}
		runs[name] = append(runs[name], v)
	}
	med := map[string]float64{}
	for name, vs := range runs {
		sort.Float64s(vs)
		med[name] = vs[len(vs)/2]
	}
	return med, order, nil
}

// decode is scenario 3.
func decode(ctx context.Context, cfg config, srv *server, w io.Writer) error {
	if !cfg.goBench {
		return nil
	}
	med, _, err := goBench(ctx, "./d1", "DecodeRaw1000", 3)
	if err != nil {
		return err
	}
	ours := med["DecodeRaw1000/d1seal/Query"]
	fmt.Fprintf(w, "## 3. Decoding a 1,000-row `/raw` response\n\n| client call (median of 3) | time | ratio |\n|---|---:|---:|\n")
	for _, name := range []string{"DecodeRaw1000/d1seal/Query", "DecodeRaw1000/cloudflare-go/Raw", "DecodeRaw1000/cloudflare-go/Query"} {
		fmt.Fprintf(w, "| %s | %s | %.1fx |\n", strings.TrimPrefix(name, "DecodeRaw1000/"), ms(time.Duration(med[name])), med[name]/ours)
	}
	fmt.Fprintf(w, "\nIntegers past 2^53 decode exactly here and are rounded by cloudflare-go (`TestBenchBodiesAgree`).\n\n")
	return nil
}

// sealing is scenario 4.
func sealing(ctx context.Context, cfg config, srv *server, w io.Writer) error {
	if !cfg.goBench {
		return nil
	}
	med, _, err := goBench(ctx, "./crypto", ".", 3)
	if err != nil {
		return err
	}
	p := func(name string) float64 { return med["Primitives/"+name] }
	fmt.Fprintf(w, "## 4. Sealing against the sum of its primitives\n\n| operation | ours | primitives | ratio | ratio counting the signature's SHA-256 |\n|---|---:|---:|---:|---:|\n")
	for _, size := range []string{"1KiB", "64KiB"} {
		for _, row := range []struct {
			name string
			ours float64
			sum  float64
		}{
			{"Seal/owner/" + size, med["Seal/owner/"+size], p("AESGCMSeal/"+size) + p("HPKESeal") + p("Ed25519Sign")},
			{"Seal/owner+3/" + size, med["Seal/owner+3/"+size], p("AESGCMSeal/"+size) + 4*p("HPKESeal") + p("Ed25519Sign")},
			{"Open/" + size, med["Open/"+size], p("AESGCMOpen/"+size) + p("HPKEOpen") + p("Ed25519Verify")},
		} {
			if row.ours == 0 || row.sum == 0 {
				continue
			}
			sha := p("SHA256/" + size)
			fmt.Fprintf(w, "| %s | %.1f µs | %.1f µs | %.2fx | %.2fx |\n", row.name, row.ours/1e3, row.sum/1e3, row.ours/row.sum, row.ours/(row.sum+sha))
		}
	}
	fmt.Fprintf(w, "\nPrimitives: AES-256-GCM with a fresh key, one HPKE operation per grant, Ed25519 of a 32-byte message (median of 3 runs of `go test -bench . ./crypto`). See crypto's docs for why the signature hashes the stored ciphertext.\n\n")
	return nil
}

// blobs is scenario 5: the same BLOBs as JSON byte arrays and as hex text.
func blobs(ctx context.Context, cfg config, srv *server, w io.Writer) error {
	m := &meter{}
	db, err := srv.newDatabase(ctx, "blob", m)
	if err != nil {
		return err
	}
	if _, err := db.ExecScript(ctx, "CREATE TABLE a (b BLOB); CREATE TABLE h (b BLOB)"); err != nil {
		return err
	}
	const n = 2000
	data := randomBlobs(n)
	insert := func(table, ph string, arg func([]byte) any) (result, error) {
		stmts := blobInserts(table, ph, data, arg)
		return measure(m, func() error { return sendAll(ctx, db, stmts) })
	}
	read := func(sql string, scan func(d1.Row) error) (result, error) {
		return measure(m, func() error {
			r, err := db.Query(ctx, sql)
			if err != nil {
				return err
			}
			for _, row := range r.All() {
				if err := scan(row); err != nil {
					return err
				}
			}
			return nil
		})
	}
	ja, err := insert("a", "?", func(b []byte) any { return b })
	if err != nil {
		return err
	}
	hx, err := insert("h", "unhex(?)", func(b []byte) any { return d1.Hex(b) })
	if err != nil {
		return err
	}
	jr, err := read("SELECT b FROM a", func(r d1.Row) error { var b []byte; return r.Scan(&b) })
	if err != nil {
		return err
	}
	hr, err := read("SELECT hex(b) FROM h", func(r d1.Row) error { var b d1.Hex; return r.Scan(&b) })
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "## 5. BLOB transport: %d BLOBs of 1 KiB written and read back\n\n", n)
	fmt.Fprintf(w, "| | written: sent | wall | client CPU | read: received | wall | client CPU |\n|---|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| JSON array of byte values (`?`, `b`) | %s | %s | %s | %s | %s | %s |\n", mb(ja.sent), ms(ja.wall), ms(ja.cpu), mb(jr.received), ms(jr.wall), ms(jr.cpu))
	fmt.Fprintf(w, "| hex text (`unhex(?)`, `hex(b)`, `d1.Hex`) | %s | %s | %s | %s | %s | %s |\n", mb(hx.sent), ms(hx.wall), ms(hx.cpu), mb(hr.received), ms(hr.wall), ms(hr.cpu))
	fmt.Fprintf(w, "| ratio hex / JSON | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n\n",
		float64(hx.sent)/float64(ja.sent), float64(hx.wall)/float64(ja.wall), float64(hx.cpu)/float64(ja.cpu),
		float64(hr.received)/float64(jr.received), float64(hr.wall)/float64(jr.wall), float64(hr.cpu)/float64(jr.cpu))
	fmt.Fprintf(w, "The repositories (package records) send and read every BLOB as hex.\n\n")
	return nil
}

// randomBlobs returns n random BLOBs of 1 KiB, the data of the BLOB transport scenarios.
func randomBlobs(n int) [][]byte {
	data := make([][]byte, n)
	for i := range data {
		data[i] = make([]byte, 1024)
		rand.Read(data[i])
	}
	return data
}

// blobInserts inserts data into a one-column table, 7 rows per statement, each BLOB bound
// as arg(b) to the placeholder expression ph ("?" or "unhex(?)").
func blobInserts(table, ph string, data [][]byte, arg func([]byte) any) []d1.Statement {
	n := len(data)
	stmts := make([]d1.Statement, 0, (n+6)/7)
	for i := 0; i < n; i += 7 {
		sql := "INSERT INTO " + table + " VALUES " + strings.TrimSuffix(strings.Repeat("("+ph+"), ", min(7, n-i)), ", ")
		var args []any
		for _, b := range data[i:min(i+7, n)] {
			args = append(args, arg(b))
		}
		stmts = append(stmts, d1.Statement{SQL: sql, Args: args})
	}
	return stmts
}

// budget is scenario 6.
func budget(ctx context.Context, cfg config, srv *server, w io.Writer) error {
	lim, err := ratelimit.NewLimiter(0, 0, 0) // a d1.Client's default budget
	if err != nil {
		return err
	}
	sim, err := ratelimit.Simulate(lim, 20*time.Minute)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "## 6. Rate-limit budget over 20 minutes of virtual time\n\n")
	fmt.Fprintf(w, "A client sending as fast as the default budget allows (simulated in virtual time): %d requests in %s; the most in any 5-minute window is **%d** (Cloudflare's limit: %d); locked out: **%t**.\n\n",
		sim.Requests, sim.Duration, sim.MaxInWindow, ratelimit.Requests, sim.LockedOut)
	return nil
}

// memory is scenario 7: peak heap while CreateAll streams N records.
func memory(ctx context.Context, cfg config, srv *server, w io.Writer) error {
	fmt.Fprintf(w, "## 7. Memory: peak heap while streaming N records through `CreateAll`\n\n| N | requests | wall time | peak heap above start | per 10,000 records | retained after (live, after GC) |\n|---:|---:|---:|---:|---:|---:|\n")
	ns := slices.Clone(cfg.memoryNs)
	sort.Ints(ns)
	for _, n := range ns {
		c, _, m, err := collection(ctx, srv, fmt.Sprint("memory", n))
		if err != nil {
			return err
		}
		runtime.GC()
		before := heapLive()
		r, err := measure(m, func() error {
			for _, err := range c.CreateAll(ctx, func(yield func(note) bool) {
				for i := range n {
					if !yield(kib(i)) {
						return
					}
				}
			}) {
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		runtime.GC()
		retained := int64(heapLive()) - int64(before)
		fmt.Fprintf(w, "| %d | %d | %s | %s | %s | %s |\n", n, r.requests, ms(r.wall), mb(int64(r.peakHeap)), mb(int64(r.peakHeap)*10_000/int64(n)), mb(retained))
	}
	fmt.Fprintf(w, "\n`CreateAll` holds one request being sent and the next being sealed, never the whole input. The peak counts garbage not yet collected (Go lets the heap reach about twice the live memory between collections), so it varies with timing; what stays behind after the run is the Store's memory of record versions (rollback detection, bounded by `StoreOptions.TrackedRecords`).\n\n")
	return nil
}
