package records

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/d1seal/d1seal/syntax"
)

// EventID identifies one row of the events table: a ULID in its canonical form, 26 upper-case
// characters of Crockford's base 32 that sort as strings in the order they were issued. Values
// from ParseEventID and EventIDSource.Next are valid.
type EventID string

// ParseEventID validates s as an EventID: a ULID in canonical (upper-case) form. The error is
// a *syntax.SyntaxError of kind "event ID" and wraps syntax.ErrSyntax.
func ParseEventID(s string) (EventID, error) {
	u, err := ulid.ParseStrict(s)
	if err != nil {
		return "", &syntax.SyntaxError{Kind: "event ID", Text: s, Reason: fmt.Sprintf("not a ULID: %v", err)}
	}
	if u.String() != s {
		return "", &syntax.SyntaxError{Kind: "event ID", Text: s, Reason: "not in canonical form, want upper case " + u.String()}
	}
	return EventID(s), nil
}

// Time returns the millisecond timestamp in id, in UTC, or the Unix epoch if id is not valid.
func (id EventID) Time() time.Time {
	u, err := ulid.ParseStrict(string(id))
	if err != nil {
		return time.UnixMilli(0).UTC()
	}
	return ulid.Time(u.Time()).UTC()
}

// String returns id as text.
func (id EventID) String() string { return string(id) }

// MarshalText returns id as text.
func (id EventID) MarshalText() ([]byte, error) { return []byte(id), nil }

// UnmarshalText sets *id to text if ParseEventID accepts it and returns ParseEventID's error
// otherwise.
func (id *EventID) UnmarshalText(text []byte) error {
	v, err := ParseEventID(string(text))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// EventIDSource issues EventIDs that are unique and strictly increasing per source: within a
// millisecond the ULID's random part is incremented (ulid.Monotonic over crypto/rand), and if
// the wall clock steps back the source keeps the last millisecond it used. It is safe for
// concurrent use. Create one with NewEventIDSource.
type EventIDSource struct {
	now func() time.Time // time.Now, or a fake in tests

	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
	lastMS  uint64
}

// NewEventIDSource returns an EventIDSource that reads time.Now.
func NewEventIDSource() *EventIDSource {
	return &EventIDSource{now: time.Now, entropy: ulid.Monotonic(rand.Reader, 0)}
}

// Next returns a new EventID, greater than every EventID s has issued. It panics only if the
// clock reads past the year 10889, the end of the ULID range.
func (s *EventIDSource) Next() EventID {
	now := uint64(max(s.now().UnixMilli(), 0))
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := max(now, s.lastMS)
	for {
		u, err := ulid.New(ms, s.entropy)
		if errors.Is(err, ulid.ErrMonotonicOverflow) {
			// The random part overflowed within one millisecond: move on to the next one.
			ms++
			continue
		}
		if err != nil {
			// ulid.ErrBigTime; crypto/rand does not fail.
			panic(fmt.Sprintf("records: event id: %v", err))
		}
		s.lastMS = ms
		return EventID(u.String())
	}
}
