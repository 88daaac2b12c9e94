package d1local

import (
	"bytes"
	"testing"
)

func TestByteArrayFastPath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
		ok   bool
	}{
		{"[]", []byte{}, true},
		{"[ ]", []byte{}, true},
		{"[0]", []byte{0}, true},
		{"[0,1,255]", []byte{0, 1, 255}, true},
		{"[ 7 , 8 ]", []byte{7, 8}, true},
		{"[256]", nil, false},
		{"[01]", nil, false},
		{"[1,,2]", nil, false},
		{"[1,]", nil, false},
		{"[,1]", nil, false},
		{"[1.5]", nil, false},
		{"[-1]", nil, false},
		{"[[1]]", nil, false},
		{`["a"]`, nil, false},
	} {
		got, ok := byteArray([]byte(tc.in))
		if ok != tc.ok || ok && !bytes.Equal(got, tc.want) {
			t.Errorf("byteArray(%s) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
