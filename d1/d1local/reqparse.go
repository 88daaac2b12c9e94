package d1local

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/d1seal/d1seal/internal/jsonscan"
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
	p := &jsonParser{jsonscan.Scanner{B: body}}
	req := &wire.QueryRequest{}
	var seen [2]bool
	var seenBatch bool
	ok := p.Object(func(key string) bool {
		if key != "batch" {
			return p.statementField(key, &req.SQL, &req.Params, &seen)
		}
		if seenBatch {
			return false
		}
		seenBatch = true
		return p.Array(func() bool {
			var st wire.Statement
			var seen [2]bool
			ok := p.Object(func(key string) bool { return p.statementField(key, &st.SQL, &st.Params, &seen) })
			req.Batch = append(req.Batch, st)
			return ok
		})
	})
	return req, ok && p.AtEnd()
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
		s, ok := p.String()
		*sql = strings.Clone(s) // kept by the statement cache, which must not keep the body
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

// jsonParser reads a /query body; the lexical work is internal/jsonscan's, shared with the
// d1 client's response decoder. Each method reports false for input it does not take.
type jsonParser struct {
	jsonscan.Scanner
}

// params reads an array of values, each kept as the raw JSON it is.
func (p *jsonParser) params() ([]json.RawMessage, bool) {
	out := []json.RawMessage{}
	ok := p.Array(func() bool {
		start := p.I
		if !p.value() {
			return false
		}
		out = append(out, p.B[start:p.I:p.I])
		return true
	})
	return out, ok
}

// value reads any JSON value without keeping it: an array of integers (a BLOB parameter) in
// one tight loop, anything else through the scanner, nested at most maxParseDepth deep.
func (p *jsonParser) value() bool {
	return p.Peek() == '[' && p.flatIntegers() || p.Skip(maxParseDepth)
}

// flatIntegers reads an array of non-negative integers, such as a BLOB parameter, in one tight
// loop; it reports false, having read nothing, for any other value.
func (p *jsonParser) flatIntegers() bool {
	b, i := p.B, p.I
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
			p.I = i + 1
			return true
		default:
			return false
		}
	}
	return false
}
