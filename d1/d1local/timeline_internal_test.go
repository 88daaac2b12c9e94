package d1local

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTimelineMemoryCostsWhatChanged: in memory too, each kept state costs the chunks that
// changed, not a copy of the database.
func TestTimelineMemoryCostsWhatChanged(t *testing.T) {
	s, err := New(Options{})
	require.NoError(t, err)
	defer s.Close()
	id, err := s.CreateDatabase(context.Background(), "mem")
	require.NoError(t, err)
	hc := &http.Client{Transport: s.Transport()}
	base := "http://d1local.test/client/v4/accounts/a/d1/database/" + id
	do := func(method, path, body string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, "%s %s %s", method, path, body)
	}
	do("POST", "/query", `{"sql":"CREATE TABLE big(id INTEGER PRIMARY KEY, body BLOB); WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 4000) INSERT INTO big(body) SELECT randomblob(1000) FROM c"}`)
	d := s.lookup(id)
	size := d.conn.size()
	const writes = 50
	for i := range writes {
		do("POST", "/query", fmt.Sprintf(`{"sql":"UPDATE big SET body = zeroblob(10) WHERE id = %d"}`, i*80+1))
		do("GET", "/time_travel/bookmark", "")
	}
	d.mu.Lock()
	kept, states := d.timeline.bytes(), len(d.timeline.states)
	d.mu.Unlock()
	t.Logf("database %d bytes; %d states keep %d bytes", size, states, kept)
	assert.GreaterOrEqual(t, states, writes)
	assert.LessOrEqual(t, kept, int64(writes*4*chunkBytes), "history after %d small writes: got %d bytes, want a few chunks each", writes, kept)
}
