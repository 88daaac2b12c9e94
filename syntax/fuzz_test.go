package syntax

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// The fuzz targets' seed corpora in testdata/fuzz hold the interop vectors.

// checkRejected fails t unless err is a *SyntaxError wrapping ErrSyntax with a printable message.
func checkRejected(t *testing.T, s string, err error) {
	t.Helper()
	var se *SyntaxError
	if !errors.Is(err, ErrSyntax) || !errors.As(err, &se) || se.Reason == "" || se.Error() == "" {
		t.Fatalf("parse %q: error %v, want a *SyntaxError wrapping ErrSyntax", s, err)
	}
}

// fuzzParse checks that parse never panics, rejects with a *SyntaxError, agrees with the spec's
// regular expression where one is given, and that what it accepts round-trips through String
// and the text methods.
func fuzzParse[T interface {
	~string
	MarshalText() ([]byte, error)
}, P interface {
	*T
	UnmarshalText([]byte) error
}](f *testing.F, parse func(string) (T, error), spec func(string) bool, more func(*testing.T, T)) {
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parse(s)
		if spec != nil && spec(s) != (err == nil) {
			t.Fatalf("parse %q: error %v, but the spec's syntax says valid=%t", s, err, spec(s))
		}
		if err != nil {
			checkRejected(t, s, err)
			return
		}
		if string(got) != s {
			t.Fatalf("parse %q = %q, want the input", s, got)
		}
		text, err := got.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%q): %v", got, err)
		}
		var u T
		if err := P(&u).UnmarshalText(text); err != nil || u != got {
			t.Fatalf("UnmarshalText(%q) = %q, %v; want %q", text, u, err, got)
		}
		if more != nil {
			more(t, got)
		}
	})
}

// matcher returns a spec check: s matches re and is at most maxLen bytes.
func matcher(re string, maxLen int) func(string) bool {
	r := regexp.MustCompile(re)
	return func(s string) bool { return len(s) <= maxLen && r.MatchString(s) }
}

func FuzzParseDID(f *testing.F) {
	fuzzParse(f, ParseDID, matcher(`^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$`, maxDIDLen), nil)
}

func FuzzParseNSID(f *testing.F) {
	spec := matcher(`^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+\.[a-zA-Z][a-zA-Z0-9]{0,62}$`, maxNSIDLen)
	fuzzParse(f, ParseNSID, spec, func(t *testing.T, n NSID) {
		c := n.Canonical()
		if _, err := ParseNSID(string(c)); err != nil {
			t.Fatalf("%q.Canonical() = %q is invalid: %v", n, c, err)
		}
		if c.Canonical() != c || !strings.EqualFold(string(c), string(n)) || c.Name() != n.Name() {
			t.Fatalf("%q.Canonical() = %q: want idempotent, same letters, same name %q", n, c, n.Name())
		}
	})
}

func FuzzParseRecordKey(f *testing.F) {
	spec := matcher(`^[a-zA-Z0-9_~.:-]{1,512}$`, maxRecordKeyLen)
	fuzzParse(f, ParseRecordKey, func(s string) bool { return spec(s) && s != "." && s != ".." }, nil)
}

func FuzzParseATURI(f *testing.F) {
	handle := matcher(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`, maxHandleLen)
	fuzzParse(f, ParseATURI, nil, func(t *testing.T, u ATURI) {
		authority, path, _ := strings.Cut(strings.TrimPrefix(string(u), "at://"), "/")
		if _, err := ParseDID(authority); err != nil && !handle(authority) {
			t.Fatalf("ParseATURI(%q): authority %q is neither a DID nor a handle", u, authority)
		}
		if r, err := ParseURI(string(u)); err == nil && r.URI() != string(u) {
			t.Fatalf("ParseURI(%q).URI() = %q", u, r.URI())
		}
		if strings.Count(path, "/") > 1 {
			t.Fatalf("ParseATURI(%q): path has more than two parts", u)
		}
	})
}

// FuzzParseID checks ParseID and ParseURI together: a record id is valid exactly when its three
// '/'-separated parts are, and both forms round-trip.
func FuzzParseID(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseID(s)
		parts := strings.Split(s, "/")
		partsValid := len(parts) == 3 &&
			checkDID(parts[0]) == "" && checkNSID(parts[1]) == "" && checkRecordKey(parts[2]) == ""
		if partsValid != (err == nil) {
			t.Fatalf("ParseID(%q): error %v, but its parts say valid=%t", s, err, partsValid)
		}
		u, uErr := ParseURI("at://" + s)
		if (err == nil) != (uErr == nil) || u != r {
			t.Fatalf("ParseID(%q) = %v, %v but ParseURI = %v, %v", s, r, err, u, uErr)
		}
		if err != nil {
			checkRejected(t, s, err)
			checkRejected(t, "at://"+s, uErr)
			return
		}
		if r.ID() != s {
			t.Fatalf("ParseID(%q).ID() = %q", s, r.ID())
		}
		if _, err := ParseATURI(r.URI()); err != nil {
			t.Fatalf("ParseATURI(%q): %v; every record URI is an AT-URI", r.URI(), err)
		}
		var back Ref
		if err := back.UnmarshalText([]byte(r.String())); err != nil || back != r {
			t.Fatalf("UnmarshalText(%q) = %v, %v; want %v", r.String(), back, err, r)
		}
		c := r.Canonical()
		if c.DID != r.DID || c.RKey != r.RKey || c.Collection != r.Collection.Canonical() {
			t.Fatalf("%v.Canonical() = %v", r, c)
		}
	})
}

// FuzzParseURI checks that ParseURI never panics and accepts only AT-URIs that ParseID accepts
// without the scheme.
func FuzzParseURI(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseURI(s)
		if err != nil {
			checkRejected(t, s, err)
			return
		}
		if r.URI() != s {
			t.Fatalf("ParseURI(%q).URI() = %q", s, r.URI())
		}
		if id, err := ParseID(strings.TrimPrefix(s, "at://")); err != nil || id != r {
			t.Fatalf("ParseID of %q = %v, %v; want %v", s, id, err, r)
		}
	})
}
