package d1local

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/d1seal/d1seal/internal/wire"
)

// Reading a query body. A batch of inserts is mostly BLOBs sent as arrays of byte values (about
// 3.7 bytes of JSON per byte), and encoding/json went over each body three times (the
// Decoder's scan, the unmarshal into json.RawMessage, then the parameters): it was most of the
// local D1's time on create-many's workload. parseQuery reads the common shape of a body in
// one pass, validating it as JSON and leaving each parameter a slice of the body; anything it
// does not expect (another key, a key spelled in other case, a repeated key, null, nesting
// deeper than maxParseDepth) sends the body to encoding/json instead, so answers, errors
// included, are encoding/json's (TestParseQueryMatchesEncodingJSON, FuzzParseQuery).

// maxParseDepth is how deeply nested a parameter parseQuery takes; deeper goes to
// encoding/json.
const maxParseDepth = 64

// decodeQuery reads a /query or /raw body of at most limit bytes.
func decodeQuery(r *http.Request, w http.ResponseWriter, limit int64) (*wire.QueryRequest, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: wire.CodeInvalidInput, msg: "The request body is too large."}
		}
		return nil, errBadRequest("%s", err.Error())
	}
	if req, ok := parseQuery(body); ok {
		return req, nil
	}
	var req wire.QueryRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return nil, errBadRequest("%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return nil, errBadRequest("unexpected data after the JSON body")
	}
	return &req, nil
}

// parseQuery reads body as encoding/json would into a wire.QueryRequest, or reports false when
// the body is not of the shape it reads (then encoding/json decides).
func parseQuery(body []byte) (*wire.QueryRequest, bool) {
	p := &jsonParser{b: body}
	req := &wire.QueryRequest{}
	var seen [2]bool
	var seenBatch bool
	ok := p.object(func(key string) bool {
		if key != "batch" {
			return p.statementField(key, &req.SQL, &req.Params, &seen)
		}
		if seenBatch {
			return false
		}
		seenBatch = true
		return p.array(func() bool {
			var st wire.Statement
			var seen [2]bool
			ok := p.object(func(key string) bool { return p.statementField(key, &st.SQL, &st.Params, &seen) })
			req.Batch = append(req.Batch, st)
			return ok
		})
	})
	if !ok {
		return nil, false
	}
	p.ws()
	return req, p.i == len(p.b)
}

// statementField reads the member key of a statement object (the request itself, or one of
// its batch): "sql" or "params", each at most once.
func (p *jsonParser) statementField(key string, sql *string, params *[]json.RawMessage, seen *[2]bool) bool {
	switch key {
	case "sql":
		if seen[0] {
			return false
		}
		seen[0] = true
		s, ok := p.str()
		*sql = s
		return ok
	case "params":
		if seen[1] {
			return false
		}
		seen[1] = true
		var ok bool
		*params, ok = p.params()
		return ok
	}
	return false
}

// jsonParser reads JSON from b at i. Each method reports false for input it does not take.
type jsonParser struct {
	b     []byte
	i     int
	depth int
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

// object reads {"key": value, ...}, calling field at each value (after the colon).
func (p *jsonParser) object(field func(key string) bool) bool {
	if p.peek() != '{' {
		return false
	}
	p.i++
	if p.peek() == '}' {
		p.i++
		return true
	}
	for {
		if p.peek() != '"' {
			return false
		}
		key, ok := p.str()
		if !ok || p.peek() != ':' {
			return false
		}
		p.i++
		p.ws()
		if !field(key) {
			return false
		}
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

// array reads [item, ...], calling item at each element.
func (p *jsonParser) array(item func() bool) bool {
	if p.peek() != '[' {
		return false
	}
	p.i++
	if p.peek() == ']' {
		p.i++
		return true
	}
	for {
		p.ws()
		if !item() {
			return false
		}
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return true
		default:
			return false
		}
	}
}

// params reads an array of values, each kept as the raw JSON it is.
func (p *jsonParser) params() ([]json.RawMessage, bool) {
	out := []json.RawMessage{}
	ok := p.array(func() bool {
		start := p.i
		if !p.value() {
			return false
		}
		out = append(out, p.b[start:p.i:p.i])
		return true
	})
	return out, ok
}

// str reads a JSON string and returns its value.
func (p *jsonParser) str() (string, bool) {
	if p.peek() != '"' {
		return "", false
	}
	start := p.i
	p.i++
	simple := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if simple {
				return string(p.b[start+1 : p.i-1]), true
			}
			// Escapes or non-ASCII bytes: encoding/json's own decoding (invalid UTF-8
			// becomes U+FFFD).
			var s string
			if json.Unmarshal(p.b[start:p.i], &s) != nil {
				return "", false
			}
			return s, true
		case c == '\\':
			simple = false
			p.i++
			if p.i >= len(p.b) {
				return "", false
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				if p.i+5 > len(p.b) {
					return "", false
				}
				for _, h := range p.b[p.i+1 : p.i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return "", false
					}
				}
				p.i += 5
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			simple = false
			p.i++
		default:
			p.i++
		}
	}
	return "", false
}

// value reads any JSON value without keeping it.
func (p *jsonParser) value() bool {
	switch p.peek() {
	case '"':
		_, ok := p.str()
		return ok
	case '[', '{':
		if p.flatIntegers() {
			return true
		}
		if p.depth >= maxParseDepth {
			return false
		}
		p.depth++
		defer func() { p.depth-- }()
		if p.b[p.i] == '[' {
			return p.array(p.value)
		}
		return p.object(func(string) bool { return p.value() })
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case 'n':
		return p.literal("null")
	default:
		return p.number()
	}
}

// flatIntegers reads an array of non-negative integers, such as a BLOB parameter, in one tight
// loop; it reports false, having read nothing, for any other value.
func (p *jsonParser) flatIntegers() bool {
	b, i := p.b, p.i
	if b[i] != '[' {
		return false
	}
	i++
	// want: 0 a value or ']' (only first), 1 a comma or ']', 2 a value
	want, digits, zero := 0, 0, false
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case '0' <= c && c <= '9':
			if want == 1 && digits == 0 || zero {
				return false
			}
			zero = digits == 0 && c == '0'
			digits++
			want = 1
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if digits > 0 {
				digits, zero = 0, false
			}
		case c == ',':
			if want != 1 {
				return false
			}
			want, digits, zero = 2, 0, false
		case c == ']':
			if want == 2 {
				return false
			}
			p.i = i + 1
			return true
		default:
			return false
		}
	}
	return false
}

func (p *jsonParser) literal(word string) bool {
	if !bytes.HasPrefix(p.b[p.i:], []byte(word)) {
		return false
	}
	p.i += len(word)
	return true
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonParser) number() bool {
	b, i := p.b, p.i
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
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	p.i = i
	return true
}
