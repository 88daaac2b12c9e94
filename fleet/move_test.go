package fleet

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
)

// TestTenantTablesCoverSchema fails when the agent-records schema gains a table that a move
// would not know about: every table is either copied with its tenant or known to hold no
// tenant's rows.
func TestTenantTablesCoverSchema(t *testing.T) {
	ctx := context.Background()
	tf := newTestFleet(t, Options{})
	db, err := tf.CreateDatabase(ctx) // with the agent-records schema
	require.NoError(t, err)
	c, err := tf.Client(db.ID)
	require.NoError(t, err)
	tables, err := d1.QueryAll[string](ctx, c, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
	require.NoError(t, err)
	notPerTenant := []string{"d1_migrations", "d1seal_migration_checksums", "record_writes", "sqlite_sequence", "d1seal_fleet_fences"}
	for _, name := range tables {
		known := slices.ContainsFunc(tenantTables, func(tt tenantTable) bool { return tt.name == name }) || slices.Contains(notPerTenant, name)
		assert.True(t, known, "table %s of the agent-records schema: add it to tenantTables (fleet/move.go) or to the tables that hold no tenant's rows", name)
	}
}
