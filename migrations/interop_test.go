package migrations_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/migrations"
)

// TestInteropCommand is a tiny command line for scripts/wrangler-migrations-interop.sh, which
// checks this package against wrangler over a running cmd/d1local: with D1SEAL_INTEROP_CMD set
// to "apply" or "status" it applies or reports the migrations in D1SEAL_INTEROP_DIR to the
// database named by CLOUDFLARE_API_BASE_URL, CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and
// D1_DATABASE_ID, printing one "interop: ..." line per fact. D1SEAL_INTEROP_TARGET sets
// ApplyOptions.Target. Without D1SEAL_INTEROP_CMD it is skipped.
func TestInteropCommand(t *testing.T) {
	cmd := os.Getenv("D1SEAL_INTEROP_CMD")
	if cmd == "" {
		t.Skip("run by scripts/wrangler-migrations-interop.sh")
	}
	ctx := context.Background()
	c, err := d1.NewClientFromEnv(d1.Options{})
	require.NoError(t, err)
	set, err := migrations.LoadDir(os.Getenv("D1SEAL_INTEROP_DIR"))
	require.NoError(t, err)
	var opts migrations.ApplyOptions
	if s := os.Getenv("D1SEAL_INTEROP_TARGET"); s != "" {
		opts.Target, err = strconv.ParseInt(s, 10, 64)
		require.NoError(t, err)
	}
	switch cmd {
	case "apply":
		res, err := migrations.Apply(ctx, c, set, opts)
		require.NoError(t, err)
		for _, n := range res.Recorded {
			fmt.Println("interop: recorded", n)
		}
		for _, n := range res.Applied {
			fmt.Println("interop: applied", n)
		}
		for _, n := range res.Concurrent {
			fmt.Println("interop: concurrent", n)
		}
	case "status":
		st, err := migrations.Status(ctx, c, set, migrations.StatusOptions{})
		require.NoError(t, err)
		for _, e := range st {
			sum := "none"
			if e.Checksum != "" {
				sum = "recorded"
			}
			fmt.Println("interop: status", e.Name, e.State, "checksum="+sum)
		}
	default:
		t.Fatalf("D1SEAL_INTEROP_CMD=%q: want apply or status", cmd)
	}
}
