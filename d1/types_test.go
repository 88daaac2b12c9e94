package d1

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type myInt int16
type myString string
type myBytes []byte

type valuer struct{ v driver.Value }

func (v valuer) Value() (driver.Value, error) { return v.v, nil }

type badValuer struct{}

func (badValuer) Value() (driver.Value, error) { return nil, errors.New("boom") }

func TestArgsEncoding(t *testing.T) {
	s := "x"
	var nilPtr *int
	ts := time.Date(2026, 11, 22, 10, 30, 0, 500, time.FixedZone("X", 3600))
	cases := []struct {
		name string
		arg  any
		want string
	}{
		{"nil", nil, `null`},
		{"true", true, `1`},
		{"false", false, `0`},
		{"int", 42, `42`},
		{"int8", int8(-8), `-8`},
		{"int16", int16(300), `300`},
		{"int32", int32(-70000), `-70000`},
		{"int64 max exact", int64(1<<53 - 1), `9007199254740991`},
		{"int64 min exact", int64(-(1<<53 - 1)), `-9007199254740991`},
		{"uint", uint(7), `7`},
		{"uint8", uint8(255), `255`},
		{"uint16", uint16(65535), `65535`},
		{"uint32", uint32(4294967295), `4294967295`},
		{"uint64", uint64(1 << 40), `1099511627776`},
		{"uintptr", uintptr(9), `9`},
		{"float64", 2.5, `2.5`},
		{"float64 tiny", 1e-300, `1e-300`},
		{"float32", float32(0.1), `0.1`},
		{"string", "héllo \"q\" \\ \n\t\x01", `"héllo \"q\" \\ \n\t\u0001"`},
		{"empty string", "", `""`},
		{"bytes", []byte{0, 1, 99, 100, 255}, `[0,1,99,100,255]`},
		{"empty bytes", []byte{}, `[]`},
		{"nil bytes", []byte(nil), `null`},
		{"time", ts, `"2026-11-22T09:30:00.0000005Z"`},
		{"valuer", valuer{int64(5)}, `5`},
		{"valuer string", valuer{"v"}, `"v"`},
		{"pointer", &s, `"x"`},
		{"nil pointer", nilPtr, `null`},
		{"named int", myInt(-3), `-3`},
		{"named string", myString("n"), `"n"`},
		{"named bytes", myBytes{1, 2}, `[1,2]`},
		{"sql.NullString valid", sql.NullString{String: "a", Valid: true}, `"a"`},
		{"sql.NullInt64 null", sql.NullInt64{}, `null`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appendArg(nil, tc.arg)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

func TestArgsRefused(t *testing.T) {
	cases := []struct {
		name string
		arg  any
	}{
		{"int64 above 2^53-1", int64(1 << 53)},
		{"int64 below -(2^53-1)", int64(-(1 << 53))},
		{"uint64 above 2^53-1", uint64(math.MaxUint64)},
		{"int max", math.MaxInt},
		{"NaN", math.NaN()},
		{"+Inf", math.Inf(1)},
		{"-Inf float32", float32(math.Inf(-1))},
		{"invalid UTF-8", "a\xffb"},
		{"struct", struct{ A int }{1}},
		{"map", map[string]int{}},
		{"slice of ints", []int{1}},
		{"chan", make(chan int)},
		{"func", func() {}},
		{"complex", complex(1, 2)},
		{"failing valuer", badValuer{}},
		{"valuer returning unsupported", valuer{struct{}{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := appendArg(nil, tc.arg)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrBadArg)
			var ae *ArgError
			require.ErrorAs(t, err, &ae)
			assert.NotEmpty(t, ae.Reason)
		})
	}
}

func TestBadArgsAreNotSent(t *testing.T) {
	f := newFake(t, rawOK([]string{"x"}, `[]`))
	c := f.client(t, Options{})
	_, err := c.Exec(context.Background(), "INSERT INTO t VALUES (?, ?)", 1, math.NaN())
	var ae *ArgError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 0, ae.Statement)
	assert.Equal(t, 1, ae.Index)
	_, err = c.Batch(context.Background(), Statement{SQL: "SELECT 1"}, Statement{SQL: "SELECT ?", Args: []any{uint64(1) << 60}})
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 1, ae.Statement)
	assert.Equal(t, int64(0), f.requests.Load(), "nothing may be sent when an argument is refused")
}

func TestRequestBodyShapes(t *testing.T) {
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request, body []byte) {
		if n == 1 {
			rawOK([]string{"a"}, `[[1]]`)(n, w, r, body)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"result":[{"results":{"columns":[],"rows":[]},"success":true,"meta":{}},{"results":{"columns":[],"rows":[]},"success":true,"meta":{}}],"success":true,"errors":[],"messages":[]}`))
	})
	c := f.client(t, Options{})
	ctx := context.Background()
	_, err := c.Query(ctx, "SELECT ?", "a")
	require.NoError(t, err)
	assert.JSONEq(t, `{"sql":"SELECT ?","params":["a"]}`, f.body(0))
	_, err = c.Batch(ctx, Statement{SQL: "INSERT INTO t VALUES (?)", Args: []any{[]byte{1}}}, Statement{SQL: "DELETE FROM t"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"batch":[{"sql":"INSERT INTO t VALUES (?)","params":[[1]]},{"sql":"DELETE FROM t"}]}`, f.body(1))
	assert.Contains(t, f.paths[0], "/client/v4/accounts/acct/d1/database/db-1/raw")
}

