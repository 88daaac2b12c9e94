package records_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/d1seal/d1seal/records"
)

// TestSchemaFilesNeverChange pins the name and checksum of every agent-records migration.
// Databases record each applied file's checksum (and wrangler its name), so an edited file
// shows as drift in every database already migrated: change the schema with a new file, and
// add its line here.
func TestSchemaFilesNeverChange(t *testing.T) {
	want := []string{
		"0001_agent_records.sql 78887d3a0b266b830bfe9af5440697180dcf24df7017866be7e39a70c0e2d95b",
		"0002_sealing.sql 5d5c8616b24309a0cf37d312506c956e50d7c5647910e0fdac479ded440e0eb6",
		"0003_write_log.sql 4326a4512784a54ce167cc5fd974855ec9ad3d9c7d5cbc71c160ec3c46895810",
		"0004_trust.sql 477b7c09fe688278b67c2c850fa48d1f9fabd1e9406cb2495ae4d18c89ec8672",
		"0005_restorable_write_log.sql d043ec3f4c18b27993ae0b514ebaaac40db26247c285896fae3c41b46d93e37a",
		"0006_search.sql a396db293aa775bcbdd0dbef598645bb3187844c771aca709f8c916aa4ea1ea6",
	}
	var got []string
	for _, m := range records.Schema().Migrations() {
		got = append(got, m.Name+" "+m.Checksum)
	}
	assert.Equal(t, want, got, "an applied migration was edited, or a new one lacks its line here")
}
