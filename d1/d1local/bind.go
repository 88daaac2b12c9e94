package d1local

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// D1 receives parameters as JSON and binds them from JavaScript values: every number (integer
// or not) as a SQLite REAL, booleans as the numbers 1 and 0 (so REAL too), strings as TEXT, null
// as NULL, and arrays of byte values as BLOBs. So `5` bound into a TEXT column stores '5.0',
// `typeof(?)` is 'real' and `LIMIT ?` fails with 1.5, as workerd answers.

// param is one decoded parameter.
type param struct {
	kind  paramKind
	f     float64
	s     string
	bytes []byte
}

type paramKind int

const (
	paramNull paramKind = iota
	paramReal
	paramText
	paramBlob
)

// decodeParam decodes one JSON parameter the way D1 binds it.
func decodeParam(raw json.RawMessage) (param, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return param{}, typeError("undefined", "undefined")
	}
	switch raw[0] {
	case 'n':
		return param{kind: paramNull}, nil
	case 't':
		return param{kind: paramReal, f: 1}, nil
	case 'f':
		return param{kind: paramReal, f: 0}, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return param{}, err
		}
		return param{kind: paramText, s: s}, nil
	case '[':
		if b, ok := byteArray(raw); ok {
			return param{kind: paramBlob, bytes: b}, nil
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return param{}, err
		}
		b := make([]byte, len(items))
		for i, it := range items {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(it)), 10, 8)
			if err != nil {
				return param{}, typeError("object", string(raw))
			}
			b[i] = byte(n)
		}
		return param{kind: paramBlob, bytes: b}, nil
	case '{':
		return param{}, typeError("object", "[object Object]")
	default:
		// A JSON number; JavaScript parses it as a float64 (overflow gives ±Infinity).
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return param{}, typeError("unknown", string(raw))
			}
		}
		return param{kind: paramReal, f: f}, nil
	}
}

// byteArray parses the common form of a BLOB parameter, a JSON array of integers 0 to 255,
// without going through encoding/json (BLOBs are most of the bytes D1 receives). It reports
// false for anything else, which then takes the general path and its errors.
func byteArray(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '[' || raw[len(raw)-1] != ']' {
		return nil, false
	}
	body := raw[1 : len(raw)-1]
	out := make([]byte, 0, len(body)/3+1)
	n, digits := 0, 0
	for _, c := range body {
		switch {
		case '0' <= c && c <= '9':
			if digits > 0 && n == 0 { // a leading zero: not a JSON number
				return nil, false
			}
			n, digits = n*10+int(c-'0'), digits+1
			if n > 255 {
				return nil, false
			}
		case c == ',':
			if digits == 0 {
				return nil, false
			}
			out = append(out, byte(n))
			n, digits = 0, 0
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			// JSON white space; a space inside a number is not valid JSON, but encoding/json
			// never lets such input reach here (the body was decoded already).
		default:
			return nil, false
		}
	}
	if digits == 0 {
		return out, len(bytes.TrimSpace(body)) == 0 // [] is the empty BLOB
	}
	return append(out, byte(n)), true
}

// typeError is D1's message for a value it cannot bind.
func typeError(jsType, v string) error {
	if len(v) > 64 {
		v = v[:64] + "..."
	}
	return fmt.Errorf("D1_TYPE_ERROR: Type '%s' not supported for value '%s'", jsType, v)
}

// bind binds params to st positionally: the i-th parameter goes to SQLite parameter i+1, whatever
// its spelling (?, ?NNN, :x, @x, $x), as D1 does.
func bind(st *stmt, params []param) error {
	for i, p := range params {
		var err error
		switch p.kind {
		case paramNull:
			err = st.BindNull(i + 1)
		case paramReal:
			err = st.BindFloat(i+1, p.f)
		case paramText:
			err = st.BindText(i+1, p.s)
		case paramBlob:
			err = st.BindBlob(i+1, p.bytes)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
