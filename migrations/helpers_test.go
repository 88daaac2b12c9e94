package migrations_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/migrations"
)

const testAccount = "0123456789abcdef0123456789abcdef"

// local starts an in-memory local D1 with one database and returns it with a client.
func local(t testing.TB) (*d1local.Server, *d1.Client) {
	t.Helper()
	srv, err := d1local.New(d1local.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(context.Background(), "migrations")
	require.NoError(t, err)
	return srv, client(t, id, &http.Client{Transport: srv.Transport()}, "http://d1local.invalid/client/v4")
}

func client(t testing.TB, id string, hc *http.Client, base string) *d1.Client {
	t.Helper()
	acct, err := d1.NewAccount(testAccount, "local", d1.Options{
		BaseURL:    base,
		HTTPClient: hc,
		Retry:      d1.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
		RateLimit:  d1.RateLimit{Disabled: true},
	})
	require.NoError(t, err)
	c := acct.Database(id)
	return c
}

// set loads a Set from file name -> content.
func set(t testing.TB, files map[string]string) *migrations.Set {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, sql := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(sql)}
	}
	s, err := migrations.Load(fsys, ".")
	require.NoError(t, err)
	return s
}

// tables returns the names of the user tables and their kinds of object in sqlite_master.
func objects(t testing.TB, c *d1.Client, typ string) []string {
	t.Helper()
	names, err := d1.QueryAll[string](context.Background(), c,
		`SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name`, typ)
	require.NoError(t, err)
	return names
}

// ledgerNames returns the ledger's names in id order.
func ledgerNames(t testing.TB, c *d1.Client, table string) []string {
	t.Helper()
	names, err := d1.QueryAll[string](context.Background(), c, `SELECT name FROM "`+table+`" ORDER BY id`)
	require.NoError(t, err)
	return names
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
func newRequest() *http.Request               { return httptest.NewRequest("GET", "/", nil) }
