package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/fleet"
	"github.com/d1seal/d1seal/records"
)

// fleetCmd runs "d1seal fleet ARGS" in process against a local D1 in dir.
func fleetCmd(t *testing.T, dir string, args ...string) (string, string, error) {
	t.Helper()
	for _, v := range []string{d1.EnvAccountID, d1.EnvAPIToken, d1.EnvDatabaseID, d1.EnvBaseURL} {
		t.Setenv(v, "")
	}
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, local: dir}
	err := runFleet(context.Background(), e, args)
	if e.db != nil {
		e.db.Close()
	}
	return out.String(), errOut.String(), err
}

func TestFleetCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv(EnvPassphrase, "fleet operator passphrase")
	op, err := crypto.GenerateAgent("did:web:operator.example", crypto.GenerateOptions{})
	require.NoError(t, err)
	keyFile := filepath.Join(dir, "operator.key")
	require.NoError(t, crypto.WriteKeyFile(keyFile, op, []byte("fleet operator passphrase"), crypto.KeyFileOptions{}))
	pub := hex.EncodeToString(op.VerifyingKey().Bytes())

	out, _, err := fleetCmd(t, dir, "create", "-operator", keyFile, "-n", "3", "-pattern", "tenants-%03d", "-location-hint", "weur", "-json")
	require.NoError(t, err)
	var made []fleet.Database
	require.NoError(t, json.Unmarshal([]byte(out), &made))
	require.Len(t, made, 3)
	assert.Equal(t, "tenants-002", made[1].Name)
	assert.Equal(t, "weur", made[1].LocationHint)

	_, _, err = fleetCmd(t, dir, "create", "-operator", keyFile, "-pattern", "tenants-%03d", "-no-schema")
	require.NoError(t, err)
	out, _, err = fleetCmd(t, dir, "list", "-operator-key", pub)
	require.NoError(t, err)
	assert.Contains(t, out, "tenants-004")

	_, _, err = fleetCmd(t, dir, "list")
	var ue usageError
	require.ErrorAs(t, err, &ue)

	// A tenant placed by a service (the fleet package), with a note.
	db, err := d1seal.OpenLocal(ctx, d1seal.Options{LocalDir: dir})
	require.NoError(t, err)
	f, err := fleet.New(db.Client, fleet.Options{Operator: op})
	require.NoError(t, err)
	alice, err := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	require.NoError(t, err)
	rs := f.Records(records.StoreOptions{})
	_, err = rs.RegisterAgent(ctx, alice, nil)
	require.NoError(t, err)
	notes, err := fleet.NewCollection[map[string]string](rs, alice, "agent.memory.note", records.CollectionOptions[map[string]string]{})
	require.NoError(t, err)
	_, err = notes.Create(ctx, map[string]string{"text": "moved with alice"})
	require.NoError(t, err)
	from, err := f.Route(ctx, "did:plc:alice")
	require.NoError(t, err)
	require.NoError(t, db.Close())

	// Migrate every database with a folder of migrations.
	migs := filepath.Join(dir, "migrations")
	require.NoError(t, os.MkdirAll(migs, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(migs, "0005_tags.sql"), []byte("CREATE TABLE tags (name TEXT PRIMARY KEY);"), 0o644))
	out, _, err = fleetCmd(t, dir, "migrate", "-operator-key", pub, "-dir", migs)
	require.NoError(t, err)
	assert.Contains(t, out, "4 databases: 4 applied, 0 pending, 0 failed, 0 drifted")
	assert.Contains(t, out, "tenants-001 (canary)")
	out, _, err = fleetCmd(t, dir, "status", "-operator-key", pub, "-dir", migs, "-live", "-json")
	require.NoError(t, err)
	var rep fleet.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, 4, rep.Counts[fleet.Applied])

	// Query every database; one failing is reported and fails the command.
	out, _, err = fleetCmd(t, dir, "query", "-operator-key", pub, "-json", "SELECT count(*) AS n FROM tags")
	require.NoError(t, err)
	var rows fleet.Rows[map[string]any]
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	assert.Len(t, rows.Rows, 4)
	assert.Empty(t, rows.Failed)
	out, errOut, err := fleetCmd(t, dir, "query", "-operator-key", pub, "SELECT count(*) AS n FROM records")
	require.Error(t, err, "one database has no records table")
	assert.Contains(t, out, "3 rows from 3 databases, 1 failed")
	assert.Contains(t, errOut, "no such table: records")

	// Moving asks for confirmation; -y goes ahead.
	_, _, err = fleetCmd(t, dir, "move", "-operator", keyFile, "did:plc:alice")
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, err.Error(), "give -y")
	out, _, err = fleetCmd(t, dir, "move", "-operator", keyFile, "-y", "-json", "-to", "tenants-002", "did:plc:alice")
	require.NoError(t, err)
	var moved fleet.MoveReport
	require.NoError(t, json.Unmarshal([]byte(out), &moved))
	assert.Equal(t, from.Database, moved.From)
	assert.Equal(t, made[1].ID, moved.To)
	assert.Equal(t, 1, moved.Rows["records"])
	out, _, err = fleetCmd(t, dir, "list", "-operator-key", pub, "-tenants")
	require.NoError(t, err)
	assert.Contains(t, out, "did:plc:alice  "+made[1].ID+"  2")
}
