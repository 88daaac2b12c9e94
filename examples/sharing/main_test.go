package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSharing(t *testing.T) {
	for _, v := range []string{"CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "D1_DATABASE_ID", "CLOUDFLARE_API_BASE_URL"} {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	for range 2 { // fresh agents each run: the same folder works twice
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, dir), out.String())
		s := out.String()
		t.Log(s)
		for _, want := range []string{
			"1. alice wrote at://did:example:alice-",
			"   bob   cannot open it: records: record is not shared with this agent\n\n2.",
			`   bob   reads v3: "the outage began with a certificate expiry"`,
			`   carol reads v3: "the outage began with a certificate expiry"`,
			"   v3 is shared with [did:example:bob-",
			"bob's SharedWithMe: 1 record(s)",
			"Store.SharedWith(carol): 1 reference(s)",
			"ErrUnknownAgent=true",
			`   bob   reads v4: "the outage began with a certificate expiry; renewals are now monitored"`,
			`   carol reads v4: "the outage began with a certificate expiry; renewals are now monitored"`,
			"ErrConflict=true",
			"   bob   cannot open it: records: record is not shared with this agent\n   carol reads v5:",
			"   carol cannot open it: records: record is not shared with this agent\n",
			`   alice reads v6: "the outage began`,
		} {
			assert.Contains(t, s, want)
		}
	}
}
