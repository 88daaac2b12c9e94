package d1

import "testing"

func TestIsReadOnly(t *testing.T) {
	for sql, want := range map[string]bool{
		"SELECT 1":                                           true,
		"  -- a comment\nselect x FROM t":                    true,
		"/* c */ VALUES (1)":                                 true,
		"EXPLAIN QUERY PLAN SELECT 1":                        true,
		"WITH a AS (SELECT 1) SELECT * FROM a":               true,
		"WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a": false,
		"PRAGMA table_info(t)":                               true,
		"PRAGMA foreign_keys = ON":                           false,
		"PRAGMA optimize":                                    false,
		"INSERT INTO t VALUES (1)":                           false,
		"UPDATE t SET x = 1":                                 false,
		"":                                                   false,
		"-- only a comment":                                  false,
	} {
		if got := IsReadOnly(sql); got != want {
			t.Errorf("IsReadOnly(%q) = %v, want %v", sql, got, want)
		}
	}
}
