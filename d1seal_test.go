package d1seal_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/d1"
)

func clearEnv(t *testing.T) {
	for _, v := range []string{d1.EnvAccountID, d1.EnvAPIToken, d1.EnvDatabaseID, d1.EnvBaseURL} {
		t.Setenv(v, "")
	}
}

func TestOpenLocalWithoutCredentials(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	db, err := d1seal.Open(ctx, d1seal.Options{LocalDir: dir})
	require.NoError(t, err)
	require.NotNil(t, db.Local, "no credentials: the embedded local D1")
	assert.Contains(t, db.Where, filepath.Join(dir, db.Client.DatabaseID()+".sqlite"))
	_, err = db.Client.Exec(ctx, "CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('x')")
	require.Error(t, err, "Exec runs one statement")
	_, err = db.Client.ExecScript(ctx, "CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('x')")
	require.NoError(t, err)
	id := db.Client.DatabaseID()
	require.NoError(t, db.Close())

	// Opening the folder again finds the same database and its data.
	db, err = d1seal.Open(ctx, d1seal.Options{LocalDir: dir})
	require.NoError(t, err)
	defer db.Close()
	assert.Equal(t, id, db.Client.DatabaseID())
	v, err := d1.QueryOne[string](ctx, db.Client, "SELECT v FROM kept")
	require.NoError(t, err)
	assert.Equal(t, "x", v)
}

func TestOpenInMemory(t *testing.T) {
	clearEnv(t)
	db, err := d1seal.Open(context.Background(), d1seal.Options{})
	require.NoError(t, err)
	defer db.Close()
	assert.Equal(t, "in-memory local D1", db.Where)
}

func TestOpenWithCredentials(t *testing.T) {
	clearEnv(t)
	t.Setenv(d1.EnvAccountID, "acct")
	t.Setenv(d1.EnvAPIToken, "tok")
	t.Setenv(d1.EnvDatabaseID, "db-uuid")
	db, err := d1seal.Open(context.Background(), d1seal.Options{LocalDir: t.TempDir()})
	require.NoError(t, err)
	assert.Nil(t, db.Local, "credentials: Cloudflare D1, no local D1")
	assert.Equal(t, "db-uuid", db.Client.DatabaseID())
	assert.Equal(t, "Cloudflare D1 database db-uuid", db.Where)
	require.NoError(t, db.Close())
}

func TestOpenWithSomeCredentialsIsAnError(t *testing.T) {
	clearEnv(t)
	t.Setenv(d1.EnvAPIToken, "tok")
	_, err := d1seal.Open(context.Background(), d1seal.Options{LocalDir: t.TempDir()})
	require.Error(t, err, "a partial configuration never falls back to the local D1 silently")
	assert.False(t, errors.Is(err, d1.ErrNoCredentials))
	assert.Contains(t, err.Error(), d1.EnvAccountID)
	assert.Contains(t, err.Error(), d1.EnvDatabaseID)
	assert.NotContains(t, err.Error(), "tok")
}
