package d1

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeRaw feeds arbitrary bodies to the /raw decoder: it must never panic, and whatever
// it accepts must be internally consistent.
func FuzzDecodeRaw(f *testing.F) {
	raw, _ := benchBodies(3)
	f.Add(raw)
	f.Add([]byte(`{"result":[{"results":{"columns":["a","b"],"rows":[[1,"x\u0000\"y"],[null,[0,255]]]},"success":true,"meta":{"changes":1}}],"success":true,"errors":[],"messages":[]}`))
	f.Add([]byte(`{"result":null,"success":false,"errors":[{"code":7500,"message":"no such table: t: SQLITE_ERROR"}],"messages":[]}`))
	f.Add([]byte(`{"success":true,"result":[{"meta":{},"results":{"rows":[[1e400,-0.0,18446744073709551616]],"columns":["a","b","c"]}}]}`))
	f.Add([]byte(`{"result":[{"results":{"columns":[],"rows":[]},"success":true}],"success":true}`))
	f.Add([]byte(`{"result":[{"results":{"columns":["a","b"],"rows":[[{"base64":"AAH7/w=="},{"base64":""}]]},"success":true}],"success":true}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, results, err := decodeRaw(body)
		if err != nil {
			return
		}
		if !env.Success {
			if results != nil {
				t.Fatalf("results returned for an unsuccessful envelope")
			}
			return
		}
		if len(results) != len(env.Result) {
			t.Fatalf("%d results for %d items", len(results), len(env.Result))
		}
		for _, r := range results {
			if len(r.vals) != r.rows*len(r.Columns) {
				t.Fatalf("%d values for %d rows of %d columns", len(r.vals), r.rows, len(r.Columns))
			}
			for _, row := range r.All() {
				for j := range row.Len() {
					var a any
					if err := row.vals[j].scan(&a); err != nil {
						t.Fatalf("scan into *any failed: %v", err)
					}
				}
			}
		}
	})
}

// TestDecodeRawDeepNesting: a response nested millions deep (whoever answers the client can
// send one) is a decoding error, not a crash. The decoder used to follow it down the stack
// until the runtime killed the process ("goroutine stack exceeds 1000000000-byte limit").
func TestDecodeRawDeepNesting(t *testing.T) {
	for _, body := range []string{
		`{"errors":` + strings.Repeat("[", 10_000_000) + `}`,
		`{"result":[{"meta":` + strings.Repeat(`{"a":`, 2_000_000) + `}]}`,
		`{"other":` + strings.Repeat("[", 10_000_000) + `}`,
	} {
		_, _, err := decodeRaw([]byte(body))
		assert.ErrorContains(t, err, "decode response")
	}
	// The control: the same shapes, shallow, decode.
	env, _, err := decodeRaw([]byte(`{"errors":[],"other":[[[1]]],"success":true,"result":[]}`))
	require.NoError(t, err)
	assert.True(t, env.Success)
}
