package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFleetScenario(t *testing.T) {
	srv, err := startServer(time.Millisecond)
	require.NoError(t, err)
	defer srv.stop()
	var out bytes.Buffer
	require.NoError(t, fleetMigrate(context.Background(), config{latency: time.Millisecond, n: 40}, srv, &out))
	s := out.String()
	t.Log(s)
	assert.Contains(t, s, "| 10000 | 4 | 4 | 50403 |")
	assert.NotContains(t, s, "**true**")
	m := regexp.MustCompile(`over 4 new databases on the local D1, 4 at a time: \*\*(\d+) requests\*\* in .*; simulated with no budget: \*\*(\d+) requests\*\*`).FindStringSubmatch(s)
	require.Len(t, m, 3, "measured and simulated requests")
	assert.Equal(t, m[1], m[2], "the simulation counts what the code sends")
}
