package d1local_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

// historyBytes is what database id's Time Travel history takes on disk: its undo log. The
// image of the newest captured state (head.image, one copy of the database) is apart.
func historyBytes(t testing.TB, dir, id string) int64 {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, id+".timetravel", "*.log"))
	require.NoError(t, err)
	var n int64
	for _, name := range logs {
		info, err := os.Stat(name)
		require.NoError(t, err)
		n += info.Size()
	}
	return n
}

func (e *env) bookmark(t testing.TB, query string) string {
	t.Helper()
	status, env, raw := e.call(t, "GET", e.dbURL("time_travel/bookmark")+query, nil)
	require.Equal(t, 200, status, "%s", raw)
	var b wire.Bookmark
	require.NoError(t, json.Unmarshal(env.Result, &b), "%s", raw)
	return b.Bookmark
}

func (e *env) restore(t testing.TB, query string) wire.RestoreResponse {
	t.Helper()
	status, env, raw := e.call(t, "POST", e.dbURL("time_travel/restore")+query, nil)
	require.Equal(t, 200, status, "%s", raw)
	var rr wire.RestoreResponse
	require.NoError(t, json.Unmarshal(env.Result, &rr), "%s", raw)
	return rr
}

// TestTimeTravelCostsWhatChanged: 50 small writes to a 4 MB database, each with a bookmark
// handed out (so each state is kept), cost Time Travel a few chunks each on disk, not copies
// of the database; every one of the 50 states still restores exactly.
func TestTimeTravelCostsWhatChanged(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, d1local.Options{Dir: dir})
	rs := e.query(t, map[string]any{"sql": `CREATE TABLE big(id INTEGER PRIMARY KEY, body BLOB);
		WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 4000)
		INSERT INTO big(body) SELECT randomblob(1000) FROM c;
		CREATE TABLE small(id INTEGER PRIMARY KEY, v TEXT)`})
	size := rs[len(rs)-1].Meta.SizeAfter
	require.Greater(t, size, int64(4_000_000))
	before := historyBytes(t, dir, e.id)

	const writes = 50
	marks := make([]string, writes)
	for i := range writes {
		e.sql(t, "INSERT INTO small(v) VALUES (?)", fmt.Sprint("row ", i))
		e.sql(t, "UPDATE big SET body = zeroblob(10) WHERE id = ?", i*80+1)
		marks[i] = e.bookmark(t, "")
	}
	grew := historyBytes(t, dir, e.id) - before
	// Each write changes the page of small, a page of big and SQLite's header page: about 3
	// chunks of 4 KiB. 50 copies would be 50 times the database.
	perWrite := grew / writes
	t.Logf("database %d bytes; history grew %d bytes for %d writes (%d per write)", size, grew, writes, perWrite)
	assert.LessOrEqual(t, perWrite, int64(6*4096), "history bytes per small write: got %d, want a few 4 KiB chunks", perWrite)
	assert.Less(t, grew, size/4, "history after %d small writes: got %d bytes, want far less than the %d-byte database", writes, grew, size)
	head, err := os.Stat(filepath.Join(dir, e.id+".timetravel", "head.image"))
	require.NoError(t, err)
	assert.Equal(t, size, head.Size(), "beside the log, one copy of the newest captured state")

	for _, i := range []int{0, 17, 49, 3} {
		e.restore(t, "?bookmark="+marks[i])
		assert.Equal(t, []string{fmt.Sprintf(`{"n":%d,"zeroed":%d}`, i+1, i+1)},
			e.sql(t, "SELECT (SELECT count(*) FROM small) AS n, (SELECT count(*) FROM big WHERE length(body) = 10) AS zeroed"), "bookmark %d", i)
		assert.Equal(t, []string{`{"quick_check":"ok"}`}, e.sql(t, "PRAGMA quick_check"))
	}
}

