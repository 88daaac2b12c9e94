package sqlite

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	lib "modernc.org/sqlite/lib"
)

// TestAuthorizerPerConn checks that each connection's callback reaches its own Authorizer,
// also after the garbage collector has run, with no state shared between connections.
func TestAuthorizerPerConn(t *testing.T) {
	open := func() *Conn {
		c, err := Open("", Limits{})
		require.NoError(t, err)
		t.Cleanup(c.Close)
		return c
	}
	a, b := open(), open()
	var seenA, seenB []string
	a.Authorizer = func(action int32, arg1, _, _ string) int32 {
		if action == lib.SQLITE_CREATE_TABLE {
			seenA = append(seenA, arg1)
			return lib.SQLITE_DENY
		}
		return lib.SQLITE_OK
	}
	b.Authorizer = func(action int32, arg1, _, _ string) int32 {
		if action == lib.SQLITE_CREATE_TABLE {
			seenB = append(seenB, arg1)
		}
		return lib.SQLITE_OK
	}
	runtime.GC()
	err := a.Exec("CREATE TABLE ta (x)")
	var se *Error
	require.ErrorAs(t, err, &se, "got %v, want a denied CREATE TABLE", err)
	require.Equal(t, "not authorized", se.Msg)
	require.Equal(t, int32(lib.SQLITE_AUTH), se.Code)
	require.NoError(t, b.Exec("CREATE TABLE tb (x)"))
	require.Equal(t, []string{"ta"}, seenA)
	require.Equal(t, []string{"tb"}, seenB)

	a.Authorizer = nil // allows everything, without expiring statements
	require.NoError(t, a.Exec("CREATE TABLE ta (x)"))
}

// TestSerializeReplace round-trips a database image through Serialized and ReplaceWith.
func TestSerializeReplace(t *testing.T) {
	src, err := Open("", Limits{})
	require.NoError(t, err)
	defer src.Close()
	require.NoError(t, src.Exec("CREATE TABLE t (x); INSERT INTO t VALUES (42)"))
	var image []byte
	require.NoError(t, src.Serialized(func(b []byte) { image = append([]byte(nil), b...) }))

	dst, err := Open(t.TempDir()+"/dst.sqlite", Limits{})
	require.NoError(t, err)
	defer dst.Close()
	require.NoError(t, dst.ReplaceWith(image))
	st, _, err := dst.Prepare("SELECT x FROM t")
	require.NoError(t, err)
	defer st.Finalize()
	row, err := st.Step()
	require.NoError(t, err)
	require.True(t, row)
	require.Equal(t, Value{Kind: Integer, I: 42}, st.Column(0))
}
