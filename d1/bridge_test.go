package d1_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/d1test"
)

// TestBridgeSessionReadsItsWrites writes and reads through a session across requests: every
// answer carries a bookmark, the bookmarks advance with each write, and each read sees the
// session's writes. A second session continues from the first's bookmark.
func TestBridgeSessionReadsItsWrites(t *testing.T) {
	w := d1test.StartWorkerd(t)
	ctx := context.Background()
	binding := w.Acquire(t)
	base := w.Client(t, binding, d1.BridgeOptions{}, d1.Options{})
	_, err := base.Exec(ctx, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
	require.NoError(t, err)

	s := d1.NewSession(d1.FirstUnconstrained)
	assert.Empty(t, s.Bookmark(), "no bookmark before the first answer")
	c := base.WithSession(s)
	var marks []string
	for i := range 5 {
		_, err := c.Exec(ctx, "INSERT INTO notes (body) VALUES (?)", "note "+strconv.Itoa(i))
		require.NoError(t, err)
		marks = append(marks, s.Bookmark())
		n, err := d1.QueryOne[int](ctx, c, "SELECT count(*) FROM notes")
		require.NoError(t, err)
		assert.Equal(t, i+1, n, "the session reads its own write %d", i)
		marks = append(marks, s.Bookmark())
	}
	for i := 1; i < len(marks); i++ {
		require.NotEmpty(t, marks[i])
		assert.LessOrEqual(t, marks[i-1], marks[i], "bookmarks never go back")
	}
	for i := 2; i < len(marks); i += 2 {
		assert.Less(t, marks[i-2], marks[i], "each write advances the bookmark")
	}

	// Another session picks up from the first's bookmark and sees everything it wrote.
	s2 := d1.NewSession(s.Bookmark())
	res, err := base.WithSession(s2).Query(ctx, "SELECT count(*) FROM notes")
	require.NoError(t, err)
	assert.Equal(t, int64(5), res.Row(0).Value(0))
	assert.True(t, res.Meta.ServedByPrimary, "workerd has one copy, the primary")
	assert.GreaterOrEqual(t, s2.Bookmark(), s.Bookmark())

	// first-primary works too, and sessions are safe for concurrent use.
	p := base.WithSession(d1.NewSession(d1.FirstPrimary))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			_, err := p.Query(ctx, "SELECT count(*) FROM notes")
			assert.NoError(t, err)
		})
	}
	wg.Wait()
}

// bridgeRequest is a raw request to the bridge, signed the way bridge/worker.js documents
// (an implementation independent of package d1's).
type bridgeRequest struct {
	path, body, session, nonce string
	ts                         int64
	secret                     string
}

func (r bridgeRequest) sign() string {
	sum := sha256.Sum256([]byte(r.body))
	m := hmac.New(sha256.New, []byte(r.secret))
	m.Write([]byte(strings.Join([]string{"d1seal-bridge-v1", "POST", r.path, strconv.FormatInt(r.ts, 10), r.nonce, r.session, hex.EncodeToString(sum[:])}, "\n")))
	return hex.EncodeToString(m.Sum(nil))
}

