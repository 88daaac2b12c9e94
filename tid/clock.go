package tid

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/d1seal/d1seal/syntax"
)

// Clock issues TIDs that are strictly increasing, even when its time source stalls or steps
// back: a TID's timestamp is the later of the current time and one microsecond past the last
// TID issued. Every TID from one Clock carries the same clock id and has its top bit clear, so
// its first character is one of 234567ab.
//
// A Clock is safe for concurrent use; Next is lock-free. Create one with NewClock or
// NewClockWith and do not copy it. Strict order holds per Clock: two Clocks, even in one
// process, may issue TIDs in any relative order and tell theirs apart only by clock id.
type Clock struct {
	last    atomic.Uint64 // microseconds of the last TID issued (or of ClockOptions.Last)
	clockID uint64
	now     func() time.Time // nil means time.Now
}

// ClockOptions configures NewClockWith. The zero value gives the same clock as NewClock.
type ClockOptions struct {
	// Last, if not empty, is the last TID issued before this clock was created, for example
	// read back from storage after a restart. Every TID the clock issues sorts after it, even
	// if the wall clock has since stepped back. It must be a valid TID with its top bit clear.
	Last TID

	// Now, if not nil, replaces time.Now as the clock's time source, for tests. Next calls it
	// once per TID, so it must be safe for concurrent use if Next is called concurrently.
	Now func() time.Time

	// ClockID, if not zero, is the clock id stamped into every TID (1 to MaxClockID). Zero
	// means a random clock id, chosen afresh for each Clock.
	ClockID uint16
}

// NewClock returns a Clock that reads time.Now and has a random clock id.
func NewClock() *Clock {
	return &Clock{clockID: uint64(rand.Uint32N(MaxClockID + 1))}
}

// NewClockWith returns a Clock configured by opts. It fails if opts.Last is not a valid TID,
// has its top bit set or leaves no room after it, or if opts.ClockID is above MaxClockID.
func NewClockWith(opts ClockOptions) (*Clock, error) {
	c := NewClock()
	c.now = opts.Now
	if opts.ClockID > MaxClockID {
		return nil, fmt.Errorf("tid: new clock: clock id %d is out of range, want 1 to %d (or 0 for random)", opts.ClockID, MaxClockID)
	}
	if opts.ClockID != 0 {
		c.clockID = uint64(opts.ClockID)
	}
	if opts.Last != "" {
		last, err := Parse(string(opts.Last))
		if err != nil {
			return nil, fmt.Errorf("tid: new clock: last: %w", err)
		}
		v := last.Integer()
		if v&topBit != 0 {
			return nil, fmt.Errorf("tid: new clock: last %q has its top bit set; this package never issues such TIDs", last)
		}
		us := v >> clockIDBits
		if us >= maxMicros {
			return nil, fmt.Errorf("tid: new clock: last %q is the largest timestamp a TID can hold; no TID can follow it", last)
		}
		c.last.Store(us)
	}
	return c, nil
}

// Next returns a new TID, strictly greater than every TID this Clock has issued and than
// ClockOptions.Last. It panics only if the clock runs past the end of the TID range (the
// year 2255), which takes a time source or a Last TID from that far in the future.
func (c *Clock) Next() TID {
	var t time.Time
	if c.now == nil {
		t = time.Now()
	} else {
		t = c.now()
	}
	now := uint64(max(t.UnixMicro(), 0))
	for {
		last := c.last.Load()
		next := max(now, last+1)
		if next > maxMicros {
			panic("tid: clock exhausted: timestamp past 2^53-1 microseconds (the year 2255)")
		}
		if c.last.CompareAndSwap(last, next) {
			t, err := syntax.NewTIDFromInteger(next<<clockIDBits | c.clockID)
			if err != nil {
				panic("tid: clock: " + err.Error()) // unreachable: next is at most 2^53-1
			}
			return t
		}
	}
}
