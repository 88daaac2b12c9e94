package d1

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unsafe"

	"github.com/d1seal/d1seal/internal/jsonscan"
	"github.com/d1seal/d1seal/internal/wire"
)

// rawEnvelope is a /raw response without its rows, which decodeRaw parses straight into
// values (see parseRows) instead of through []any.
type rawEnvelope struct {
	Result   []rawItem
	Success  bool
	Errors   []wire.Message
	Messages []wire.Message
}

type rawItem struct {
	Success *bool
	Meta    wire.Meta
	Error   string
}

// decodeRaw decodes a /raw response body into one Result per statement. body must not be
// modified afterwards: text values share its memory.
//
// The envelope is walked by hand so that the rows, nearly all of the body, are read exactly
// once, straight into values; encoding/json would validate them, skip them and hand them
// over as json.RawMessage first. Small parts (meta, errors) still go through encoding/json.
func decodeRaw(body []byte) (*rawEnvelope, []*Result, error) {
	var env rawEnvelope
	var results []*Result
	p := rowParser{jsonscan.Scanner{B: body}}
	err := p.object(func(key string) error {
		switch key {
		case "result":
			if p.null() {
				return nil
			}
			return p.array(func() error {
				item, r, err := p.rawItem()
				if err != nil {
					return fmt.Errorf("statement %d: %w", len(results), err)
				}
				env.Result = append(env.Result, item)
				results = append(results, r)
				return nil
			})
		case "success":
			return p.bool(&env.Success)
		case "errors":
			return p.decodeJSON(&env.Errors)
		case "messages":
			return p.decodeJSON(&env.Messages)
		}
		return p.skip()
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("decode response: %w", err)
	}
	if !env.Success {
		return &env, nil, nil
	}
	return &env, results, nil
}

// rawItem reads one element of a /raw result array.
func (p *rowParser) rawItem() (rawItem, *Result, error) {
	var item rawItem
	r := &Result{}
	var rows []byte // rows seen before columns, parsed once the width is known
	parsed := false
	err := p.object(func(key string) error {
		switch key {
		case "results":
			if p.null() {
				return nil
			}
			return p.object(func(key string) error {
				switch key {
				case "columns":
					return p.decodeJSON(&r.Columns)
				case "rows":
					if r.Columns != nil {
						parsed = true
						return r.parseRowsAt(p)
					}
					start := p.I
					if err := p.skip(); err != nil {
						return err
					}
					rows = p.B[start:p.I]
					return nil
				}
				return p.skip()
			})
		case "success":
			var ok bool
			err := p.bool(&ok)
			item.Success = &ok
			return err
		case "meta":
			return p.decodeJSON(&item.Meta)
		case "error":
			return p.decodeJSON(&item.Error)
		}
		return p.skip()
	})
	if err != nil {
		return item, nil, err
	}
	if r.Columns == nil {
		r.Columns = []string{}
	}
	r.Meta = metaFromWire(&item.Meta)
	if !parsed {
		if err := r.parseRows(rows); err != nil {
			return item, nil, err
		}
	}
	return item, r, nil
}

func metaFromWire(m *wire.Meta) Meta {
	out := Meta{
		ChangedDB:       m.ChangedDB,
		Changes:         m.Changes,
		Duration:        msToDuration(m.Duration),
		LastRowID:       m.LastRowID,
		RowsRead:        m.RowsRead,
		RowsWritten:     m.RowsWritten,
		SizeAfter:       m.SizeAfter,
		ServedBy:        m.ServedBy,
		ServedByColo:    m.ServedByColo,
		ServedByPrimary: m.ServedByPrimary,
		ServedByRegion:  m.ServedByRegion,
		TotalAttempts:   m.TotalAttempts,
	}
	if m.Timings != nil {
		out.SQLDuration = msToDuration(m.Timings.SQLDurationMS)
	}
	return out
}

func msToDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// rowParser reads the rows array of a /raw result: arrays of JSON values where numbers are
// INTEGER or REAL, strings TEXT, null NULL, and arrays of byte values or the bridge's
// {"base64": …} BLOBs. The lexical work is internal/jsonscan's, shared with the local D1's
// request parser.
type rowParser struct {
	jsonscan.Scanner
}

// maxDepth bounds the nesting of what the decoder skips or hands to encoding/json (errors,
// messages, meta): far above any response's, far below what would exhaust the stack.
const maxDepth = 512

var errSyntax = errors.New("malformed JSON in rows")

func (r *Result) parseRows(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	p := rowParser{jsonscan.Scanner{B: b}}
	if err := r.parseRowsAt(&p); err != nil {
		return err
	}
	return p.end()
}

// parseRowsAt parses the rows array at p's position, leaving p just after it.
func (r *Result) parseRowsAt(p *rowParser) error {
	if p.null() {
		return nil
	}
	if !p.Consume('[') {
		return errSyntax
	}
	ncol := len(r.Columns)
	// A rough count of rows lets the value slice be allocated once.
	r.vals = make([]value, 0, ncol*estimateRows(p.B[p.I:]))
	if p.Consume(']') {
		return nil
	}
	for {
		if !p.Consume('[') {
			return errSyntax
		}
		n := 0
		if !p.Consume(']') {
			for {
				v, err := p.value()
				if err != nil {
					return err
				}
				r.vals = append(r.vals, v)
				n++
				if p.Consume(']') {
					break
				}
				if !p.Consume(',') {
					return errSyntax
				}
			}
		}
		if n != ncol {
			return fmt.Errorf("row %d has %d values for %d columns", r.rows, n, ncol)
		}
		r.rows++
		if p.Consume(']') {
			return nil
		}
		if !p.Consume(',') {
			return errSyntax
		}
	}
}

// estimateRows counts the rows of the rows array whose contents start at b (just after its
// '['): the arrays opened at its top level, up to its closing ']', skipping strings. It reads
// this result's rows only, never the rest of the response, so that decoding a batch of n
// results costs O(n), not O(n²).
func estimateRows(b []byte) int {
	n, depth := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '[':
			if depth == 0 {
				n++
			}
			depth++
		case ']':
			if depth == 0 {
				return max(n, 1)
			}
			depth--
		}
	}
	return max(n, 1)
}