func (r bridgeRequest) send(t *testing.T, url string, edit func(h http.Header, body *string)) (int, string) {
	t.Helper()
	h := http.Header{}
	h.Set("X-D1seal-Timestamp", strconv.FormatInt(r.ts, 10))
	h.Set("X-D1seal-Nonce", r.nonce)
	h.Set("X-D1seal-Signature", r.sign())
	if r.session != "" {
		h.Set("X-D1seal-Session", r.session)
	}
	body := r.body
	if edit != nil {
		edit(h, &body)
	}
	req, err := http.NewRequest("POST", url+r.path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestBridgeRefusesForgedRequests sends the bridge a signed request, then the same request
// replayed, tampered in each signed part, unsigned, out of the clock window and signed with
// another secret: only the first runs, and no answer quotes the secret or a parameter.
func TestBridgeRefusesForgedRequests(t *testing.T) {
	w := d1test.StartWorkerd(t)
	binding := w.Acquire(t)
	c := w.Client(t, binding, d1.BridgeOptions{}, d1.Options{})
	_, err := c.Exec(context.Background(), "CREATE TABLE t (v TEXT)")
	require.NoError(t, err)
	const param = "param-SECRET-7c1e"
	fresh := func() bridgeRequest {
		return bridgeRequest{
			path: "/v1/" + binding + "/raw", body: `{"sql":"INSERT INTO t VALUES (?)","params":["` + param + `"]}`,
			nonce: "n" + strconv.FormatInt(time.Now().UnixNano(), 36) + "abcdefghijklmnop", ts: time.Now().Unix(), secret: w.Secret,
		}
	}
	count := func() int {
		n, err := d1.QueryOne[int](context.Background(), c, "SELECT count(*) FROM t")
		require.NoError(t, err)
		return n
	}

	ok := fresh()
	status, body := ok.send(t, w.URL, nil)
	require.Equal(t, 200, status, body)
	require.Equal(t, 1, count())

	cases := []struct {
		name string
		req  bridgeRequest
		edit func(h http.Header, body *string)
		want string
	}{
		{"replayed", ok, nil, "replayed"},
		{"body tampered", fresh(), func(_ http.Header, b *string) { *b = strings.Replace(*b, "INSERT", "insert", 1) }, "signature does not verify"},
		{"timestamp tampered", fresh(), func(h http.Header, _ *string) {
			h.Set("X-D1seal-Timestamp", strconv.FormatInt(time.Now().Unix()+1, 10))
		}, "signature does not verify"},
		{"nonce tampered", fresh(), func(h http.Header, _ *string) { h.Set("X-D1seal-Nonce", "zzzzzzzzzzzzzzzzzzzzzzzz") }, "signature does not verify"},
		{"session added", fresh(), func(h http.Header, _ *string) { h.Set("X-D1seal-Session", d1.FirstPrimary) }, "signature does not verify"},
		{"unsigned", fresh(), func(h http.Header, _ *string) { h.Del("X-D1seal-Signature") }, "unsigned request"},
		{"no headers", fresh(), func(h http.Header, _ *string) { clear(h) }, "unsigned request"},
		{"too old", func() bridgeRequest { r := fresh(); r.ts -= 3600; return r }(), nil, "outside the clock window"},
		{"from the future", func() bridgeRequest { r := fresh(); r.ts += 3600; return r }(), nil, "outside the clock window"},
		{"other secret", func() bridgeRequest { r := fresh(); r.secret = strings.Repeat("x", 64); return r }(), nil, "signature does not verify"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.req.send(t, w.URL, tc.edit)
			assert.Equal(t, http.StatusUnauthorized, status, "got %s", body)
			assert.Contains(t, body, tc.want)
			assert.NotContains(t, body, w.Secret)
			assert.NotContains(t, body, param)
			assert.NotContains(t, body, tc.req.sign())
		})
	}
	assert.Equal(t, 1, count(), "no refused request ran")

	// A client with the wrong secret gets an auth error that names neither secret.
	wrong := strings.Repeat("w", 40)
	bad, err := d1.NewBridgeClient(w.URL, wrong, d1.BridgeOptions{Binding: binding}, d1.Options{})
	require.NoError(t, err)
	_, err = bad.Exec(context.Background(), "INSERT INTO t VALUES (?)", param)
	require.Error(t, err)
	assert.True(t, httpStatus(err) == 401 || httpStatus(err) == 403, "got %v", err)
	for _, secret := range []string{wrong, w.Secret, param} {
		assert.NotContains(t, err.Error(), secret)
		assert.NotContains(t, (&d1.Error{}).Error()+bad.String(), secret)
	}
}

// TestBridgeClock signs with a client clock five minutes off: refused as outside the window.
func TestBridgeClock(t *testing.T) {
	w := d1test.StartWorkerd(t)
	c := w.Client(t, w.Acquire(t), d1.BridgeOptions{Now: func() time.Time { return time.Now().Add(-5 * time.Minute) }}, d1.Options{})
	_, err := c.Query(context.Background(), "SELECT 1")
	require.Error(t, err)
	assert.True(t, httpStatus(err) == 401 || httpStatus(err) == 403, "got %v", err)
	assert.Contains(t, err.Error(), "clock window")
}

// TestBridgeAdministrationNeedsREST checks that what a binding cannot do fails without REST
// credentials, naming the REST path, and goes to REST with them (here a local D1 standing in
// for the REST API), with the account's token and the REST database id.
func TestBridgeAdministrationNeedsREST(t *testing.T) {
	// The bridge here is a stub that answers every statement: this test is about routing.
	var mu sync.Mutex
	var bridgePaths []string
	bridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		bridgePaths = append(bridgePaths, r.URL.Path)
		mu.Unlock()
		assert.Empty(t, r.Header.Get("Authorization"), "the REST token never goes to the bridge")
		assert.NotEmpty(t, r.Header.Get("X-D1seal-Signature"))
		io.WriteString(w, `{"result":[{"results":{"columns":["x"],"rows":[[1]]},"success":true,"meta":{"served_by_region":"WEUR","served_by_primary":false}}],"success":true,"errors":[],"messages":[]}`)
	}))
	defer bridge.Close()
	secret := strings.Repeat("s", 32)

	c, err := d1.NewBridgeClient(bridge.URL+"/prefix", secret, d1.BridgeOptions{}, d1.Options{})
	require.NoError(t, err)
	res, err := c.Query(context.Background(), "SELECT 1 AS x")
	require.NoError(t, err)
	assert.Equal(t, "WEUR", res.Meta.ServedByRegion, "served_by_region reaches d1.Meta")
	assert.False(t, res.Meta.ServedByPrimary)
	assert.Equal(t, []string{"/prefix/v1/DB/raw"}, bridgePaths)

	var dump bytes.Buffer
	_, err = c.Export(context.Background(), &dump, d1.ExportOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "POST /accounts/{account_id}/d1/database/{database_id}/export")
	assert.Contains(t, err.Error(), d1.EnvAPIToken)
	_, err = c.Bookmark(context.Background(), time.Time{})
	assert.ErrorContains(t, err, "/time_travel/bookmark")

	// With REST credentials, administration reaches the REST API.
	srv, err := d1local.New(d1local.Options{Token: "rest-TOKEN-1234"})
	require.NoError(t, err)
	defer srv.Close()
	id, err := srv.CreateDatabase(context.Background(), "restdb")
	require.NoError(t, err)
	rest := httptest.NewServer(srv)
	defer rest.Close()
	c, err = d1.NewBridgeClient(bridge.URL, secret, d1.BridgeOptions{
		AccountID: d1test.LocalAccount, DatabaseID: id, APIToken: "rest-TOKEN-1234", RESTBaseURL: rest.URL + "/client/v4",
	}, d1.Options{})
	require.NoError(t, err)
	bm, err := c.Bookmark(context.Background(), time.Time{})
	require.NoError(t, err)
	assert.NotEmpty(t, bm)
	db, err := c.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "restdb", db.Name)
	_, err = c.Export(context.Background(), &dump, d1.ExportOptions{PollInterval: time.Millisecond})
	require.NoError(t, err)
	assert.Contains(t, dump.String(), "PRAGMA defer_foreign_keys")
	assert.Len(t, bridgePaths, 1, "administration never went to the bridge")
}

