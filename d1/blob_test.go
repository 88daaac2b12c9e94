package d1

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCompactBlobArgs: a compact client sends []byte (and named byte slices, and pointers to
// them) as {"base64": …}; Hex stays hex text for unhex(?), and REST's form is unchanged.
func TestCompactBlobArgs(t *testing.T) {
	type raw []byte
	b := []byte{0, 1, 0xfb, 0xff}
	for _, tc := range []struct {
		arg           any
		rest, compact string
	}{
		{b, `[0,1,251,255]`, `{"base64":"AAH7/w=="}`},
		{[]byte{}, `[]`, `{"base64":""}`},
		{[]byte(nil), `null`, `null`},
		{raw(b), `[0,1,251,255]`, `{"base64":"AAH7/w=="}`},
		{&b, `[0,1,251,255]`, `{"base64":"AAH7/w=="}`},
		{Hex(b), `"0001fbff"`, `"0001fbff"`},
		{"text", `"text"`, `"text"`},
	} {
		got, err := encodeArg(nil, tc.arg, false)
		require.NoError(t, err)
		assert.Equal(t, tc.rest, string(got), "REST form of %T", tc.arg)
		got, err = encodeArg(nil, tc.arg, true)
		require.NoError(t, err)
		assert.Equal(t, tc.compact, string(got), "compact form of %T", tc.arg)
	}
}

// TestBase64Cells: the decoder reads the bridge's {"base64": …} BLOB cells beside REST's
// arrays, and refuses anything else shaped as an object.
func TestBase64Cells(t *testing.T) {
	body := func(cell string) []byte {
		return []byte(`{"result":[{"results":{"columns":["b"],"rows":[[` + cell + `]]},"success":true,"meta":{}}],"success":true,"errors":[]}`)
	}
	for _, tc := range []struct {
		cell string
		want []byte
	}{
		{`{"base64":"AAH7/w=="}`, []byte{0, 1, 0xfb, 0xff}},
		{`{ "base64" : "AAH7/w==" }`, []byte{0, 1, 0xfb, 0xff}},
		{`{"base64":""}`, []byte{}},
		{`[0,1,251,255]`, []byte{0, 1, 0xfb, 0xff}},
	} {
		_, rs, err := decodeRaw(body(tc.cell))
		require.NoError(t, err, "cell %s", tc.cell)
		var got []byte
		require.NoError(t, rs[0].Row(0).Scan(&got))
		assert.Equal(t, tc.want, got, "cell %s", tc.cell)
		assert.Equal(t, tc.want, rs[0].Row(0).Values()[0], "cell %s is a BLOB", tc.cell)
	}
	for _, cell := range []string{
		`{}`, `{"hex":"00"}`, `{"base64":"AA==","x":1}`, `{"base64":"AA==","base64":"AA=="}`,
		`{"base64":"AA"}`, `{"base64":"AB=="}`, `{"base64":"-_8="}`, `{"base64":"AA\u003d="}`,
		`{"base64":1}`, `{"base64":null}`, `{"base64":"AA==`, `{"base64"`,
	} {
		_, _, err := decodeRaw(body(cell))
		assert.Error(t, err, "cell %s", cell)
	}
}
