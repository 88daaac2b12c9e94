package d1

import (
	"database/sql"
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// ScanError reports a value that cannot be stored in the destination given to Scan or Collect.
type ScanError struct {
	Column int    // column index; -1 when the error concerns the whole row
	Name   string // column name
	Reason string
}

func (e *ScanError) Error() string {
	if e.Column < 0 {
		return "d1: scan: " + e.Reason
	}
	return fmt.Sprintf("d1: scan column %d (%q): %s", e.Column, e.Name, e.Reason)
}

func scanErr(err error, j int, name string) error {
	var se *ScanError
	if errors.As(err, &se) && se.Column < 0 {
		se.Column, se.Name = j, name
		return se
	}
	return &ScanError{Column: j, Name: name, Reason: err.Error()}
}

func itoa(n int) string { return strconv.Itoa(n) }

var timeType = reflect.TypeFor[time.Time]()

// scan stores v in dest, a non-nil pointer.
func (v value) scan(dest any) error {
	switch d := dest.(type) {
	case *any:
		*d = v.any()
		return nil
	case *string:
		switch v.kind {
		case kindText, kindBlob:
			*d = v.s
		case kindInt:
			*d = strconv.FormatInt(v.int(), 10)
		case kindReal:
			*d = strconv.FormatFloat(v.real(), 'g', -1, 64)
		default:
			return v.nullInto("string")
		}
		return nil
	case *[]byte:
		switch v.kind {
		case kindNull:
			*d = nil
		case kindText, kindBlob:
			*d = v.bytes()
		default:
			return v.mismatch("[]byte")
		}
		return nil
	case *int64:
		n, err := v.toInt(math.MinInt64, math.MaxInt64)
		*d = n
		return err
	case *int:
		n, err := v.toInt(math.MinInt, math.MaxInt)
		*d = int(n)
		return err
	case *float64:
		f, err := v.toFloat()
		*d = f
		return err
	case *bool:
		n, err := v.toInt(math.MinInt64, math.MaxInt64)
		*d = n != 0
		return err
	case *time.Time:
		t, err := v.toTime()
		*d = t
		return err
	case sql.Scanner:
		return d.Scan(v.any())
	}
	return v.scanReflect(dest)
}

func (v value) scanReflect(dest any) error {
	rv := reflect.ValueOf(dest)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &ScanError{Column: -1, Reason: fmt.Sprintf("destination %T is not a non-nil pointer", dest)}
	}
	e := rv.Elem()
	if e.Kind() == reflect.Pointer {
		if v.isNull() {
			e.SetZero()
			return nil
		}
		p := reflect.New(e.Type().Elem())
		if err := v.scan(p.Interface()); err != nil {
			return err
		}
		e.Set(p)
		return nil
	}
	if tu, ok := dest.(encoding.TextUnmarshaler); ok && v.kind == kindText {
		return tu.UnmarshalText([]byte(v.s))
	}
	switch e.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := e.Type().Bits()
		n, err := v.toInt(-1<<(bits-1), 1<<(bits-1)-1)
		if err == nil {
			e.SetInt(n)
		}
		return err
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		hi := int64(math.MaxInt64)
		if bits := e.Type().Bits(); bits < 64 {
			hi = 1<<bits - 1
		}
		n, err := v.toInt(0, hi)
		if err == nil {
			e.SetUint(uint64(n))
		}
		return err
	case reflect.Float32, reflect.Float64:
		f, err := v.toFloat()
		if err == nil {
			e.SetFloat(f)
		}
		return err
	case reflect.String:
		var s string
		if err := v.scan(&s); err != nil {
			return err
		}
		e.SetString(s)
		return nil
	case reflect.Bool:
		var b bool
		if err := v.scan(&b); err != nil {
			return err
		}
		e.SetBool(b)
		return nil
	case reflect.Slice:
		if e.Type().Elem().Kind() == reflect.Uint8 {
			var b []byte
			if err := v.scan(&b); err != nil {
				return err
			}
			e.SetBytes(b)
			return nil
		}
	}
	return &ScanError{Column: -1, Reason: fmt.Sprintf("unsupported destination %T", dest)}
}

func (v value) nullInto(goType string) error {
	return &ScanError{Column: -1, Reason: "NULL cannot be stored in a " + goType + "; scan into a pointer or a sql.Null type"}
}

func (v value) mismatch(goType string) error {
	return &ScanError{Column: -1, Reason: "a " + v.kind.String() + " value cannot be stored in a " + goType}
}

// toInt converts to an integer in [lo, hi]. Integral REALs are accepted, since D1 sends a REAL
// such as 5.0 as the number 5 anyway; decimal text is parsed.
func (v value) toInt(lo, hi int64) (int64, error) {
	var n int64
	switch v.kind {
	case kindInt:
		n = v.int()
	case kindReal:
		f := v.real()
		if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
			return 0, v.mismatch("integer")
		}
		n = int64(f)
	case kindText:
		var err error
		if n, err = strconv.ParseInt(strings.TrimSpace(v.s), 10, 64); err != nil {
			return 0, &ScanError{Column: -1, Reason: "TEXT value is not a decimal integer"}
		}
	case kindNull:
		return 0, v.nullInto("integer")
	default:
		return 0, v.mismatch("integer")
	}
	if n < lo || n > hi {
		return 0, &ScanError{Column: -1, Reason: fmt.Sprintf("value %d overflows the destination", n)}
	}
	return n, nil
}

func (v value) toFloat() (float64, error) {
	switch v.kind {
	case kindInt:
		return float64(v.int()), nil
	case kindReal:
		return v.real(), nil
	case kindText:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
		if err != nil {
			return 0, &ScanError{Column: -1, Reason: "TEXT value is not a number"}
		}
		return f, nil
	case kindNull:
		return 0, v.nullInto("float")
	}
	return 0, v.mismatch("float")
}

// timeLayouts are the text forms accepted for time.Time: what the client sends (RFC 3339)
// and what SQLite's CURRENT_TIMESTAMP and datetime() produce (UTC).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"}

func (v value) toTime() (time.Time, error) {
	switch v.kind {
	case kindText:
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, v.s); err == nil {
				return t, nil
			}
		}
		return time.Time{}, &ScanError{Column: -1, Reason: "TEXT value is not an RFC 3339 or SQLite date-time"}
	case kindNull:
		return time.Time{}, v.nullInto("time.Time")
	}
	return time.Time{}, v.mismatch("time.Time")
}
