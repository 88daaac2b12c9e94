package records_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/d1test"
	"github.com/d1seal/d1seal/records"
)

// wireRecorder keeps the bodies of the statement requests (/raw) and their responses.
type wireRecorder struct {
	next http.RoundTripper

	mu        sync.Mutex
	off       bool
	sent, got []string
}

func (r *wireRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	res, err := r.next.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/raw") {
		return res, err
	}
	answer, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(answer))
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.off {
		r.sent, r.got = append(r.sent, string(body)), append(r.got, string(answer))
	}
	return res, nil
}

func (r *wireRecorder) stop() (sent, got []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.off = true
	return r.sent, r.got
}

// blobWorkload exercises every BLOB column records writes and reads: agents and their key
// log, sealed records shared with another agent (grants), updates, listing, search beacons and
// shared index keys, key rotation, and events.
func blobWorkload(t *testing.T, db *d1.Client) {
	t.Helper()
	ctx := context.Background()
	e := &env{db: db, store: records.NewStore(db, records.StoreOptions{})}
	alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
	ca, cb := indexedNotes(t, e, alice), indexedNotes(t, e, bob)
	r, err := ca.Create(ctx, note{Title: "first", Body: strings.Repeat("remember the milk ", 40), Tags: []string{"q3"}})
	require.NoError(t, err)
	require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"))
	got, err := ca.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	got.Value.Body = "remember the oat milk"
	_, err = ca.Update(ctx, got)
	require.NoError(t, err)
	_, err = ca.CreateMany(ctx, []note{{Title: "a", Tags: []string{"q4"}}, {Title: "b"}})
	require.NoError(t, err)
	page, err := ca.List(ctx, records.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, page.Items, 3, "alice lists her records")
	found, err := ca.Find(ctx, "tags", []string{"q3"}, records.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{string(r.Ref.RKey)}, keys(found.Items), "Find by a beacon")
	require.NoError(t, ca.ShareIndex(ctx, "tags", "did:plc:bob"))
	shared, err := cb.FindShared(ctx, "did:plc:alice", "tags", []string{"q3"}, records.ListOptions{})
	require.NoError(t, err)
	require.Len(t, shared.Items, 1, "bob finds what alice shared")
	assert.Equal(t, "remember the oat milk", shared.Items[0].Value.Body)
	mine, err := cb.SharedWithMe(ctx, records.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, mine.Items, 1)
	_, err = e.store.RecordEvent(ctx, alice, records.Event{Agent: "did:plc:alice", Type: "tool.call", Outcome: "ok", Timestamp: time.Now()})
	require.NoError(t, err)
	_, err = e.store.VerifyEvents(ctx, "did:plc:alice")
	require.NoError(t, err)
}

// sentBlobs returns every {"base64": …} parameter of the request bodies, decoded.
func sentBlobs(t *testing.T, bodies []string) [][]byte {
	t.Helper()
	type stmt struct {
		Params []json.RawMessage `json:"params"`
	}
	var out [][]byte
	for _, b := range bodies {
		var req struct {
			stmt
			Batch []stmt `json:"batch"`
		}
		require.NoError(t, json.Unmarshal([]byte(b), &req))
		for _, st := range append(req.Batch, req.stmt) {
			for _, p := range st.Params {
				var v struct {
					Base64 *string `json:"base64"`
				}
				if json.Unmarshal(p, &v) != nil || v.Base64 == nil {
					continue
				}
				raw, err := base64.StdEncoding.DecodeString(*v.Base64)
				require.NoError(t, err)
				out = append(out, raw)
			}
		}
	}
	return out
}

// TestBridgeBlobsTravelAsBase64: through the bridge on workerd, records binds every BLOB as a
// {"base64": …} parameter (no unhex(?), no hex(), no BLOB as hex text in any request) and
// reads them back as {"base64": …} cells, and the stored ciphertexts are the bytes sent, byte
// for byte.
func TestBridgeBlobsTravelAsBase64(t *testing.T) {
	w := d1test.StartWorkerd(t)
	rec := &wireRecorder{next: http.DefaultTransport}
	db := w.Client(t, w.Acquire(t), d1.BridgeOptions{}, d1.Options{HTTPClient: &http.Client{Transport: rec}})
	require.True(t, db.CompactBlobs())
	blobWorkload(t, db)
	sent, got := rec.stop()

	all := strings.Join(sent, "\n")
	assert.False(t, strings.Contains(all, "unhex("), "no unhex(?) on the bridge")
	assert.False(t, strings.Contains(strings.ToLower(all), "hex("), "no hex() on the bridge")
	blobs := sentBlobs(t, sent)
	require.NotEmpty(t, blobs)
	for _, b := range blobs {
		if len(b) >= 8 {
			for _, h := range []string{hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b))} {
				require.False(t, strings.Contains(all, h), "a %d-byte BLOB went as hex text", len(b))
			}
		}
	}
	assert.True(t, strings.Contains(strings.Join(got, "\n"), `{"base64":"`), "BLOB results come back as base64")

	// The stored ciphertexts, read as SQLite's own hex and through the bridge as BLOBs, are
	// bytes that were sent.
	ctx := context.Background()
	res, err := db.Query(ctx, "SELECT ciphertext, hex(ciphertext) FROM records ORDER BY id")
	require.NoError(t, err)
	require.Equal(t, 3, res.Len())
	for _, row := range res.All() {
		var ct []byte
		var stored string
		require.NoError(t, row.Scan(&ct, &stored))
		assert.Equal(t, strings.ToUpper(hex.EncodeToString(ct)), stored, "the BLOB read through the bridge is the stored BLOB")
		assert.True(t, containsBytes(blobs, ct), "the stored ciphertext (%d bytes) is one that was sent", len(ct))
	}
}

func containsBytes(set [][]byte, b []byte) bool {
	for _, s := range set {
		if bytes.Equal(s, b) {
			return true
		}
	}
	return false
}

// TestRESTBlobsTravelAsHex: through REST (the local D1) records keeps sending BLOBs as hex
// text through unhex(?) and reading them through hex(), never as base64.
func TestRESTBlobsTravelAsHex(t *testing.T) {
	srv, err := d1local.New(d1local.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(context.Background(), "records")
	require.NoError(t, err)
	rec := &wireRecorder{next: srv.Transport()}
	dbAcct, err := d1.NewAccount("acct", "local", d1.Options{
		BaseURL:    "http://d1local.invalid/client/v4",
		HTTPClient: &http.Client{Transport: rec},
		RateLimit:  d1.RateLimit{Disabled: true},
	})
	require.NoError(t, err)
	db := dbAcct.Database(id)
	require.False(t, db.CompactBlobs())
	blobWorkload(t, db)
	sent, got := rec.stop()

	all := strings.Join(sent, "\n")
	assert.True(t, strings.Contains(all, "unhex(?)"), "BLOBs bound through unhex(?)")
	assert.True(t, strings.Contains(all, "hex(ciphertext)"), "BLOBs selected through hex()")
	assert.False(t, strings.Contains(all, `"base64"`), "no base64 parameters on REST")
	assert.False(t, strings.Contains(strings.Join(got, "\n"), `"base64"`), "no base64 results on REST")
	res, err := db.Query(context.Background(), "SELECT ciphertext FROM records")
	require.NoError(t, err)
	for _, row := range res.All() {
		var ct []byte
		require.NoError(t, row.Scan(&ct))
		assert.True(t, strings.Contains(all, `"`+hex.EncodeToString(ct)+`"`), "the %d-byte ciphertext went as hex text", len(ct))
	}
}
