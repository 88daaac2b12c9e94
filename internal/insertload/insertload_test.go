package insertload

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInserts: every row is inserted once, in statements within D1's 100 bound parameters,
// each guarded by its own write id.
func TestInserts(t *testing.T) {
	stmts := Inserts("records", "record_writes", 100)
	require.Len(t, stmts, 15, "ceil(100 / 7)")
	ids := map[string]bool{}
	for _, st := range stmts {
		assert.LessOrEqual(t, len(st.Args), 100)
		rows := (len(st.Args) - 1) / 13
		assert.Equal(t, rows*13+1, len(st.Args))
		assert.Equal(t, rows, strings.Count(st.SQL, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
		assert.Equal(t, st.Args[12], st.Args[len(st.Args)-1], "the guard is the statement's write id")
		for r := range rows {
			ids[st.Args[r*13].(string)] = true
			assert.Len(t, st.Args[r*13+4], 1024, "a 1 KiB ciphertext")
		}
	}
	assert.Len(t, ids, 100)
	assert.Contains(t, Schema("records", "record_writes"), "UNIQUE(did, collection, rkey)")
}