// TestTimeTravelEmbeddedAndHTTP restores to a bookmark and to a time with the d1 client, in
// process through the Transport (the embedded local D1) and over a 127.0.0.1 socket.
func TestTimeTravelEmbeddedAndHTTP(t *testing.T) {
	for _, transport := range []string{"embedded", "http"} {
		t.Run(transport, func(t *testing.T) {
			clock, advance := testClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			srv, err := d1local.New(d1local.Options{Dir: t.TempDir(), Now: clock, TimeTravelInterval: time.Second})
			require.NoError(t, err)
			t.Cleanup(func() { srv.Close() })
			ctx := context.Background()
			id, err := srv.CreateDatabase(ctx, "tt")
			require.NoError(t, err)
			opts := d1.Options{BaseURL: "http://d1local.invalid/client/v4", HTTPClient: &http.Client{Transport: srv.Transport()}, RateLimit: d1.RateLimit{Disabled: true}}
			if transport == "http" {
				ts := httptest.NewServer(srv)
				t.Cleanup(ts.Close)
				opts.BaseURL, opts.HTTPClient = ts.URL+"/client/v4", ts.Client()
			}
			acct, err := d1.NewAccount("acct", "token", opts)
			require.NoError(t, err)
			c := acct.Database(id)
			count := func() string {
				r, err := c.Query(ctx, "SELECT count(*) AS n FROM notes")
				require.NoError(t, err)
				require.Equal(t, 1, r.Len())
				return fmt.Sprint(r.Row(0).Values())
			}

			_, err = c.Exec(ctx, "CREATE TABLE notes (body TEXT)")
			require.NoError(t, err)
			advance(time.Minute)
			_, err = c.Exec(ctx, "INSERT INTO notes VALUES ('one')")
			require.NoError(t, err)
			one := advance(time.Minute)
			bm, err := c.Bookmark(ctx, time.Time{})
			require.NoError(t, err)
			advance(time.Minute)
			_, err = c.Exec(ctx, "INSERT INTO notes VALUES ('two'), ('three')")
			require.NoError(t, err)
			advance(time.Minute)

			r, err := c.RestoreAt(ctx, one)
			require.NoError(t, err)
			assert.Equal(t, `[1]`, count(), "restored to a time")
			_, err = c.Restore(ctx, r.Undo)
			require.NoError(t, err)
			assert.Equal(t, `[3]`, count(), "undone")
			_, err = c.Restore(ctx, bm)
			require.NoError(t, err)
			assert.Equal(t, `[1]`, count(), "restored to a bookmark")
		})
	}
}

// TestTimeTravelLaterProcess: bookmarks handed out and timestamps both restore in a later
// process on the same Dir, across two restarts.
func TestTimeTravelLaterProcess(t *testing.T) {
	dir := t.TempDir()
	clock, advance := testClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	opts := d1local.Options{Dir: dir, Now: clock, TimeTravelInterval: time.Second}

	e := newEnv(t, opts)
	e.sql(t, "CREATE TABLE t (v TEXT)")
	e.sql(t, "INSERT INTO t VALUES ('a')")
	first := e.bookmark(t, "")
	advance(time.Minute)
	e.sql(t, "INSERT INTO t VALUES ('b')")
	afterB := advance(time.Minute)
	advance(time.Minute)
	e.sql(t, "INSERT INTO t VALUES ('c')") // never bookmarked: captured at Close
	require.NoError(t, e.srv.Close())

	reopen := func() *env {
		srv, err := d1local.New(opts)
		require.NoError(t, err)
		t.Cleanup(func() { srv.Close() })
		return &env{srv: srv, id: e.id, http: &http.Client{Transport: srv.Transport()}, base: e.base}
	}
	rows := func(e *env) []string { return e.sql(t, "SELECT v FROM t ORDER BY v") }

	e2 := reopen()
	assert.Equal(t, []string{`{"v":"a"}`, `{"v":"b"}`, `{"v":"c"}`}, rows(e2))
	advance(time.Minute)
	e2.restore(t, "?timestamp="+afterB.Format(time.RFC3339))
	assert.Equal(t, []string{`{"v":"a"}`, `{"v":"b"}`}, rows(e2), "a time before the restart")
	advance(time.Minute)
	e2.sql(t, "INSERT INTO t VALUES ('d')")
	require.NoError(t, e2.srv.Close())

	e3 := reopen()
	assert.Equal(t, []string{`{"v":"a"}`, `{"v":"b"}`, `{"v":"d"}`}, rows(e3))
	e3.restore(t, "?bookmark="+first)
	assert.Equal(t, []string{`{"v":"a"}`}, rows(e3), "a bookmark from two processes ago")
	e3.restore(t, "?timestamp="+afterB.Format(time.RFC3339))
	assert.Equal(t, []string{`{"v":"a"}`, `{"v":"b"}`}, rows(e3))
}