func (p *rowParser) end() error {
	if !p.AtEnd() {
		return errSyntax
	}
	return nil
}

func (p *rowParser) value() (value, error) {
	switch c := p.Peek(); {
	case c == '"':
		s, ok := p.String()
		if !ok {
			return value{}, errSyntax
		}
		return value{kind: kindText, s: s}, nil
	case c == 'n':
		return value{}, p.literal("null")
	case c == 't':
		return value{kind: kindInt, n: 1}, p.literal("true")
	case c == 'f':
		return value{kind: kindInt}, p.literal("false")
	case c == '[':
		return p.blob()
	case c == '{':
		return p.base64Blob()
	}
	return p.number()
}

func (p *rowParser) literal(lit string) error {
	if !p.Literal(lit) {
		return errSyntax
	}
	return nil
}

func (p *rowParser) number() (value, error) {
	tok, isFloat, ok := p.Number()
	if !ok {
		return value{}, errSyntax
	}
	if !isFloat {
		if n, err := strconv.ParseInt(tok, 10, 64); err == nil {
			return value{kind: kindInt, n: uint64(n)}, nil
		}
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return value{}, errSyntax
	}
	return realValue(f), nil
}

// blob reads an array of byte values.
func (p *rowParser) blob() (value, error) {
	p.I++ // '['
	// Each byte takes at least two characters ("0,"), so this bounds the size from above
	// without a second pass; the slice is trimmed to length below.
	end := p.I
	for end < len(p.B) && p.B[end] != ']' {
		end++
	}
	if end >= len(p.B) {
		return value{}, errSyntax
	}
	out := make([]byte, 0, (end-p.I+1)/2)
	for {
		p.WS()
		if p.I < len(p.B) && p.B[p.I] == ']' && len(out) == 0 {
			p.I++
			break
		}
		n, ok := 0, false
		for p.I < len(p.B) && p.B[p.I] >= '0' && p.B[p.I] <= '9' {
			n = n*10 + int(p.B[p.I]-'0')
			ok = true
			p.I++
			if n > 255 {
				return value{}, errors.New("BLOB array holds a value above 255")
			}
		}
		if !ok {
			return value{}, errSyntax
		}
		out = append(out, byte(n))
		if p.Consume(']') {
			break
		}
		if !p.Consume(',') {
			return value{}, errSyntax
		}
	}
	return value{kind: kindBlob, s: unsafe.String(unsafe.SliceData(out), len(out))}, nil
}

// object reads a JSON object, calling fn with each key while p is at the key's value; fn must
// consume the value. An error of fn is returned as it is.
func (p *rowParser) object(fn func(key string) error) error {
	var err error
	if !p.Object(func(key string) bool { err = fn(key); return err == nil }) && err == nil {
		err = errSyntax
	}
	return err
}

// array reads a JSON array, calling fn at each element; fn must consume it. An error of fn
// is returned as it is.
func (p *rowParser) array(fn func() error) error {
	var err error
	if !p.Array(func() bool { err = fn(); return err == nil }) && err == nil {
		err = errSyntax
	}
	return err
}

func (p *rowParser) null() bool {
	p.WS()
	return p.Literal("null")
}

func (p *rowParser) bool(dst *bool) error {
	p.WS()
	if p.Literal("true") {
		*dst = true
		return nil
	}
	*dst = false
	return p.literal("false")
}

// skip consumes one JSON value of any kind, checking its syntax.
func (p *rowParser) skip() error {
	if !p.Skip(maxDepth) {
		return errSyntax
	}
	return nil
}

// decodeJSON decodes the next value with encoding/json, for the small parts of a response.
func (p *rowParser) decodeJSON(dst any) error {
	p.WS()
	start := p.I
	if err := p.skip(); err != nil {
		return err
	}
	return json.Unmarshal(p.B[start:p.I], dst)
}
