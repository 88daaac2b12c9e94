// Package sqlite is the local D1's SQLite layer: one connection and its prepared statements,
// driven through SQLite's C API as modernc.org/sqlite transpiles it to Go (no cgo). The C API,
// rather than database/sql, gives what D1 exposes and a driver hides: every value's storage
// class, bound REALs, sqlite3_error_offset, an authorizer, statement status counters, the
// connection's last insert rowid, serialize and the backup API.
//
// The package has no package-level mutable state. SQLite calls the authorizer with a user-data
// pointer and nothing else, so the callback has to find its connection from that pointer. A
// table from pointer to connection (what modernc.org/sqlite and zombiezen.com/go/sqlite keep
// for their callbacks) would be state shared by every Server of the process. Instead each Conn
// pins itself with a runtime.Pinner for its whole life (so the garbage collector neither moves
// nor frees it) and gives SQLite its own address as the user data; the callback, a top-level
// function, turns the address back into the *Conn and calls the Conn's Authorizer. Close
// unregisters the callback before it unpins. Nothing outside a Conn is shared, so the Conns of
// different Servers, or of tests in parallel, never meet.
//
// A Conn and its Stmts are not safe for concurrent use, except Interrupt.
package sqlite

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"modernc.org/libc"
	lib "modernc.org/sqlite/lib"
)

// Storage classes, as sqlite3_column_type answers them.
const (
	Integer = lib.SQLITE_INTEGER
	Float   = lib.SQLITE_FLOAT
	Text    = lib.SQLITE_TEXT
	Blob    = lib.SQLITE_BLOB
	Null    = lib.SQLITE_NULL
)

// Limits are the per-connection limits Open sets (sqlite3_limit); zero leaves SQLite's default.
type Limits struct {
	SQLLength      int32 // SQLITE_LIMIT_SQL_LENGTH: bytes of one statement
	Length         int32 // SQLITE_LIMIT_LENGTH: bytes of a string, BLOB or row
	VariableNumber int32 // SQLITE_LIMIT_VARIABLE_NUMBER: parameters of one statement
}

// Authorizer decides one action of a statement being prepared (sqlite3_set_authorizer):
// action is SQLite's action code (SQLITE_READ, SQLITE_PRAGMA, ...), arg1, arg2 and db its
// arguments ("" for NULL). It returns SQLITE_OK, SQLITE_DENY or SQLITE_IGNORE.
type Authorizer func(action int32, arg1, arg2, db string) int32

// Conn is one SQLite connection. Open it with Open and close it with Close.
type Conn struct {
	tls *libc.TLS
	db  uintptr
	pin runtime.Pinner
	// maxLength is SQLITE_LIMIT_LENGTH, checked before a value is copied to bind it.
	maxLength int
	// Authorizer, when not nil, decides every action of the statements prepared from now on
	// (and of those SQLite re-prepares after a schema change). Setting it is cheap: the C
	// callback stays registered, so prepared statements do not expire.
	Authorizer Authorizer
}

// Error is an error reported by SQLite: its message, extended result code and, for errors found
// while preparing, the byte offset in the statement (-1 when unknown).
type Error struct {
	Msg    string
	Code   int32
	Offset int32
}

func (e *Error) Error() string { return e.Msg }