// TestTimeTravelContinuesWhenFileChanged: if the database file changes behind the
// emulator's back (another program here; a process killed after writes is the same case, see
// TestTimeTravelAfterKill), the history continues: its bookmarks still restore, and the
// change is a state of its own. Without the image of the last capture the history is
// dropped rather than restored wrongly, and Time Travel starts again.
func TestTimeTravelContinuesWhenFileChanged(t *testing.T) {
	for _, imageLost := range []bool{false, true} {
		t.Run(fmt.Sprintf("image lost %v", imageLost), func(t *testing.T) {
			dir := t.TempDir()
			e := newEnv(t, d1local.Options{Dir: dir})
			e.sql(t, "CREATE TABLE t (v TEXT)")
			old := e.bookmark(t, "")
			e.sql(t, "INSERT INTO t VALUES ('a')")
			require.NoError(t, e.srv.Close())

			db, err := sql.Open("sqlite", filepath.Join(dir, e.id+".sqlite"))
			require.NoError(t, err)
			_, err = db.Exec("INSERT INTO t VALUES ('outside')")
			require.NoError(t, err)
			require.NoError(t, db.Close())
			if imageLost {
				require.NoError(t, os.Remove(filepath.Join(dir, e.id+".timetravel", "head.image")))
			}

			srv, err := d1local.New(d1local.Options{Dir: dir})
			require.NoError(t, err)
			t.Cleanup(func() { srv.Close() })
			e2 := &env{srv: srv, id: e.id, http: &http.Client{Transport: srv.Transport()}, base: e.base}
			rows := func() []string { return e2.sql(t, "SELECT v FROM t ORDER BY v") }
			require.Equal(t, []string{`{"v":"a"}`, `{"v":"outside"}`}, rows(), "control: the outside write is in the file")
			now := e2.bookmark(t, "")
			status, _, raw := e2.call(t, "POST", e2.dbURL("time_travel/restore")+"?bookmark="+old, nil)
			if imageLost {
				assert.Equal(t, 400, status, "%s", raw)
				assert.Contains(t, string(raw), "is not available for this database")
			} else {
				assert.Equal(t, 200, status, "%s", raw)
				assert.Empty(t, rows(), "the bookmark from before the outside write")
			}
			e2.restore(t, "?bookmark="+now)
			assert.Equal(t, []string{`{"v":"a"}`, `{"v":"outside"}`}, rows())
		})
	}
}

// TestTimeTravelAfterKill: a process killed after writes (the Server never closed) loses none
// of its history: the next process restores its bookmarks and times, and the writes after its
// last capture are a state of their own.
func TestTimeTravelAfterKill(t *testing.T) {
	dir := t.TempDir()
	clock, advance := testClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	opts := d1local.Options{Dir: dir, Now: clock, TimeTravelInterval: time.Hour}

	// The first process: never closed, as if killed. (Its connection stays open, idle, until
	// the test binary exits.)
	killed, err := d1local.New(opts)
	require.NoError(t, err)
	id, err := killed.CreateDatabase(context.Background(), "killed")
	require.NoError(t, err)
	base := "http://d1local.test/client/v4"
	e := &env{srv: killed, id: id, http: &http.Client{Transport: killed.Transport()}, base: base}
	e.sql(t, "CREATE TABLE t (v TEXT)")
	e.sql(t, "INSERT INTO t VALUES ('a')")
	first := e.bookmark(t, "")
	afterA := advance(time.Minute)
	advance(time.Minute)
	e.sql(t, "INSERT INTO t VALUES ('b')") // after the last capture: only in the file
	advance(time.Minute)

	srv, err := d1local.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	e2 := &env{srv: srv, id: e.id, http: &http.Client{Transport: srv.Transport()}, base: base}
	rows := func() []string { return e2.sql(t, "SELECT v FROM t ORDER BY v") }
	require.Equal(t, []string{`{"v":"a"}`, `{"v":"b"}`}, rows(), "control: the killed process's last write is in the file")
	last := e2.bookmark(t, "")
	e2.restore(t, "?bookmark="+first)
	assert.Equal(t, []string{`{"v":"a"}`}, rows(), "a bookmark of the killed process")
	e2.restore(t, "?bookmark="+last)
	assert.Equal(t, []string{`{"v":"a"}`, `{"v":"b"}`}, rows(), "the writes after its last capture")
	e2.restore(t, "?timestamp="+afterA.Format(time.RFC3339))
	assert.Equal(t, []string{`{"v":"a"}`}, rows(), "a time of the killed process")
}

