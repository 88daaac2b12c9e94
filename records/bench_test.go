package records_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

// kib returns a note whose body is about 1 KiB of text.
func kib(i int) note {
	b := make([]byte, 760)
	rand.Read(b)
	return note{Title: fmt.Sprint("note ", i), Body: base64.StdEncoding.EncodeToString(b)}
}

func benchEnv(b *testing.B) (*env, *records.Collection[note]) {
	e := newEnv(b, d1local.Options{})
	c := notes(b, e, e.agent(b, "did:plc:bench"))
	_, err := c.Create(context.Background(), kib(0)) // schema, registration checks
	require.NoError(b, err)
	return e, c
}

func requestsPer(b *testing.B, e *env, start int64, per int) {
	b.ReportMetric(float64(e.srv.Requests()-start)/float64(b.N*per), "requests/op")
}

func BenchmarkCreate(b *testing.B) {
	e, c := benchEnv(b)
	ctx := context.Background()
	v := kib(1)
	start := e.srv.Requests()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Create(ctx, v); err != nil {
			b.Fatal(err)
		}
	}
	requestsPer(b, e, start, 1)
}

func BenchmarkGet(b *testing.B) {
	e, c := benchEnv(b)
	ctx := context.Background()
	r, err := c.Create(ctx, kib(1))
	require.NoError(b, err)
	start := e.srv.Requests()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get(ctx, r.Ref.RKey); err != nil {
			b.Fatal(err)
		}
	}
	requestsPer(b, e, start, 1)
}

// BenchmarkListOpen1000 lists and opens 1,000 records, 1,000 per page.
func BenchmarkListOpen1000(b *testing.B) {
	e, c := benchEnv(b)
	ctx := context.Background()
	vals := make([]note, 999)
	for i := range vals {
		vals[i] = kib(i)
	}
	_, err := c.CreateMany(ctx, vals)
	require.NoError(b, err)
	start := e.srv.Requests()
	b.ReportAllocs()
	for b.Loop() {
		p, err := c.List(ctx, records.ListOptions{Limit: 1000})
		if err != nil || len(p.Items) != 1000 {
			b.Fatal(err, len(p.Items))
		}
	}
	requestsPer(b, e, start, 1)
}

// BenchmarkCreateMany10000 writes 10,000 sealed 1 KiB records per iteration and reports the
// requests it took beside the floor D1's limits allow.
func BenchmarkCreateMany10000(b *testing.B) {
	e, c := benchEnv(b)
	ctx := context.Background()
	vals := make([]note, 10_000)
	for i := range vals {
		vals[i] = kib(i)
	}
	start := e.srv.Requests()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.CreateMany(ctx, vals); err != nil {
			b.Fatal(err)
		}
	}
	lim := e.db.Limits()
	perRequest := lim.MaxStatements * (lim.MaxParams / 13)
	b.ReportMetric(float64(e.srv.Requests()-start)/float64(b.N), "requests/op")
	b.ReportMetric(float64((len(vals)+perRequest-1)/perRequest), "floor-requests/op")
}
