package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/d1seal/d1seal/d1"
)

// bridgeBlobs is the bridge BLOB scenario: the same BLOBs written and read back through the
// bridge Worker on workerd, as hex text (unhex(?) and hex(), records' form on REST) and as the
// bridge's base64 (a plain ? and the column as it is, bound as a BLOB by the Worker), side by
// side: bytes on the wire, wall time, the client's CPU, and the CPU of the processes serving
// the bridge (workerd and wrangler, this process's children).
func bridgeBlobs(ctx context.Context, cfg config, _ *server, w io.Writer) error {
	const n = 2000
	fmt.Fprintf(w, "## Bridge BLOB transport: %d BLOBs of 1 KiB written and read back (%s added to every request)\n\n", n, cfg.latency)
	db, m, stop, err := bridgeOnWorkerd(cfg, w)
	if err != nil || db == nil {
		return err
	}
	defer stop()
	if _, err := db.ExecScript(ctx, "DROP TABLE IF EXISTS bh; DROP TABLE IF EXISTS bb; CREATE TABLE bh (b BLOB); CREATE TABLE bb (b BLOB)"); err != nil {
		return err
	}
	data := randomBlobs(n)
	type cost struct {
		result
		server time.Duration
	}
	run := func(fn func() error) (cost, error) {
		s0 := childCPU()
		r, err := measure(m, fn)
		return cost{r, childCPU() - s0}, err
	}
	insert := func(table, ph string, arg func([]byte) any) (cost, error) {
		stmts := blobInserts(table, ph, data, arg)
		return run(func() error { return sendAll(ctx, db, stmts) })
	}
	read := func(sql string, scan func(d1.Row) ([]byte, error)) (cost, error) {
		return run(func() error {
			r, err := db.Query(ctx, sql)
			if err != nil {
				return err
			}
			if r.Len() != n {
				return fmt.Errorf("%d rows read back, want %d", r.Len(), n)
			}
			for i, row := range r.All() {
				b, err := scan(row)
				if err != nil {
					return err
				}
				if !bytes.Equal(b, data[i]) {
					return fmt.Errorf("BLOB %d came back different", i)
				}
			}
			return nil
		})
	}
	hw, err := insert("bh", "unhex(?)", func(b []byte) any { return d1.Hex(b) })
	if err != nil {
		return fmt.Errorf("hex: write: %w", err)
	}
	bw, err := insert("bb", "?", func(b []byte) any { return b })
	if err != nil {
		return fmt.Errorf("base64: write: %w", err)
	}
	hr, err := read("SELECT hex(b) FROM bh ORDER BY rowid", func(r d1.Row) ([]byte, error) { var b d1.Hex; err := r.Scan(&b); return b, err })
	if err != nil {
		return fmt.Errorf("hex: read: %w", err)
	}
	br, err := read("SELECT b FROM bb ORDER BY rowid", func(r d1.Row) ([]byte, error) { var b []byte; err := r.Scan(&b); return b, err })
	if err != nil {
		return fmt.Errorf("base64: read: %w", err)
	}
	fmt.Fprintf(w, "| | written: sent | wall | client CPU | server CPU | read: received | wall | client CPU | server CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	row := func(name string, wr, rd cost) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, mb(wr.sent), ms(wr.wall), ms(wr.cpu), ms(wr.server),
			mb(rd.received), ms(rd.wall), ms(rd.cpu), ms(rd.server))
	}
	row("hex text (`unhex(?)`, `hex(b)`, `d1.Hex`)", hw, hr)
	row("base64 (`?`, `b`, `[]byte`)", bw, br)
	ratio := func(a, b time.Duration) float64 { return float64(a) / max(float64(b), 1) }
	fmt.Fprintf(w, "| ratio base64 / hex | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n\n",
		float64(bw.sent)/float64(hw.sent), ratio(bw.wall, hw.wall), ratio(bw.cpu, hw.cpu), ratio(bw.server, hw.server),
		float64(br.received)/float64(hr.received), ratio(br.wall, hr.wall), ratio(br.cpu, hr.cpu), ratio(br.server, hr.server))
	fmt.Fprintf(w, "Server CPU is the user and system time of this process's children (workerd and wrangler on %d CPUs) during each run.\n\n", runtime.NumCPU())
	return nil
}

// childCPU is the user and system time of every descendant of this process, from /proc
// (zero where /proc is missing).
func childCPU() time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	parent := map[int]int{}
	ticks := map[int]int64{}
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime stime: fields 4, 14 and 15; comm may hold spaces.
		end := bytes.LastIndexByte(b, ')')
		if end < 0 {
			continue
		}
		f := strings.Fields(string(b[end+1:]))
		if len(f) < 13 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		parent[pid], ticks[pid] = ppid, ut+st
	}
	self := os.Getpid()
	var sum int64
	for pid, t := range ticks {
		for p := parent[pid]; p > 1; p = parent[p] {
			if p == self {
				sum += t
				break
			}
		}
	}
	return time.Duration(sum) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}
