package migrations_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/records"
)

func TestInitializerCostsOneReadWhenCurrent(t *testing.T) {
	ctx := context.Background()
	srv, c := local(t)
	s := records.Schema()

	// A fresh database: the first Init creates the ledger and applies the set.
	first := migrations.NewInitializer(c, s, migrations.InitOptions{})
	before := srv.Requests()
	require.NoError(t, first.Init(ctx))
	t.Logf("fresh database: %d requests", srv.Requests()-before)
	assert.Equal(t, []string{"0001_agent_records.sql", "0002_sealing.sql", "0003_write_log.sql", "0004_trust.sql", "0005_restorable_write_log.sql", "0006_search.sql"}, first.Result().Applied)

	// A new process on the current database: one read request.
	in := migrations.NewInitializer(c, s, migrations.InitOptions{})
	assert.Nil(t, in.Result())
	before = srv.Requests()
	require.NoError(t, in.Init(ctx))
	assert.Equal(t, int64(1), srv.Requests()-before, "requests for Init on a current schema")
	assert.Empty(t, in.Result().Applied)

	// After that, none, however many goroutines ask.
	before = srv.Requests()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { assert.NoError(t, in.Init(ctx)) })
	}
	wg.Wait()
	assert.Equal(t, int64(0), srv.Requests()-before)
}

func TestInitializerConcurrentFirstRequests(t *testing.T) {
	ctx := context.Background()
	_, c := local(t)
	in := migrations.NewInitializer(c, set(t, raceFiles(5)), migrations.InitOptions{})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { assert.NoError(t, in.Init(ctx)) })
	}
	wg.Wait()
	checkRan(t, c, 5)
}

func TestInitializerHandler(t *testing.T) {
	srv, c := local(t)
	in := migrations.NewInitializer(c, set(t, threeFiles), migrations.InitOptions{})
	var failures []error
	h := in.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}), func(r *http.Request, err error) { failures = append(failures, err) })

	// D1 is down for the first request (every attempt of the client's retries): 503, and the
	// next request tries again.
	srv.InjectFaults(d1local.Fault{Status: 503}, d1local.Fault{Status: 503}, d1local.Fault{Status: 503}, d1local.Fault{Status: 503})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.NotContains(t, rec.Body.String(), "503", "the error stays on the server")
	require.Len(t, failures, 1)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "ok", rec.Body.String())
	assert.Equal(t, []string{"0001_users.sql", "0002_posts.sql", "0010_tags.sql"}, ledgerNames(t, c, "d1_migrations"))
}
