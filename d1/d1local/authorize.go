package d1local

import (
	"strconv"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"
)

// D1 runs every statement under an SQLite authorizer, so what it refuses fails while the
// statement is prepared, with SQLite's own messages: "not authorized" (SQLITE_AUTH) for a denied
// action and "not authorized to use function: NAME" (SQLITE_ERROR, with the error offset) for a
// denied function. The emulator installs the same authorizer, with the lists of workerd's
// (src/workerd/util/sqlite.c++, which Cloudflare's D1 runs): an allowlist of functions, of
// PRAGMAs with the arguments each may take, and of virtual table modules. The differential test
// (internal/d1test) checks them against workerd.

// allowedFunctions are the SQL functions D1 allows (workerd's ALLOWED_SQLITE_FUNCTIONS);
// every other function fails with "not authorized to use function". load_extension is
// allowed by the authorizer and refused when called ("not authorized"), as in D1.
var allowedFunctions = setOf(`abs changes char coalesce concat concat_ws format glob hex ifnull iif instr
	last_insert_rowid length like likelihood likely load_extension lower ltrim max_scalar min_scalar
	nullif octet_length printf quote random randomblob replace round rtrim sign soundex substr
	substring total_changes trim typeof unhex unicode unlikely upper zeroblob date time datetime
	julianday unixepoch strftime timediff current_date current_time current_timestamp avg count
	group_concat max min string_agg sum total row_number rank dense_rank percent_rank cume_dist
	ntile lag lead first_value last_value nth_value acos acosh asin asinh atan atan2 atanh ceil
	cos cosh degrees exp floor ln log log2 mod pi pow radians sin sinh sqrt tan tanh trunc json
	jsonb json_array jsonb_array json_array_length json_extract jsonb_extract -> ->> json_insert
	jsonb_insert json_object jsonb_object json_patch jsonb_patch json_remove jsonb_remove
	json_replace jsonb_replace json_set jsonb_set json_type json_valid json_quote json_group_array
	jsonb_group_array json_group_object jsonb_group_object json_each json_tree match highlight bm25
	snippet rtreecheck`)

// noSuchFunctions are functions in D1's allowlist that its SQLite is built without: they fail
// as unknown functions.
var noSuchFunctions = setOf(`soundex`)

// pragmaArg is what a PRAGMA may take (workerd's PragmaSignature).
type pragmaArg int

const (
	pragmaNoArg pragmaArg = iota
	pragmaBoolean
	pragmaObjectName
	pragmaOptionalObjectName
	pragmaNullOrNumber
	pragmaNullNumberOrObjectName
	pragmaAny // table_list, table_info, table_xinfo
)

// allowedPragmas are the PRAGMAs D1 allows and their arguments (workerd's ALLOWED_PRAGMAS).
// foreign_keys is allowed but, since every request is a transaction, setting it is a no-op,
// exactly as in D1.
var allowedPragmas = map[string]pragmaArg{
	"table_list":                pragmaAny,
	"table_info":                pragmaAny,
	"table_xinfo":               pragmaAny,
	"data_version":              pragmaNoArg,
	"page_size":                 pragmaNoArg,
	"case_sensitive_like":       pragmaBoolean,
	"foreign_keys":              pragmaBoolean,
	"defer_foreign_keys":        pragmaBoolean,
	"ignore_check_constraints":  pragmaBoolean,
	"legacy_alter_table":        pragmaBoolean,
	"recursive_triggers":        pragmaBoolean,
	"reverse_unordered_selects": pragmaBoolean,
	"foreign_key_check":         pragmaOptionalObjectName,
	"foreign_key_list":          pragmaObjectName,
	"index_info":                pragmaObjectName,
	"index_list":                pragmaObjectName,
	"index_xinfo":               pragmaObjectName,
	"quick_check":               pragmaNullNumberOrObjectName,
	"optimize":                  pragmaNullOrNumber,
}

func pragmaAllowed(name, arg string) bool {
	sig, ok := allowedPragmas[strings.ToLower(name)]
	if !ok {
		return false
	}
	switch sig {
	case pragmaNoArg:
		return arg == ""
	case pragmaBoolean:
		if arg == "" {
			return true
		}
		v := strings.ToLower(strings.Trim(arg, `'"`))
		for _, p := range []string{"true", "false", "yes", "no", "on", "off", "1", "0"} {
			if strings.HasPrefix(v, p) {
				return true
			}
		}
		return false
	case pragmaObjectName:
		return arg != "" && !reservedTable(arg)
	case pragmaOptionalObjectName:
		return arg == "" || !reservedTable(arg)
	case pragmaNullOrNumber:
		_, err := strconv.ParseInt(arg, 10, 32)
		return arg == "" || err == nil
	case pragmaNullNumberOrObjectName:
		_, err := strconv.ParseUint(arg, 10, 32)
		return arg == "" || err == nil || !reservedTable(arg)
	}
	return !reservedTable(arg)
}

// allowedModules are the virtual table modules D1 lets users create.
var allowedModules = setOf(`fts5 fts5vocab rtree rtree_i32`)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
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
		if !allowedFunctions[strings.ToLower(arg2)] || noSuchFunctions[strings.ToLower(arg2)] {
			return sqlite3.SQLITE_DENY
		}
	case sqlite3.SQLITE_PRAGMA:
		if !pragmaAllowed(arg1, arg2) {
			return sqlite3.SQLITE_DENY
		}
	case sqlite3.SQLITE_CREATE_VTABLE, sqlite3.SQLITE_DROP_VTABLE:
		if !allowedModules[strings.ToLower(arg2)] || reservedTable(arg1) {
			return sqlite3.SQLITE_DENY
		}
	case sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_DROP_TABLE,
		sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_DROP_VIEW,
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

// authorizeUser is the connection's sqlite.Authorizer while it runs user SQL (conn.restrict):
// it applies authorize, noting what the statement does.
func (c *conn) authorizeUser(action int32, arg1, arg2, dbName string) int32 {
	switch action {
	case sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT:
		c.deniedTxn = true
	case sqlite3.SQLITE_READ:
		c.reads = true
	case sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_TRIGGER,
		sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_CREATE_VTABLE, sqlite3.SQLITE_DROP_INDEX,
		sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_DROP_TRIGGER, sqlite3.SQLITE_DROP_VIEW,
		sqlite3.SQLITE_DROP_VTABLE, sqlite3.SQLITE_ALTER_TABLE, sqlite3.SQLITE_ANALYZE,
		sqlite3.SQLITE_REINDEX:
		c.ddl = true
	}
	return authorize(action, arg1, arg2, dbName)
}
