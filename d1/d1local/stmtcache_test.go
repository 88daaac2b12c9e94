package d1local_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/stretchr/testify/assert"
)

// TestStatementCacheAnswersAsWithout runs the same requests on a local D1 with the statement
// cache and on one without, and requires the same answers (timings aside): statements reused
// across requests and within batches, schema changes between uses (a dropped table, a
// column added, a table recreated with other columns), a batch that changes the schema and
// rolls back, failures while stepping, and rows_read of reused scans.
func TestStatementCacheAnswersAsWithout(t *testing.T) {
	requests := []any{
		map[string]any{"sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"},
		map[string]any{"batch": []map[string]any{
			{"sql": "INSERT INTO t (v) VALUES (?)", "params": []any{"a"}},
			{"sql": "INSERT INTO t (v) VALUES (?)", "params": []any{"b"}},
			{"sql": "SELECT * FROM t"},
			{"sql": "SELECT * FROM t"},
		}},
		map[string]any{"sql": "INSERT INTO t (v) VALUES (?)", "params": []any{"a"}}, // UNIQUE fails while stepping
		map[string]any{"sql": "INSERT INTO t (v) VALUES (?)", "params": []any{"c"}},
		map[string]any{"sql": "INSERT INTO t (v) VALUES (?)", "params": []any{"x", "y"}}, // wrong count
		map[string]any{"batch": []map[string]any{
			{"sql": "SELECT v FROM t WHERE id = ?", "params": []any{1}},
			{"sql": "ALTER TABLE t ADD COLUMN w INTEGER DEFAULT 7"},
			{"sql": "SELECT * FROM t"},
		}},
		map[string]any{"sql": "SELECT * FROM t"},
		map[string]any{"batch": []map[string]any{
			{"sql": "DROP TABLE t"},
			{"sql": "INSERT INTO t (v) VALUES (?)", "params": []any{"gone"}},
		}}, // rolls back: t is still there
		map[string]any{"sql": "SELECT * FROM t"},
		map[string]any{"batch": []map[string]any{
			{"sql": "DROP TABLE t"},
			{"sql": "CREATE TABLE t (v TEXT, extra BLOB)"},
			{"sql": "INSERT INTO t (v) VALUES (?)", "params": []any{"new"}},
		}},
		map[string]any{"sql": "SELECT * FROM t"},
		map[string]any{"sql": "INSERT INTO t (v) VALUES (?)", "params": []any{"again"}},
		map[string]any{"sql": "DROP TABLE t"},
		map[string]any{"sql": "SELECT * FROM t"},
		map[string]any{"sql": "INSERT INTO t (v) VALUES (?)", "params": []any{"no table"}},
		map[string]any{"sql": "CREATE TABLE t (v)"},
		map[string]any{"sql": "SELECT * FROM t"},
		map[string]any{"sql": "BEGIN"},
		map[string]any{"sql": "SELECT sqlite_version()"},
	}
	timings := regexp.MustCompile(`"(duration|sql_duration_ms)":[0-9.e-]+`)
	answers := func(opts d1local.Options) []string {
		e := newEnv(t, opts)
		var out []string
		for _, r := range requests {
			status, _, raw := e.call(t, "POST", e.dbURL("query"), r)
			b, _ := json.Marshal(status)
			out = append(out, string(b)+" "+timings.ReplaceAllString(string(raw), `"$1":0`))
		}
		return out
	}
	without := answers(d1local.Options{StatementCacheSize: -1})
	with := answers(d1local.Options{})
	small := answers(d1local.Options{StatementCacheSize: 1}) // evicts all the time
	for i := range requests {
		assert.Equal(t, without[i], with[i], "request %d with the cache", i)
		assert.Equal(t, without[i], small[i], "request %d with a cache of one", i)
	}
}
