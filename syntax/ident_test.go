package syntax

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testVectors checks parse against the interop files prefix_syntax_valid.txt and
// prefix_syntax_invalid.txt.
func testVectors[T ~string](t *testing.T, prefix string, parse func(string) (T, error)) {
	for _, s := range readVectors(t, prefix+"_syntax_valid.txt") {
		got, err := parse(s)
		if assert.NoError(t, err, "parse %.80q: want valid", s) {
			assert.Equal(t, s, string(got), "parse %.80q: want the input back", s)
		}
	}
	for _, s := range readVectors(t, prefix+"_syntax_invalid.txt") {
		got, err := parse(s)
		assertSyntaxError(t, err, "parse %.80q = %.80q: want invalid", s, got)
	}
}

func assertSyntaxError(t *testing.T, err error, msgAndArgs ...any) bool {
	t.Helper()
	if !assert.ErrorIs(t, err, ErrSyntax, msgAndArgs...) {
		return false
	}
	var se *SyntaxError
	return assert.True(t, errors.As(err, &se), "error %v: want a *SyntaxError", err) &&
		assert.NotEmpty(t, se.Reason, "error %v: want a reason", err)
}

func TestDIDVectors(t *testing.T)       { testVectors(t, "did", ParseDID) }
func TestNSIDVectors(t *testing.T)      { testVectors(t, "nsid", ParseNSID) }
func TestRecordKeyVectors(t *testing.T) { testVectors(t, "recordkey", ParseRecordKey) }
func TestATURIVectors(t *testing.T)     { testVectors(t, "aturi", ParseATURI) }

// TestRefVectors checks ParseURI and ParseID against the AT-URI files: of the valid AT-URIs
// they accept exactly those with a DID, a collection and a record key; they reject every
// invalid one.
func TestRefVectors(t *testing.T) {
	var accepted int
	for _, s := range readVectors(t, "aturi_syntax_valid.txt") {
		rest := strings.TrimPrefix(s, "at://")
		isRecord := strings.HasPrefix(rest, "did:") && strings.Count(rest, "/") == 2
		r, err := ParseURI(s)
		id, idErr := ParseID(rest)
		if !isRecord {
			assertSyntaxError(t, err, "ParseURI(%.80q): want invalid, not one record", s)
			assertSyntaxError(t, idErr, "ParseID(%.80q): want invalid, not one record", rest)
			continue
		}
		accepted++
		if assert.NoError(t, err, "ParseURI(%.80q)", s) {
			assert.Equal(t, s, r.URI(), "ParseURI(%.80q).URI()", s)
		}
		if assert.NoError(t, idErr, "ParseID(%.80q)", rest) {
			assert.Equal(t, rest, id.ID(), "ParseID(%.80q).ID()", rest)
			assert.Equal(t, r, id, "ParseID and ParseURI of %.80q", s)
		}
	}
	assert.Equal(t, 15, accepted, "valid AT-URIs that name one record by DID")

	for _, s := range readVectors(t, "aturi_syntax_invalid.txt") {
		_, err := ParseURI(s)
		assertSyntaxError(t, err, "ParseURI(%.80q): want invalid", s)
		if rest, ok := strings.CutPrefix(s, "at://"); ok {
			_, err := ParseID(rest)
			assertSyntaxError(t, err, "ParseID(%.80q): want invalid", rest)
		}
	}
}

func TestLengthLimits(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) error
		max   string // the longest valid value; one byte more is invalid
		more  string // the byte to add
	}{
		{"DID", parseErr(ParseDID), "did:plc:" + strings.Repeat("a", 2048-8), "a"},
		{"NSID", parseErr(ParseNSID), strings.Repeat("abcdefg.", 38) + "abcdefghijklm", "n"},
		{"record key", parseErr(ParseRecordKey), strings.Repeat("k", 512), "k"},
		{"AT-URI", parseErr(ParseATURI), "at://did:plc:" + strings.Repeat("a", 2048-8) + "/" + strings.Repeat("a.", 150) + "abcdefghijklmnop/" + strings.Repeat("k", 512), ""},
		{"handle", parseErr(ParseATURI), "at://" + strings.Repeat("abcdefghi.", 24) + "abcdefghijklm", "n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.parse(tt.max), "length %d: want valid", len(tt.max))
			if tt.more != "" {
				err := tt.parse(tt.max + tt.more)
				require.ErrorIs(t, err, ErrSyntax, "length %d: want invalid", len(tt.max)+1)
				assert.Contains(t, err.Error(), "want at most", "error for length %d", len(tt.max)+1)
			}
		})
	}
	// The longest DID, NSID and record key still fit in an AT-URI; 8192 bytes is checked first.
	_, err := ParseATURI("at://did:plc:" + strings.Repeat("a", 8192))
	require.ErrorIs(t, err, ErrSyntax)
	assert.Contains(t, err.Error(), "length is 8205 bytes, want at most 8192")
}