func TestDecodeTypes(t *testing.T) {
	rows := `[[1, -9007199254740993, 2.5, 5, "t\u00e9xt \"q\"\n", "plain", [0,255,7], [], null, true, false, 1e+21, 18446744073709551616]]`
	cols := []string{"i", "big", "r", "r5", "esc", "s", "b", "eb", "n", "t", "f", "e", "huge"}
	f := newFake(t, rawOK(cols, rows))
	c := f.client(t, Options{})
	res, err := c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err)
	require.Equal(t, 1, res.Len())
	assert.Equal(t, cols, res.Columns)
	row := res.Row(0)
	want := []any{int64(1), int64(-9007199254740993), 2.5, int64(5), "téxt \"q\"\n", "plain", []byte{0, 255, 7}, []byte{}, nil, int64(1), int64(0), 1e21, 18446744073709551616.0}
	assert.Equal(t, want, row.Values())
	assert.Equal(t, 500*time.Microsecond, res.Meta.Duration)
	assert.Equal(t, 250*time.Microsecond, res.Meta.SQLDuration)
	assert.True(t, res.Meta.ServedByPrimary)

	var (
		i     int64
		big   int64
		r     float64
		r5    int
		esc   string
		s     myString
		b     []byte
		eb    []byte
		n     *string
		tt    bool
		ff    bool
		e     float64
		huge  float64
		anyV  any
		nullS sql.NullString
	)
	require.NoError(t, row.Scan(&i, &big, &r, &r5, &esc, &s, &b, &eb, &n, &tt, &ff, &e, &huge))
	assert.Equal(t, int64(1), i)
	assert.Equal(t, int64(-9007199254740993), big, "int64s beyond 2^53 decode exactly")
	assert.Equal(t, 2.5, r)
	assert.Equal(t, 5, r5)
	assert.Equal(t, "téxt \"q\"\n", esc)
	assert.Equal(t, myString("plain"), s)
	assert.Equal(t, []byte{0, 255, 7}, b)
	assert.Equal(t, []byte{}, eb)
	assert.Nil(t, n)
	assert.True(t, tt)
	assert.False(t, ff)
	assert.Equal(t, 1e21, e)
	assert.Equal(t, 18446744073709551616.0, huge)
	require.NoError(t, res.Row(0).vals[8].scan(&nullS))
	assert.False(t, nullS.Valid)
	require.NoError(t, res.Row(0).vals[0].scan(&anyV))
	assert.Equal(t, int64(1), anyV)

	// Scanned BLOBs are copies: mutating one does not change the result.
	b[0] = 99
	assert.Equal(t, []byte{0, 255, 7}, res.Row(0).Value(6))
}

