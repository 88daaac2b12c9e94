package records

import (
	"embed"
	"fmt"

	"github.com/d1seal/d1seal/migrations"
)

//go:embed schema/*.sql
var schemaFS embed.FS

// Schema returns the migrations of the agent-records schema, which a Store applies on first use
// (unless StoreOptions.ManualSchema); apply it yourself with migrations.Apply, wrangler (the
// files are in this package's schema folder) or `d1seal migrate apply -agent-records`.
//
// 0001_agent_records.sql is the original schema (the records, shared_records, agents and
// events tables with all their indexes and constraints); 0002_sealing.sql adds what sealing
// needs (record versions, signatures, key ids, write ids, the agent_keys history);
// 0003_write_log.sql logs every write of a record in its own transaction, so that a client can
// tell whether a write whose response was lost committed; 0004_trust.sql adds the signed key
// log, signed agent metadata, signed and chained events, and tombstones of deleted records;
// 0005_restorable_write_log.sql lets a data-only backup restore into a database that already
// has the schema (the write log keeps one row when a restored record and the dump both log a
// write); 0006_search.sql adds the blind indexes of encrypted search (Collection.Find) and
// index keys shared with other agents. Later changes are later files, never edits of applied
// ones: databases record each applied file's checksum.
func Schema() *migrations.Set {
	set, err := migrations.Load(schemaFS, "schema")
	if err != nil {
		panic(fmt.Sprintf("records: embedded agent-records schema: %v", err)) // caught by the tests
	}
	return set
}
