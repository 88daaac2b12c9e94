package d1local_test

import (
	"testing"

	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWranglerLookups covers what wrangler asks before D1 calls: the account (GET /accounts and
// /memberships, when CLOUDFLARE_ACCOUNT_ID is unset) and a database by name (when its config
// has only database_name), in the shapes wrangler 4.164.0 reads.
func TestWranglerLookups(t *testing.T) {
	e := newEnv(t, d1local.Options{Token: "tok"})
	auth := []string{"Authorization", "Bearer tok"}

	status, _, raw := e.call(t, "GET", e.base+"/accounts?page=1", nil, auth...)
	require.Equal(t, 200, status)
	assert.JSONEq(t, `{"result":[{"id":"`+d1local.DefaultAccountID+`","name":"d1local","type":"standard"}],
		"result_info":{"page":1,"per_page":20,"count":1,"total_count":1,"total_pages":1},
		"success":true,"errors":[],"messages":[]}`, string(raw))
	status, _, raw = e.call(t, "GET", e.base+"/memberships?page=1", nil, auth...)
	require.Equal(t, 200, status)
	assert.JSONEq(t, `{"result":[{"id":"d1local-membership","status":"accepted",
		"account":{"id":"`+d1local.DefaultAccountID+`","name":"d1local"},"roles":["Administrator"],"permissions":{}}],
		"result_info":{"page":1,"per_page":20,"count":1,"total_count":1,"total_pages":1},
		"success":true,"errors":[],"messages":[]}`, string(raw))
	status, _, raw = e.call(t, "GET", e.base+"/memberships?page=2", nil, auth...)
	require.Equal(t, 200, status)
	assert.Contains(t, string(raw), `"result":[],`)
	status, _, _ = e.call(t, "GET", e.base+"/accounts", nil)
	assert.Equal(t, 401, status, "the token is required here too")

	own := newEnv(t, d1local.Options{AccountID: "0123456789abcdef0123456789abcdef"})
	_, _, raw = own.call(t, "GET", own.base+"/accounts", nil)
	assert.Contains(t, string(raw), `"id":"0123456789abcdef0123456789abcdef"`)

	// GET /database/{name} answers the database called name (newEnv's is "test").
	byID := e.base + "/accounts/acc/d1/database/" + e.id
	status, env, raw := e.call(t, "GET", e.base+"/accounts/acc/d1/database/test?fields=uuid%2Cname", nil, auth...)
	require.Equal(t, 200, status, "%s", raw)
	_, want, _ := e.call(t, "GET", byID, nil, auth...)
	assert.JSONEq(t, string(want.Result), string(env.Result))
	assert.Contains(t, string(env.Result), `"uuid":"`+e.id+`"`)
	status, env, _ = e.call(t, "GET", e.base+"/accounts/acc/d1/database/nope", nil, auth...)
	assert.Equal(t, 404, status)
	assert.Equal(t, 7404, env.Errors[0].Code)
	// Only GET resolves names: queries and deletes take the uuid.
	status, _, _ = e.call(t, "POST", e.base+"/accounts/acc/d1/database/test/query", `{"sql":"SELECT 1"}`, auth...)
	assert.Equal(t, 404, status)
	status, _, _ = e.call(t, "DELETE", e.base+"/accounts/acc/d1/database/test", nil, auth...)
	assert.Equal(t, 404, status)
	status, _, _ = e.call(t, "GET", byID, nil, auth...)
	assert.Equal(t, 200, status, "still there")
}
