package d1_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/d1test"
)

func TestMain(m *testing.M) { d1test.Main(m) }

// TestConformance runs the conformance suite (internal/d1test) on every backend: the local D1
// in process and over HTTP, workerd through the bridge, and real D1 on opt-in.
func TestConformance(t *testing.T) {
	d1test.Run(t, d1test.Conformance)
}

// backend is an in-process local D1 and a client of one of its databases.
type backend struct {
	client *d1.Client
	local  *d1local.Server
}

func localBackend(t *testing.T, opts d1local.Options) backend {
	t.Helper()
	c, srv := d1test.Local(t, opts, d1.Options{})
	return backend{client: c, local: srv}
}

// TestImportIntoFreshDatabase exports one local database and imports the dump into another,
// checking they hold the same rows.
func TestImportIntoFreshDatabase(t *testing.T) {
	b := localBackend(t, d1local.Options{Dir: t.TempDir()})
	ctx := context.Background()
	c := b.client
	_, err := c.ExecScript(ctx, `CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT, data BLOB);
		INSERT INTO notes (body, data) VALUES ('one', X'01'), ('two
lines', NULL), ('it''s', X'');
		CREATE INDEX notes_body ON notes(body);`)
	require.NoError(t, err)
	var dump bytes.Buffer
	_, err = c.Export(ctx, &dump, d1.ExportOptions{PollInterval: time.Millisecond})
	require.NoError(t, err)

	db2, err := c.Account().CreateDatabase(ctx, "copy")
	require.NoError(t, err)
	c2 := c.Account().Database(db2.ID)
	var uploaded int64
	info, err := c2.Import(ctx, bytes.NewReader(dump.Bytes()), d1.ImportOptions{PollInterval: time.Millisecond,
		Progress: func(p d1.Progress) {
			if p.Phase == "uploading" {
				uploaded = p.Bytes
			}
		}})
	require.NoError(t, err)
	assert.NotEmpty(t, info.Bookmark)
	assert.Positive(t, info.NumQueries)
	assert.Equal(t, int64(dump.Len()), uploaded)

	q := "SELECT id, body, data FROM notes ORDER BY id"
	want, err := c.Query(ctx, q)
	require.NoError(t, err)
	got, err := c2.Query(ctx, q)
	require.NoError(t, err)
	require.Equal(t, 3, got.Len())
	for i := range want.Len() {
		assert.Equal(t, want.Row(i).Values(), got.Row(i).Values())
	}

	// A reader that cannot seek is spooled; a dump with BEGIN is refused by D1 and changes nothing.
	_, err = c2.Import(ctx, strings.NewReader("BEGIN; INSERT INTO notes (body) VALUES ('x'); COMMIT;"), d1.ImportOptions{PollInterval: time.Millisecond})
	require.Error(t, err)
	n, err := d1.QueryOne[int](ctx, c2, "SELECT count(*) FROM notes")
	require.NoError(t, err)
	assert.Equal(t, 3, n)

	require.NoError(t, c.Account().DeleteDatabase(ctx, db2.ID))
	_, err = c2.Query(ctx, "SELECT 1")
	assert.Equal(t, 404, httpStatus(err), "got %v", err)
}

// TestHexBlobs sends BLOBs as hex text through unhex(?) and reads them back with hex().
func TestHexBlobs(t *testing.T) {
	b := localBackend(t, d1local.Options{})
	ctx := context.Background()
	c := b.client
	_, err := c.Exec(ctx, "CREATE TABLE h (b BLOB)")
	require.NoError(t, err)
	want := []byte{0, 1, 0x7f, 0x80, 0xff}
	_, err = c.Exec(ctx, "INSERT INTO h VALUES (unhex(?)), (unhex(?)), (?)", d1.Hex(want), d1.Hex{}, d1.Hex(nil))
	require.NoError(t, err)
	res, err := c.Query(ctx, "SELECT typeof(b), b, hex(b) FROM h ORDER BY rowid")
	require.NoError(t, err)
	var typ string
	var raw []byte
	var viaHex d1.Hex
	require.NoError(t, res.Row(0).Scan(&typ, &raw, &viaHex))
	assert.Equal(t, "blob", typ, "unhex stores a BLOB")
	assert.Equal(t, want, raw)
	assert.Equal(t, d1.Hex(want), viaHex)
	require.NoError(t, res.Row(1).Scan(&typ, &raw, &viaHex))
	assert.Equal(t, "blob", typ)
	assert.Empty(t, viaHex)
	require.NoError(t, res.Row(2).Scan(&typ, &raw, &viaHex))
	assert.Equal(t, "null", typ)
	assert.Nil(t, raw)
	assert.Equal(t, d1.Hex{}, viaHex, "SQLite's hex(NULL) is '', not NULL")
	res, err = c.Query(ctx, "SELECT iif(b IS NULL, NULL, hex(b)) FROM h WHERE b IS NULL")
	require.NoError(t, err)
	require.NoError(t, res.Row(0).Scan(&viaHex))
	assert.Nil(t, viaHex, "iif keeps NULL")

	// A Hex counts two bytes per byte against D1's 2,000,000-byte value limit.
	_, err = c.Exec(ctx, "INSERT INTO h VALUES (unhex(?))", d1.Hex(make([]byte, 1_000_001)))
	var le *d1.ArgError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, 2_000_002, le.Got)
	_, err = c.Exec(ctx, "INSERT INTO h VALUES (unhex(?))", d1.Hex(make([]byte, 1_000_000)))
	require.NoError(t, err)
}

// httpStatus is the HTTP status of the *d1.Error in err's chain; 0 when there is none.
func httpStatus(err error) int {
	var e *d1.Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}
