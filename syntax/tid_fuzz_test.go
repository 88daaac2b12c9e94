package syntax

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, that what it accepts round-trips through String,
// Integer and the text methods, and that what it rejects wraps ErrSyntax. Its seed corpus in
// testdata/fuzz/FuzzParseTID holds the interop vectors.
func FuzzParseTID(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTID(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseTID(%q) error %v does not wrap ErrSyntax", s, err)
			}
			return
		}
		if got.String() != s {
			t.Fatalf("ParseTID(%q).String() = %q, want the input", s, got)
		}
		if back := encodeTID(got.Integer()); back != got {
			t.Fatalf("encodeTID(ParseTID(%q).Integer()) = %q, want the input", s, back)
		}
		text, err := got.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%q): %v", s, err)
		}
		var u TID
		if err := u.UnmarshalText(text); err != nil || u != got {
			t.Fatalf("UnmarshalText(%q) = %q, %v; want %q, nil", text, u, err, got)
		}
		if got[0] <= 'b' {
			back, err := NewTID(got.Time(), got.ClockID())
			if err != nil || back != got {
				t.Fatalf("NewTID(Time(), ClockID()) of %q = %q, %v; want the input", s, back, err)
			}
		}
	})
}

// FuzzFromInteger checks that FromInteger accepts exactly the integers with the top bit clear
// and that Parse and Integer undo it.
func FuzzNewTIDFromInteger(f *testing.F) {
	f.Fuzz(func(t *testing.T, v uint64) {
		got, err := NewTIDFromInteger(v)
		if v&topBit != 0 {
			if err == nil {
				t.Fatalf("NewTIDFromInteger(%#x) = %q, want an error for the top bit", v, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("NewTIDFromInteger(%#x): %v", v, err)
		}
		parsed, err := ParseTID(got.String())
		if err != nil || parsed.Integer() != v {
			t.Fatalf("ParseTID(%q) = %#x, %v; want %#x", got, parsed.Integer(), err, v)
		}
		if got[0] > 'b' {
			t.Fatalf("NewTIDFromInteger(%#x) = %q starts past 'b'", v, got)
		}
	})
}