// TestBridgeClientChecksSettings refuses short secrets, bad URLs and bindings.
func TestBridgeClientChecksSettings(t *testing.T) {
	long := strings.Repeat("k", 32)
	for _, tc := range []struct{ url, secret, binding, want string }{
		{"https://b.example", "short", "", "fewer than 32"},
		{"ftp://b.example", long, "", "not an http(s) URL"},
		{"https://b.example?x=1", long, "", "not an http(s) URL"},
		{"https://b.example", long, "DB/../x", "not a Worker binding name"},
	} {
		_, err := d1.NewBridgeClient(tc.url, tc.secret, d1.BridgeOptions{Binding: tc.binding}, d1.Options{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
		assert.NotContains(t, err.Error(), tc.secret)
	}
	t.Setenv(d1.EnvBridgeURL, "")
	t.Setenv(d1.EnvBridgeSecret, "")
	_, err := d1.NewBridgeClientFromEnv(d1.BridgeOptions{}, d1.Options{})
	assert.ErrorIs(t, err, d1.ErrNoCredentials)
	t.Setenv(d1.EnvBridgeURL, "https://b.example")
	_, err = d1.NewBridgeClientFromEnv(d1.BridgeOptions{}, d1.Options{})
	assert.ErrorContains(t, err, d1.EnvBridgeSecret+" not set")
}
