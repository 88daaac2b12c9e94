package tid

import (
	"time"

	"github.com/d1seal/d1seal/syntax"
)

// TID is syntax.TID, a timestamp identifier in its 13-character string form. It is an alias
// so that TIDs from this package are record keys and syntax values without conversion.
type TID = syntax.TID

// Len is the length of every TID in characters.
const Len = 13

const (
	clockIDBits = 10
	// MaxClockID is the largest clock id a TID can carry (10 bits).
	MaxClockID = 1<<clockIDBits - 1
	// maxMicros is the largest timestamp a TID with its top bit clear can carry (53 bits).
	maxMicros = 1<<53 - 1
	topBit    = 1 << 63
)

// Parse validates s as a TID (see syntax.ParseTID). The error is a *syntax.SyntaxError that
// wraps syntax.ErrSyntax and says what was wrong.
func Parse(s string) (TID, error) { return syntax.ParseTID(s) }

// New returns the TID for time t (truncated to the microsecond) and clockID. It fails if t is
// before 1970 or past the 53-bit range of microseconds (the year 2255), or if clockID is above
// MaxClockID.
func New(t time.Time, clockID uint16) (TID, error) { return syntax.NewTID(t, clockID) }

// FromInteger returns the TID whose 64-bit integer form is v. It fails if the top bit of v is
// set: the spec requires it to be 0.
func FromInteger(v uint64) (TID, error) { return syntax.NewTIDFromInteger(v) }
