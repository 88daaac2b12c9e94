package d1local

import "errors"

var errNoStatement = errors.New("no statement")

// The statement cache: a batch of inserts sends the same INSERT hundreds of times, and
// preparing it (parsing, D1's authorizer on every column, code generation) cost more than
// running it. Each connection keeps its prepared statements by SQL text, the user's apart from
// the emulator's own (which run without D1's authorizer), and reuses them after
// sqlite3_reset and sqlite3_clear_bindings.
//
// A cached statement stays correct across schema changes: statements from
// sqlite3_prepare_v3 are re-prepared by SQLite itself when the schema changed (and the
// authorizer runs again then). But an error found then is reported by step, not by prepare,
// so without its offset; to keep D1's messages exact the cache is emptied whenever a statement
// that changes the schema runs (the authorizer sees CREATE, DROP, ALTER, ANALYZE, REINDEX),
// when a request that changed the schema rolls back, when the database is replaced (restore)
// and after a statement fails while stepping. The cache is bounded: past its size the least
// recently used statement is finalized. Statements longer than maxCachedSQL are not kept.

// DefaultStatementCacheSize is the number of prepared statements a database keeps when
// Options.StatementCacheSize is 0.
const DefaultStatementCacheSize = 128

// maxCachedSQL is the longest statement text the cache keeps (the key is the text).
const maxCachedSQL = 16 << 10

// cached is a prepared statement with what D1's authorizer learned while preparing it.
type cached struct {
	sql   string
	st    *stmt
	reads bool // reads a table (for rows_read)
	ddl   bool // changes the schema
	used  uint64
}

// stmtCache holds prepared statements by SQL text. A conn's mutex (its database's) guards it.
type stmtCache struct {
	size  int // 0: disabled
	m     map[string]*cached
	clock uint64
}

func newStmtCache(size int) stmtCache {
	switch {
	case size == 0:
		size = DefaultStatementCacheSize
	case size < 0:
		size = 0
	}
	return stmtCache{size: size, m: map[string]*cached{}}
}

// get returns the statement cached for sql, or nil.
func (sc *stmtCache) get(sql string) *cached {
	e := sc.m[sql]
	if e != nil {
		sc.clock++
		e.used = sc.clock
	}
	return e
}

// put keeps e, finalizing the least recently used statement when the cache is full. It
// reports whether e was kept; if not, the caller finalizes it after use.
func (sc *stmtCache) put(e *cached) bool {
	if sc.size == 0 || len(e.sql) > maxCachedSQL {
		return false
	}
	if len(sc.m) >= sc.size {
		var old *cached
		for _, c := range sc.m {
			if old == nil || c.used < old.used {
				old = c
			}
		}
		delete(sc.m, old.sql)
		old.st.Finalize()
	}
	sc.clock++
	e.used = sc.clock
	sc.m[e.sql] = e
	return true
}

// drop finalizes and forgets the statement cached for sql, if any.
func (sc *stmtCache) drop(sql string) {
	if e := sc.m[sql]; e != nil {
		delete(sc.m, sql)
		e.st.Finalize()
	}
}

// clear finalizes every cached statement.
func (sc *stmtCache) clear() {
	for k, e := range sc.m {
		e.st.Finalize()
		delete(sc.m, k)
	}
}

// prepareUser returns sql (one statement) prepared under D1's authorizer, from the cache or
// freshly; its kept result says whether the cache owns it. Call doneUser after running it.
// The statement is nil when sql holds only white space and comments.
func (c *conn) prepareUser(sql string) (e *cached, kept bool, err error) {
	if e := c.user.get(sql); e != nil {
		c.reads = e.reads
		return e, true, nil
	}
	c.deniedTxn, c.reads, c.ddl = false, false, false
	st, _, err := c.Prepare(sql)
	if err != nil || st == nil {
		return nil, false, err
	}
	e = &cached{sql: sql, st: st, reads: c.reads, ddl: c.ddl}
	return e, c.user.put(e), nil
}

// doneUser releases a statement from prepareUser; failed says it failed while stepping.
func (c *conn) doneUser(e *cached, kept, failed bool) {
	switch {
	case !kept:
		e.st.Finalize()
	case failed:
		c.user.drop(e.sql)
	default:
		e.st.Reset()
	}
	if e.ddl {
		c.user.clear()
	}
}

// own runs fn with one of the emulator's own statements (sql is one statement, run without
// D1's authorizer), prepared once per connection.
func (c *conn) own(sql string, fn func(st *stmt) error) error {
	e := c.mine.get(sql)
	kept := e != nil
	if e == nil {
		auth := c.Authorizer
		c.Authorizer = nil
		st, _, err := c.Prepare(sql)
		c.Authorizer = auth
		if err != nil {
			return err
		}
		if st == nil {
			return errNoStatement
		}
		e = &cached{sql: sql, st: st}
		kept = c.mine.put(e)
	}
	err := fn(e.st)
	switch {
	case !kept:
		e.st.Finalize()
	case err != nil:
		c.mine.drop(sql)
	default:
		e.st.Reset()
	}
	return err
}

// execOwn runs one of the emulator's own statements, results discarded.
func (c *conn) execOwn(sql string) error {
	return c.own(sql, func(st *stmt) error {
		for {
			row, err := st.Step()
			if err != nil || !row {
				return err
			}
		}
	})
}

// clearCaches finalizes every cached statement: the database was replaced, or is closing.
func (c *conn) clearCaches() {
	c.user.clear()
	c.mine.clear()
}
