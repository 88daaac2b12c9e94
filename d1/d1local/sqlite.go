package d1local

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// conn is one SQLite connection driven through SQLite's C API (modernc.org/sqlite/lib, no cgo).
// The C API, rather than database/sql, gives what D1 exposes and a driver hides: every value's
// storage class, bound REALs, sqlite3_error_offset, an authorizer, statement status counters
// and the connection's last insert rowid.
//
// A conn is not safe for concurrent use: its database's mutex guards it.
type conn struct {
	tls *libc.TLS
	db  uintptr
	// restricted turns D1's authorizer on; it is off for the emulator's own statements.
	restricted bool
	// deniedTxn, reads and ddl are set by the authorizer while a user statement is prepared:
	// it tried transaction control, it reads a table, it changes the schema.
	deniedTxn, reads, ddl bool
	// user and mine cache prepared statements: the user's (prepared under D1's authorizer)
	// and the emulator's own (see stmtcache.go).
	user, mine stmtCache
}

// sqliteError is an error reported by SQLite: its message, extended result code and, for errors
// found while preparing, the byte offset in the statement (-1 when unknown).
type sqliteError struct {
	msg    string
	code   int32
	offset int32
}

func (e *sqliteError) Error() string { return e.msg }

// conns maps a SQLite handle to its conn for the authorizer callback, which SQLite calls with
// the handle only. It is the one piece of package state, forced by the C callback.
var conns sync.Map // uintptr -> *conn

// openConn opens (creating if needed) the SQLite database at path, or a private in-memory
// database when path is "". It configures the connection the way D1 runs: foreign keys on,
// D1's limits, and D1's authorizer. cacheSize is Options.StatementCacheSize.
func openConn(path string, cacheSize int) (*conn, error) {
	tls := libc.NewTLS()
	name := path
	if name == "" {
		name = ":memory:"
	}
	zName, err := libc.CString(name)
	if err != nil {
		tls.Close()
		return nil, err
	}
	defer libc.Xfree(tls, zName)
	pdb := tls.Alloc(8)
	defer tls.Free(8)
	flags := int32(sqlite3.SQLITE_OPEN_READWRITE | sqlite3.SQLITE_OPEN_CREATE | sqlite3.SQLITE_OPEN_FULLMUTEX)
	rc := sqlite3.Xsqlite3_open_v2(tls, zName, pdb, flags, 0)
	c := &conn{tls: tls, db: *(*uintptr)(cptr(pdb)), user: newStmtCache(cacheSize), mine: newStmtCache(cacheSize)}
	if rc != sqlite3.SQLITE_OK {
		err := c.lastError(rc)
		c.close()
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	sqlite3.Xsqlite3_extended_result_codes(tls, c.db, 1)
	sqlite3.Xsqlite3_limit(tls, c.db, sqlite3.SQLITE_LIMIT_SQL_LENGTH, maxStatementBytes)
	sqlite3.Xsqlite3_limit(tls, c.db, sqlite3.SQLITE_LIMIT_LENGTH, maxValueBytes)
	sqlite3.Xsqlite3_limit(tls, c.db, sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, maxParams)
	if err := c.exec("PRAGMA foreign_keys = ON"); err != nil {
		c.close()
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	conns.Store(c.db, c)
	if rc := sqlite3.Xsqlite3_set_authorizer(tls, c.db, cFuncPointer(authorizerTrampoline), c.db); rc != sqlite3.SQLITE_OK {
		err := c.lastError(rc)
		c.close()
		return nil, fmt.Errorf("open %s: authorizer: %w", name, err)
	}
	return c, nil
}

// D1's per-statement limits (DESIGN.md §2), enforced by SQLite itself.
const (
	maxStatementBytes = 100_000
	maxValueBytes     = 2_000_000
	maxParams         = 100
)

func (c *conn) close() {
	if c.db != 0 {
		c.clearCaches()
		conns.Delete(c.db)
		sqlite3.Xsqlite3_close_v2(c.tls, c.db)
		c.db = 0
	}
	c.tls.Close()
}

// lastError returns the connection's current error for result code rc.
func (c *conn) lastError(rc int32) error {
	if c.db == 0 {
		return &sqliteError{msg: libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc)), code: rc, offset: -1}
	}
	return &sqliteError{
		msg:    libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db)),
		code:   sqlite3.Xsqlite3_extended_errcode(c.tls, c.db),
		offset: sqlite3.Xsqlite3_error_offset(c.tls, c.db),
	}
}

