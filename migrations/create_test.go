package migrations

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateLikeWrangler(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "migrations")
	now := time.Date(2026, 11, 22, 22, 1, 30, 123_456_789, time.FixedZone("x", 3600))

	p, err := create(dir, "create users", now)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "0001_create_users.sql"), p)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "-- Migration number: 0001 \t 2026-11-22T21:01:30.123Z\n", string(b))

	// The next number follows the highest, whatever its padding; a header-only file is fine.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "9_nine.sql"), []byte("SELECT 1"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644))
	p, err = create(dir, "next", now)
	require.NoError(t, err)
	assert.Equal(t, "0010_next.sql", filepath.Base(p))

	_, err = create(dir, "a/b", now)
	assert.ErrorContains(t, err, "path separator")
	_, err = create(dir, `a\b`, now)
	assert.ErrorContains(t, err, "path separator")
	_, err = create(dir, "it's", now)
	assert.ErrorContains(t, err, "not a migration file name")

	// The exported form stamps the current time.
	p, err = Create(dir, "now")
	require.NoError(t, err)
	b, err = os.ReadFile(p)
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^-- Migration number: 0011 \t \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n$`), string(b))
	// Created files load (once they hold SQL).
	require.NoError(t, os.WriteFile(p, append(b, "CREATE TABLE t (x);\n"...), 0o644))
}