func parseErr[T any](parse func(string) (T, error)) func(string) error {
	return func(s string) error { _, err := parse(s); return err }
}

func TestSyntaxErrorMessages(t *testing.T) {
	tests := []struct {
		parse func(string) error
		in    string
		want  string
	}{
		{parseErr(ParseDID), "DID:plc:x", `syntax: parse DID "DID:plc:x": must start with "did:" (lower case)`},
		{parseErr(ParseDID), "did:plc", `want did:method:identifier, got no ':' after the method`},
		{parseErr(ParseDID), "did:m123:val", `method has '1' at offset 5, want only letters a-z`},
		{parseErr(ParseDID), "did:web:", `identifier after the method is empty`},
		{parseErr(ParseDID), "did:web:a/b", `identifier has '/' at offset 9, want only letters, digits and . _ : % -`},
		{parseErr(ParseDID), "did:web:a%", `must not end with '%'`},
		{parseErr(ParseNSID), "com.example", `has 2 segments, want at least 3`},
		{parseErr(ParseNSID), "0two.example.foo", `first segment "0two" must start with a letter`},
		{parseErr(ParseNSID), "com..example.foo", `authority segment is empty`},
		{parseErr(ParseNSID), "com.example-.foo", `authority segment "example-" must not start or end with '-'`},
		{parseErr(ParseNSID), "com.ex_ample.foo", `authority segment "ex_ample" has '_'`},
		{parseErr(ParseNSID), "com.example.2foo", `name "2foo" must start with a letter`},
		{parseErr(ParseNSID), "com.example.fo-o", `name has '-' at offset 14, want only letters and digits`},
		{parseErr(ParseNSID), "com.example.", `name, the last segment, is empty`},
		{parseErr(ParseRecordKey), "", `syntax: parse record key "": is empty, want 1 to 512 bytes`},
		{parseErr(ParseRecordKey), "..", `"." and ".." are not allowed`},
		{parseErr(ParseRecordKey), "a b", `has ' ' at offset 1, want only letters, digits and _ ~ . : -`},
		{parseErr(ParseATURI), "http://x.com", `must start with "at://"`},
		{parseErr(ParseATURI), "at://bsky", `authority is neither a DID nor a handle: "bsky" has one label`},
		{parseErr(ParseATURI), "at://user.bsky.123", `last label "123" must start with a letter`},
		{parseErr(ParseATURI), "at://did:plc:a/", `collection has 1 segments, want at least 3`},
		{parseErr(ParseATURI), "at://did:plc:a/a.b.c/k/l", `path has more than two parts`},
		{parseErr(ParseATURI), "at://did:plc:a/a.b.c/%30", `record key has '%' at offset 0`},
		{parseErr(ParseURI), "did:plc:a/a.b.c/k", `syntax: parse record URI "did:plc:a/a.b.c/k": must start with "at://"`},
		{parseErr(ParseURI), "at://user.bsky.social/a.b.c/k", `DID must start with "did:"`},
		{parseErr(ParseURI), "at://did:plc:a/a.b.c", `want did/collection/rkey, got no record key`},
		{parseErr(ParseID), "did:plc:a", `syntax: parse record ID "did:plc:a": want did/collection/rkey, got no '/'`},
		{parseErr(ParseID), "did:plc:a/a.b.c/k/", `got more than three parts`},
		{parseErr(ParseID), "did:plc:a/a.b/k", `collection has 2 segments`},
		{parseErr(ParseID), "did:plc:a/a.b.c/.", `record key "." and ".." are not allowed`},
	}
	for _, tt := range tests {
		err := tt.parse(tt.in)
		if assertSyntaxError(t, err, "parse %q", tt.in) {
			assert.Contains(t, err.Error(), tt.want, "parse %q: error", tt.in)
		}
	}
}

