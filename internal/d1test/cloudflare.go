package d1test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
)

// cloudflareBackend is real D1, only with D1SEAL_TEST_CLOUDFLARE=1: every Open creates a
// database named d1seal-test-<random> in CLOUDFLARE_ACCOUNT_ID and deletes it when the test
// ends. D1_DATABASE_ID is never read, so the user's own database is never touched.
func cloudflareBackend(t testing.TB) *Backend {
	t.Helper()
	if os.Getenv(EnvCloudflare) != "1" {
		t.Skipf("real D1 runs only on opt-in: set %s=1 with %s and %s (each test creates and deletes a throwaway database; %s is never used)",
			EnvCloudflare, d1.EnvAccountID, d1.EnvAPIToken, d1.EnvDatabaseID)
	}
	acct, token := os.Getenv(d1.EnvAccountID), os.Getenv(d1.EnvAPIToken)
	if acct == "" || token == "" {
		t.Fatalf("%s=1 needs %s and %s", EnvCloudflare, d1.EnvAccountID, d1.EnvAPIToken)
	}
	return &Backend{Name: "cloudflare", Admin: true, open: func(t testing.TB, opts d1.Options) *d1.Client {
		t.Helper()
		opts = withTestDefaults(opts)
		if base := os.Getenv(d1.EnvBaseURL); base != "" {
			opts.BaseURL = base
		}
		admin, err := d1.NewAccount(acct, token, opts)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(bg(), time.Minute)
		defer cancel()
		db, err := admin.CreateDatabase(ctx, "d1seal-test-"+randomHex(6))
		require.NoError(t, err)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(bg(), time.Minute)
			defer cancel()
			if err := admin.DeleteDatabase(ctx, db.ID); err != nil {
				t.Errorf("deleting the throwaway database %s (%s): %v: delete it by hand", db.Name, db.ID, err)
			}
		})
		c := admin.Database(db.ID)
		return c
	}}
}