// Open opens (creating if needed) the SQLite database at path, or a private in-memory database
// when path is "", with extended result codes and the given limits. Its authorizer callback is
// registered; it allows everything until Conn.Authorizer is set.
func Open(path string, limits Limits) (*Conn, error) {
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
	flags := int32(lib.SQLITE_OPEN_READWRITE | lib.SQLITE_OPEN_CREATE | lib.SQLITE_OPEN_FULLMUTEX)
	rc := lib.Xsqlite3_open_v2(tls, zName, pdb, flags, 0)
	c := &Conn{tls: tls, db: *(*uintptr)(cptr(pdb))}
	if rc != lib.SQLITE_OK {
		err := c.lastError(rc)
		c.Close()
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	lib.Xsqlite3_extended_result_codes(tls, c.db, 1)
	for _, l := range []struct{ id, v int32 }{
		{lib.SQLITE_LIMIT_SQL_LENGTH, limits.SQLLength},
		{lib.SQLITE_LIMIT_LENGTH, limits.Length},
		{lib.SQLITE_LIMIT_VARIABLE_NUMBER, limits.VariableNumber},
	} {
		if l.v > 0 {
			lib.Xsqlite3_limit(tls, c.db, l.id, l.v)
		}
	}
	c.maxLength = int(lib.Xsqlite3_limit(tls, c.db, lib.SQLITE_LIMIT_LENGTH, -1))
	c.pin.Pin(c)
	if rc := lib.Xsqlite3_set_authorizer(tls, c.db, cFuncPointer(authorizerCallback), uintptr(unsafe.Pointer(c))); rc != lib.SQLITE_OK {
		err := c.lastError(rc)
		c.Close()
		return nil, fmt.Errorf("open %s: authorizer: %w", name, err)
	}
	return c, nil
}

// authorizerCallback is the C callback SQLite calls while preparing; self is the address of
// the pinned Conn (see the package doc).
func authorizerCallback(_ *libc.TLS, self uintptr, action int32, z1, z2, zDB, _ uintptr) int32 {
	c := (*Conn)(cptr(self))
	if c.Authorizer == nil {
		return lib.SQLITE_OK
	}
	return c.Authorizer(action, goString(z1), goString(z2), goString(zDB))
}

func goString(p uintptr) string {
	if p == 0 {
		return ""
	}
	return libc.GoString(p)
}

// Close closes the connection; the caller finalizes its statements first (sqlite3_close_v2
// otherwise keeps the database open until they are).
func (c *Conn) Close() {
	if c.db != 0 {
		// Unregister the callback first: with statements left unfinalized, close_v2 keeps
		// the database open, and the callback must not outlive the pin.
		lib.Xsqlite3_set_authorizer(c.tls, c.db, 0, 0)
		lib.Xsqlite3_close_v2(c.tls, c.db)
		c.db = 0
	}
	c.pin.Unpin()
	c.tls.Close()
}

// lastError returns the connection's current error for result code rc.
func (c *Conn) lastError(rc int32) error {
	if c.db == 0 {
		return &Error{Msg: libc.GoString(lib.Xsqlite3_errstr(c.tls, rc)), Code: rc, Offset: -1}
	}
	return &Error{
		Msg:    libc.GoString(lib.Xsqlite3_errmsg(c.tls, c.db)),
		Code:   lib.Xsqlite3_extended_errcode(c.tls, c.db),
		Offset: lib.Xsqlite3_error_offset(c.tls, c.db),
	}
}

// Exec runs sql (one or more statements, no parameters, results discarded).
func (c *Conn) Exec(sql string) error {
	for sql != "" {
		st, tail, err := c.Prepare(sql)
		if err != nil {
			return err
		}
		sql = tail
		if st == nil {
			continue
		}
		for {
			row, err := st.Step()
			if err != nil {
				st.Finalize()
				return err
			}
			if !row {
				break
			}
		}
		st.Finalize()
	}
	return nil
}

// Stmt is a prepared statement of a Conn.
type Stmt struct {
	c *Conn
	p uintptr
}

// Prepare compiles the first statement of sql and returns it with the rest of the text. The
// statement is nil when sql holds only white space and comments.
func (c *Conn) Prepare(sql string) (*Stmt, string, error) {
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
	rc := lib.Xsqlite3_prepare_v3(c.tls, c.db, z, int32(len(sql)), 0, pstmt, ptail)
	if rc != lib.SQLITE_OK {
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
	return &Stmt{c: c, p: p}, tail, nil
}

// Finalize destroys the statement; calling it again does nothing.
func (s *Stmt) Finalize() {
	if s.p != 0 {
		lib.Xsqlite3_finalize(s.c.tls, s.p)
		s.p = 0
	}
}

// Reset makes the statement ready to run again, its bindings cleared.
func (s *Stmt) Reset() {
	lib.Xsqlite3_reset(s.c.tls, s.p)
	lib.Xsqlite3_clear_bindings(s.c.tls, s.p)
}

// Step advances the statement; row reports whether a result row is available.
func (s *Stmt) Step() (row bool, err error) {
	switch rc := lib.Xsqlite3_step(s.c.tls, s.p); rc {
	case lib.SQLITE_ROW:
		return true, nil
	case lib.SQLITE_DONE:
		return false, nil
	default:
		return false, s.c.lastError(rc)
	}
}

// ParamCount is the number of the statement's parameters (the largest index).
func (s *Stmt) ParamCount() int {
	return int(lib.Xsqlite3_bind_parameter_count(s.c.tls, s.p))
}

// Readonly reports whether the statement makes no direct change to the database.
func (s *Stmt) Readonly() bool {
	return lib.Xsqlite3_stmt_readonly(s.c.tls, s.p) != 0
}

// FullscanSteps reads the statement's SQLITE_STMTSTATUS_FULLSCAN_STEP counter (the rows its
// full table scans visited) and sets it back to zero, so that a reused statement counts each
// run on its own.
func (s *Stmt) FullscanSteps() int64 {
	return int64(lib.Xsqlite3_stmt_status(s.c.tls, s.p, lib.SQLITE_STMTSTATUS_FULLSCAN_STEP, 1))
}

// BindNull binds NULL to parameter i (from 1).
func (s *Stmt) BindNull(i int) error {
	return s.check(lib.Xsqlite3_bind_null(s.c.tls, s.p, int32(i)))
}

// BindFloat binds a REAL to parameter i (from 1).
func (s *Stmt) BindFloat(i int, v float64) error {
	return s.check(lib.Xsqlite3_bind_double(s.c.tls, s.p, int32(i), v))
}

// transient is SQLITE_TRANSIENT: SQLite copies the bound bytes before bind returns.
const transient = ^uintptr(0)

// BindText binds TEXT to parameter i (from 1).
func (s *Stmt) BindText(i int, v string) error {
	if len(v) > s.c.maxLength {
		return &Error{Msg: "string or blob too big", Code: lib.SQLITE_TOOBIG, Offset: -1}
	}
	p, err := cBytes(s.c.tls, []byte(v))
	if err != nil {
		return err
	}
	defer lib.Xsqlite3_free(s.c.tls, p)
	return s.check(lib.Xsqlite3_bind_text(s.c.tls, s.p, int32(i), p, int32(len(v)), transient))
}

// BindBlob binds a BLOB to parameter i (from 1).
func (s *Stmt) BindBlob(i int, v []byte) error {
	if len(v) == 0 {
		return s.check(lib.Xsqlite3_bind_zeroblob(s.c.tls, s.p, int32(i), 0))
	}
	if len(v) > s.c.maxLength {
		return &Error{Msg: "string or blob too big", Code: lib.SQLITE_TOOBIG, Offset: -1}
	}
	p, err := cBytes(s.c.tls, v)
	if err != nil {
		return err
	}
	defer lib.Xsqlite3_free(s.c.tls, p)
	return s.check(lib.Xsqlite3_bind_blob(s.c.tls, s.p, int32(i), p, int32(len(v)), transient))
}

func (s *Stmt) check(rc int32) error {
	if rc == lib.SQLITE_OK {
		return nil
	}
	return s.c.lastError(rc)
}

// cBytes copies b into memory from sqlite3_malloc64 (at least one byte, so never NULL); free it
// with sqlite3_free.
func cBytes(tls *libc.TLS, b []byte) (uintptr, error) {
	p := lib.Xsqlite3_malloc64(tls, uint64(len(b)+1))
	if p == 0 {
		return 0, errors.New("out of memory")
	}
	if len(b) > 0 {
		copy(unsafe.Slice((*byte)(cptr(p)), len(b)), b)
	}
	return p, nil
}

// ColumnCount is the number of the statement's result columns.
func (s *Stmt) ColumnCount() int {
	return int(lib.Xsqlite3_column_count(s.c.tls, s.p))
}

// ColumnName is the name of result column i (from 0).
func (s *Stmt) ColumnName(i int) string {
	return libc.GoString(lib.Xsqlite3_column_name(s.c.tls, s.p, int32(i)))
}

// Value is one SQLite value with its storage class.
type Value struct {
	Kind  int32 // Integer, Float, Text, Blob or Null
	I     int64
	F     float64
	Bytes []byte // TEXT or BLOB
}

// Column returns result column i (from 0) of the current row.
func (s *Stmt) Column(i int) Value {
	tls, p, col := s.c.tls, s.p, int32(i)
	switch kind := lib.Xsqlite3_column_type(tls, p, col); kind {
	case lib.SQLITE_INTEGER:
		return Value{Kind: kind, I: lib.Xsqlite3_column_int64(tls, p, col)}
	case lib.SQLITE_FLOAT:
		return Value{Kind: kind, F: lib.Xsqlite3_column_double(tls, p, col)}
	case lib.SQLITE_TEXT, lib.SQLITE_BLOB:
		var ptr uintptr
		if kind == lib.SQLITE_TEXT {
			ptr = lib.Xsqlite3_column_text(tls, p, col)
		} else {
			ptr = lib.Xsqlite3_column_blob(tls, p, col)
		}
		n := int(lib.Xsqlite3_column_bytes(tls, p, col))
		b := make([]byte, n)
		if n > 0 && ptr != 0 {
			copy(b, unsafe.Slice((*byte)(cptr(ptr)), n))
		}
		return Value{Kind: kind, Bytes: b}
	default:
		return Value{Kind: lib.SQLITE_NULL}
	}
}

// ColumnInt64 returns result column i (from 0) of the current row as an integer.
func (s *Stmt) ColumnInt64(i int) int64 {
	return lib.Xsqlite3_column_int64(s.c.tls, s.p, int32(i))
}

// LastInsertRowID is the rowid of the connection's last successful INSERT.
func (c *Conn) LastInsertRowID() int64 {
	return lib.Xsqlite3_last_insert_rowid(c.tls, c.db)
}

// TotalChanges is the number of rows changed since the connection opened.
func (c *Conn) TotalChanges() int64 {
	return lib.Xsqlite3_total_changes64(c.tls, c.db)
}

// Autocommit reports whether no transaction is open.
func (c *Conn) Autocommit() bool {
	return lib.Xsqlite3_get_autocommit(c.tls, c.db) != 0
}

// Serialized calls fn with the bytes of the main database (a consistent copy, as a file would
// hold; nil for a database with no pages yet). The bytes live in C memory that is freed when fn
// returns: fn must copy what it keeps.
func (c *Conn) Serialized(fn func(image []byte)) error {
	plen := c.tls.Alloc(8)
	defer c.tls.Free(8)
	zMain, err := libc.CString("main")
	if err != nil {
		return err
	}
	defer libc.Xfree(c.tls, zMain)
	p := lib.Xsqlite3_serialize(c.tls, c.db, zMain, plen, 0)
	if p == 0 {
		if n := *(*int64)(cptr(plen)); n == 0 {
			fn(nil)
			return nil
		}
		return errors.New("serialize: out of memory")
	}
	defer lib.Xsqlite3_free(c.tls, p)
	fn(unsafe.Slice((*byte)(cptr(p)), *(*int64)(cptr(plen))))
	return nil
}

// ReplaceWith overwrites the main database with the serialized database image, through the
// backup API so that it works for files and in-memory databases alike. The caller finalizes
// the connection's statements first.
func (c *Conn) ReplaceWith(image []byte) error {
	src, err := Open("", Limits{})
	if err != nil {
		return err
	}
	defer src.Close()
	zMain, err := libc.CString("main")
	if err != nil {
		return err
	}
	defer libc.Xfree(c.tls, zMain)
	if len(image) > 0 {
		buf := lib.Xsqlite3_malloc64(src.tls, uint64(len(image)))
		if buf == 0 {
			return errors.New("restore: out of memory")
		}
		copy(unsafe.Slice((*byte)(cptr(buf)), len(image)), image)
		rc := lib.Xsqlite3_deserialize(src.tls, src.db, zMain, buf, int64(len(image)), int64(len(image)),
			lib.SQLITE_DESERIALIZE_FREEONCLOSE|lib.SQLITE_DESERIALIZE_RESIZEABLE)
		if rc != lib.SQLITE_OK {
			return src.lastError(rc)
		}
	}
	b := lib.Xsqlite3_backup_init(c.tls, c.db, zMain, src.db, zMain)
	if b == 0 {
		return c.lastError(lib.Xsqlite3_errcode(c.tls, c.db))
	}
	rc := lib.Xsqlite3_backup_step(c.tls, b, -1)
	if frc := lib.Xsqlite3_backup_finish(c.tls, b); rc == lib.SQLITE_DONE {
		rc = frc
	}
	if rc != lib.SQLITE_OK && rc != lib.SQLITE_DONE {
		return c.lastError(rc)
	}
	return nil
}

// Interrupt makes SQLite abandon the connection's running statement (sqlite3_interrupt). Unlike
// the other methods it may be called from any goroutine while the connection is open.
func (c *Conn) Interrupt() {
	tls := libc.NewTLS()
	lib.Xsqlite3_interrupt(tls, c.db)
	tls.Close()
}

// cFuncPointer converts a top-level Go function to the C function pointer modernc's transpiled
// SQLite calls (the representation described in https://golang.org/s/go11func; modernc.org/sqlite
// registers its own callbacks the same way). Never use it on closures.
func cFuncPointer[T any](f T) uintptr {
	return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f}))
}

// cptr converts an address that Go's garbage collector neither moves nor frees (C memory from
// SQLite or libc, or a pinned Conn) to an unsafe.Pointer.
func cptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }
