package records

import (
	"errors"
	"regexp"
	"testing"

	"github.com/d1seal/d1seal/syntax"
)

// FuzzParseEventID checks that ParseEventID accepts exactly canonical ULIDs, rejects with a
// *syntax.SyntaxError, and that what it accepts round-trips through the text methods.
func FuzzParseEventID(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseEventID(s)
		if want := len(s) == 26 && eventIDSpec.MatchString(s); want != (err == nil) {
			t.Fatalf("ParseEventID(%q): error %v, but the ULID syntax says valid=%t", s, err, want)
		}
		var se *syntax.SyntaxError
		if err != nil {
			if !errors.Is(err, syntax.ErrSyntax) || !errors.As(err, &se) || se.Kind != "event ID" {
				t.Fatalf("ParseEventID(%q): error %v, want a *syntax.SyntaxError of kind event ID", s, err)
			}
			return
		}
		var u EventID
		if err := u.UnmarshalText([]byte(got.String())); err != nil || u != got || string(got) != s {
			t.Fatalf("ParseEventID(%q) = %q; UnmarshalText = %q, %v", s, got, u, err)
		}
	})
}

var eventIDSpec = regexp.MustCompile(`^[0-7][0-9A-HJKMNP-TV-Z]{25}$`)
