package records_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkUpdateShared updates a 1 KiB record shared with two agents: read and verify the
// current version, seal the next for the owner and both recipients, write it with its grants.
func BenchmarkUpdateShared(b *testing.B) {
	e, c := benchEnv(b)
	ctx := context.Background()
	e.agent(b, "did:plc:bob")
	e.agent(b, "did:plc:carol")
	r, err := c.Create(ctx, kib(1))
	require.NoError(b, err)
	require.NoError(b, c.Share(ctx, r.Ref.RKey, "did:plc:bob"))
	require.NoError(b, c.Share(ctx, r.Ref.RKey, "did:plc:carol"))
	start := e.srv.Requests()
	b.ReportAllocs()
	for b.Loop() {
		cur, err := c.Get(ctx, r.Ref.RKey)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Update(ctx, cur); err != nil {
			b.Fatal(err)
		}
	}
	requestsPer(b, e, start, 1)
}
