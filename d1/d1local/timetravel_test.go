package d1local_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTimeTravelResolution pins down what a timestamp resolves to when writes come faster than
// TimeTravelInterval: a state the database was in within one interval before the timestamp,
// exact when the database stayed in it for a whole interval; bookmarks handed out stay exact.
func TestTimeTravelResolution(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		clock, advance := testClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		e := newEnv(t, d1local.Options{Dir: dir, Now: clock, TimeTravelInterval: 10 * time.Second})
		restore := func(query string) wire.RestoreResponse { return e.restore(t, query) }
		bookmark := func(query string) string { return e.bookmark(t, query) }
		at := func(ts time.Time) string { return "?timestamp=" + ts.Format(time.RFC3339) }
		rows := func() []string { return e.sql(t, "SELECT a FROM t ORDER BY a") }

		e.sql(t, "CREATE TABLE t(a)") // the first request copies the empty database
		advance(time.Minute)
		e.sql(t, "INSERT INTO t VALUES (1)") // the empty table lasted an interval: copied first
		advance(time.Second)
		e.sql(t, "INSERT INTO t VALUES (1)") // within the interval: no copy
		afterOne := advance(time.Second)
		advance(time.Second)
		e.sql(t, "INSERT INTO t VALUES (2)") // no copy: state (1) is lost to timestamps
		b2 := bookmark("")                   // ...but a bookmark handed out is a copy
		afterTwo := advance(time.Second)
		advance(time.Second)
		e.sql(t, "INSERT INTO t VALUES (3)")
		advance(time.Minute) // state (1,2,3) lasts a whole interval
		afterThree := advance(time.Second)
		advance(time.Second)
		e.sql(t, "INSERT INTO t VALUES (4)") // so it is copied before this write
		advance(time.Second)

		// afterOne (table holding 1, 1) resolves to the newest copy of a state entered by then:
		// the empty table, which the database was in 2 s (less than the interval) before.
		assert.Equal(t, bookmark(at(afterOne.Add(-2*time.Second))), bookmark(at(afterOne)))
		restore(at(afterOne))
		assert.Empty(t, rows(), "afterOne resolves to the state before the first inserts")
		restore(at(afterTwo))
		assert.Equal(t, []string{`{"a":1}`, `{"a":1}`, `{"a":2}`}, rows(), "afterTwo is exact: its bookmark was handed out")
		restore("?bookmark=" + b2)
		assert.Equal(t, []string{`{"a":1}`, `{"a":1}`, `{"a":2}`}, rows())
		restore(at(afterThree))
		assert.Equal(t, []string{`{"a":1}`, `{"a":1}`, `{"a":2}`, `{"a":3}`}, rows(), "afterThree is exact: the state lasted an interval")
		rr := restore(at(advance(time.Second)))
		assert.Equal(t, []string{`{"a":1}`, `{"a":1}`, `{"a":2}`, `{"a":3}`}, rows(), "now is the current state")
		assert.Equal(t, rr.Bookmark, bookmark(at(advance(time.Second))), "a timestamp at or after the last write is the current state")

		status, env, _ := e.call(t, "POST", e.dbURL("time_travel/restore")+at(afterOne.Add(-time.Hour)), nil)
		assert.Equal(t, 400, status)
		require.Len(t, env.Errors, 1)
		assert.Contains(t, env.Errors[0].Message, "No bookmark found at or before")
	}
}

// TestTimeTravelLimit: only the newest TimeTravelLimit copies are kept; older bookmarks are
// refused with D1's error, and GET bookmark without writes in between answers the same one.
func TestTimeTravelLimit(t *testing.T) {
	e := newEnv(t, d1local.Options{TimeTravelLimit: 3})
	var marks []string
	e.sql(t, "CREATE TABLE t(a)")
	for i := range 5 {
		e.sql(t, "INSERT INTO t VALUES (?)", i)
		_, env, _ := e.call(t, "GET", e.dbURL("time_travel/bookmark"), nil)
		var b wire.Bookmark
		require.NoError(t, json.Unmarshal(env.Result, &b))
		marks = append(marks, b.Bookmark)
	}
	_, env, _ := e.call(t, "GET", e.dbURL("time_travel/bookmark"), nil)
	assert.JSONEq(t, `{"bookmark":"`+marks[4]+`"}`, string(env.Result), "no write, same bookmark")
	for i, m := range marks {
		status, env, raw := e.call(t, "POST", e.dbURL("time_travel/restore")+"?bookmark="+m, nil)
		if i < 2 {
			assert.Equal(t, 400, status, "bookmark %d of 5 is gone: %s", i, raw)
			assert.Equal(t, "Bookmark "+m+" is not available for this database.", env.Errors[0].Message)
			continue
		}
		require.Equal(t, 200, status, "bookmark %d: %s", i, raw)
		assert.Equal(t, []string{`{"n":` + string(rune('1'+i)) + `}`}, e.sql(t, "SELECT count(*) AS n FROM t"))
	}
}

// TestBookmarkSurvivesRestart takes a bookmark with one Server and restores it with a new one
// on the same Dir, as `d1seal bookmark` then `d1seal restore` do in two processes.
func TestBookmarkSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, d1local.Options{Dir: dir})
	e.sql(t, "CREATE TABLE t (v TEXT)")
	e.sql(t, "INSERT INTO t VALUES ('kept')")
	status, resp, raw := e.call(t, "GET", e.dbURL("time_travel/bookmark"), nil)
	require.Equal(t, 200, status, "%s", raw)
	var bm wire.Bookmark
	require.NoError(t, json.Unmarshal(resp.Result, &bm))
	e.sql(t, "DELETE FROM t")
	require.NoError(t, e.srv.Close())

	srv2, err := d1local.New(d1local.Options{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { srv2.Close() })
	e2 := &env{srv: srv2, id: e.id, http: &http.Client{Transport: srv2.Transport()}, base: e.base}
	assert.Empty(t, e2.sql(t, "SELECT v FROM t"))
	status, _, raw = e2.call(t, "POST", e2.dbURL("time_travel/restore")+"?bookmark="+bm.Bookmark, nil)
	require.Equal(t, 200, status, "%s", raw)
	assert.Equal(t, []string{`{"v":"kept"}`}, e2.sql(t, "SELECT v FROM t"))

	// Bookmarks that were never handed out, or forged, are refused with D1's message.
	status, _, raw = e2.call(t, "POST", e2.dbURL("time_travel/restore")+"?bookmark=../../etc/passwd", nil)
	assert.Equal(t, 400, status)
	assert.Contains(t, string(raw), "is not available for this database")
}
