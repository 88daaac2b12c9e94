package d1

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloudflareStatusesAreDescribed: Cloudflare's own 5xx statuses, which Go has no text
// for, print what they mean instead of an empty status text.
func TestCloudflareStatusesAreDescribed(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string
	}{
		{520, "unknown error (Cloudflare 520)"},
		{521, "origin is down (Cloudflare 521)"},
		{522, "timed out (Cloudflare 522)"},
		{523, "unreachable (Cloudflare 523)"},
		{524, "a timeout occurred (Cloudflare 524)"},
		{525, "SSL handshake"},
		{526, "certificate is invalid"},
		{527, "Railgun"},
		{502, "Bad Gateway"},
		{599, "HTTP status 599"},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request, _ []byte) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(tc.status)
				io.WriteString(w, "<html>cloudflare</html>")
			})
			_, err := f.client(t, Options{Retry: RetryPolicy{MaxAttempts: 1}}).Query(context.Background(), "SELECT 1")
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.status, e.StatusCode)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "d1: query: ,", "got %q: no empty status text", err)
			assert.True(t, IsRetryable(err), "a 5xx is transient")
		})
	}
	// An envelope with no message falls back to the same text.
	f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request, _ []byte) {
		writeJSON(w, 524, map[string]any{"result": nil, "success": false, "errors": []any{}, "messages": []any{}})
	})
	_, err := f.client(t, Options{Retry: RetryPolicy{MaxAttempts: 1}}).Query(context.Background(), "SELECT 1")
	assert.ErrorContains(t, err, "a timeout occurred (Cloudflare 524)")
}

// TestResponseTooLarge: a body over Limits.MaxResponseBytes is refused with an error matching
// ErrResponseTooLarge, on statement and administration calls alike, whether its length was
// announced or not; it is not retried, and the client never holds more than the limit.
func TestResponseTooLarge(t *testing.T) {
	const limit = 4 << 10
	big := `{"result":[{"results":{"columns":["x"],"rows":[["` + strings.Repeat("a", 64<<10) + `"]]},"success":true,"meta":{}}],"success":true,"errors":[],"messages":[]}`
	calls := map[string]func(c *Client) error{
		"query": func(c *Client) error { _, err := c.Query(context.Background(), "SELECT 1"); return err },
		"list databases": func(c *Client) error {
			_, err := c.Account().ListDatabases(context.Background(), "")
			return err
		},
		"export": func(c *Client) error {
			_, err := c.Export(context.Background(), io.Discard, ExportOptions{})
			return err
		},
		"bookmark": func(c *Client) error { _, err := c.Bookmark(context.Background(), time.Time{}); return err },
	}
	for _, chunked := range []bool{false, true} {
		for name, call := range calls {
			t.Run(name+map[bool]string{false: ", Content-Length", true: ", chunked"}[chunked], func(t *testing.T) {
				f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request, _ []byte) {
					w.Header().Set("Content-Type", "application/json")
					if chunked {
						w.WriteHeader(http.StatusOK)
						for i := 0; i < len(big); i += 1000 {
							io.WriteString(w, big[i:min(i+1000, len(big))])
							w.(http.Flusher).Flush()
						}
						return
					}
					w.Header().Set("Content-Length", strconv.Itoa(len(big)))
					io.WriteString(w, big)
				})
				err := call(f.client(t, Options{Limits: Limits{MaxResponseBytes: limit}}))
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrResponseTooLarge)
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.True(t, e.Sent)
				assert.False(t, IsRetryable(err), "the same request would get the same answer")
				assert.Equal(t, int64(1), f.requests.Load(), "not retried")
				assert.Contains(t, err.Error(), "MaxResponseBytes", "the message names the setting")
				assert.NotContains(t, err.Error(), testToken)
				assert.NotContains(t, err.Error(), "aaaa", "bodies never reach the message")
			})
		}
	}
}

// TestResponseLimitDefault: the zero Limits mean a 64 MiB cap.
func TestResponseLimitDefault(t *testing.T) {
	assert.Equal(t, int64(64<<20), Limits{}.withDefaults().MaxResponseBytes)
	_, err := readCapped(bytes.NewReader(make([]byte, 11)), -1, 10)
	assert.ErrorIs(t, err, ErrResponseTooLarge)
	_, err = readCapped(strings.NewReader(""), 1<<40, 10)
	assert.ErrorIs(t, err, ErrResponseTooLarge, "an announced length over the limit is refused unread")
	b, err := readCapped(bytes.NewReader(make([]byte, 10)), -1, 10)
	assert.NoError(t, err)
	assert.Len(t, b, 10)
	assert.False(t, errors.Is(err, ErrResponseTooLarge))
}
