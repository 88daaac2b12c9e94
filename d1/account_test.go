package d1

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAccountAndDatabase: an account takes an account id and a token, and hands out clients
// per database; a bad database id fails every request of its client before anything is sent.
func TestAccountAndDatabase(t *testing.T) {
	_, err := NewAccount("", testToken, Options{})
	assert.ErrorContains(t, err, "missing account id")
	_, err = NewAccount("acct", "", Options{})
	assert.ErrorContains(t, err, "missing API token")
	_, err = NewAccount("ac/ct", testToken, Options{})
	assert.ErrorContains(t, err, "cannot appear in an account id")

	f := newFake(t, rawOK([]string{"x"}, `[[1]]`))
	a := f.client(t, Options{}).Account()
	assert.Equal(t, "acct", a.ID())
	for _, s := range []string{a.String(), fmt.Sprintf("%v %+v", a, a)} {
		assert.NotContains(t, s, testToken, "the token never prints")
	}
	c := a.Database("db-2")
	assert.Equal(t, "db-2", c.DatabaseID())
	assert.Same(t, a, c.Account())
	_, err = c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err)
	assert.Contains(t, f.paths[len(f.paths)-1], "/accounts/acct/d1/database/db-2/raw")

	for _, id := range []string{"", "db/../x", "db?x", "a b"} {
		bad := a.Database(id)
		_, err := bad.Query(context.Background(), "SELECT 1")
		assert.ErrorIs(t, err, ErrBadArg, "id %q", id)
		_, err = bad.Info(context.Background())
		assert.ErrorIs(t, err, ErrBadArg, "id %q", id)
	}
	assert.Equal(t, int64(1), f.requests.Load(), "nothing sent for bad ids")
}

// TestAccountFromEnv: the account needs two variables, a client three.
func TestAccountFromEnv(t *testing.T) {
	t.Setenv(EnvAccountID, "")
	t.Setenv(EnvAPIToken, "")
	t.Setenv(EnvDatabaseID, "")
	_, err := NewAccountFromEnv(Options{})
	assert.ErrorIs(t, err, ErrNoCredentials)
	_, err = NewClientFromEnv(Options{})
	assert.ErrorIs(t, err, ErrNoCredentials)
	assert.ErrorContains(t, err, "set CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and D1_DATABASE_ID")

	t.Setenv(EnvAccountID, "acct")
	t.Setenv(EnvAPIToken, testToken)
	a, err := NewAccountFromEnv(Options{})
	require.NoError(t, err)
	assert.Equal(t, "acct", a.ID())
	_, err = NewClientFromEnv(Options{})
	assert.ErrorContains(t, err, "D1_DATABASE_ID not set")
	t.Setenv(EnvDatabaseID, "db-1")
	c, err := NewClientFromEnv(Options{})
	require.NoError(t, err)
	assert.Equal(t, "db-1", c.DatabaseID())
}
