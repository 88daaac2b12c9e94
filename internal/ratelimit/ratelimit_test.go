package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultBudgetNeverLocksOut(t *testing.T) {
	lim, err := NewLimiter(0, 0, 0)
	require.NoError(t, err)
	sim, err := Simulate(lim, 20*time.Minute)
	require.NoError(t, err)
	t.Logf("%+v", sim)
	assert.LessOrEqual(t, sim.MaxInWindow, 1200, "never more than 1,200 requests in any five minutes")
	assert.False(t, sim.LockedOut)
	assert.GreaterOrEqual(t, sim.MaxInWindow, 1190, "and close to it: the budget does not waste capacity")
	assert.InDelta(t, 50+1150*4, sim.Requests, 2, "a burst of 50, then 1,150 per five minutes")

	// A budget that ignores the burst's contribution would be locked out.
	lim, err = NewLimiter(1250, 5*time.Minute, 10)
	require.NoError(t, err)
	sim, err = Simulate(lim, 20*time.Minute)
	require.NoError(t, err)
	assert.True(t, sim.LockedOut, "1,250 per five minutes is over Cloudflare's limit: %+v", sim)
}

func TestNewLimiterRefusesBadSettings(t *testing.T) {
	for _, c := range [][3]int{{10, 1, 10}, {-1, 1, 0}, {100, 1, -1}} {
		_, err := NewLimiter(c[0], time.Duration(c[1])*time.Minute, c[2])
		assert.Error(t, err, "requests %d, burst %d", c[0], c[2])
	}
}
