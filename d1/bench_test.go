package d1

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	cfd1 "github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/stretchr/testify/require"
)

// staticTransport answers every request with the same body, from memory, so that benchmarks
// measure the client and not a network.
type staticTransport struct{ body []byte }

func (s staticTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: 200, Status: "200 OK", Request: r, ContentLength: int64(len(s.body)),
		Header: http.Header{"Content-Type": []string{"application/json"}},
		Body:   io.NopCloser(bytes.NewReader(s.body)),
	}, nil
}

// benchBodies returns a 1,000-row /raw response (INTEGER ids past 2^53, TEXT, 64-byte BLOBs,
// REAL) and the same rows as a /query response.
func benchBodies(rows int) (raw, query []byte) {
	var rb, qb strings.Builder
	meta := `"meta":{"served_by":"v3-prod","served_by_region":"WEUR","served_by_primary":true,"timings":{"sql_duration_ms":0.31},"duration":0.31,"changes":0,"last_row_id":0,"changed_db":false,"size_after":1245184,"rows_read":1000,"rows_written":0}`
	rb.WriteString(`{"result":[{"results":{"columns":["id","name","data","score"],"rows":[`)
	qb.WriteString(`{"result":[{"results":[`)
	blob := make([]byte, 64)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	blobJSON := string(appendBlob(nil, blob))
	for i := range rows {
		if i > 0 {
			rb.WriteByte(',')
			qb.WriteByte(',')
		}
		id := strconv.FormatInt(1<<53+int64(i)*3, 10)
		name := fmt.Sprintf(`"agent.memory.note/%06d"`, i)
		score := strconv.FormatFloat(float64(i)/7, 'g', -1, 64)
		fmt.Fprintf(&rb, `[%s,%s,%s,%s]`, id, name, blobJSON, score)
		fmt.Fprintf(&qb, `{"id":%s,"name":%s,"data":%s,"score":%s}`, id, name, blobJSON, score)
	}
	rb.WriteString(`]},"success":true,` + meta + `}],"success":true,"errors":[],"messages":[]}`)
	qb.WriteString(`],"success":true,` + meta + `}],"success":true,"errors":[],"messages":[]}`)
	return []byte(rb.String()), []byte(qb.String())
}

func benchClient(b testing.TB, body []byte) *Client {
	acct, err := NewAccount("acct", "tok", Options{
		BaseURL:    "http://d1.invalid/client/v4",
		HTTPClient: &http.Client{Transport: staticTransport{body}},
		RateLimit:  RateLimit{Disabled: true},
	})
	require.NoError(b, err)
	c := acct.Database("db")
	return c
}

func benchCF(body []byte) *cfd1.DatabaseService {
	return cfd1.NewDatabaseService(
		option.WithBaseURL("http://d1.invalid/client/v4"),
		option.WithAPIToken("tok"),
		option.WithHTTPClient(&http.Client{Transport: staticTransport{body}}),
		option.WithMaxRetries(0),
	)
}

func TestBenchBodiesAgree(t *testing.T) {
	raw, query := benchBodies(1000)
	res, err := benchClient(t, raw).Query(context.Background(), "SELECT id, name, data, score FROM t")
	require.NoError(t, err)
	require.Equal(t, 1000, res.Len())
	var id int64
	var name string
	var data []byte
	var score float64
	require.NoError(t, res.Row(999).Scan(&id, &name, &data, &score))
	require.Equal(t, int64(1<<53+999*3), id, "exact int64")
	require.Equal(t, "agent.memory.note/000999", name)
	require.Len(t, data, 64)

	// cloudflare-go decodes the same ids as float64 and loses them.
	var p cfd1.DatabaseQueryParams
	setField(&p.AccountID.Value, &p.AccountID.Present, "acct")
	p.Body = cfd1.DatabaseQueryParamsBody{}
	page, err := benchCF(query).Query(context.Background(), "db", p)
	require.NoError(t, err)
	row := page.Result[0].Results[999].(map[string]any)
	require.IsType(t, float64(0), row["id"])
	require.NotEqual(t, id, int64(row["id"].(float64)), "cloudflare-go rounds odd integers past 2^53")
}

