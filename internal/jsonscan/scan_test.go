package jsonscan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var samples = []string{
	`{"result":[{"results":{"columns":["a","b"],"rows":[[1,"x\u0000\"y"],[null,[0,255]]]},"success":true,"meta":{"changes":1}}],"success":true}`,
	`{"batch":[{"sql":"INSERT INTO t VALUES (?, ?)","params":[1,[1,2,3]]}]}`,
	`[-0, 0.5, 1e400, -1.5E-3, 18446744073709551616, true, false, null, "", "é", "\ud83d\ude00", "\ud800"]`,
	"\"caf\xe9\"", `01`, `1.`, `.5`, `-`, `1e`, `"\x"`, `"\u12"`, `{"a" 1}`, `[1,]`, `{"a":1,}`, `[`, `"`, ` { } `,
	"\"a\tb\"", `"\/"`, `{"a":{"b":[{"c":[]}]}}`,
}

// TestSkipIsJSONValid: a value is read whole exactly when encoding/json calls it valid.
func TestSkipIsJSONValid(t *testing.T) {
	for _, in := range samples {
		s := Scanner{B: []byte(in)}
		assert.Equal(t, json.Valid([]byte(in)), s.Skip(1<<20) && s.AtEnd(), "%q", in)
	}
}

// TestStringIsEncodingJSON: strings decode as encoding/json decodes them, and those of valid
// UTF-8 without escapes share the input.
func TestStringIsEncodingJSON(t *testing.T) {
	for _, in := range []string{`""`, `"plain"`, `"é ü 😀"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, `"\ud800 lone"`, "\"caf\xe9\"", "\"\xed\xa0\x80\""} {
		var want string
		require.NoError(t, json.Unmarshal([]byte(in), &want), in)
		s := Scanner{B: []byte(in)}
		got, ok := s.String()
		require.True(t, ok, "%q", in)
		assert.Equal(t, want, got, "%q", in)
		assert.True(t, s.AtEnd())
	}
	b := []byte(`"shared é"`)
	s := Scanner{B: b}
	got, _ := s.String()
	b[1] = 'S'
	assert.Equal(t, "Shared é", got, "the string shares the input")
}

// TestSkipDepth: nesting deeper than asked is refused, not followed down the stack, however
// deep the input goes.
func TestSkipDepth(t *testing.T) {
	for _, open := range []string{"[", `{"a":`} {
		s := Scanner{B: []byte(strings.Repeat(open, 3) + "1" + strings.Repeat(map[string]string{"[": "]", `{"a":`: "}"}[open], 3))}
		assert.True(t, s.Skip(3), open)
		s = Scanner{B: []byte(strings.Repeat(open, 4) + "1" + strings.Repeat(map[string]string{"[": "]", `{"a":`: "}"}[open], 4))}
		assert.False(t, s.Skip(3), open)
	}
	deep := Scanner{B: []byte(strings.Repeat("[", 50_000_000))}
	assert.False(t, deep.Skip(512), "50 million brackets: refused at depth 512")
}

func TestNumber(t *testing.T) {
	for in, float := range map[string]bool{"0": false, "-12": false, "1.5": true, "2e10": true, "-0.0E-1": true} {
		s := Scanner{B: []byte(in + ",")}
		text, f, ok := s.Number()
		require.True(t, ok, in)
		assert.Equal(t, in, text)
		assert.Equal(t, float, f, in)
		assert.Equal(t, len(in), s.I)
	}
	for _, in := range []string{"01", "1.", ".5", "-", "1e", "+1", "1e+"} {
		s := Scanner{B: []byte(in)}
		_, _, ok := s.Number()
		assert.False(t, ok && s.AtEnd(), in)
	}
}

// FuzzScanner holds the scanner to encoding/json: Skip reads a whole input exactly when it
// is valid JSON, and String decodes a string as encoding/json does.
func FuzzScanner(f *testing.F) {
	for _, in := range samples {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := Scanner{B: in}
		if got, want := s.Skip(1<<20) && s.AtEnd(), json.Valid(in); got != want {
			t.Fatalf("Skip of %q: %v, encoding/json says valid %v", in, got, want)
		}
		if bytes.Equal(bytes.TrimSpace(in), []byte("null")) {
			return // encoding/json takes null for a string; String does not
		}
		var want string
		werr := json.Unmarshal(in, &want)
		s = Scanner{B: in}
		got, ok := s.String()
		ok = ok && s.AtEnd()
		if ok != (werr == nil) || ok && got != want {
			t.Fatalf("String of %q: %q %v, encoding/json: %q %v", in, got, ok, want, werr)
		}
	})
}
