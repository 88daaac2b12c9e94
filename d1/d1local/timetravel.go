package d1local

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/d1seal/d1seal/internal/wire"
)

// Time Travel without a copy per write. Every request that commits a write (or a restore)
// advances the database's write sequence: the sequence number names the database's state, and
// a bookmark is the name of a state. A state is copied (a snapshot) only
//
//   - when a bookmark of it is handed out: GET bookmark, an export's at_bookmark, an import's
//     final bookmark, a restore's previous_bookmark and bookmark; and
//   - before a request, when the state has not been copied yet and the last snapshot is older
//     than the resolution (Options.TimeTravelInterval; by default 100 times as long as the last
//     snapshot took, so snapshots cost about 1% of the time).
//
// So restoring a bookmark that was handed out is exact, and a timestamp t resolves to the
// newest snapshot of a state that began at or before t: a state the database was in at some
// moment within one resolution before t (exact when it was in that state for a whole
// resolution, or when it still is). Snapshots share the pages they have in common with the
// previous one, so the memory they take is the database once plus the pages that changed
// between snapshots. Only the newest Options.TimeTravelLimit snapshots are kept in memory.
//
// With a Dir, the states whose bookmarks were handed out are also written to
// Dir/<uuid>.timetravel/<bookmark>.sqlite (the newest Options.TimeTravelLimit of them), so that
// a bookmark taken by one process can be restored by a later one, as an operator running
// `d1seal bookmark` and later `d1seal restore` expects. Other states live in memory only.

// timeline is a database's Time Travel history. Its database's mutex guards it.
type timeline struct {
	limit    int
	interval time.Duration // 0: adaptive, 100 times cost
	prefix   string        // identifies the database in its bookmarks
	seq      uint64        // the current state
	since    time.Time     // when the current state began
	snaps    []*snapshot   // oldest first, by seq
	byName   map[string]*snapshot
	cost     time.Duration // how long the last snapshot took
	dir      string        // where handed-out snapshots are kept; "" in memory
	log      func(msg string, args ...any)
}

// snapshot is a copy of one state of a database, split into pages.
type snapshot struct {
	seq   uint64
	name  string
	begin time.Time // when the database entered the state
	taken time.Time // when the copy was made
	pages [][]byte  // shared with neighbouring snapshots where unchanged; never modified
}

func newTimeline(s *Server, id string, now time.Time) *timeline {
	t := &timeline{limit: s.opts.TimeTravelLimit, interval: s.opts.TimeTravelInterval, since: now, byName: map[string]*snapshot{}, log: s.log.Error}
	if s.opts.Dir != "" {
		t.dir = filepath.Join(s.opts.Dir, id+".timetravel")
	}
	if t.limit <= 0 {
		t.limit = 100
	}
	h := sha256.Sum256([]byte(id))
	t.prefix = fmt.Sprintf("%x", h[:16])
	// The sequence starts at the clock's microseconds, so bookmarks still sort in time order
	// (and never repeat) after the Server restarts on the same Dir.
	t.seq = uint64(max(now.UnixMicro(), 0))
	return t
}

// resolution is how stale a timestamp restore may be.
func (t *timeline) resolution() time.Duration {
	if t.interval > 0 {
		return t.interval
	}
	return 100 * t.cost
}

func (t *timeline) newest() *snapshot {
	if len(t.snaps) == 0 {
		return nil
	}
	return t.snaps[len(t.snaps)-1]
}

// beforeRequest copies the current state when it has not been copied and the last snapshot
// is older than the resolution. Call it before a request that may write.
func (t *timeline) beforeRequest(c *conn, now time.Time) error {
	last := t.newest()
	if last != nil && (last.seq == t.seq || now.Sub(last.taken) < t.resolution()) {
		return nil
	}
	_, err := t.take(c, now)
	return err
}

// wrote records that a request committed a write at now: the database is in a new state.
func (t *timeline) wrote(now time.Time) {
	t.seq++
	t.since = now
}

