package tid

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClockConcurrent issues a million TIDs from 8 goroutines sharing one Clock: all are unique,
// and each goroutine sees them strictly increasing.
func TestClockConcurrent(t *testing.T) {
	const goroutines, total = 8, 1_000_000
	c := NewClock()
	got := make([][]TID, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ids := make([]TID, total/goroutines)
			for i := range ids {
				ids[i] = c.Next()
			}
			got[g] = ids
		})
	}
	wg.Wait()

	seen := make(map[TID]struct{}, total)
	clockID := got[0][0].ClockID()
	for g, ids := range got {
		for i, id := range ids {
			if i > 0 && id <= ids[i-1] {
				t.Fatalf("goroutine %d: TID %d is %q, not after %q", g, i, id, ids[i-1])
			}
			if _, dup := seen[id]; dup {
				t.Fatalf("goroutine %d: TID %q issued twice", g, id)
			}
			seen[id] = struct{}{}
			if id.ClockID() != clockID {
				t.Fatalf("goroutine %d: TID %q has clock id %d, want %d", g, id, id.ClockID(), clockID)
			}
			if !isGenerated(id) {
				t.Fatalf("goroutine %d: TID %q does not start with one of 234567ab", g, id)
			}
		}
	}
	assert.Len(t, seen, total, "unique TIDs")
}

// isGenerated reports whether id is a valid TID with its top bit clear.
func isGenerated(id TID) bool {
	_, err := Parse(string(id))
	return err == nil && id[0] <= 'b'
}

// fakeTime returns a time source that yields times in order and then repeats the last one.
func fakeTime(times ...time.Time) func() time.Time {
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := times[0]
		if len(times) > 1 {
			times = times[1:]
		}
		return t
	}
}

func TestClockStallsAndStepsBack(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	us := time.Microsecond
	c, err := NewClockWith(ClockOptions{
		ClockID: 7,
		Now: fakeTime(
			t0,
			t0,                 // stall
			t0,                 // stall
			t0.Add(-time.Hour), // step back
			t0.Add(us),         // still behind the clock
			t0.Add(10*us),      // ahead again
			t0.Add(9*us),       // step back by one
			time.Unix(-5, 0),   // before the epoch
		),
	})
	require.NoError(t, err)

	want := []time.Time{
		t0, t0.Add(us), t0.Add(2 * us), t0.Add(3 * us), t0.Add(4 * us),
		t0.Add(10 * us), t0.Add(11 * us), t0.Add(12 * us), t0.Add(13 * us),
	}
	var prev TID
	for i, w := range want {
		got := c.Next()
		assert.Equal(t, w, got.Time(), "Next #%d: Time()", i)
		assert.Equal(t, uint16(7), got.ClockID(), "Next #%d: ClockID()", i)
		assert.Greater(t, got, prev, "Next #%d: %q must sort after %q", i, got, prev)
		prev = got
	}
}

func TestClockSeededWithLast(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	// The process that issued last ran an hour ahead; this one's clock is behind it.
	last, err := New(t0.Add(time.Hour), 1000)
	require.NoError(t, err)
	c, err := NewClockWith(ClockOptions{Last: last, ClockID: 1, Now: fakeTime(t0)})
	require.NoError(t, err)

	got := c.Next()
	assert.Greater(t, got, last, "first TID after a restart must sort after Last")
	assert.Equal(t, t0.Add(time.Hour+time.Microsecond), got.Time(), "Time()")
	assert.Equal(t, uint16(1), got.ClockID(), "ClockID()")
}

func TestClockRandomClockID(t *testing.T) {
	ids := make(map[uint16]bool)
	for range 64 {
		c, err := NewClockWith(ClockOptions{})
		require.NoError(t, err)
		id := c.Next().ClockID()
		require.LessOrEqual(t, id, uint16(MaxClockID))
		ids[id] = true
	}
	// 64 draws from 1024 values: all alike has probability 1024^-63.
	assert.Greater(t, len(ids), 1, "clock ids of 64 clocks: want more than one distinct value")
}

func TestClockUsesWallClock(t *testing.T) {
	before := time.Now().Truncate(time.Microsecond)
	got := NewClock().Next().Time()
	after := time.Now()
	assert.False(t, got.Before(before), "Time() %s before %s", got, before)
	assert.False(t, got.After(after), "Time() %s after %s", got, after)
}

func TestNewClockWithErrors(t *testing.T) {
	tests := []struct {
		name string
		opts ClockOptions
		want string
	}{
		{"clock id", ClockOptions{ClockID: 1024}, "clock id 1024 is out of range"},
		{"last invalid", ClockOptions{Last: "nope"}, "length is 4"},
		{"last top bit", ClockOptions{Last: "c222222222222"}, "top bit set"},
		{"last at end", ClockOptions{Last: "bzzzzzzzzzzz2"}, "no TID can follow it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClockWith(tt.opts)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestClockLastJustBelowEnd(t *testing.T) {
	last, err := New(time.UnixMicro(maxMicros-1), 0)
	require.NoError(t, err)
	c, err := NewClockWith(ClockOptions{Last: last, ClockID: 3})
	require.NoError(t, err)
	assert.Equal(t, TID("bzzzzzzzzzz25"), c.Next(), "the last TID the range holds for clock id 3")
	assert.PanicsWithValue(t, "tid: clock exhausted: timestamp past 2^53-1 microseconds (the year 2255)", func() { c.Next() })
}

func BenchmarkClockNext(b *testing.B) {
	c := NewClock()
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Next()
	}
}

func BenchmarkClockNextParallel(b *testing.B) {
	c := NewClock()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = c.Next()
		}
	})
}
