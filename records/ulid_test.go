package records

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/syntax"
)

// TestEventIDSourceConcurrent issues 100,000 EventIDs from 8 goroutines sharing one source: all
// are unique and valid, and each goroutine sees them strictly increasing.
func TestEventIDSourceConcurrent(t *testing.T) {
	const goroutines, total = 8, 100_000
	s := NewEventIDSource()
	before := time.Now().Truncate(time.Millisecond)
	got := make([][]EventID, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ids := make([]EventID, total/goroutines)
			for i := range ids {
				ids[i] = s.Next()
			}
			got[g] = ids
		})
	}
	wg.Wait()
	after := time.Now()

	seen := make(map[EventID]struct{}, total)
	for g, ids := range got {
		for i, id := range ids {
			if i > 0 && id <= ids[i-1] {
				t.Fatalf("goroutine %d: id %d is %s, not after %s", g, i, id, ids[i-1])
			}
			if _, dup := seen[id]; dup {
				t.Fatalf("goroutine %d: id %s issued twice", g, id)
			}
			seen[id] = struct{}{}
		}
	}
	require.Len(t, seen, total, "unique ids")
	first := got[0][0]
	_, err := ParseEventID(string(first))
	require.NoError(t, err, "ParseEventID(%s)", first)
	assert.False(t, first.Time().Before(before), "Time() %s before %s", first.Time(), before)
	assert.False(t, first.Time().After(after), "Time() %s after %s", first.Time(), after)
}

func TestEventIDSourceClockStepsBack(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	times := []time.Time{t0, t0, t0.Add(-time.Hour), t0.Add(time.Millisecond), t0.Add(-time.Millisecond), time.Unix(-1, 0)}
	s := NewEventIDSource()
	s.now = func() time.Time {
		now := times[0]
		times = times[1:]
		return now
	}
	want := []time.Time{t0, t0, t0, t0.Add(time.Millisecond), t0.Add(time.Millisecond), t0.Add(time.Millisecond)}
	var prev EventID
	for i, w := range want {
		got := s.Next()
		assert.Greater(t, got, prev, "Next #%d: %s must sort after %s", i, got, prev)
		assert.Equal(t, w, got.Time(), "Next #%d: Time()", i)
		prev = got
	}
}

// allOnes is an entropy source that always yields 0xff bytes, so that the second ULID in a
// millisecond overflows the random part.
type allOnes struct{}

func (allOnes) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xff
	}
	return len(p), nil
}

func TestEventIDSourceOverflowMovesToNextMillisecond(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	s := &EventIDSource{now: func() time.Time { return t0 }, entropy: ulid.Monotonic(allOnes{}, 1)}
	a, b := s.Next(), s.Next()
	assert.Greater(t, b, a, "second id after overflow")
	assert.Equal(t, t0, a.Time(), "first id's time")
	assert.Equal(t, t0.Add(time.Millisecond), b.Time(), "second id runs one millisecond ahead")
	c := s.Next()
	assert.Greater(t, c, b, "third id stays after the second though the clock is behind")
}

func TestParseEventID(t *testing.T) {
	valid := []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV", "00000000000000000000000000", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"}
	for _, s := range valid {
		got, err := ParseEventID(s)
		require.NoError(t, err, "ParseEventID(%q)", s)
		assert.Equal(t, EventID(s), got)
	}
	invalid := []struct{ in, want string }{
		{"", "not a ULID"},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA", "not a ULID"},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAVV", "not a ULID"},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAU", "not a ULID"},
		{"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "not a ULID"},
		{"01arz3ndektsv4rrffq69g5fav", "want upper case 01ARZ3NDEKTSV4RRFFQ69G5FAV"},
	}
	for _, tt := range invalid {
		_, err := ParseEventID(tt.in)
		if assertSyntaxError(t, err, "ParseEventID(%q)", tt.in) {
			assert.Contains(t, err.Error(), tt.want, "ParseEventID(%q) error", tt.in)
			assert.True(t, strings.HasPrefix(err.Error(), "syntax: parse event ID "), "error %q", err)
		}
	}
	assert.Equal(t, time.UnixMilli(1469918176385).UTC(), EventID("01ARYZ6S41TSV4RRFFQ69G5FAV").Time(), "Time() of the ULID spec's example")
	assert.Equal(t, time.UnixMilli(0).UTC(), EventID("nope").Time(), "Time() of an invalid id")
}

func TestEventIDText(t *testing.T) {
	type row struct {
		ID EventID `json:"id"`
	}
	in := row{ID: NewEventIDSource().Next()}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var out row
	require.NoError(t, json.Unmarshal(b, &out))
	assert.Equal(t, in, out, "JSON round trip")
	err = json.Unmarshal([]byte(`{"id":"01arz3ndektsv4rrffq69g5fav"}`), &out)
	assertSyntaxError(t, err, "UnmarshalText of a lower-case id")
	assert.Equal(t, in, out, "UnmarshalText must not change the value on error")
}

func BenchmarkEventIDSourceNext(b *testing.B) {
	s := NewEventIDSource()
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Next()
	}
}

// assertSyntaxError checks that err is a *syntax.SyntaxError of kind "event ID" that wraps
// syntax.ErrSyntax.
func assertSyntaxError(t *testing.T, err error, msgAndArgs ...any) bool {
	t.Helper()
	if !assert.ErrorIs(t, err, syntax.ErrSyntax, msgAndArgs...) {
		return false
	}
	var se *syntax.SyntaxError
	return assert.True(t, errors.As(err, &se), "error %v: want a *syntax.SyntaxError", err) &&
		assert.Equal(t, "event ID", se.Kind, "error %v: kind", err)
}