func TestSyntaxErrorShortensText(t *testing.T) {
	_, err := ParseRecordKey(strings.Repeat("k", 600))
	require.Error(t, err)
	assert.Equal(t, `syntax: parse record key "`+strings.Repeat("k", 64)+`...": length is 600 bytes, want at most 512`, err.Error())
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Len(t, se.Text, 600, "SyntaxError.Text keeps the whole input")
}

func TestNSIDCanonical(t *testing.T) {
	tests := []struct{ in, canonical, name string }{
		{"com.example.fooBar", "com.example.fooBar", "fooBar"},
		{"Com.EXAMPLE.fooBar", "com.example.fooBar", "fooBar"},
		{"one.two.three.four-and.FiVe", "one.two.three.four-and.FiVe", "FiVe"},
		{"XN--FIQS8S.A-B.Record", "xn--fiqs8s.a-b.Record", "Record"},
	}
	for _, tt := range tests {
		n, err := ParseNSID(tt.in)
		require.NoError(t, err, "ParseNSID(%q)", tt.in)
		got := n.Canonical()
		assert.Equal(t, NSID(tt.canonical), got, "%q.Canonical()", tt.in)
		assert.Equal(t, got, got.Canonical(), "Canonical is idempotent for %q", tt.in)
		assert.Equal(t, tt.name, n.Name(), "%q.Name()", tt.in)
		assert.Equal(t, tt.in, n.String(), "String keeps the parsed spelling")
		_, err = ParseNSID(string(got))
		assert.NoError(t, err, "canonical form %q must be valid", got)
	}
}

func TestRefForms(t *testing.T) {
	r, err := ParseID("did:plc:7iza6de2dwap2sbkpav7c6c6/Com.Example.note/3jzfcijpj2z2a")
	require.NoError(t, err)
	want := Ref{DID: "did:plc:7iza6de2dwap2sbkpav7c6c6", Collection: "Com.Example.note", RKey: "3jzfcijpj2z2a"}
	assert.Equal(t, want, r)
	assert.Equal(t, "did:plc:7iza6de2dwap2sbkpav7c6c6/Com.Example.note/3jzfcijpj2z2a", r.ID())
	assert.Equal(t, "at://did:plc:7iza6de2dwap2sbkpav7c6c6/Com.Example.note/3jzfcijpj2z2a", r.URI())
	assert.Equal(t, r.URI(), r.String())

	c := r.Canonical()
	assert.Equal(t, "did:plc:7iza6de2dwap2sbkpav7c6c6/com.example.note/3jzfcijpj2z2a", c.ID(), "Canonical().ID()")
	assert.Equal(t, NSID("Com.Example.note"), r.Collection, "Canonical must not change its receiver")

	u, err := ParseURI(r.URI())
	require.NoError(t, err)
	assert.Equal(t, r, u, "ParseURI(URI())")
}

func TestText(t *testing.T) {
	type doc struct {
		DID  DID       `json:"did"`
		Coll NSID      `json:"coll"`
		RKey RecordKey `json:"rkey"`
		URI  ATURI     `json:"uri"`
		Ref  Ref       `json:"ref"`
	}
	in := doc{
		DID:  "did:plc:abc",
		Coll: "com.example.note",
		RKey: "self",
		URI:  "at://user.bsky.social",
		Ref:  Ref{DID: "did:plc:abc", Collection: "com.example.note", RKey: "self"},
	}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `{"did":"did:plc:abc","coll":"com.example.note","rkey":"self",
		"uri":"at://user.bsky.social","ref":"at://did:plc:abc/com.example.note/self"}`, string(b))
	var out doc
	require.NoError(t, json.Unmarshal(b, &out))
	assert.Equal(t, in, out, "JSON round trip")

	for _, field := range []string{"did", "coll", "rkey", "uri", "ref"} {
		t.Run(field, func(t *testing.T) {
			got := out
			err := json.Unmarshal([]byte(`{"`+field+`":"at://x/y/../"}`), &got)
			assertSyntaxError(t, err, "UnmarshalText of an invalid %s", field)
			assert.Equal(t, out, got, "UnmarshalText must not change the value on error")
		})
	}
}

func BenchmarkParseURI(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseURI("at://did:plc:7iza6de2dwap2sbkpav7c6c6/com.example.note/3jzfcijpj2z2a"); err != nil {
			b.Fatal(err)
		}
	}
}
