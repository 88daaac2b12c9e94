// Package jsonscan reads JSON in place: the lexical layer shared by the d1 client's response
// decoder and the local D1's request parser. Both walk the one shape they expect (a /raw
// response, a /query body), keep what they need as slices of the input and read nearly all of
// it (rows, BLOB parameters) exactly once, where encoding/json would scan, validate and copy
// it several times. What they share is here: whitespace, objects, arrays, strings, numbers,
// literals and skipping a value, validated as RFC 8259 says.
//
// Every method reports false for input it does not take; the position is then unspecified and
// the caller gives up (or hands the input to encoding/json). Strings and number texts share
// the input's memory: the input must not change while they are in use, and whoever keeps one
// beyond the input's life clones it.
package jsonscan

import (
	"encoding/json"
	"unicode/utf8"
	"unsafe"
)

// Scanner reads the JSON in B from position I.
type Scanner struct {
	B []byte
	I int
}

// WS skips whitespace.
func (s *Scanner) WS() {
	for s.I < len(s.B) {
		switch s.B[s.I] {
		case ' ', '\t', '\n', '\r':
			s.I++
		default:
			return
		}
	}
}

// Peek skips whitespace and returns the next byte, or 0 at the end of the input.
func (s *Scanner) Peek() byte {
	s.WS()
	if s.I < len(s.B) {
		return s.B[s.I]
	}
	return 0
}

// Consume skips whitespace and reads c if it comes next.
func (s *Scanner) Consume(c byte) bool {
	if s.Peek() == c && s.I < len(s.B) {
		s.I++
		return true
	}
	return false
}

// AtEnd skips whitespace and reports whether the input is over.
func (s *Scanner) AtEnd() bool {
	s.WS()
	return s.I == len(s.B)
}

// Literal reads word (true, false, null) if it comes next, without skipping whitespace.
func (s *Scanner) Literal(word string) bool {
	if len(s.B)-s.I < len(word) || string(s.B[s.I:s.I+len(word)]) != word {
		return false
	}
	s.I += len(word)
	return true
}

// Object reads {"key": value, ...}, calling field with each key when the scanner is at its
// value (whitespace skipped); field must read the value.
func (s *Scanner) Object(field func(key string) bool) bool {
	if !s.Consume('{') {
		return false
	}
	if s.Consume('}') {
		return true
	}
	for {
		key, ok := s.String()
		if !ok || !s.Consume(':') {
			return false
		}
		s.WS()
		if !field(key) {
			return false
		}
		switch s.Peek() {
		case ',':
			s.I++
		case '}':
			s.I++
			return true
		default:
			return false
		}
	}
}

// Array reads [item, ...], calling item at each element (whitespace skipped); item must read
// the element.
func (s *Scanner) Array(item func() bool) bool {
	if !s.Consume('[') {
		return false
	}
	if s.Consume(']') {
		return true
	}
	for {
		s.WS()
		if !item() {
			return false
		}
		switch s.Peek() {
		case ',':
			s.I++
		case ']':
			s.I++
			return true
		default:
			return false
		}
	}
}

// String reads a string and returns its value, as encoding/json decodes it (escapes decoded,
// invalid UTF-8 replaced by U+FFFD). A string of valid UTF-8 without escapes, the usual case,
// shares the input's memory.
func (s *Scanner) String() (string, bool) {
	if s.Peek() != '"' {
		return "", false
	}
	start := s.I
	end, escaped, ascii, ok := s.stringEnd()
	if !ok {
		return "", false
	}
	s.I = end
	body := s.B[start+1 : end-1]
	if !escaped && (ascii || utf8.Valid(body)) {
		return shared(body), true
	}
	var v string
	if json.Unmarshal(s.B[start:end], &v) != nil {
		return "", false
	}
	return v, true
}

// stringEnd checks the string whose opening quote is at s.I and returns the position just
// past its closing quote, whether it has escapes, and whether it is ASCII. Every escape is
// checked; the bytes are not checked as UTF-8 (RFC 8259's grammar and encoding/json's Valid
// do not either).
func (s *Scanner) stringEnd() (end int, escaped, ascii, ok bool) {
	ascii = true
	for j := s.I + 1; j < len(s.B); j++ {
		switch c := s.B[j]; {
		case c == '"':
			return j + 1, escaped, ascii, true
		case c == '\\':
			escaped = true
			j++
			if j >= len(s.B) {
				return 0, false, false, false
			}
			switch s.B[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+5 > len(s.B) {
					return 0, false, false, false
				}
				for _, h := range s.B[j+1 : j+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return 0, false, false, false
					}
				}
				j += 4
			default:
				return 0, false, false, false
			}
		case c < 0x20:
			return 0, false, false, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return 0, false, false, false
}

// Number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? and returns its text (sharing
// the input) and whether it has a fraction or an exponent.
func (s *Scanner) Number() (text string, float bool, ok bool) {
	b, i := s.B, s.I
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return "", false, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return "", false, false
		}
		float = true
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return "", false, false
		}
		float = true
	}
	text = shared(b[s.I:i])
	s.I = i
	return text, float, true
}

// Skip reads one value of any kind, with arrays and objects nested at most depth deep (an
// input nested deeper is refused rather than followed down the stack).
func (s *Scanner) Skip(depth int) bool {
	switch s.Peek() {
	case '"':
		end, _, _, ok := s.stringEnd()
		s.I = end
		return ok
	case '[':
		return depth > 0 && s.Array(func() bool { return s.Skip(depth - 1) })
	case '{':
		return depth > 0 && s.Object(func(string) bool { return s.Skip(depth - 1) })
	case 't':
		return s.Literal("true")
	case 'f':
		return s.Literal("false")
	case 'n':
		return s.Literal("null")
	}
	_, _, ok := s.Number()
	return ok
}

func shared(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