// TestTimeTravelRetention: states the database left longer ago than TimeTravelRetention are
// dropped, on disk too; past TimeTravelMaxBytes the oldest go first.
func TestTimeTravelRetention(t *testing.T) {
	t.Run("age", func(t *testing.T) {
		for _, dir := range []string{"", t.TempDir()} {
			clock, advance := testClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			e := newEnv(t, d1local.Options{Dir: dir, Now: clock, TimeTravelRetention: time.Hour})
			e.sql(t, "CREATE TABLE t (v)")
			var marks []string
			for i := range 4 {
				e.sql(t, "INSERT INTO t VALUES (?)", i)
				marks = append(marks, e.bookmark(t, ""))
				advance(40 * time.Minute)
			}
			// Now is 160 minutes after the first insert. The state of marks[0] ended 40 minutes
			// in, marks[1]'s 80 and marks[2]'s 120: both older than an hour; marks[2]'s state
			// lasted until 40 minutes ago and marks[3]'s is current.
			e.sql(t, "INSERT INTO t VALUES (9)")
			for i, m := range marks {
				status, _, raw := e.call(t, "POST", e.dbURL("time_travel/restore")+"?bookmark="+m, nil)
				if i < 2 {
					assert.Equal(t, 400, status, "bookmark %d is past retention: %s", i, raw)
				} else {
					assert.Equal(t, 200, status, "bookmark %d is within retention: %s", i, raw)
				}
			}
		}
	})
	t.Run("bytes", func(t *testing.T) {
		dir := t.TempDir()
		const limit = 256 << 10
		e := newEnv(t, d1local.Options{Dir: dir, TimeTravelMaxBytes: limit})
		e.sql(t, "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
		var marks []string
		for i := range 60 {
			// Each write replaces about 20 KB: 5 chunks or more per state.
			e.sql(t, "INSERT OR REPLACE INTO t VALUES (?, randomblob(20000))", i%5)
			marks = append(marks, e.bookmark(t, ""))
		}
		got := historyBytes(t, dir, e.id)
		// The log is cut in segments of limit/8; the newest segment may go past the cap.
		assert.LessOrEqual(t, got, int64(limit+limit/8+64<<10), "history on disk: got %d bytes, cap %d", got, limit)
		status, _, raw := e.call(t, "POST", e.dbURL("time_travel/restore")+"?bookmark="+marks[0], nil)
		assert.Equal(t, 400, status, "the oldest state is gone: %s", raw)
		e.restore(t, "?bookmark="+marks[58])
		assert.Equal(t, []string{`{"n":5}`}, e.sql(t, "SELECT count(*) AS n FROM t"))
	})
}

// TestTimeTravelOldCopies: a bookmark kept by an earlier version of the emulator, as a whole
// copy <bookmark>.sqlite in the database's Time Travel folder, still restores.
func TestTimeTravelOldCopies(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, d1local.Options{Dir: dir})
	e.sql(t, "CREATE TABLE t (v TEXT)")
	e.sql(t, "INSERT INTO t VALUES ('old')")
	require.NoError(t, e.srv.Close())
	image, err := os.ReadFile(filepath.Join(dir, e.id+".sqlite"))
	require.NoError(t, err)
	const old = "00000001-00000002-00000003-0123456789abcdef0123456789abcdef"
	require.NoError(t, os.WriteFile(filepath.Join(dir, e.id+".timetravel", old+".sqlite"), image, 0o600))

	srv, err := d1local.New(d1local.Options{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	e2 := &env{srv: srv, id: e.id, http: &http.Client{Transport: srv.Transport()}, base: e.base}
	e2.sql(t, "DELETE FROM t")
	e2.restore(t, "?bookmark="+old)
	assert.Equal(t, []string{`{"v":"old"}`}, e2.sql(t, "SELECT v FROM t"))
}
