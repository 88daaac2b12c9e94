package d1seal_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/d1"
)

// TestOpenChoosesTheBridge sets D1SEAL_BRIDGE_URL and D1SEAL_BRIDGE_SECRET (and the REST
// variables too): Open talks to the bridge, signing each request, and never sends the REST
// token there.
func TestOpenChoosesTheBridge(t *testing.T) {
	var got []*http.Request
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r)
		io.WriteString(w, `{"result":[{"results":{"columns":["x"],"rows":[[1]]},"success":true,"meta":{}}],"success":true,"errors":[],"messages":[]}`)
	}))
	defer stub.Close()
	secret := strings.Repeat("b", 40)
	t.Setenv(d1.EnvBridgeURL, stub.URL)
	t.Setenv(d1.EnvBridgeSecret, secret)
	t.Setenv(d1.EnvAccountID, "acct")
	t.Setenv(d1.EnvAPIToken, "rest-TOKEN-99")
	t.Setenv(d1.EnvDatabaseID, "db-uuid")

	db, err := d1seal.Open(context.Background(), d1seal.Options{})
	require.NoError(t, err)
	defer db.Close()
	assert.Nil(t, db.Local)
	assert.Contains(t, db.Where, "bridge")
	assert.NotContains(t, db.Where, secret)
	_, err = db.Client.Query(context.Background(), "SELECT 1 AS x")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "/v1/DB/raw", got[0].URL.Path)
	assert.NotEmpty(t, got[0].Header.Get("X-D1seal-Signature"))
	assert.Empty(t, got[0].Header.Get("Authorization"), "the REST token stays off the bridge")

	t.Setenv(d1.EnvBridgeSecret, "")
	_, err = d1seal.Open(context.Background(), d1seal.Options{})
	assert.ErrorContains(t, err, d1.EnvBridgeSecret+" not set", "half a bridge configuration is an error, not a fallback")
}
