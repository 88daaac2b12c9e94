package main

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// meter counts a client's requests and bytes on the wire.
type meter struct {
	requests atomic.Int64
	sent     atomic.Int64
	received atomic.Int64
	busy     atomic.Int64 // nanoseconds from each request's start to its response read and closed
}

type counting struct {
	next http.RoundTripper
	m    *meter
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.m.requests.Add(1)
	if r.ContentLength > 0 {
		c.m.sent.Add(r.ContentLength)
	}
	start := time.Now()
	res, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	res.Body = &countingBody{ReadCloser: res.Body, n: &c.m.received, busy: &c.m.busy, start: start}
	return res, nil
}

type countingBody struct {
	io.ReadCloser
	n     *atomic.Int64
	busy  *atomic.Int64
	start time.Time
	once  sync.Once
}

func (b *countingBody) Close() error {
	b.once.Do(func() { b.busy.Add(int64(time.Since(b.start))) })
	return b.ReadCloser.Close()
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// result is what one measured run cost.
type result struct {
	busy     time.Duration // summed round trips, from request start to response closed
	requests int64
	sent     int64
	received int64
	wall     time.Duration
	cpu      time.Duration // user + system time of this process
	allocs   uint64
	peakHeap uint64 // highest live heap seen above the heap before the run, in bytes
}

// measure runs fn and reports its cost. Peak heap is sampled every millisecond from
// runtime/metrics (live heap objects); a GC runs before, so that the baseline is live memory.
func measure(m *meter, fn func() error) (result, error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocs0 := ms.Mallocs
	base := heapLive()
	req0, sent0, recv0, busy0 := m.requests.Load(), m.sent.Load(), m.received.Load(), m.busy.Load()
	cpu0 := cpuTime()

	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if h := heapLive(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	})
	start := time.Now()
	err := fn()
	wall := time.Since(start)
	close(stop)
	wg.Wait()

	runtime.ReadMemStats(&ms)
	r := result{
		requests: m.requests.Load() - req0, sent: m.sent.Load() - sent0, received: m.received.Load() - recv0,
		wall: wall, cpu: cpuTime() - cpu0, allocs: ms.Mallocs - allocs0, busy: time.Duration(m.busy.Load() - busy0),
	}
	if p := peak.Load(); p > base {
		r.peakHeap = p - base
	}
	return r, err
}

func heapLive() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
