package tid

import (
	"errors"
	"fmt"
	"time"
)

// Len is the length of every TID in characters.
const Len = 13

// alphabet is base32-sortable: its characters are in ASCII order, so TIDs sort as strings in
// the same order as the integers they encode.
const alphabet = "234567abcdefghijklmnopqrstuvwxyz"

const (
	clockIDBits = 10
	// MaxClockID is the largest clock id a TID can carry (10 bits).
	MaxClockID = 1<<clockIDBits - 1
	// maxMicros is the largest timestamp a TID with its top bit clear can carry (53 bits).
	maxMicros = 1<<53 - 1
	topBit    = 1 << 63
)

// ErrSyntax is wrapped by every error that Parse and TID.UnmarshalText return: the text is not
// a TID. Test for it with errors.Is.
var ErrSyntax = errors.New("invalid TID syntax")

// TID is a timestamp identifier in its 13-character string form. The zero value is not a valid
// TID. Values from Parse, New, FromInteger and Clock.Next are valid; build TIDs from untrusted
// text only with Parse.
type TID string

// Parse validates s as a TID: exactly 13 characters of 234567a-z whose first character is one of
// 234567abcdefghij (the spec's syntax). It accepts TIDs with the top bit set (first character c
// to j), as the spec's syntax does, although this package never generates them. The error wraps
// ErrSyntax and says what was wrong.
func Parse(s string) (TID, error) {
	if len(s) != Len {
		return "", syntaxError(s, fmt.Sprintf("length is %d, want %d", len(s), Len))
	}
	for i := 0; i < len(s); i++ {
		if _, ok := digit(s[i]); !ok {
			return "", syntaxError(s, fmt.Sprintf("character %q at offset %d is not one of %s", s[i], i, alphabet))
		}
	}
	if s[0] > 'j' {
		return "", syntaxError(s, fmt.Sprintf("first character %q is past 'j': a TID is a 64-bit integer, so it must be one of 234567abcdefghij", s[0]))
	}
	return TID(s), nil
}

// New returns the TID for time t (truncated to the microsecond) and clockID. It fails if t is
// before 1970 or past the 53-bit range of microseconds (the year 2255), or if clockID is above
// MaxClockID.
func New(t time.Time, clockID uint16) (TID, error) {
	us := t.UnixMicro()
	if us < 0 || us > maxMicros {
		return "", fmt.Errorf("tid: new: time %s is outside 1970 to 2255 (0 to 2^53-1 microseconds)", t.UTC().Format(time.RFC3339Nano))
	}
	if clockID > MaxClockID {
		return "", fmt.Errorf("tid: new: clock id %d is out of range, want 0 to %d", clockID, MaxClockID)
	}
	return encode(uint64(us)<<clockIDBits | uint64(clockID)), nil
}

// FromInteger returns the TID whose 64-bit integer form is v. It fails if the top bit of v is
// set: the spec requires it to be 0.
func FromInteger(v uint64) (TID, error) {
	if v&topBit != 0 {
		return "", fmt.Errorf("tid: from integer: %#x has its top bit set, want below 2^63", v)
	}
	return encode(v), nil
}

// Integer returns the 64-bit integer that t encodes: 53 bits of microseconds since the Unix
// epoch above 10 bits of clock id, with the top bit clear for every TID this package generates.
// For a value that did not come from Parse it returns 0.
func (t TID) Integer() uint64 {
	if len(t) != Len {
		return 0
	}
	var v uint64
	for i := 0; i < Len; i++ {
		d, ok := digit(t[i])
		if !ok {
			return 0
		}
		v = v<<5 | uint64(d)
	}
	return v
}

// Time returns the timestamp in t, in UTC, to the microsecond. The top bit, set only in TIDs
// that other software generated, is ignored.
func (t TID) Time() time.Time {
	return time.UnixMicro(int64((t.Integer() >> clockIDBits) & maxMicros)).UTC()
}

// ClockID returns the 10-bit clock id in t.
func (t TID) ClockID() uint16 {
	return uint16(t.Integer() & MaxClockID)
}

// String returns t as text.
func (t TID) String() string {
	return string(t)
}

// MarshalText returns t as text.
func (t TID) MarshalText() ([]byte, error) {
	return []byte(t), nil
}

// UnmarshalText sets *t to text if Parse accepts it and returns Parse's error otherwise.
func (t *TID) UnmarshalText(text []byte) error {
	v, err := Parse(string(text))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// encode writes v as 13 base32-sortable characters, most significant first. The first character
// carries the top 4 bits, so every uint64 fits.
func encode(v uint64) TID {
	var b [Len]byte
	for i := Len - 1; i >= 0; i-- {
		b[i] = alphabet[v&31]
		v >>= 5
	}
	return TID(b[:])
}

// digit returns the value of c in the base32-sortable alphabet.
func digit(c byte) (byte, bool) {
	switch {
	case '2' <= c && c <= '7':
		return c - '2', true
	case 'a' <= c && c <= 'z':
		return c - 'a' + 6, true
	}
	return 0, false
}

func syntaxError(s, detail string) error {
	const limit = 64
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return fmt.Errorf("tid: parse %q: %s: %w", s, detail, ErrSyntax)
}
