package d1

import (
	"encoding/base64"
	"errors"
	"unsafe"
)

// CompactBlobs reports whether the client carries BLOBs compactly: []byte arguments travel as
// base64 and are bound as BLOBs by the bridge Worker, and BLOB results come back as base64,
// each in a third more than its size instead of the 3.6 characters per byte of D1's JSON
// arrays. It is true for bridge clients (NewBridgeClient) and false for REST clients, whose
// API takes BLOBs only as arrays of byte values.
//
// Code that chooses its SQL by transport consults it: where it is true, bind a []byte with a
// plain ? and select BLOB columns as they are; where it is false, Hex with unhex(?) and
// hex(col) is the smaller form (see Hex).
func (c *Client) CompactBlobs() bool { return c.compact }

// appendBlobAs appends b as a JSON array of byte values (REST's form) or, compact, as
// {"base64": "…"} (the bridge's).
func appendBlobAs(buf, b []byte, compact bool) []byte {
	if !compact {
		return appendBlob(buf, b)
	}
	return appendBase64(buf, b)
}

// appendBase64 appends b as {"base64":"…"}, standard alphabet with padding: none of its
// characters needs escaping in JSON.
func appendBase64(buf, b []byte) []byte {
	buf = append(buf, `{"base64":"`...)
	buf = base64.StdEncoding.AppendEncode(buf, b)
	return append(buf, `"}`...)
}

var errBase64Cell = errors.New(`a BLOB object must be {"base64": "…"} with standard base64`)

// base64Blob reads a BLOB cell of the bridge's compact form, {"base64":"…"}: exactly that
// key, a string without escapes, standard base64 with padding.
func (p *rowParser) base64Blob() (value, error) {
	var out []byte
	seen := false
	err := p.object(func(key string) error {
		if key != "base64" || seen || p.I >= len(p.B) || p.B[p.I] != '"' {
			return errBase64Cell
		}
		seen = true
		start := p.I + 1
		end := start
		for end < len(p.B) && p.B[end] != '"' && p.B[end] != '\\' {
			end++
		}
		if end >= len(p.B) || p.B[end] != '"' {
			return errBase64Cell
		}
		src := p.B[start:end]
		out = make([]byte, base64.StdEncoding.DecodedLen(len(src)))
		n, err := base64.StdEncoding.Strict().Decode(out, src)
		if err != nil {
			return errBase64Cell
		}
		out = out[:n]
		p.I = end + 1
		return nil
	})
	if err != nil {
		return value{}, err
	}
	if !seen {
		return value{}, errBase64Cell
	}
	return value{kind: kindBlob, s: unsafe.String(unsafe.SliceData(out), len(out))}, nil
}