func TestScanRefusals(t *testing.T) {
	f := newFake(t, rawOK([]string{"big", "r", "n", "t", "b"}, `[[300, 2.5, null, "abc", [1]]]`))
	c := f.client(t, Options{})
	res, err := c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err)
	row := res.Row(0)
	var i8 int8
	var u8 uint8
	var i int64
	var s string
	var f64 float64
	var tm time.Time
	for name, scan := range map[string]func() error{
		"overflow int8":        func() error { return row.vals[0].scan(&i8) },
		"overflow uint8":       func() error { return row.vals[0].scan(&u8) },
		"fractional into int":  func() error { return row.vals[1].scan(&i) },
		"NULL into string":     func() error { return row.vals[2].scan(&s) },
		"NULL into int":        func() error { return row.vals[2].scan(&i) },
		"text into int":        func() error { return row.vals[3].scan(&i) },
		"text into float":      func() error { return row.vals[3].scan(&f64) },
		"BLOB into int":        func() error { return row.vals[4].scan(&i) },
		"text into time":       func() error { return row.vals[3].scan(&tm) },
		"non-pointer":          func() error { return row.vals[0].scan(i) },
		"wrong number of dest": func() error { return row.Scan(&i) },
	} {
		t.Run(name, func(t *testing.T) {
			err := scan()
			var se *ScanError
			require.ErrorAs(t, err, &se)
		})
	}
}

func TestCollect(t *testing.T) {
	type base struct {
		ID int64
	}
	type note struct {
		base
		Title     string
		CreatedAt time.Time `d1:"created"`
		Body      *string
		Skip      string `d1:"-"`
	}
	f := newFake(t, rawOK([]string{"id", "title", "created", "body"}, `[[1,"a","2026-11-22 10:00:00",null],[2,"b","2026-11-22T10:00:01Z","x"]]`))
	c := f.client(t, Options{})
	ctx := context.Background()
	notes, err := QueryAll[note](ctx, c, "SELECT id, title, created, body FROM notes")
	require.NoError(t, err)
	require.Len(t, notes, 2)
	assert.Equal(t, int64(1), notes[0].ID)
	assert.Equal(t, "a", notes[0].Title)
	assert.Equal(t, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), notes[0].CreatedAt)
	assert.Nil(t, notes[0].Body)
	require.NotNil(t, notes[1].Body)
	assert.Equal(t, "x", *notes[1].Body)

	type partial struct{ ID int64 }
	_, err = QueryAll[partial](ctx, c, "SELECT id, title, created, body FROM notes")
	var se *ScanError
	require.ErrorAs(t, err, &se, "a column without a field is an error")
	assert.Equal(t, "title", se.Name)

	_, err = QueryAll[int64](ctx, c, "SELECT 1")
	require.ErrorAs(t, err, &se, "four columns cannot go into one int64")
}

func TestCollectScalarAndNoRows(t *testing.T) {
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request, body []byte) {
		if n == 1 {
			rawOK([]string{"n"}, `[[3],[4]]`)(n, w, r, body)
		} else {
			rawOK([]string{"n"}, `[]`)(n, w, r, body)
		}
	})
	c := f.client(t, Options{})
	ctx := context.Background()
	ns, err := QueryAll[int](ctx, c, "SELECT n FROM t")
	require.NoError(t, err)
	assert.Equal(t, []int{3, 4}, ns)
	_, err = QueryOne[int](ctx, c, "SELECT n FROM t WHERE 0")
	assert.ErrorIs(t, err, ErrNoRows)
}

func TestDuplicateColumnsKept(t *testing.T) {
	f := newFake(t, rawOK([]string{"id", "id"}, `[[1,2]]`))
	c := f.client(t, Options{})
	res, err := c.Query(context.Background(), "SELECT a.id, b.id FROM a, b")
	require.NoError(t, err)
	assert.Equal(t, []string{"id", "id"}, res.Columns)
	assert.Equal(t, []any{int64(1), int64(2)}, res.Row(0).Values())
}
