package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
)

func TestEnvironments(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "d1seal.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"environments": {
		"local":      {"local_dir": "`+filepath.Join(dir, "local-data")+`"},
		"staging":    {"local_dir": "`+filepath.Join(dir, "staging-data")+`"},
		"production": {"account_id": "acct", "database_id": "prod-db"}
	}}`), 0o644))

	// Two local environments are two databases.
	code, _, errOut := d1sealCmd(t, dir, "-env", "staging", "-config", cfg, "exec", "-command", "CREATE TABLE s (v TEXT)")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "staging-data")
	code, _, errOut = d1sealCmd(t, dir, "-env", "local", "-config", cfg, "exec", "-command", "SELECT * FROM s")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no such table: s")

	// A Cloudflare environment needs the token from the environment, never from the file.
	code, _, errOut = d1sealCmd(t, dir, "-env", "production", "-config", cfg, "exec", "-command", "SELECT 1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "set CLOUDFLARE_API_TOKEN")

	code, _, errOut = d1sealCmd(t, dir, "-env", "nope", "-config", cfg, "exec", "-command", "SELECT 1")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `no environment "nope"`)
	assert.Contains(t, errOut, "local, production, staging")

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"environments": {"x": {"database_id": "d", "api_token": "secret"}}}`), 0o644))
	code, _, errOut = d1sealCmd(t, dir, "-env", "x", "-config", bad, "exec", "-command", "SELECT 1")
	assert.Equal(t, 1, code)
	assert.NotContains(t, errOut, "secret")

	// Missing or partial credentials without -env: a clear message, non-zero exit.
	t.Setenv(d1.EnvAPIToken, "tok-only")
	var out, stderr bytes.Buffer
	code = run(context.Background(), []string{"-local", dir, "exec", "-command", "SELECT 1"}, &out, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), d1.EnvAccountID)
	assert.NotContains(t, stderr.String(), "tok-only")
}

func TestTimeTravelBaselineAndFlags(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := d1sealCmd(t, dir, "exec", "-command", "CREATE TABLE n (v TEXT); INSERT INTO n VALUES ('a')")
	require.Equal(t, 0, code, errOut)
	code, out, _ := d1sealCmd(t, dir, "time-travel", "bookmark")
	require.Equal(t, 0, code)
	bm := strings.TrimSpace(out)
	code, _, _ = d1sealCmd(t, dir, "exec", "-command", "DELETE FROM n")
	require.Equal(t, 0, code)
	code, out, errOut = d1sealCmd(t, dir, "time-travel", "restore", "-y", bm)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "to undo")
	code, out, _ = d1sealCmd(t, dir, "exec", "-json", "-command", "SELECT count(*) AS n FROM n")
	require.Equal(t, 0, code)
	var res []struct {
		Results []map[string]float64
		Meta    struct {
			RowsRead int64 `json:"rows_read"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, []map[string]float64{{"n": 1}}, res[0].Results, "the restore brought the row back")
	assert.Positive(t, res[0].Meta.RowsRead)

	// export -output with a progress bar, import -file.
	backup := filepath.Join(dir, "b.sql")
	code, _, errOut = d1sealCmd(t, dir, "export", "-output", backup)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "export: complete")
	assert.Contains(t, errOut, "100%")
	code, out, errOut = d1sealCmd(t, t.TempDir(), "import", "-file", backup)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "imported")
	assert.Contains(t, errOut, "import: uploading")

	// migrate baseline records without running.
	mig := filepath.Join(dir, "m")
	require.NoError(t, os.Mkdir(mig, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mig, "0001_n.sql"), []byte("CREATE TABLE n (v TEXT);"), 0o644))
	code, out, errOut = d1sealCmd(t, dir, "migrate", "baseline", "-y", "-dir", mig)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "recorded as applied (baseline, not run): 0001_n.sql")
	code, out, _ = d1sealCmd(t, dir, "migrate", "status", "-dir", mig)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "applied")

	// Bad flags: usage and exit 2.
	for _, args := range [][]string{{"exec", "-nope"}, {"time-travel"}, {"time-travel", "sideways"}, {"import", "-file", "a", "b"}, {"exec", "-command", "x", "y"}} {
		code, _, errOut := d1sealCmd(t, dir, args...)
		assert.Equal(t, 2, code, "%v: %s", args, errOut)
	}
}

func TestPassphraseNeverFromNowhere(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvPassphrase, "")
	r, w, err := os.Pipe() // not a terminal: no prompt
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, stdin: r, local: dir}
	err = cmdKeys(context.Background(), e, []string{"generate", "-did", "did:plc:a", "-out", filepath.Join(dir, "a.key")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), EnvPassphrase)
	_, statErr := os.Stat(filepath.Join(dir, "a.key"))
	assert.True(t, os.IsNotExist(statErr), "no key file is written without a passphrase")
}

func TestLocalServes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"local", "-addr", "127.0.0.1:0", "-dir", ""}, &out, &errOut)
	assert.Equal(t, 0, code, errOut.String())
	assert.Contains(t, out.String(), "export CLOUDFLARE_API_BASE_URL=http://127.0.0.1:")
	assert.Contains(t, out.String(), "export D1_DATABASE_ID=")
}
