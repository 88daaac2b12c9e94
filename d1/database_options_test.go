package d1

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateDatabaseWithOptions(t *testing.T) {
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"result":{"uuid":"0a9e7c1b-0000-4000-8000-000000000001","name":"tenants-00001"},"success":true,"errors":[],"messages":[]}`))
	})
	acct, err := NewAccount("acct", testToken, Options{BaseURL: f.URL + "/client/v4", RateLimit: RateLimit{Disabled: true}})
	require.NoError(t, err)
	c := acct.Database("db")
	ctx := context.Background()
	d, err := c.Account().CreateDatabaseWithOptions(ctx, "tenants-00001", CreateOptions{LocationHint: "apac", Jurisdiction: "fedramp"})
	require.NoError(t, err)
	assert.Equal(t, "tenants-00001", d.Name)
	assert.JSONEq(t, `{"name":"tenants-00001","primary_location_hint":"apac","jurisdiction":"fedramp"}`, f.bodies[0])

	_, err = c.Account().CreateDatabase(ctx, "plain")
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"plain"}`, f.bodies[1], "no hint or jurisdiction unless asked")

	// Unknown values are refused before anything is sent.
	for _, o := range []CreateOptions{{LocationHint: "mars"}, {Jurisdiction: "EU"}} {
		_, err := c.Account().CreateDatabaseWithOptions(ctx, "x", o)
		var ae *ArgError
		require.ErrorAs(t, err, &ae, "%+v", o)
	}
	assert.Equal(t, int64(2), f.requests.Load())
}
