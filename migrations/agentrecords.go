package migrations

import (
	"embed"
	"fmt"
)

//go:embed agentrecords/*.sql
var agentRecordsFS embed.FS

// AgentRecords returns the migrations of d1seal's agent-records schema, the default set:
// 0001_agent_records.sql is the original agent-records schema (the records,
// shared_records, agents and events tables with all their indexes and constraints);
// 0002_sealing.sql adds what sealing needs (record versions, signatures, key ids, write ids,
// the agent_keys history; see package records); 0003_write_log.sql logs every write of a
// record in its own transaction, so that a client can tell whether a write whose response was
// lost committed; 0004_trust.sql adds the signed key log, signed agent metadata, signed and
// chained events, and tombstones of deleted records (see package records);
// 0005_restorable_write_log.sql lets a data-only backup restore into a database that already
// has the schema (the write log keeps one row when a restored record and the dump both log a
// write); 0006_search.sql adds the blind indexes of encrypted search (records.Collection.Find)
// and index keys shared with other agents. Later changes are later files, never edits of
// applied ones.
func AgentRecords() *Set {
	set, err := Load(agentRecordsFS, "agentrecords")
	if err != nil {
		panic(fmt.Sprintf("migrations: embedded agent-records set: %v", err)) // caught by the tests
	}
	return set
}
