package d1local

import (
	"fmt"
	"time"

	"github.com/d1seal/d1seal/d1/d1local/internal/sqlite"
)

// conn is one database's SQLite connection (internal/sqlite) with what D1 adds: D1's limits and
// authorizer, and the statement caches.
//
// A conn is not safe for concurrent use: its database's mutex guards it.
type conn struct {
	*sqlite.Conn
	// d1Authorizer is authorizeUser, made once: restrict sets it as the connection's
	// Authorizer for user SQL and takes it away for the emulator's own statements, so those
	// pay nothing for the callback.
	d1Authorizer sqlite.Authorizer
	// deniedTxn, reads and ddl are set by the authorizer while a user statement is prepared:
	// it tried transaction control, it reads a table, it changes the schema.
	deniedTxn, reads, ddl bool
	// user and mine cache prepared statements: the user's (prepared under D1's authorizer)
	// and the emulator's own (see stmtcache.go).
	user, mine stmtCache
}

type (
	stmt        = sqlite.Stmt
	value       = sqlite.Value
	sqliteError = sqlite.Error
)

// openConn opens (creating if needed) the SQLite database at path, or a private in-memory
// database when path is "". It configures the connection the way D1 runs: foreign keys on,
// D1's limits, and D1's authorizer. cacheSize is Options.StatementCacheSize.
func openConn(path string, cacheSize int) (*conn, error) {
	sc, err := sqlite.Open(path, sqlite.Limits{
		SQLLength:      maxStatementBytes,
		Length:         maxValueBytes,
		VariableNumber: maxParams,
	})
	if err != nil {
		return nil, err
	}
	c := &conn{Conn: sc, user: newStmtCache(cacheSize), mine: newStmtCache(cacheSize)}
	if err := c.Exec("PRAGMA foreign_keys = ON"); err != nil {
		c.close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	c.d1Authorizer = c.authorizeUser
	return c, nil
}

// restrict turns D1's authorizer on (for user SQL) or off (for the emulator's own statements).
func (c *conn) restrict(on bool) {
	if on {
		c.Authorizer = c.d1Authorizer
	} else {
		c.Authorizer = nil
	}
}

// D1's per-statement limits, enforced by SQLite itself.
const (
	maxStatementBytes = 100_000
	maxValueBytes     = 2_000_000
	maxParams         = 100
)

func (c *conn) close() {
	c.clearCaches()
	c.Close()
}

// queryInt runs one of the emulator's own single-value queries.
func (c *conn) queryInt(sql string) (n int64, err error) {
	err = c.own(sql, func(st *stmt) error {
		row, err := st.Step()
		if err != nil || !row {
			return err
		}
		n = st.ColumnInt64(0)
		return nil
	})
	return n, err
}

// size returns the database size the way D1 reports it: page_count * page_size.
func (c *conn) size() int64 {
	// As workerd's SqlStorage.databaseSize, which D1 answers as size_after: free pages (of
	// dropped tables, deleted rows) do not count.
	n, _ := c.queryInt("SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()")
	return n
}

// replaceWith overwrites the main database with the serialized database image.
func (c *conn) replaceWith(image []byte) error {
	c.clearCaches()
	return c.ReplaceWith(image)
}

// interruptAfter makes SQLite abandon the running statement once d has passed or done is
// closed, whichever comes first (D1 gives a request 30 s); the returned stop ends the watch.
func (c *conn) interruptAfter(d time.Duration, done <-chan struct{}) (stop func()) {
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-quit:
			return
		case <-t.C:
		case <-done:
		}
		c.Interrupt()
	}()
	return func() { close(quit); <-finished }
}