// current returns a snapshot of the current state, taking one if needed, for a bookmark that
// is handed out.
func (t *timeline) current(c *conn, now time.Time) (*snapshot, error) {
	if last := t.newest(); last != nil && last.seq == t.seq {
		t.persist(last)
		return last, nil
	}
	s, err := t.take(c, now)
	if err == nil {
		t.persist(s)
	}
	return s, err
}

// at returns the snapshot a timestamp resolves to, or nil when the history does not reach
// back to ts.
func (t *timeline) at(c *conn, ts, now time.Time) (*snapshot, error) {
	if !ts.Before(t.since) {
		return t.current(c, now)
	}
	i := sort.Search(len(t.snaps), func(i int) bool { return t.snaps[i].begin.After(ts) })
	if i == 0 {
		return nil, nil
	}
	t.persist(t.snaps[i-1])
	return t.snaps[i-1], nil
}

// lookup returns the snapshot a bookmark names: in memory, or written by persist (perhaps by
// an earlier process), or nil.
func (t *timeline) lookup(name string) *snapshot {
	if s := t.byName[name]; s != nil {
		return s
	}
	if t.dir == "" || !validBookmark(name) {
		return nil
	}
	image, err := os.ReadFile(filepath.Join(t.dir, name+".sqlite"))
	if err != nil {
		return nil
	}
	size := pageSize(image)
	var pages [][]byte
	for len(image) > 0 {
		page := image[:min(size, len(image))]
		pages, image = append(pages, page), image[len(page):]
	}
	return &snapshot{name: name, pages: pages}
}

