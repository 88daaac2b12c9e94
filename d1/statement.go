package d1

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
)

// Statement is one SQL statement and its positional arguments.
//
// Args may hold nil, bool (sent as 1/0), any Go integer kind within ±(2^53−1), float32 or
// float64 (not NaN or ±Inf), string (valid UTF-8), []byte (a BLOB), Hex (a BLOB sent as hex
// text, for unhex(?)), time.Time (RFC 3339 text in UTC), a driver.Valuer, or a pointer to any
// of these (nil means NULL). Named types whose
// underlying kind is one of these are accepted too. Anything else is an *ArgError before
// anything is sent.
type Statement struct {
	SQL  string
	Args []any

	// Idempotent marks a statement that may safely run twice, such as an INSERT OR IGNORE
	// keyed by a caller-chosen id or an UPDATE that sets absolute values. The client retries
	// idempotent and read-only statements after failures that may have reached D1; other
	// writes are retried only when the request certainly did not reach D1.
	Idempotent bool
}

// maxExactInt is the largest integer a JSON number (a JavaScript double inside D1) carries
// exactly: 2^53 − 1.
const maxExactInt = 1<<53 - 1

// appendArgs appends the JSON array of a statement's arguments to buf, checking each against
// the limits.
// A compact client sends []byte arguments as {"base64": …} (see Client.CompactBlobs).
func appendArgs(buf []byte, st *Statement, index int, lim *Limits, compact bool) ([]byte, error) {
	buf = append(buf, '[')
	for i, a := range st.Args {
		if i > 0 {
			buf = append(buf, ',')
		}
		var err error
		start := len(buf)
		buf, err = encodeArg(buf, a, compact)
		if err != nil {
			if ae, ok := err.(*ArgError); ok {
				ae.Statement, ae.Index = index, i
			}
			return nil, err
		}
		if n := valueBytes(a, buf[start:]); n > lim.MaxValueBytes {
			return nil, limitError("value bytes", lim.MaxValueBytes, n, index)
		}
	}
	return append(buf, ']'), nil
}

// valueBytes is the size D1 counts for a value: the string or BLOB length, not its JSON form
// (a Hex travels as a string of two characters per byte).
func valueBytes(a any, encoded []byte) int {
	switch v := a.(type) {
	case string:
		return len(v)
	case []byte:
		return len(v)
	case Hex:
		return 2 * len(v)
	}
	return len(encoded)
}

// appendArg appends one argument as a JSON value, as REST takes it.
func appendArg(buf []byte, a any) ([]byte, error) { return encodeArg(buf, a, false) }

// encodeArg appends one argument as a JSON value; compact sends a BLOB as {"base64": …}.
func encodeArg(buf []byte, a any, compact bool) ([]byte, error) {
	switch v := a.(type) {
	case nil:
		return append(buf, "null"...), nil
	case string:
		return appendString(buf, v)
	case []byte:
		if v == nil {
			return append(buf, "null"...), nil
		}
		return appendBlobAs(buf, v, compact), nil
	case int64:
		return appendInt(buf, v)
	case int:
		return appendInt(buf, int64(v))
	case int32:
		return strconv.AppendInt(buf, int64(v), 10), nil
	case float64:
		return appendFloat(buf, v, 64)
	case bool:
		if v {
			return append(buf, '1'), nil
		}
		return append(buf, '0'), nil
	case time.Time:
		buf = append(buf, '"')
		buf = v.UTC().AppendFormat(buf, time.RFC3339Nano)
		return append(buf, '"'), nil
	case Hex:
		return appendHex(buf, v), nil
	case json.Number:
		return nil, &ArgError{Type: "json.Number", Reason: "pass an int64 or float64"}
	case driver.Valuer:
		return appendValuer(buf, v, compact)
	}
	return appendReflect(buf, a, compact)
}

func appendValuer(buf []byte, v driver.Valuer, compact bool) ([]byte, error) {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return append(buf, "null"...), nil
	}
	dv, err := v.Value()
	if err != nil {
		return nil, &ArgError{Type: fmt.Sprintf("%T", v), Reason: "Value() failed", Err: err}
	}
	if _, again := dv.(driver.Valuer); again {
		return nil, &ArgError{Type: fmt.Sprintf("%T", v), Reason: "Value() returned another driver.Valuer"}
	}
	return encodeArg(buf, dv, compact)
}

// appendReflect handles pointers and named types of the supported kinds.
func appendReflect(buf []byte, a any, compact bool) ([]byte, error) {
	rv := reflect.ValueOf(a)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return append(buf, "null"...), nil
		}
		return encodeArg(buf, rv.Elem().Interface(), compact)
	case reflect.Bool:
		return encodeArg(buf, rv.Bool(), compact)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return appendInt(buf, rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > maxExactInt {
			return nil, &ArgError{Type: rv.Type().String(), Reason: "integer beyond ±(2^53−1) would be rounded by D1; store it as text or a BLOB"}
		}
		return strconv.AppendUint(buf, u, 10), nil
	case reflect.Float32:
		return appendFloat(buf, rv.Float(), 32)
	case reflect.Float64:
		return appendFloat(buf, rv.Float(), 64)
	case reflect.String:
		return appendString(buf, rv.String())
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			if rv.IsNil() {
				return append(buf, "null"...), nil
			}
			return appendBlobAs(buf, rv.Bytes(), compact), nil
		}
	}
	return nil, &ArgError{Type: fmt.Sprintf("%T", a), Reason: "unsupported argument type; pass nil, bool, an integer, a float, string, []byte, time.Time or a driver.Valuer"}
}

func appendInt(buf []byte, v int64) ([]byte, error) {
	if v > maxExactInt || v < -maxExactInt {
		return nil, &ArgError{Type: "int64", Reason: "integer beyond ±(2^53−1) would be rounded by D1; store it as text or a BLOB"}
	}
	return strconv.AppendInt(buf, v, 10), nil
}

func appendFloat(buf []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, &ArgError{Type: "float" + strconv.Itoa(bits), Reason: "NaN and ±Inf cannot be sent to D1"}
	}
	return strconv.AppendFloat(buf, f, 'g', -1, bits), nil
}

// appendBlob appends b as a JSON array of byte values, the form D1 binds as a BLOB.
func appendBlob(buf []byte, b []byte) []byte {
	buf = append(buf, '[')
	for i, c := range b {
		if i > 0 {
			buf = append(buf, ',')
		}
		switch {
		case c >= 100:
			buf = append(buf, '0'+c/100, '0'+c/10%10, '0'+c%10)
		case c >= 10:
			buf = append(buf, '0'+c/10, '0'+c%10)
		default:
			buf = append(buf, '0'+c)
		}
	}
	return append(buf, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Text that is not valid UTF-8 cannot travel in
// JSON without being altered, so it is refused: binary data belongs in a []byte.
func appendString(buf []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, &ArgError{Type: "string", Reason: "text is not valid UTF-8 (JSON would alter it); pass binary data as []byte"}
	}
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"'), nil
}

// appendSQL appends SQL text as a JSON string. SQL must be valid UTF-8 too.
func appendSQL(buf []byte, sql string, index int) ([]byte, error) {
	out, err := appendString(buf, sql)
	if err != nil {
		return nil, &ArgError{Statement: index, Index: -1, Type: "sql", Reason: "SQL text is not valid UTF-8"}
	}
	return out, nil
}
