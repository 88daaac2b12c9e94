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
// `typeof(?)` is 'real' and `LIMIT ?` fails with 1.5 (DESIGN.md §3).

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
			err = st.bindNull(i + 1)
		case paramReal:
			err = st.bindFloat(i+1, p.f)
		case paramText:
			err = st.bindText(i+1, p.s)
		case paramBlob:
			err = st.bindBlob(i+1, p.bytes)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
