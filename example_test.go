package d1seal_test

import (
	"context"
	"fmt"
	"os"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/d1"
)

// Open picks Cloudflare D1 when its three variables are set, and the embedded local D1
// otherwise. (This example clears them first, so that running it never touches a real
// database.)
func ExampleOpen() {
	for _, v := range []string{"CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "D1_DATABASE_ID", "D1SEAL_BRIDGE_URL", "D1SEAL_BRIDGE_SECRET"} {
		os.Unsetenv(v)
	}
	ctx := context.Background()
	db, err := d1seal.Open(ctx, d1seal.Options{}) // LocalDir "" keeps the local D1 in memory
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	n, err := d1.QueryOne[int64](ctx, db.Client, "SELECT 40 + 2")
	fmt.Println(n, err, db.Local != nil)
	// Output: 42 <nil> true
}
