package d1local

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/d1seal/d1seal/d1/d1local/internal/sqlite"
)

// D1 runs in JavaScript: every INTEGER and REAL it returns goes through a JS Number and
// JSON.stringify. So integers beyond 2^53 lose precision exactly as a float64 does, and numbers
// print the way Number.prototype.toString prints them (shortest round-trip digits, exponent
// form outside 1e-7 <= |x| < 1e21, no trailing ".0"). NaN and ±Infinity become null.

// appendJSNumber appends f as JSON.stringify would write it.
func appendJSNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if f == 0 {
		return append(dst, '0')
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// Shortest round-trip digits d1.d2d3...e±x, as ECMAScript's Number::toString requires.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k, n := len(digits), x+1 // value = 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for range n - k {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, "0."...)
		for range -n {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}

// appendJSON appends v as D1 returns it: numbers via JS, TEXT as a string, BLOB as an array of
// byte values, NULL as null.
func appendJSON(dst []byte, v value) []byte {
	switch v.Kind {
	case sqlite.Integer:
		return appendJSNumber(dst, float64(v.I))
	case sqlite.Float:
		return appendJSNumber(dst, v.F)
	case sqlite.Text:
		return appendJSONString(dst, string(v.Bytes))
	case sqlite.Blob:
		dst = append(dst, '[')
		for i, b := range v.Bytes {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(b), 10)
		}
		return append(dst, ']')
	default:
		return append(dst, "null"...)
	}
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as it does when
// JavaScript decodes SQLite's text.
func appendJSONString(dst []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...)
}
