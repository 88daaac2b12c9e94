package records_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

// TestPadding: with Pad, notes of 200 different lengths take a handful of ciphertext sizes,
// each at most 12% over the unpadded size, and read back unchanged.
func TestPadding(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	padded, err := records.NewCollection[note](e.store, alice, "agent.memory.padded", records.CollectionOptions[note]{Pad: true})
	require.NoError(t, err)
	plain := notes(t, e, alice)
	sizes := map[int]bool{}
	var maxOver float64
	for n := 1000; n < 1200; n++ {
		v := note{Body: strings.Repeat("x", n)}
		r, err := padded.Create(ctx, v)
		require.NoError(t, err)
		got, err := padded.Get(ctx, r.Ref.RKey)
		require.NoError(t, err)
		require.Equal(t, v.Body, got.Value.Body)
		u, err := plain.Create(ctx, v)
		require.NoError(t, err)
		ps, err := d1.QueryOne[int](ctx, e.db, "SELECT length(ciphertext) FROM records WHERE id = ?", r.Ref.ID())
		require.NoError(t, err)
		us, err := d1.QueryOne[int](ctx, e.db, "SELECT length(ciphertext) FROM records WHERE id = ?", u.Ref.ID())
		require.NoError(t, err)
		sizes[ps] = true
		maxOver = max(maxOver, float64(ps)/float64(us)-1)
	}
	t.Logf("200 lengths -> %d ciphertext sizes; at most %.1f%% over unpadded", len(sizes), 100*maxOver)
	assert.LessOrEqual(t, len(sizes), 4)
	assert.LessOrEqual(t, maxOver, 0.12)
}