// exec runs sql (one or more statements, no parameters, results discarded).
func (c *conn) exec(sql string) error {
	for sql != "" {
		st, tail, err := c.prepare(sql)
		if err != nil {
			return err
		}
		sql = tail
		if st == nil {
			continue
		}
		for {
			row, err := st.step()
			if err != nil {
				st.finalize()
				return err
			}
			if !row {
				break
			}
		}
		st.finalize()
	}
	return nil
}

// stmt is a prepared statement of a conn.
type stmt struct {
	c *conn
	p uintptr
}

// prepare compiles the first statement of sql and returns it with the rest of the text. The
// statement is nil when sql holds only white space and comments.
func (c *conn) prepare(sql string) (*stmt, string, error) {
	if sql == "" {
		return nil, "", nil
	}
	z, err := libc.CString(sql)
	if err != nil {
		return nil, "", err
	}
	defer libc.Xfree(c.tls, z)
	out := c.tls.Alloc(16)
	defer c.tls.Free(16)
	pstmt, ptail := out, out+8
	rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, z, int32(len(sql)), 0, pstmt, ptail)
	if rc != sqlite3.SQLITE_OK {
		return nil, "", c.lastError(rc)
	}
	p := *(*uintptr)(cptr(pstmt))
	used := int(*(*uintptr)(cptr(ptail)) - z)
	tail := ""
	if used >= 0 && used < len(sql) {
		tail = sql[used:]
	}
	if p == 0 {
		return nil, tail, nil
	}
	return &stmt{c: c, p: p}, tail, nil
}

func (s *stmt) finalize() {
	if s.p != 0 {
		sqlite3.Xsqlite3_finalize(s.c.tls, s.p)
		s.p = 0
	}
}

// step advances the statement; row reports whether a result row is available.
func (s *stmt) step() (row bool, err error) {
	switch rc := sqlite3.Xsqlite3_step(s.c.tls, s.p); rc {
	case sqlite3.SQLITE_ROW:
		return true, nil
	case sqlite3.SQLITE_DONE:
		return false, nil
	default:
		return false, s.c.lastError(rc)
	}
}

func (s *stmt) paramCount() int {
	return int(sqlite3.Xsqlite3_bind_parameter_count(s.c.tls, s.p))
}

func (s *stmt) readonly() bool {
	return sqlite3.Xsqlite3_stmt_readonly(s.c.tls, s.p) != 0
}

// status reads a statement status counter and sets it back to zero, so that a cached
// statement counts each run on its own.
func (s *stmt) status(op int32) int64 {
	return int64(sqlite3.Xsqlite3_stmt_status(s.c.tls, s.p, op, 1))
}

func (s *stmt) bindNull(i int) error {
	return s.check(sqlite3.Xsqlite3_bind_null(s.c.tls, s.p, int32(i)))
}

func (s *stmt) bindFloat(i int, v float64) error {
	return s.check(sqlite3.Xsqlite3_bind_double(s.c.tls, s.p, int32(i), v))
}

// transient is SQLITE_TRANSIENT: SQLite copies the bound bytes before bind returns.
const transient = ^uintptr(0)

