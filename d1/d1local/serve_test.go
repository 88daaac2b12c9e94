package d1local_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1/d1local"
)

func TestListenAndServe(t *testing.T) {
	srv, err := d1local.New(d1local.Options{Dir: t.TempDir(), Token: "sekret-token"})
	require.NoError(t, err)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- d1local.ListenAndServe(ctx, srv, "127.0.0.1:0", pw); pw.Close() }()

	env := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok && strings.HasPrefix(sc.Text(), "export ") {
			env[k] = strings.Fields(v)[0]
			if k == "D1_DATABASE_ID" {
				break
			}
		}
	}
	go io.Copy(io.Discard, pr)
	require.Contains(t, env, "CLOUDFLARE_API_BASE_URL")
	assert.Equal(t, "<the", env["CLOUDFLARE_API_TOKEN"], "the token's value is never printed")

	req, err := http.NewRequest("POST", env["CLOUDFLARE_API_BASE_URL"]+"/accounts/"+env["CLOUDFLARE_ACCOUNT_ID"]+"/d1/database/"+env["D1_DATABASE_ID"]+"/query",
		strings.NewReader(`{"sql":"SELECT 1 AS one"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer sekret-token")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, "%s", body)
	assert.Contains(t, string(body), `"one":1`)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "a clean shutdown")
	case <-time.After(15 * time.Second):
		t.Fatal("ListenAndServe did not return after its context ended")
	}
}
