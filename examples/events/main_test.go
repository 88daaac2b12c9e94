package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEvents(t *testing.T) {
	for _, v := range []string{"CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "D1_DATABASE_ID", "CLOUDFLARE_API_BASE_URL"} {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	for range 2 { // the second run shares the database with the first one's events
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, dir), out.String())
		s := out.String()
		t.Log(s)
		assert.Regexp(t, `recorded 11 events, each signed by its agent and chained to the one before; ids are ULIDs, e.g. [0-9A-HJKMNP-TV-Z]{26}\n`, s)
		section := func(n string) string {
			m := regexp.MustCompile(`(?s)\n` + n + `\. [^\n]*\n(.*?)\n\n`).FindStringSubmatch(s + "\n\n")
			require.NotNil(t, m, "section %s", n)
			return m[1]
		}
		assert.Contains(t, section("2"), "(8 events)")
		assert.Contains(t, section("2"), `+0:09   planner    decision   ok     reasoning={"chose":"delegate"`)
		assert.Contains(t, section("2"), "+2:30   researcher tool.call  error       30s error={\"kind\":\"timeout\",\"after_ms\":30000}")
		assert.Contains(t, section("3"), "(3 events)")
		assert.NotContains(t, section("3"), "planner")
		// +2:30, +3:10 and +4:00 only: +1:00 is before since, and the planner is not asked for.
		assert.Equal(t, []string{"+2:30", "+3:10", "+4:00"}, regexp.MustCompile(`\+\d:\d\d`).FindAllString(section("4"), -1))
		assert.Contains(t, section("5"), "page 1: [task.start llm.call decision]\n   page 2: [task.end task.start tool.call]\n   page 3: [task.end]")
		assert.Contains(t, s, "6. tool calls this run: 4, not ok: 2, time spent: 32.05s")
		assert.Regexp(t, `7\. emitted by the store: records.create ok context=\{"collection":"agent.memory.note","rkey":"[a-z2-7]{13}"\}`, s)
	}
}
