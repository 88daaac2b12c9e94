package d1local

import (
	"strings"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// D1 runs every statement under an SQLite authorizer, so what it refuses fails while the
// statement is prepared, with SQLite's own messages: "not authorized" (SQLITE_AUTH) for a denied
// action and "not authorized to use function: NAME" (SQLITE_ERROR, with the error offset) for a
// denied function. The emulator installs the same kind of authorizer; the lists below are what
// DESIGN.md §3 and Cloudflare's D1 documentation name.

// deniedFunctions are SQL functions D1 refuses.
var deniedFunctions = map[string]bool{
	"sqlite_version":            true,
	"sqlite_source_id":          true,
	"sqlite_compileoption_get":  true,
	"sqlite_compileoption_used": true,
	"load_extension":            true,
}

// allowedPragmas are the PRAGMAs D1 documents as supported; every other PRAGMA is refused.
// foreign_keys is allowed but, since every request is a transaction, setting it is a no-op,
// exactly as in D1.
var allowedPragmas = map[string]bool{
	"table_list":                true,
	"table_info":                true,
	"table_xinfo":               true,
	"index_list":                true,
	"index_info":                true,
	"index_xinfo":               true,
	"quick_check":               true,
	"foreign_key_check":         true,
	"foreign_key_list":          true,
	"case_sensitive_like":       true,
	"ignore_check_constraints":  true,
	"legacy_alter_table":        true,
	"recursive_triggers":        true,
	"reverse_unordered_selects": true,
	"foreign_keys":              true,
	"defer_foreign_keys":        true,
	"optimize":                  true,
	"data_version":              true,
}

// reservedTable reports whether name is one of D1's internal tables (_cf_*), which user SQL may
// neither create nor touch.
func reservedTable(name string) bool {
	return len(name) >= 4 && strings.EqualFold(name[:4], "_cf_")
}

// authorize is D1's policy for one action of a user statement.
func authorize(action int32, arg1, arg2, dbName string) int32 {
	switch action {
	case sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT,
		sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH,
		sqlite3.SQLITE_CREATE_TEMP_INDEX, sqlite3.SQLITE_CREATE_TEMP_TABLE,
		sqlite3.SQLITE_CREATE_TEMP_TRIGGER, sqlite3.SQLITE_CREATE_TEMP_VIEW,
		sqlite3.SQLITE_DROP_TEMP_INDEX, sqlite3.SQLITE_DROP_TEMP_TABLE,
		sqlite3.SQLITE_DROP_TEMP_TRIGGER, sqlite3.SQLITE_DROP_TEMP_VIEW:
		return sqlite3.SQLITE_DENY
	case sqlite3.SQLITE_FUNCTION:
		if deniedFunctions[strings.ToLower(arg2)] {
			return sqlite3.SQLITE_DENY
		}
	case sqlite3.SQLITE_PRAGMA:
		if !allowedPragmas[strings.ToLower(arg1)] {
			return sqlite3.SQLITE_DENY
		}
	case sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_DROP_TABLE,
		sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_DROP_VIEW,
		sqlite3.SQLITE_CREATE_VTABLE, sqlite3.SQLITE_DROP_VTABLE,
		sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE, sqlite3.SQLITE_READ:
		if reservedTable(arg1) {
			return sqlite3.SQLITE_DENY
		}
	case sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_DROP_INDEX,
		sqlite3.SQLITE_CREATE_TRIGGER, sqlite3.SQLITE_DROP_TRIGGER, sqlite3.SQLITE_ALTER_TABLE:
		if reservedTable(arg1) || reservedTable(arg2) {
			return sqlite3.SQLITE_DENY
		}
	}
	if strings.EqualFold(dbName, "temp") {
		return sqlite3.SQLITE_DENY
	}
	return sqlite3.SQLITE_OK
}

// authorizerTrampoline is the C callback SQLite calls while preparing, with the connection's
// handle as its argument; it applies authorize to user SQL (conn.restricted) and allows the
// emulator's own statements.
func authorizerTrampoline(_ *libc.TLS, handle uintptr, action int32, z1, z2, zDB, _ uintptr) int32 {
	v, ok := conns.Load(handle)
	if !ok {
		return sqlite3.SQLITE_DENY
	}
	if !v.(*conn).restricted {
		return sqlite3.SQLITE_OK
	}
	return authorize(action, goString(z1), goString(z2), goString(zDB))
}

func goString(p uintptr) string {
	if p == 0 {
		return ""
	}
	return libc.GoString(p)
}