func (s *stmt) bindText(i int, v string) error {
	if len(v) > maxValueBytes {
		return &sqliteError{msg: "string or blob too big", code: sqlite3.SQLITE_TOOBIG, offset: -1}
	}
	p, err := cBytes(s.c.tls, []byte(v))
	if err != nil {
		return err
	}
	defer sqlite3.Xsqlite3_free(s.c.tls, p)
	return s.check(sqlite3.Xsqlite3_bind_text(s.c.tls, s.p, int32(i), p, int32(len(v)), transient))
}

func (s *stmt) bindBlob(i int, v []byte) error {
	if len(v) == 0 {
		return s.check(sqlite3.Xsqlite3_bind_zeroblob(s.c.tls, s.p, int32(i), 0))
	}
	if len(v) > maxValueBytes {
		return &sqliteError{msg: "string or blob too big", code: sqlite3.SQLITE_TOOBIG, offset: -1}
	}
	p, err := cBytes(s.c.tls, v)
	if err != nil {
		return err
	}
	defer sqlite3.Xsqlite3_free(s.c.tls, p)
	return s.check(sqlite3.Xsqlite3_bind_blob(s.c.tls, s.p, int32(i), p, int32(len(v)), transient))
}

func (s *stmt) check(rc int32) error {
	if rc == sqlite3.SQLITE_OK {
		return nil
	}
	return s.c.lastError(rc)
}

// cBytes copies b into memory from sqlite3_malloc64 (at least one byte, so never NULL); free it
// with sqlite3_free.
func cBytes(tls *libc.TLS, b []byte) (uintptr, error) {
	p := sqlite3.Xsqlite3_malloc64(tls, uint64(len(b)+1))
	if p == 0 {
		return 0, errors.New("out of memory")
	}
	if len(b) > 0 {
		copy(unsafe.Slice((*byte)(cptr(p)), len(b)), b)
	}
	return p, nil
}

func (s *stmt) columnCount() int {
	return int(sqlite3.Xsqlite3_column_count(s.c.tls, s.p))
}

func (s *stmt) columnName(i int) string {
	return libc.GoString(sqlite3.Xsqlite3_column_name(s.c.tls, s.p, int32(i)))
}

// value is one SQLite value with its storage class.
type value struct {
	kind  int32 // sqlite3.SQLITE_INTEGER, _FLOAT, _TEXT, _BLOB or _NULL
	i     int64
	f     float64
	bytes []byte // TEXT or BLOB
}

func (s *stmt) column(i int) value {
	tls, p, col := s.c.tls, s.p, int32(i)
	switch kind := sqlite3.Xsqlite3_column_type(tls, p, col); kind {
	case sqlite3.SQLITE_INTEGER:
		return value{kind: kind, i: sqlite3.Xsqlite3_column_int64(tls, p, col)}
	case sqlite3.SQLITE_FLOAT:
		return value{kind: kind, f: sqlite3.Xsqlite3_column_double(tls, p, col)}
	case sqlite3.SQLITE_TEXT, sqlite3.SQLITE_BLOB:
		var ptr uintptr
		if kind == sqlite3.SQLITE_TEXT {
			ptr = sqlite3.Xsqlite3_column_text(tls, p, col)
		} else {
			ptr = sqlite3.Xsqlite3_column_blob(tls, p, col)
		}
		n := int(sqlite3.Xsqlite3_column_bytes(tls, p, col))
		b := make([]byte, n)
		if n > 0 && ptr != 0 {
			copy(b, unsafe.Slice((*byte)(cptr(ptr)), n))
		}
		return value{kind: kind, bytes: b}
	default:
		return value{kind: sqlite3.SQLITE_NULL}
	}
}

func (c *conn) lastInsertRowID() int64 {
	return sqlite3.Xsqlite3_last_insert_rowid(c.tls, c.db)
}

func (c *conn) totalChanges() int64 {
	return sqlite3.Xsqlite3_total_changes64(c.tls, c.db)
}

func (c *conn) autocommit() bool {
	return sqlite3.Xsqlite3_get_autocommit(c.tls, c.db) != 0
}

