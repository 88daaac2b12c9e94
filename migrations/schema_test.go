package migrations_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/records"
)

// describe renders a table as D1 reports it through PRAGMA table_info, index_list, index_info
// and foreign_key_list: one line per column, index (sorted by name) and foreign key.
func describe(t *testing.T, c *d1.Client, table string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	cols, err := c.Query(ctx, fmt.Sprintf("PRAGMA table_info(%q)", table))
	require.NoError(t, err)
	for _, r := range cols.All() {
		var (
			cid, notnull, pk int64
			name, typ        string
			dflt             *string
		)
		require.NoError(t, r.Scan(&cid, &name, &typ, &notnull, &dflt, &pk))
		line := "column " + name + " " + typ
		if notnull == 1 {
			line += " NOT NULL"
		}
		if dflt != nil {
			line += " DEFAULT " + *dflt
		}
		if pk > 0 {
			line += fmt.Sprintf(" PK%d", pk)
		}
		out = append(out, line)
	}
	idx, err := c.Query(ctx, fmt.Sprintf("PRAGMA index_list(%q)", table))
	require.NoError(t, err)
	var idxLines []string
	for _, r := range idx.All() {
		var (
			seq, unique, partial int64
			name, origin         string
		)
		require.NoError(t, r.Scan(&seq, &name, &unique, &origin, &partial))
		colNames, err := d1.QueryAll[string](ctx, c, fmt.Sprintf("SELECT name FROM pragma_index_info(%s) ORDER BY seqno", quote(name)))
		require.NoError(t, err)
		kind := "index"
		if unique == 1 {
			kind = "unique"
		}
		idxLines = append(idxLines, fmt.Sprintf("%s %s origin=%s (%s)", kind, name, origin, strings.Join(colNames, ", ")))
	}
	sort.Strings(idxLines)
	out = append(out, idxLines...)
	fks, err := c.Query(ctx, fmt.Sprintf("PRAGMA foreign_key_list(%q)", table))
	require.NoError(t, err)
	for _, r := range fks.All() {
		var (
			id, seq                                  int64
			parent, from, to, onUpdate, onDel, match string
		)
		require.NoError(t, r.Scan(&id, &seq, &parent, &from, &to, &onUpdate, &onDel, &match))
		out = append(out, fmt.Sprintf("foreign key %s -> %s(%s) on delete %s", from, parent, to, onDel))
	}
	return out
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// The agent-records schema as 0001 creates it: every column with its type,
// NOT NULL, default and key; every index, the automatic ones of PRIMARY KEY and UNIQUE included;
// every foreign key.
var agentRecordsSchema = map[string][]string{
	"records": {
		"column id TEXT PK1",
		"column did TEXT NOT NULL",
		"column collection TEXT NOT NULL",
		"column rkey TEXT NOT NULL",
		"column ciphertext BLOB NOT NULL",
		"column encrypted_dek BLOB",
		"column nonce BLOB NOT NULL",
		"column public INTEGER DEFAULT 0",
		"column created_at TEXT NOT NULL",
		"column updated_at TEXT",
		"index idx_records_collection origin=c (collection)",
		"index idx_records_created origin=c (created_at)",
		"index idx_records_did origin=c (did)",
		"index idx_records_did_collection origin=c (did, collection)",
		"unique sqlite_autoindex_records_1 origin=pk (id)",
		"unique sqlite_autoindex_records_2 origin=u (did, collection, rkey)",
	},
	"shared_records": {
		"column id INTEGER PK1",
		"column record_id TEXT NOT NULL",
		"column recipient_did TEXT NOT NULL",
		"column encrypted_dek BLOB NOT NULL",
		"column shared_at TEXT NOT NULL",
		"index idx_shared_recipient origin=c (recipient_did)",
		"unique sqlite_autoindex_shared_records_1 origin=u (record_id, recipient_did)",
		"foreign key record_id -> records(id) on delete NO ACTION",
	},
	"agents": {
		"column did TEXT PK1",
		"column public_key BLOB NOT NULL",
		"column signing_key BLOB NOT NULL",
		"column metadata TEXT",
		"column created_at TEXT NOT NULL",
		"column updated_at TEXT",
		"unique sqlite_autoindex_agents_1 origin=pk (did)",
	},
	"events": {
		"column id TEXT PK1",
		"column agent_did TEXT NOT NULL",
		"column event_type TEXT NOT NULL",
		"column outcome TEXT NOT NULL",
		"column timestamp TEXT NOT NULL",
		"column duration_ms INTEGER",
		"column session_id TEXT",
		"column trace_id TEXT",
		"column span_id TEXT",
		"column context TEXT",
		"column reasoning TEXT",
		"column error TEXT",
		"column created_at TEXT DEFAULT CURRENT_TIMESTAMP",
		"index idx_events_agent origin=c (agent_did)",
		"index idx_events_session origin=c (session_id)",
		"index idx_events_timestamp origin=c (timestamp)",
		"index idx_events_type origin=c (event_type)",
		"unique sqlite_autoindex_events_1 origin=pk (id)",
		"foreign key agent_did -> agents(did) on delete NO ACTION",
	},
}

// The ChittyConnect schema, from chittyconnect-migrations.md's schema documentation: its key
// fields (primary keys, unique names and ChittyIDs, the foreign key to actors, JSON columns
// kept as TEXT, status columns for soft delete, uninstalled_at) and the indexes it lists
// (foreign keys, status, timestamps for pagination, unique constraints).
var chittyConnectSchema = map[string][]string{
	"contexts": {
		"column chitty_id TEXT PK1",
		"column name TEXT NOT NULL",
		"column owner_chitty_id TEXT NOT NULL",
		"column data TEXT NOT NULL DEFAULT '[]'",
		"column systems TEXT NOT NULL DEFAULT '[]'",
		"column tools TEXT NOT NULL DEFAULT '[]'",
		"column chitty_dna_id TEXT",
		"column status TEXT NOT NULL DEFAULT 'active'",
		"column created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP",
		"column updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP",
		"index idx_contexts_created origin=c (created_at)",
		"index idx_contexts_owner origin=c (owner_chitty_id)",
		"index idx_contexts_status origin=c (status)",
		"unique sqlite_autoindex_contexts_1 origin=pk (chitty_id)",
		"unique sqlite_autoindex_contexts_2 origin=u (name)",
		"foreign key owner_chitty_id -> actors(chitty_id) on delete NO ACTION",
	},
	"installations": {
		"column installation_id INTEGER PK1",
		"column chitty_id TEXT NOT NULL",
		"column account_id INTEGER NOT NULL",
		"column account_login TEXT NOT NULL",
		"column repository_selection TEXT NOT NULL DEFAULT 'all'",
		"column permissions TEXT NOT NULL DEFAULT '{}'",
		"column events TEXT NOT NULL DEFAULT '[]'",
		"column created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP",
		"column updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP",
		"column uninstalled_at TEXT",
		"index idx_installations_account origin=c (account_id)",
		"index idx_installations_created origin=c (created_at)",
		"index idx_installations_uninstalled origin=c (uninstalled_at)",
		"unique sqlite_autoindex_installations_1 origin=u (chitty_id)",
	},
	"actors": {
		"column chitty_id TEXT PK1",
		"column actor_type TEXT NOT NULL",
		"column capabilities TEXT NOT NULL DEFAULT '[]'",
		"column status TEXT NOT NULL DEFAULT 'active'",
		"column created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP",
		"column updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP",
		"index idx_actors_created origin=c (created_at)",
		"index idx_actors_status origin=c (status)",
		"index idx_actors_type origin=c (actor_type)",
		"unique sqlite_autoindex_actors_1 origin=pk (chitty_id)",
	},
	"connections": {
		"column connection_id TEXT PK1",
		"column source_chitty_id TEXT NOT NULL",
		"column target_service TEXT NOT NULL",
		"column credentials_kv_key TEXT",
		"column status TEXT NOT NULL DEFAULT 'active'",
		"column created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP",
		"column updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP",
		"index idx_connections_created origin=c (created_at)",
		"index idx_connections_source origin=c (source_chitty_id)",
		"index idx_connections_status origin=c (status)",
		"index idx_connections_target origin=c (target_service)",
		"unique sqlite_autoindex_connections_1 origin=pk (connection_id)",
		// source_chitty_id is "context or actor": enforced by triggers, checked below.
	},
}

func checkSchema(t *testing.T, c *d1.Client, want map[string][]string) {
	t.Helper()
	var tables []string
	for name := range want {
		tables = append(tables, name)
	}
	tables = append(tables, "d1_migrations", "d1seal_migration_checksums")
	sort.Strings(tables)
	assert.Equal(t, tables, objects(t, c, "table"), "the tables, and no others")
	for name, lines := range want {
		assert.Equal(t, lines, describe(t, c, name), "table %s", name)
	}
}

func TestAgentRecordsSchema(t *testing.T) {
	ctx := context.Background()
	_, c := local(t)
	// 0001 is the original agent-records schema.
	res, err := migrations.Apply(ctx, c, records.Schema(), migrations.ApplyOptions{Target: 1})
	require.NoError(t, err)
	assert.Equal(t, []string{"0001_agent_records.sql"}, res.Applied)
	checkSchema(t, c, agentRecordsSchema)

	// The constraints hold: UNIQUE(did, collection, rkey), the foreign keys.
	_, err = c.ExecScript(ctx, `INSERT INTO agents (did, public_key, signing_key, created_at) VALUES ('did:plc:a', X'01', X'02', '2026-01-01');
		INSERT INTO records (id, did, collection, rkey, ciphertext, nonce, created_at) VALUES ('r1', 'did:plc:a', 'agent.memory.note', 'k', X'00', X'00', '2026-01-01')`)
	require.NoError(t, err)
	_, err = c.Exec(ctx, `INSERT INTO records (id, did, collection, rkey, ciphertext, nonce, created_at) VALUES ('r2', 'did:plc:a', 'agent.memory.note', 'k', X'00', X'00', '2026-01-01')`)
	assert.True(t, d1.IsUniqueViolation(err), "UNIQUE(did, collection, rkey): %v", err)
	_, err = c.Exec(ctx, `INSERT INTO shared_records (record_id, recipient_did, encrypted_dek, shared_at) VALUES ('nope', 'did:plc:b', X'00', '2026-01-01')`)
	assert.True(t, d1.IsConstraint(err), "shared_records.record_id references records: %v", err)
	_, err = c.Exec(ctx, `INSERT INTO events (id, agent_did, event_type, outcome, timestamp) VALUES ('e1', 'did:plc:nobody', 't', 'ok', '2026-01-01')`)
	assert.True(t, d1.IsConstraint(err), "events.agent_did references agents: %v", err)
	p, err := d1.QueryOne[int64](ctx, c, "SELECT public FROM records WHERE id = 'r1'")
	require.NoError(t, err)
	assert.Zero(t, p, "public defaults to 0")

	// 0002 adds what sealing needs, on top of 0001's rows.
	res, err = migrations.Apply(ctx, c, records.Schema(), migrations.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"0002_sealing.sql", "0003_write_log.sql", "0004_trust.sql", "0005_restorable_write_log.sql", "0006_search.sql"}, res.Applied)
	records := describe(t, c, "records")
	for _, line := range []string{"column version INTEGER NOT NULL DEFAULT 1", "column signature BLOB", "column key_id BLOB", "column write_id TEXT",
		"index idx_records_key origin=c (key_id)", "index idx_records_write origin=c (write_id)"} {
		assert.Contains(t, records, line)
	}
	shared := describe(t, c, "shared_records")
	for _, line := range []string{"column version INTEGER NOT NULL DEFAULT 1", "column key_id BLOB", "index idx_shared_key origin=c (key_id)"} {
		assert.Contains(t, shared, line)
	}
	assert.Contains(t, describe(t, c, "agents"), "column pq_key BLOB")
	assert.Contains(t, describe(t, c, "agent_keys"), "foreign key did -> agents(did) on delete NO ACTION")
	v, err := d1.QueryOne[int64](ctx, c, "SELECT version FROM records WHERE id = 'r1'")
	require.NoError(t, err)
	assert.Equal(t, int64(1), v, "existing rows get version 1")

	// 0003 logs every write of a row in the same transaction.
	assert.Contains(t, describe(t, c, "record_writes"), "column write_id TEXT PK1")
	assert.Equal(t, []string{"records_log_insert", "records_log_update"}, objects(t, c, "trigger"))
	_, err = c.ExecScript(ctx, `INSERT INTO records (id, did, collection, rkey, ciphertext, nonce, created_at, write_id) VALUES ('r2', 'did:plc:a', 'agent.memory.note', 'k2', X'00', X'00', '2026-01-01', 'w1');
		UPDATE records SET write_id = 'w2' WHERE id = 'r2';
		UPDATE records SET version = 2 WHERE id = 'r2'`)
	require.NoError(t, err)
	logged, err := d1.QueryAll[string](ctx, c, "SELECT write_id FROM record_writes WHERE record_id = 'r2' ORDER BY write_id")
	require.NoError(t, err)
	assert.Equal(t, []string{"w1", "w2"}, logged, "inserts and write_id changes are logged, other updates not")
}

