package d1_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/d1seal/d1seal/d1"
)

// fixedAnswer answers every request with one status, Retry-After and body.
type fixedAnswer struct {
	status     int
	retryAfter string
	body       []byte
}

func (a fixedAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if a.retryAfter != "" {
		h.Set("Retry-After", a.retryAfter)
	}
	return &http.Response{StatusCode: a.status, Header: h, Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

// FuzzResponse answers a client's query with an arbitrary status, Retry-After header and body,
// the whole of what D1 or anything pretending to be it can send back: the client never panics
// or waits past its deadline, fails only with a *d1.Error, and the rows it accepts scan into
// every destination without panicking.
func FuzzResponse(f *testing.F) {
	f.Add(uint16(200), "", []byte(`{"result":[{"results":{"columns":["a","b"],"rows":[[1,"2026-01-02 03:04:05"]]},"success":true,"meta":{"changes":1}}],"success":true,"errors":[]}`))
	f.Add(uint16(400), "", []byte(`{"result":null,"success":false,"errors":[{"code":7500,"message":"D1_ERROR: UNIQUE constraint failed: t.a: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)"}]}`))
	f.Add(uint16(429), "99999999999", []byte(`{"success":false,"errors":[{"code":971,"message":"Please wait"}]}`))
	f.Add(uint16(503), "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`<html>`))
	f.Add(uint16(200), "-1", []byte(`{"result":[{"results":{"columns":["a"],"rows":[[[0,255,256]]]},"success":true}],"success":true}`))
	f.Add(uint16(302), "", []byte{})
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			status = 200
		}
		acct, err := d1.NewAccount("acct", "tok", d1.Options{
			BaseURL:    "http://fuzz.invalid/client/v4",
			HTTPClient: &http.Client{Transport: fixedAnswer{int(status), retryAfter, body}},
			RateLimit:  d1.RateLimit{Disabled: true},
			Retry:      d1.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond},
		})
		if err != nil {
			t.Fatal(err)
		}
		c := acct.Database("db")
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		r, err := c.Query(ctx, "SELECT a, b FROM t")
		if err != nil {
			var de *d1.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v, want a *d1.Error", err, err)
			}
			return
		}
		for _, row := range r.All() {
			for j := range row.Len() {
				var (
					a  any
					i  int64
					s  string
					b  []byte
					fl float64
					tm time.Time
					p  *string
				)
				for _, dst := range []any{&a, &i, &s, &b, &fl, &tm, &p} {
					dests := make([]any, row.Len())
					for k := range dests {
						dests[k] = new(any)
					}
					dests[j] = dst
					_ = row.Scan(dests...)
				}
			}
		}
	})
}
