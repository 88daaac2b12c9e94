package d1local

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/d1seal/d1seal/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowQuery is how bodies were read before parseQuery: encoding/json alone.
func slowQuery(body []byte) (*wire.QueryRequest, bool) {
	var req wire.QueryRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if dec.Decode(&req) != nil || dec.More() {
		return nil, false
	}
	return &req, true
}

// sameRequest compares what two decoders produced, as parseStatements uses it.
func sameRequest(t *testing.T, body []byte, fast, slow *wire.QueryRequest) {
	t.Helper()
	norm := func(r *wire.QueryRequest) string {
		b, err := json.Marshal(r)
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, norm(slow), norm(fast), "body %q", body)
	require.Equal(t, len(slow.Params), len(fast.Params), "body %q", body)
	require.Equal(t, len(slow.Batch), len(fast.Batch), "body %q", body)
	for i := range slow.Params {
		assert.Equal(t, string(slow.Params[i]), string(fast.Params[i]), "body %q, param %d", body, i)
	}
	for i := range slow.Batch {
		require.Equal(t, len(slow.Batch[i].Params), len(fast.Batch[i].Params), "body %q", body)
		for j := range slow.Batch[i].Params {
			assert.Equal(t, string(slow.Batch[i].Params[j]), string(fast.Batch[i].Params[j]), "body %q, statement %d, param %d", body, i, j)
		}
	}
}

var parseQueryCases = []string{
	`{"sql":"SELECT 1"}`,
	` { "sql" : "SELECT ?, ?" , "params" : [ 1.5 , [0, 255], "x", true, false, null, -0, 1e10, 2E-3 ] } `,
	`{"batch":[{"sql":"INSERT INTO t VALUES (?)","params":[[1,2,3]]},{"sql":"SELECT 1"}, {"params":[]}]}`,
	`{"sql":"caf\u00e9 \"q\" \\ \/ \n","params":["\ud83d\ude00", "é", {"a":[1,{"b":null}]}]}`,
	`{"sql":"x\xff\xfe"}`,
	`{"SQL":"SELECT 1"}`,
	`{"sql":"a","sql":"b"}`,
	`{"sql":null}`,
	`{"sql":"SELECT 1","other":1}`,
	`{"s\u0071l":"SELECT 1"}`,
	`{"batch":[]}`,
	`{"params":[]}`,
	`{}`,
	`{"sql":"SELECT 1"} x`,
	`{"sql":"SELECT 1"}{}`,
	`{"sql":"SELECT 1",}`,
	`{"sql":5}`,
	`{"params":[01]}`,
	`{"params":[1.]}`,
	`{"params":[-]}`,
	`{"params":[tru]}`,
	`{"params":["\x01"]}`,
	`{"params":["\u12"]}`,
	`{"batch":[5]}`,
	`{"batch":[{"sql":"a"},]}`,
	`{"params":[[0,01]]}`,
	`{"params":[[1 2]]}`,
	`{"params":[[1,]]}`,
	`{"params":[[,1]]}`,
	`{"params":[[ ]]}`,
	`{"params":[[00]]}`,
	`{"params":[[0 ] , [10, 0,255 ], [7
]]}`,
	`{"params":[[1,2`,
	`[]`,
	``,
	`{"sql":"` + strings.Repeat("[", 10) + `"}`,
	`{"params":[` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `]}`,
}

// TestParseQueryMatchesEncodingJSON: wherever parseQuery reads a body, it reads what
// encoding/json reads; where encoding/json refuses one, parseQuery never accepts it.
func TestParseQueryMatchesEncodingJSON(t *testing.T) {
	taken := 0
	for _, c := range parseQueryCases {
		checkParseQuery(t, []byte(c))
		if _, ok := parseQuery([]byte(c)); ok {
			taken++
		}
	}
	assert.GreaterOrEqual(t, taken, 8, "parseQuery should take the common shapes")
	for _, c := range []string{`{"sql":"SELECT 1"}`, `{"batch":[{"sql":"INSERT INTO t VALUES (?)","params":[[1,2,3]]}]}`} {
		_, ok := parseQuery([]byte(c))
		assert.True(t, ok, "parseQuery should take %s", c)
	}
}

func checkParseQuery(t *testing.T, body []byte) {
	t.Helper()
	fast, fok := parseQuery(body)
	slow, sok := slowQuery(body)
	if !fok {
		return // encoding/json decides
	}
	require.True(t, sok, "parseQuery took a body encoding/json refuses: %q", body)
	sameRequest(t, body, fast, slow)
}

func FuzzParseQuery(f *testing.F) {
	for _, c := range parseQueryCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkParseQuery(t, body)
	})
}