// queryInt runs one of the emulator's own single-value queries.
func (c *conn) queryInt(sql string) (n int64, err error) {
	err = c.own(sql, func(st *stmt) error {
		row, err := st.step()
		if err != nil || !row {
			return err
		}
		n = sqlite3.Xsqlite3_column_int64(c.tls, st.p, 0)
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

// serialized calls fn with the bytes of the main database (a consistent copy, as a file would
// hold). The bytes live in C memory that is freed when fn returns: fn must copy what it keeps.
func (c *conn) serialized(fn func(image []byte)) error {
	plen := c.tls.Alloc(8)
	defer c.tls.Free(8)
	zMain, err := libc.CString("main")
	if err != nil {
		return err
	}
	defer libc.Xfree(c.tls, zMain)
	p := sqlite3.Xsqlite3_serialize(c.tls, c.db, zMain, plen, 0)
	if p == 0 {
		if n := *(*int64)(cptr(plen)); n == 0 {
			fn(nil) // a database with no pages yet
			return nil
		}
		return errors.New("serialize: out of memory")
	}
	defer sqlite3.Xsqlite3_free(c.tls, p)
	fn(unsafe.Slice((*byte)(cptr(p)), *(*int64)(cptr(plen))))
	return nil
}

// replaceWith overwrites the main database with the serialized database image, through the
// backup API so that it works for files and in-memory databases alike.
func (c *conn) replaceWith(image []byte) error {
	c.clearCaches()
	src, err := openConn("", -1)
	if err != nil {
		return err
	}
	defer src.close()
	zMain, err := libc.CString("main")
	if err != nil {
		return err
	}
	defer libc.Xfree(c.tls, zMain)
	if len(image) > 0 {
		buf := sqlite3.Xsqlite3_malloc64(src.tls, uint64(len(image)))
		if buf == 0 {
			return errors.New("restore: out of memory")
		}
		copy(unsafe.Slice((*byte)(cptr(buf)), len(image)), image)
		rc := sqlite3.Xsqlite3_deserialize(src.tls, src.db, zMain, buf, int64(len(image)), int64(len(image)),
			sqlite3.SQLITE_DESERIALIZE_FREEONCLOSE|sqlite3.SQLITE_DESERIALIZE_RESIZEABLE)
		if rc != sqlite3.SQLITE_OK {
			return src.lastError(rc)
		}
	}
	b := sqlite3.Xsqlite3_backup_init(c.tls, c.db, zMain, src.db, zMain)
	if b == 0 {
		return c.lastError(sqlite3.Xsqlite3_errcode(c.tls, c.db))
	}
	rc := sqlite3.Xsqlite3_backup_step(c.tls, b, -1)
	if frc := sqlite3.Xsqlite3_backup_finish(c.tls, b); rc == sqlite3.SQLITE_DONE {
		rc = frc
	}
	if rc != sqlite3.SQLITE_OK && rc != sqlite3.SQLITE_DONE {
		return c.lastError(rc)
	}
	return nil
}

// cFuncPointer converts a top-level Go function to the C function pointer modernc's transpiled
// SQLite calls (the representation described in https://golang.org/s/go11func; modernc.org/sqlite
// registers its own callbacks the same way). Never use it on closures.
func cFuncPointer[T any](f T) uintptr {
	return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f}))
}

// cptr converts an address of C memory (allocated by SQLite or libc, never moved or collected by
// Go's garbage collector) to an unsafe.Pointer.
func cptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// interruptAfter makes SQLite abandon the running statement once d has passed or done is
// closed, whichever comes first (D1 gives a request 30 s); the returned stop ends the watch.
// sqlite3_interrupt is safe to call from another goroutine.
func (c *conn) interruptAfter(d time.Duration, done <-chan struct{}) (stop func()) {
	quit := make(chan struct{})
	finished := make(chan struct{})
	db := c.db
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
		tls := libc.NewTLS()
		sqlite3.Xsqlite3_interrupt(tls, db)
		tls.Close()
	}()
	return func() { close(quit); <-finished }
}