// validBookmark reports whether name has the form add gives bookmarks, so that it is safe as
// a file name.
func validBookmark(name string) bool {
	if len(name) != 8+1+8+1+8+1+32 {
		return false
	}
	for i, c := range []byte(name) {
		if i == 8 || i == 17 || i == 26 {
			if c != '-' {
				return false
			}
		} else if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// persist writes a handed-out snapshot to the database's Time Travel folder (with a Dir),
// keeping the newest limit files. A failure is logged, not returned: the bookmark still works
// for as long as the Server runs.
func (t *timeline) persist(s *snapshot) {
	if t.dir == "" {
		return
	}
	path := filepath.Join(t.dir, s.name+".sqlite")
	if _, err := os.Stat(path); err == nil {
		return
	}
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		t.log("time travel: keep bookmark", "err", err)
		return
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, s.image(), 0o600); err != nil {
		t.log("time travel: keep bookmark", "err", err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		t.log("time travel: keep bookmark", "err", err)
		return
	}
	files, _ := filepath.Glob(filepath.Join(t.dir, "*.sqlite"))
	sort.Strings(files) // bookmarks sort in time order
	for len(files) > t.limit {
		_ = os.Remove(files[0])
		files = files[1:]
	}
}

// take copies the current state, sharing unchanged pages with the newest snapshot.
func (t *timeline) take(c *conn, now time.Time) (*snapshot, error) {
	start := time.Now()
	var prev [][]byte
	if last := t.newest(); last != nil {
		prev = last.pages
	}
	var pages [][]byte
	err := c.serialized(func(image []byte) {
		size := pageSize(image)
		pages = make([][]byte, 0, len(image)/size+1)
		for i := 0; len(image) > 0; i++ {
			page := image[:min(size, len(image))]
			image = image[len(page):]
			if i < len(prev) && bytes.Equal(prev[i], page) {
				pages = append(pages, prev[i])
			} else {
				pages = append(pages, bytes.Clone(page))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	s := t.add(pages, t.since, now)
	t.cost = time.Since(start)
	return s, nil
}

// restored records that the database was put back in the state of s at now: a new state with
// s's content, copied already.
func (t *timeline) restored(s *snapshot, now time.Time) *snapshot {
	t.wrote(now)
	r := t.add(s.pages, now, now)
	t.persist(r)
	return r
}

func (t *timeline) add(pages [][]byte, begin, now time.Time) *snapshot {
	// Like D1's bookmarks: groups of hex that sort in the order the states were entered.
	name := fmt.Sprintf("%08x-%08x-%08x-%s", t.seq>>32, t.seq&0xffffffff, uint32(begin.Unix()), t.prefix)
	s := &snapshot{seq: t.seq, name: name, begin: begin, taken: now, pages: pages}
	t.snaps = append(t.snaps, s)
	t.byName[name] = s
	for len(t.snaps) > t.limit {
		delete(t.byName, t.snaps[0].name)
		t.snaps[0] = nil
		t.snaps = t.snaps[1:]
	}
	return s
}

// image reassembles the database file of s.
func (s *snapshot) image() []byte {
	n := 0
	for _, p := range s.pages {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range s.pages {
		b = append(b, p...)
	}
	return b
}

// pageSize reads the page size from a database file's header.
func pageSize(image []byte) int {
	if len(image) < 100 {
		return max(len(image), 1)
	}
	switch n := int(binary.BigEndian.Uint16(image[16:18])); n {
	case 1:
		return 65536
	case 0:
		return 4096
	default:
		return n
	}
}

// removeAll forgets the history, on disk too: the database is being deleted.
func (t *timeline) removeAll() {
	t.snaps, t.byName = nil, map[string]*snapshot{}
	if t.dir != "" {
		_ = os.RemoveAll(t.dir)
	}
}

func (s *Server) handleBookmark(w http.ResponseWriter, r *http.Request, d *database) {
	var ts time.Time
	if v := r.URL.Query().Get("timestamp"); v != "" {
		var err error
		if ts, err = time.Parse(time.RFC3339Nano, v); err != nil {
			writeError(w, errBadRequest("timestamp must be an RFC 3339 date-time"))
			return
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		writeError(w, errNotFound())
		return
	}
	now := s.now()
	var snap *snapshot
	var err error
	if ts.IsZero() {
		snap, err = d.timeline.current(d.conn, now)
	} else {
		snap, err = d.timeline.at(d.conn, ts, now)
	}
	if err != nil {
		s.log.Error("time travel snapshot", "db", d.id, "err", err)
		writeError(w, errInternal(d.id))
		return
	}
	if snap == nil {
		writeError(w, errSQL("No bookmark found at or before "+ts.UTC().Format(time.RFC3339)+"."))
		return
	}
	writeResult(w, wire.Bookmark{Bookmark: snap.name}, nil)
}

func (s *Server) handleRestore(w http.ResponseWriter, r *http.Request, d *database) {
	q := r.URL.Query()
	name, v := q.Get("bookmark"), q.Get("timestamp")
	var ts time.Time
	switch {
	case name != "" && v != "":
		writeError(w, errBadRequest("give bookmark or timestamp, not both"))
		return
	case name == "" && v == "":
		writeError(w, errBadRequest("bookmark or timestamp is required"))
		return
	case v != "":
		var err error
		if ts, err = time.Parse(time.RFC3339Nano, v); err != nil {
			writeError(w, errBadRequest("timestamp must be an RFC 3339 date-time"))
			return
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		writeError(w, errNotFound())
		return
	}
	now := s.now()
	fail := func(err error) {
		s.log.Error("time travel restore", "db", d.id, "err", err)
		writeError(w, errInternal(d.id))
	}
	var target *snapshot
	if name != "" {
		if target = d.timeline.lookup(name); target == nil {
			writeError(w, errSQL("Bookmark "+name+" is not available for this database."))
			return
		}
	} else {
		var err error
		if target, err = d.timeline.at(d.conn, ts, now); err != nil {
			fail(err)
			return
		}
		if target == nil {
			writeError(w, errSQL("No bookmark found at or before "+ts.UTC().Format(time.RFC3339)+"."))
			return
		}
	}
	previous, err := d.timeline.current(d.conn, now)
	if err != nil {
		fail(err)
		return
	}
	if err := d.conn.replaceWith(target.image()); err != nil {
		fail(err)
		return
	}
	restored := d.timeline.restored(target, now)
	writeResult(w, wire.RestoreResponse{
		Bookmark:         restored.name,
		PreviousBookmark: previous.name,
		Message:          "Database restored to bookmark " + target.name + ".",
	}, nil)
}
