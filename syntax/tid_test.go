package syntax

import (
	"cmp"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTIDVectors(t *testing.T) {
	for _, s := range readVectors(t, "tid_syntax_valid.txt") {
		got, err := ParseTID(s)
		if assert.NoError(t, err, "ParseTID(%q): want valid", s) {
			assert.Equal(t, s, got.String(), "ParseTID(%q).String()", s)
		}
	}
	for _, s := range readVectors(t, "tid_syntax_invalid.txt") {
		_, err := ParseTID(s)
		assert.ErrorIs(t, err, ErrSyntax, "ParseTID(%q): want ErrSyntax", s)
	}
}

func TestParseTIDErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "length is 0, want 13"},
		{"222", "length is 3, want 13"},
		{"3jzfcijpj2z21", `character '1' at offset 12`},
		{"3JZFCIJPJ2Z2A", `character 'J' at offset 1`},
		{"kjzfcijpj2z2a", `first character 'k' is past 'j'`},
		{strings.Repeat("2", 100), `"` + strings.Repeat("2", 64) + `..."`},
	}
	for _, tt := range tests {
		_, err := ParseTID(tt.in)
		require.ErrorIs(t, err, ErrSyntax, "ParseTID(%q)", tt.in)
		assert.Contains(t, err.Error(), tt.want, "ParseTID(%q) error", tt.in)
	}
}

func TestTIDKnownAnswers(t *testing.T) {
	tests := []struct {
		v    uint64
		want TID
	}{
		{0, "2222222222222"},
		{0x0102030405060708, "242k52k4kg3sc"},
		{1<<63 - 1, "bzzzzzzzzzzzz"},
		{1, "2222222222223"},
		{32, "2222222222232"},
	}
	for _, tt := range tests {
		got, err := NewTIDFromInteger(tt.v)
		require.NoError(t, err, "NewTIDFromInteger(%#x)", tt.v)
		assert.Equal(t, tt.want, got, "NewTIDFromInteger(%#x)", tt.v)
		assert.Equal(t, tt.v, tt.want.Integer(), "%q.Integer()", tt.want)
	}
}

func TestTIDFromIntegerTopBit(t *testing.T) {
	for _, v := range []uint64{1 << 63, 1<<64 - 1} {
		_, err := NewTIDFromInteger(v)
		assert.Error(t, err, "NewTIDFromInteger(%#x): want error", v)
	}
	// Parse accepts what the spec's syntax accepts, top bit included.
	got, err := ParseTID("jzzzzzzzzzzzz")
	require.NoError(t, err)
	assert.Equal(t, uint64(1<<64-1), got.Integer(), "Integer() of the largest TID")
}

func TestNewTIDRoundTrip(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	got, err := NewTID(at, 1023)
	require.NoError(t, err)
	assert.Equal(t, at.Truncate(time.Microsecond), got.Time(), "Time()")
	assert.Equal(t, uint16(1023), got.ClockID(), "ClockID()")
	assert.Equal(t, uint64(at.UnixMicro())<<10|1023, got.Integer(), "Integer()")
	assert.Contains(t, "234567ab", got.String()[:1], "first character")

	epoch, err := NewTID(time.Unix(0, 0), 0)
	require.NoError(t, err)
	assert.Equal(t, TID("2222222222222"), epoch, "NewTID(epoch, 0)")

	last, err := NewTID(time.UnixMicro(maxMicros), maxClockID)
	require.NoError(t, err)
	assert.Equal(t, TID("bzzzzzzzzzzzz"), last, "NewTID(end of range, maxClockID)")
}

func TestNewTIDRange(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		id   uint16
		want string
	}{
		{"before epoch", time.Unix(-1, 0), 0, "outside 1970 to 2255"},
		{"past 2^53 µs", time.UnixMicro(maxMicros + 1), 0, "outside 1970 to 2255"},
		{"clock id", time.Unix(0, 0), maxClockID + 1, "clock id 1024 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTID(tt.at, tt.id)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestInvalidTIDsDecodeToZero(t *testing.T) {
	for _, s := range []TID{"", "222", "0000000000000"} {
		assert.Zero(t, s.Integer(), "%q.Integer()", s)
		assert.Zero(t, s.ClockID(), "%q.ClockID()", s)
		assert.Equal(t, time.Unix(0, 0).UTC(), s.Time(), "%q.Time()", s)
	}
}

// TestStringOrderIsIntegerOrder checks the property that makes TIDs usable as sort keys.
func TestTIDStringOrderIsIntegerOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		a, b := r.Uint64()>>1, r.Uint64()>>1
		if r.IntN(4) == 0 {
			b = a ^ 1<<r.IntN(63) // close neighbours: one bit apart
		}
		ta, err := NewTIDFromInteger(a)
		require.NoError(t, err)
		tb, err := NewTIDFromInteger(b)
		require.NoError(t, err)
		require.Equal(t, cmp.Compare(a, b), cmp.Compare(ta, tb), "order of %#x (%s) and %#x (%s)", a, ta, b, tb)
	}
}

func TestParseTIDRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		v := r.Uint64() >> 1
		want, err := NewTIDFromInteger(v)
		require.NoError(t, err)
		got, err := ParseTID(want.String())
		require.NoError(t, err, "ParseTID(%q)", want)
		require.Equal(t, want, got, "ParseTID(%q)", want)
		require.Equal(t, v, got.Integer(), "ParseTID(%q).Integer()", want)
		back, err := NewTID(got.Time(), got.ClockID())
		require.NoError(t, err)
		require.Equal(t, want, back, "NewTID(Time(), ClockID()) of %q", want)
	}
}

func TestTIDText(t *testing.T) {
	type doc struct {
		Key TID `json:"key"`
	}
	b, err := json.Marshal(doc{Key: "3jzfcijpj2z2a"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"key":"3jzfcijpj2z2a"}`, string(b))

	var got doc
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, TID("3jzfcijpj2z2a"), got.Key)

	err = json.Unmarshal([]byte(`{"key":"3jzfcijpj2z21"}`), &got)
	assert.ErrorIs(t, err, ErrSyntax, "UnmarshalText of an invalid TID")
	assert.Equal(t, TID("3jzfcijpj2z2a"), got.Key, "UnmarshalText must not change the value on error")
}

func BenchmarkParseTID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTID("3jzfcijpj2z2a"); err != nil {
			b.Fatal(err)
		}
	}
}
