package migrations_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/records"
)

// agentRecordsRows writes one agent and two records (each write logged in record_writes by
// the triggers), plus an event, as plain SQL.
func agentRecordsRows(t *testing.T, c *d1.Client) {
	t.Helper()
	_, err := c.ExecScript(context.Background(), `
INSERT INTO agents (did, public_key, signing_key, created_at) VALUES ('did:plc:alice', X'01', X'02', '2026-11-30T00:00:00Z');
INSERT INTO records (id, did, collection, rkey, ciphertext, encrypted_dek, nonce, created_at, updated_at, write_id)
  VALUES ('did:plc:alice/a.b.c/3n3aaaaaaaaa2', 'did:plc:alice', 'a.b.c', '3n3aaaaaaaaa2', X'00', X'00', X'00', '2026-11-30T00:00:00Z', '2026-11-30T00:00:00Z', 'w1'),
         ('did:plc:alice/a.b.c/3n3aaaaaaaaa3', 'did:plc:alice', 'a.b.c', '3n3aaaaaaaaa3', X'00', X'00', X'00', '2026-11-30T00:00:00Z', '2026-11-30T00:00:00Z', 'w2');
UPDATE records SET write_id = 'w3' WHERE rkey = '3n3aaaaaaaaa3';`)
	require.NoError(t, err)
}

func dataTables(t *testing.T, c *d1.Client) []string {
	t.Helper()
	names, err := d1.QueryAll[string](context.Background(), c,
		`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'
		 AND name NOT IN ('d1_migrations', 'd1seal_migration_checksums') ORDER BY name`)
	require.NoError(t, err)
	return names
}

func dump(t *testing.T, c *d1.Client, table string) []map[string]any {
	t.Helper()
	r, err := c.Query(context.Background(), "SELECT * FROM "+table+" ORDER BY 1, 2")
	require.NoError(t, err)
	var rows []map[string]any
	for _, row := range r.All() {
		m := map[string]any{}
		for j, col := range row.Columns() {
			m[col] = row.Value(j)
		}
		rows = append(rows, m)
	}
	return rows
}

// TestBackupRestoresIntoSchema is a backup that once did not restore: a data-only export
// of a database holding the agent-records schema, imported into another database that already
// has the schema, failed on the write log (UNIQUE constraint failed: record_writes.write_id),
// because each restored records row logs its write id through the trigger before the dump's
// own record_writes rows arrive. Migration 0005 makes that conflict keep one row. The control
// runs the same restore with the schema only up to 0004 and sees the old failure.
func TestBackupRestoresIntoSchema(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		target int64
		fails  string
	}{
		{"up to 0004 (control)", 4, "record_writes.write_id"},
		{"with 0005", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, src := local(t)
			_, err := migrations.Apply(ctx, src, records.Schema(), migrations.ApplyOptions{Target: tc.target})
			require.NoError(t, err)
			agentRecordsRows(t, src)
			n, err := d1.QueryOne[int](ctx, src, "SELECT count(*) FROM record_writes")
			require.NoError(t, err)
			require.Equal(t, 3, n, "the triggers logged w1, w2 and w3")

			tables := dataTables(t, src)
			var backup bytes.Buffer
			_, err = src.Export(ctx, &backup, d1.ExportOptions{NoSchema: true, Tables: tables})
			require.NoError(t, err)
			require.Contains(t, backup.String(), `INSERT INTO "record_writes"`)

			_, dst := local(t)
			_, err = migrations.Apply(ctx, dst, records.Schema(), migrations.ApplyOptions{Target: tc.target})
			require.NoError(t, err)
			_, err = dst.Import(ctx, bytes.NewReader(backup.Bytes()), d1.ImportOptions{})
			if tc.fails != "" {
				require.Error(t, err, "the control: without 0005 the restore fails")
				assert.Contains(t, err.Error(), tc.fails)
				return
			}
			require.NoError(t, err)
			for _, table := range tables {
				assert.Equal(t, dump(t, src, table), dump(t, dst, table), "table %s restored as it was", table)
			}
		})
	}
}

// TestBackupRestoresIntoFreshDatabase: a whole export (schema and data) of the agent-records
// schema imports into an empty database and carries every row and the ledger.
func TestBackupRestoresIntoFreshDatabase(t *testing.T) {
	ctx := context.Background()
	_, src := local(t)
	_, err := migrations.Apply(ctx, src, records.Schema(), migrations.ApplyOptions{})
	require.NoError(t, err)
	agentRecordsRows(t, src)
	var backup bytes.Buffer
	_, err = src.Export(ctx, &backup, d1.ExportOptions{})
	require.NoError(t, err)

	_, dst := local(t)
	_, err = dst.Import(ctx, bytes.NewReader(backup.Bytes()), d1.ImportOptions{})
	require.NoError(t, err)
	for _, table := range dataTables(t, src) {
		assert.Equal(t, dump(t, src, table), dump(t, dst, table), "table %s restored as it was", table)
	}
	st, err := migrations.Status(ctx, dst, records.Schema(), migrations.StatusOptions{})
	require.NoError(t, err)
	for _, e := range st {
		assert.Equal(t, migrations.Applied, e.State, "%s after the restore", e.Name)
	}
	// The restored database goes on working: a new write is logged.
	_, err = dst.Exec(ctx, "UPDATE records SET write_id = 'w4' WHERE rkey = '3n3aaaaaaaaa2'")
	require.NoError(t, err)
	n, err := d1.QueryOne[int](ctx, dst, "SELECT count(*) FROM record_writes WHERE write_id = 'w4'")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}