// BenchmarkDecodeRaw1000 compares a 1,000-row /raw response through this client's Query with
// cloudflare-go v7's d1 Raw (same body) and Query (the same rows as a /query body). Each
// iteration is a whole client call over an in-memory transport.
func BenchmarkDecodeRaw1000(b *testing.B) {
	raw, query := benchBodies(1000)
	ctx := context.Background()
	b.Run("d1seal/Query", func(b *testing.B) {
		c := benchClient(b, raw)
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Query(ctx, "SELECT id, name, data, score FROM t"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cloudflare-go/Raw", func(b *testing.B) {
		svc := benchCF(raw)
		var p cfd1.DatabaseRawParams
		setField(&p.AccountID.Value, &p.AccountID.Present, "acct")
		p.Body = cfd1.DatabaseRawParamsBody{}
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := svc.Raw(ctx, "db", p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cloudflare-go/Query", func(b *testing.B) {
		svc := benchCF(query)
		var p cfd1.DatabaseQueryParams
		setField(&p.AccountID.Value, &p.AccountID.Present, "acct")
		p.Body = cfd1.DatabaseQueryParamsBody{}
		b.SetBytes(int64(len(query)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := svc.Query(ctx, "db", p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeArgs measures building a request body of 50 statements of 5 arguments each,
// with 1 KiB BLOBs.
func BenchmarkEncodeArgs(b *testing.B) {
	c := benchClient(b, nil)
	blob := bytes.Repeat([]byte{0xA5}, 1024)
	stmts := make([]Statement, 50)
	for i := range stmts {
		stmts[i] = Statement{SQL: "INSERT INTO records (id, did, collection, ciphertext, created_at) VALUES (?, ?, ?, ?, ?)",
			Args: []any{fmt.Sprint("id", i), "did:plc:abc", "agent.memory.note", blob, int64(i)}}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.encode(stmts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlobTransport compares the ways a 1 KiB BLOB (a sealed record's ciphertext) can
// travel: as a JSON array of byte values (REST's form), as hex text through unhex(?) / hex(),
// and as the bridge's {"base64": …}. Each reports the bytes it puts on the wire per BLOB.
func BenchmarkBlobTransport(b *testing.B) {
	blob := make([]byte, 1024)
	for i := range blob {
		blob[i] = byte(i*131 + 7) // every byte value, evenly
	}
	arr := appendBlob(nil, blob)
	hexed := appendHex(nil, Hex(blob))
	b64 := appendBase64(nil, blob)
	rawBody := func(cell []byte) []byte {
		var rows []string
		for range 100 {
			rows = append(rows, "["+string(cell)+"]")
		}
		return []byte(`{"result":[{"results":{"columns":["c"],"rows":[` + strings.Join(rows, ",") + `]},"success":true,"meta":{}}],"success":true,"errors":[],"messages":[]}`)
	}
	b.Run("encode/json-array", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 8192)
		for b.Loop() {
			buf = appendBlob(buf[:0], blob)
		}
		b.ReportMetric(float64(len(arr)), "wire-bytes/blob")
	})
	b.Run("encode/hex", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 8192)
		for b.Loop() {
			buf = appendHex(buf[:0], Hex(blob))
		}
		b.ReportMetric(float64(len(hexed)), "wire-bytes/blob")
	})
	b.Run("encode/base64", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 8192)
		for b.Loop() {
			buf = appendBase64(buf[:0], blob)
		}
		b.ReportMetric(float64(len(b64)), "wire-bytes/blob")
	})
	for _, tc := range []struct {
		name string
		body []byte
		scan func(Row) error
	}{
		{"decode/json-array", rawBody(arr), func(r Row) error { var v []byte; return r.Scan(&v) }},
		{"decode/hex", rawBody(hexed), func(r Row) error { var v Hex; return r.Scan(&v) }},
		{"decode/base64", rawBody(b64), func(r Row) error { var v []byte; return r.Scan(&v) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			for b.Loop() {
				_, rs, err := decodeRaw(tc.body)
				if err != nil {
					b.Fatal(err)
				}
				for _, row := range rs[0].All() {
					if err := tc.scan(row); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(len(tc.body))/100, "wire-bytes/blob")
		})
	}
}

// batchBody returns a /raw response of n results, each an INSERT's: no rows, full meta.
func batchBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"result":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"results":{"columns":[],"rows":[]},"success":true,"meta":{"served_by":"v3-prod","duration":0.05,"changes":7,"last_row_id":%d,"changed_db":true,"size_after":1245184,"rows_read":0,"rows_written":7}}`, i*7)
	}
	b.WriteString(`],"success":true,"errors":[],"messages":[]}`)
	return []byte(b.String())
}

// BenchmarkDecodeBatch decodes batch responses of 10 to 5,000 results: the cost per
// statement must stay flat (it grew with n while each result's row count was estimated by
// scanning the rest of the body).
func BenchmarkDecodeBatch(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 5000} {
		body := batchBody(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, rs, err := decodeRaw(body); err != nil || len(rs) != n {
					b.Fatal(err, len(rs))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/statement")
		})
	}
}