func chittyConnect(t *testing.T) *migrations.Set {
	t.Helper()
	s, err := migrations.LoadDir(filepath.Join("..", "examples", "chittyconnect", "migrations"))
	require.NoError(t, err)
	return s
}

func TestChittyConnectSchema(t *testing.T) {
	ctx := context.Background()
	_, c := local(t)
	s := chittyConnect(t)
	res, err := migrations.Apply(ctx, c, s, migrations.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"0001_create_contexts_table.sql", "0002_create_installations_table.sql",
		"0003_create_actors_table.sql", "0004_create_connections_table.sql"}, res.Applied, "the file names of the original wrangler commands")
	checkSchema(t, c, chittyConnectSchema)
	assert.Equal(t, []string{"actors_delete_connected", "connections_source_insert", "connections_source_update", "contexts_delete_connected"},
		objects(t, c, "trigger"))

	exec := func(sql string) error { _, err := c.Exec(ctx, sql); return err }
	// actors: type and status are checked, capabilities must be a JSON array.
	require.NoError(t, exec(`INSERT INTO actors (chitty_id, actor_type, capabilities) VALUES ('CHITTY-A1', 'ai', '["read"]')`))
	require.NoError(t, exec(`INSERT INTO actors (chitty_id, actor_type) VALUES ('CHITTY-A2', 'human')`))
	assert.Error(t, exec(`INSERT INTO actors (chitty_id, actor_type) VALUES ('CHITTY-A3', 'robot')`), "actor_type is human, ai, service or system")
	assert.Error(t, exec(`INSERT INTO actors (chitty_id, actor_type, capabilities) VALUES ('CHITTY-A3', 'ai', '{"not": "an array"}')`))
	assert.Error(t, exec(`UPDATE actors SET status = 'gone' WHERE chitty_id = 'CHITTY-A2'`), "status is active, suspended or deleted")
	// contexts: owner must be an actor, name unique, JSON arrays.
	require.NoError(t, exec(`INSERT INTO contexts (chitty_id, name, owner_chitty_id, tools) VALUES ('CHITTY-C1', 'main', 'CHITTY-A1', '["git"]')`))
	assert.True(t, d1.IsConstraint(exec(`INSERT INTO contexts (chitty_id, name, owner_chitty_id) VALUES ('CHITTY-C2', 'other', 'CHITTY-NOBODY')`)), "owner_chitty_id references actors")
	assert.True(t, d1.IsUniqueViolation(exec(`INSERT INTO contexts (chitty_id, name, owner_chitty_id) VALUES ('CHITTY-C2', 'main', 'CHITTY-A1')`)), "name is unique")
	assert.Error(t, exec(`INSERT INTO contexts (chitty_id, name, owner_chitty_id, data) VALUES ('CHITTY-C2', 'other', 'CHITTY-A1', 'not json')`))
	// installations: unique chitty_id, repository_selection, JSON configuration.
	require.NoError(t, exec(`INSERT INTO installations (installation_id, chitty_id, account_id, account_login, permissions, events) VALUES (1001, 'CHITTY-I1', 42, 'octo', '{"contents": "read"}', '["push"]')`))
	assert.True(t, d1.IsUniqueViolation(exec(`INSERT INTO installations (installation_id, chitty_id, account_id, account_login) VALUES (1002, 'CHITTY-I1', 42, 'octo')`)), "chitty_id is unique")
	assert.Error(t, exec(`INSERT INTO installations (installation_id, chitty_id, account_id, account_login, repository_selection) VALUES (1003, 'CHITTY-I3', 42, 'octo', 'some')`))
	// connections: the source is a context or an actor.
	require.NoError(t, exec(`INSERT INTO connections (connection_id, source_chitty_id, target_service, credentials_kv_key) VALUES ('c-1', 'CHITTY-C1', 'github', 'api_keys:github')`))
	require.NoError(t, exec(`INSERT INTO connections (connection_id, source_chitty_id, target_service) VALUES ('c-2', 'CHITTY-A2', 'notion')`))
	err = exec(`INSERT INTO connections (connection_id, source_chitty_id, target_service) VALUES ('c-3', 'CHITTY-NOBODY', 'x')`)
	assert.ErrorContains(t, err, "names no context or actor")
	assert.ErrorContains(t, exec(`UPDATE connections SET source_chitty_id = 'CHITTY-NOBODY' WHERE connection_id = 'c-1'`), "names no context or actor")
	assert.ErrorContains(t, exec(`DELETE FROM contexts WHERE chitty_id = 'CHITTY-C1'`), "a connection names this context")
	assert.ErrorContains(t, exec(`DELETE FROM actors WHERE chitty_id = 'CHITTY-A2'`), "a connection names this actor")
	assert.Error(t, exec(`UPDATE connections SET status = 'gone' WHERE connection_id = 'c-1'`), "status is active, inactive, failed or disconnected")
	// Soft delete is the way out.
	require.NoError(t, exec(`UPDATE connections SET status = 'disconnected' WHERE connection_id = 'c-1'`))
	require.NoError(t, exec(`UPDATE contexts SET status = 'deleted' WHERE chitty_id = 'CHITTY-C1'`))
}

func TestBothSetsInOneDatabase(t *testing.T) {
	ctx := context.Background()
	_, c := local(t)
	_, err := migrations.Apply(ctx, c, records.Schema(), migrations.ApplyOptions{})
	require.NoError(t, err)
	_, err = migrations.Apply(ctx, c, chittyConnect(t), migrations.ApplyOptions{Table: "chittyconnect_migrations"})
	require.NoError(t, err)
	assert.Equal(t, []string{"0001_agent_records.sql", "0002_sealing.sql", "0003_write_log.sql", "0004_trust.sql", "0005_restorable_write_log.sql", "0006_search.sql"}, ledgerNames(t, c, "d1_migrations"))
	assert.Len(t, ledgerNames(t, c, "chittyconnect_migrations"), 4)
	st, err := migrations.Status(ctx, c, records.Schema(), migrations.StatusOptions{})
	require.NoError(t, err)
	require.Len(t, st, 6)
	for _, en := range st {
		assert.Equal(t, migrations.Applied, en.State, en.Name)
	}
	n, err := d1.QueryOne[int64](ctx, c, "SELECT count(*) FROM d1seal_migration_checksums")
	require.NoError(t, err)
	assert.Equal(t, int64(10), n, "one checksum table, keyed by ledger and name")
}
