package syntax

import (
	"fmt"
	"time"
)

// tidLen is the length of every TID in characters.
const tidLen = 13

// tidAlphabet is base32-sortable: its characters are in ASCII order, so TIDs sort as strings
// in the same order as the integers they encode.
const tidAlphabet = "234567abcdefghijklmnopqrstuvwxyz"

const (
	clockIDBits = 10
	maxClockID  = 1<<clockIDBits - 1
	// maxMicros is the largest timestamp a TID with its top bit clear can carry (53 bits).
	maxMicros = 1<<53 - 1
	topBit    = 1 << 63
)

// TID is an AT Protocol timestamp identifier in its 13-character string form: a 64-bit integer
// written in the base32-sortable alphabet 234567abcdefghijklmnopqrstuvwxyz, most significant
// bits first. The top bit is 0, the next 53 bits count microseconds since the Unix epoch, and
// the low 10 bits are a clock id. TIDs sort as strings in the same order as their integers.
// See https://atproto.com/specs/record-key#record-key-type-tid.
//
// The zero value is not a valid TID. Values from ParseTID, NewTID and NewTIDFromInteger are
// valid; build TIDs from untrusted text only with ParseTID. Package tid issues fresh TIDs.
type TID string

// ParseTID validates s as a TID: exactly 13 characters of 234567a-z whose first character is
// one of 234567abcdefghij (the spec's syntax). It accepts TIDs with the top bit set (first
// character c to j), as the spec's syntax does, although NewTID never builds them.
func ParseTID(s string) (TID, error) {
	if len(s) != tidLen {
		return "", tidError(s, fmt.Sprintf("length is %d, want %d", len(s), tidLen))
	}
	for i := 0; i < len(s); i++ {
		if _, ok := tidDigit(s[i]); !ok {
			return "", tidError(s, fmt.Sprintf("character %q at offset %d is not one of %s", s[i], i, tidAlphabet))
		}
	}
	if s[0] > 'j' {
		return "", tidError(s, fmt.Sprintf("first character %q is past 'j': a TID is a 64-bit integer, so it must be one of 234567abcdefghij", s[0]))
	}
	return TID(s), nil
}

func tidError(s, reason string) error {
	return &SyntaxError{Kind: "TID", Text: s, Reason: reason}
}

// NewTID returns the TID for time t (truncated to the microsecond) and clockID. It fails if t
// is before 1970 or past the 53-bit range of microseconds (the year 2255), or if clockID is
// above 1023 (10 bits).
func NewTID(t time.Time, clockID uint16) (TID, error) {
	us := t.UnixMicro()
	if us < 0 || us > maxMicros {
		return "", fmt.Errorf("syntax: new TID: time %s is outside 1970 to 2255 (0 to 2^53-1 microseconds)", t.UTC().Format(time.RFC3339Nano))
	}
	if clockID > maxClockID {
		return "", fmt.Errorf("syntax: new TID: clock id %d is out of range, want 0 to %d", clockID, maxClockID)
	}
	return encodeTID(uint64(us)<<clockIDBits | uint64(clockID)), nil
}

// NewTIDFromInteger returns the TID whose 64-bit integer form is v. It fails if the top bit
// of v is set: the spec requires it to be 0.
func NewTIDFromInteger(v uint64) (TID, error) {
	if v&topBit != 0 {
		return "", fmt.Errorf("syntax: new TID from integer: %#x has its top bit set, want below 2^63", v)
	}
	return encodeTID(v), nil
}

// Integer returns the 64-bit integer that t encodes: 53 bits of microseconds since the Unix
// epoch above 10 bits of clock id, with the top bit clear for every TID NewTID builds. For a
// value that did not come from ParseTID it returns 0.
func (t TID) Integer() uint64 {
	if len(t) != tidLen {
		return 0
	}
	var v uint64
	for i := 0; i < tidLen; i++ {
		d, ok := tidDigit(t[i])
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
	return uint16(t.Integer() & maxClockID)
}

// String returns t as text.
func (t TID) String() string { return string(t) }

// MarshalText returns t as text.
func (t TID) MarshalText() ([]byte, error) { return []byte(t), nil }

// UnmarshalText sets *t to text if ParseTID accepts it and returns ParseTID's error otherwise.
func (t *TID) UnmarshalText(text []byte) error { return unmarshal(t, text, ParseTID) }

// encodeTID writes v as 13 base32-sortable characters, most significant first. The first
// character carries the top 4 bits, so every uint64 fits.
func encodeTID(v uint64) TID {
	var b [tidLen]byte
	for i := tidLen - 1; i >= 0; i-- {
		b[i] = tidAlphabet[v&31]
		v >>= 5
	}
	return TID(b[:])
}

// tidDigit returns the value of c in the base32-sortable alphabet.
func tidDigit(c byte) (byte, bool) {
	switch {
	case '2' <= c && c <= '7':
		return c - '2', true
	case 'a' <= c && c <= 'z':
		return c - 'a' + 6, true
	}
	return 0, false
}
