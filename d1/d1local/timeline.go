package d1local

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Time Travel keeps what changed, not copies. Every request that commits a write (or a
// restore) advances the database's write sequence: the sequence number names the database's
// state, and a bookmark is the name of a state. A state is captured only
//
//   - when a bookmark of it is handed out: GET bookmark, an export's at_bookmark, an import's
//     final bookmark, a restore's previous_bookmark and bookmark; and
//   - before a request, when the state has not been captured yet and the last capture is older
//     than the resolution (Options.TimeTravelInterval; by default 100 times as long as the last
//     capture took, so captures cost about 1% of the time); and
//   - when the Server closes, so that the next process continues the history.
//
// The timeline holds the image of the newest captured state (the head) and, for each older
// captured state, an undo record: the chunks (chunkBytes each) of that state that differ from
// the next captured state, and its length. Capturing diffs the database against the head,
// chunk by chunk, and keeps the head's chunks that changed: the history costs the bytes that
// changed between captures, never a copy of the database (a small write to a 10 MB database
// costs two or three 4 KiB chunks: the table's page, SQLite's header and perhaps an index).
// Restoring state s starts from the head and applies the undo records from the newest back to
// s's. With a Dir the undo records are appended to a log on disk (see ttlog.go) and read back
// on restore, so the history survives restarts; in memory they stay in memory.
//
// Why this design, with modernc.org/sqlite: SQLite's session extension (changesets) is not
// built into modernc, sqlite_dbpage is not either, and catching pages as SQLite writes them
// would take a VFS shim in transpiled C. sqlite3_serialize is available and reads the whole
// database in one call; the emulator already reads it on every capture, so a diff against the
// head (held in memory: the database once) finds the changed chunks at the cost of a memcmp.
// The head's image is what the undo records apply to. With a Dir it is also kept on disk
// beside the log (head.image, rewritten chunk by chunk at each capture; see saveHead), so a
// later process finds it whether or not the file still holds it: the file is recognized by
// the CRC of its first chunk (which holds SQLite's file change counter, bumped by every
// commit) and its length. If the file moved on without a capture (the process was killed
// after writes, or another program wrote to it), the kept image rebuilds the history and the
// file's changes are one more state; only without a kept image that checks is the older
// history dropped, with a log message. The kept image costs one copy of the database on disk
// and, per capture, the changed chunks and a CRC of the image.
//
// One Server at a time may use a Dir: two appending to the same log would interleave
// histories of different files.
//
// Retention: states older than Options.TimeTravelRetention (0: 30 days, as D1) are dropped
// once the state after them began before the window; beyond Options.TimeTravelMaxBytes of
// undo (0: 256 MiB) the oldest states go first (on disk, whole segment files); and with
// Options.TimeTravelLimit > 0 at most that many captured states are kept.

// chunkBytes is the unit the history diffs and keeps: SQLite's default page size. Any page
// size works (the diff does not need to line up with pages).
const chunkBytes = 4096

// Defaults of the retention settings.
const (
	DefaultTimeTravelRetention = 30 * 24 * time.Hour
	DefaultTimeTravelMaxBytes  = 256 << 20
)

// timeline is a database's Time Travel history. Its database's mutex guards it.
type timeline struct {
	limit     int
	retention time.Duration
	maxBytes  int64
	interval  time.Duration // 0: adaptive, 100 times cost
	prefix    string        // identifies the database in its bookmarks
	seq       uint64        // the current state
	since     time.Time     // when the current state began
	head      *state        // the newest captured state; nil before the first capture
	image     []byte        // the head's database image
	states    []*state      // captured states older than head, oldest first, each with its undo
	memBytes  int64         // bytes of undo chunks held in memory
	cost      time.Duration // how long the last capture took
	log       *undoLog      // nil in memory
	headSaved bool          // the log's head.image holds image (see saveHead)
	logf      func(msg string, args ...any)
}

// state is one captured state of a database.
type state struct {
	seq          uint64
	name         string
	begin, taken time.Time
	size         int64      // the length of its database image
	check        uint32     // CRC-32 of the image's first chunk
	undo         []chunkRef // its chunks that differ from the next captured state; nil for the head
	file         string     // a whole copy written by an earlier version of the emulator
}

// chunkRef is one undo chunk: in memory (data), or in the log (seg and off).
type chunkRef struct {
	index  uint32
	length int
	data   []byte
	seg    *segment
	off    int64
}

func newTimeline(s *Server, id string, c *conn, now time.Time) *timeline {
	t := &timeline{
		limit:     s.opts.TimeTravelLimit,
		retention: s.opts.TimeTravelRetention,
		maxBytes:  s.opts.TimeTravelMaxBytes,
		interval:  s.opts.TimeTravelInterval,
		since:     now,
		logf:      s.log.Error,
	}
	if t.retention <= 0 {
		t.retention = DefaultTimeTravelRetention
	}
	if t.maxBytes <= 0 {
		t.maxBytes = DefaultTimeTravelMaxBytes
	}
	h := sha256.Sum256([]byte(id))
	t.prefix = fmt.Sprintf("%x", h[:16])
	// The sequence starts at the clock's microseconds, so bookmarks still sort in time order
	// (and never repeat) after the Server restarts on the same Dir.
	t.seq = uint64(max(now.UnixMicro(), 0))
	if s.opts.Dir != "" {
		t.open(filepath.Join(s.opts.Dir, id+".timetravel"), s.dbPath(id), c, now)
	}
	return t
}

// open loads the history kept in dir by earlier processes. The database file (at file) is
// either in the state the history ends with, or it changed since (a process killed before
// Close, another program): then the head's image kept beside the log (saveHead) rebuilds the
// history, and the file's changes are a state of their own, not yet captured. Without that
// image the history is dropped rather than restored wrongly.
func (t *timeline) open(dir, file string, c *conn, now time.Time) {
	rollover := min(int64(maxSegmentBytes), max(t.maxBytes/8, chunkBytes))
	l, recs, err := readLog(dir, rollover)
	if err != nil {
		t.logf("time travel: read history", "dir", dir, "err", err)
		l = &undoLog{dir: dir, rollover: rollover}
		l.removeAll()
		t.log = l
		return
	}
	t.log = l
	// Whole copies from earlier versions (see lookup) go once past retention.
	if old, _ := filepath.Glob(filepath.Join(dir, "*.sqlite")); len(old) > 0 {
		for _, path := range old {
			if info, err := os.Stat(path); err == nil && now.Sub(info.ModTime()) > t.retention {
				_ = os.Remove(path)
			}
		}
	}
	if len(recs) == 0 {
		return
	}
	var states []*state
	for i, r := range recs {
		s := &state{seq: r.seq, begin: r.begin, taken: r.taken, size: r.size, check: r.check}
		s.name = t.bookmark(s.seq, s.begin)
		if i > 0 {
			states[i-1].undo = r.undo
		}
		states = append(states, s)
	}
	head := states[len(states)-1]
	current := false
	err = c.Serialized(func(image []byte) {
		if int64(len(image)) == head.size && imageCheck(image) == head.check {
			t.image, current = append([]byte(nil), image...), true
		}
	})
	if err == nil && !current {
		if image := t.log.loadHead(head.seq, head.size); image != nil && imageCheck(image) == head.check {
			t.image, t.headSaved = image, true
		}
	}
	if err != nil || t.image == nil && head.size > 0 {
		t.logf("time travel: the database changed after its last capture, and the image of that capture is missing; earlier history is dropped", "dir", dir)
		t.log.removeAll()
		t.image, t.headSaved = nil, false
		return
	}
	t.head, t.states = head, states[:len(states)-1]
	t.seq, t.since = head.seq, head.begin
	if !current {
		// The file moved on from the head: one more state, entered when the file last
		// changed (as far as its modification time tells), captured before the next write.
		t.seq++
		t.since = now
		if info, err := os.Stat(file); err == nil && info.ModTime().After(head.begin) && info.ModTime().Before(now) {
			t.since = info.ModTime()
		}
	}
	t.prune(now)
}

// bookmark names a state like D1's bookmarks: groups of hex that sort in the order the
// states were entered.
func (t *timeline) bookmark(seq uint64, begin time.Time) string {
	return fmt.Sprintf("%08x-%08x-%08x-%s", seq>>32, seq&0xffffffff, uint32(begin.Unix()), t.prefix)
}

// imageCheck is the CRC-32 of an image's first chunk.
func imageCheck(image []byte) uint32 {
	return crc32.ChecksumIEEE(image[:min(len(image), chunkBytes)])
}

// resolution is how stale a timestamp restore may be.
func (t *timeline) resolution() time.Duration {
	if t.interval > 0 {
		return t.interval
	}
	return 100 * t.cost
}

// beforeRequest captures the current state when it has not been captured and the last capture
// is older than the resolution. Call it before a request that may write.
func (t *timeline) beforeRequest(c *conn, now time.Time) error {
	if h := t.head; h != nil && (h.seq == t.seq || now.Sub(h.taken) < t.resolution()) {
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

// current returns the current state, capturing it if needed, for a bookmark that is handed
// out.
func (t *timeline) current(c *conn, now time.Time) (*state, error) {
	if h := t.head; h != nil && h.seq == t.seq {
		return h, nil
	}
	return t.take(c, now)
}

// at returns the state a timestamp resolves to, or nil when the history does not reach back
// to ts.
func (t *timeline) at(c *conn, ts, now time.Time) (*state, error) {
	t.prune(now)
	if !ts.Before(t.since) {
		return t.current(c, now)
	}
	if t.head != nil && !t.head.begin.After(ts) {
		return t.head, nil
	}
	i := sort.Search(len(t.states), func(i int) bool { return t.states[i].begin.After(ts) })
	if i == 0 {
		return nil, nil
	}
	return t.states[i-1], nil
}

// lookup returns the captured state a bookmark names, or nil when it was never captured or
// is past retention at now.
func (t *timeline) lookup(name string, now time.Time) *state {
	t.prune(now)
	if t.head != nil && t.head.name == name {
		return t.head
	}
	for _, s := range t.states {
		if s.name == name {
			return s
		}
	}
	// Earlier versions of the emulator kept a whole copy per bookmark handed out, as
	// <bookmark>.sqlite beside the log: they still restore, within retention.
	if t.log != nil && validBookmark(name) {
		path := filepath.Join(t.log.dir, name+".sqlite")
		if info, err := os.Stat(path); err == nil {
			if now.Sub(info.ModTime()) <= t.retention {
				return &state{name: name, file: path}
			}
			_ = os.Remove(path)
		}
	}
	return nil
}

// validBookmark reports whether name has the form bookmark gives, so that it is safe as a
// file name.
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

// take captures the current state: it becomes the head, and the previous head keeps the
// chunks that changed.
func (t *timeline) take(c *conn, now time.Time) (*state, error) {
	start := time.Now()
	var undo []chunkRef
	var changed []uint32 // the chunks of the new image that differ from the old one's
	var size int64
	var check uint32
	err := c.Serialized(func(image []byte) {
		old := t.image
		if t.head != nil {
			for off := 0; off < len(old); off += chunkBytes {
				end := min(off+chunkBytes, len(old))
				if end > len(image) || !bytes.Equal(old[off:end], image[off:end]) {
					undo = append(undo, chunkRef{index: uint32(off / chunkBytes), length: end - off, data: bytes.Clone(old[off:end])})
					if off < len(image) {
						changed = append(changed, uint32(off/chunkBytes))
					}
				}
			}
		}
		for off := len(old) / chunkBytes * chunkBytes; off < len(image); off += chunkBytes {
			if off+chunkBytes > len(old) && (len(changed) == 0 || changed[len(changed)-1] != uint32(off/chunkBytes)) {
				changed = append(changed, uint32(off/chunkBytes)) // grown, or a partial last chunk
			}
		}
		t.image = append(t.image[:0], image...)
		size, check = int64(len(image)), imageCheck(image)
	})
	if err != nil {
		return nil, err
	}
	s := &state{seq: t.seq, begin: t.since, taken: now, size: size, check: check}
	s.name = t.bookmark(s.seq, s.begin)
	if t.log != nil {
		if err := t.log.append(s, undo); err != nil {
			// The history on disk no longer matches: start it again from this state.
			t.logf("time travel: keep history", "err", err)
			t.log.removeAll()
			t.head, t.states, t.memBytes, t.headSaved = s, nil, 0, false
			return s, nil
		}
		err := t.log.saveHead(s.seq, t.image, changed, !t.headSaved || t.head == nil)
		if err != nil {
			t.logf("time travel: keep the newest state's image (the history survives a restart after Close only)", "err", err)
		}
		t.headSaved = err == nil
	}
	if prev := t.head; prev != nil {
		prev.undo = undo
		t.states = append(t.states, prev)
		if t.log == nil {
			for _, u := range undo {
				t.memBytes += int64(u.length)
			}
		}
	}
	t.head = s
	t.prune(now)
	t.cost = time.Since(start)
	return s, nil
}

// prune drops the states past the retention settings, oldest first.
func (t *timeline) prune(now time.Time) {
	if t.head == nil {
		return
	}
	cutoff := now.Add(-t.retention)
	drop := 0
	for drop < len(t.states) {
		next := t.head
		if drop+1 < len(t.states) {
			next = t.states[drop+1]
		}
		// A state is needed while a timestamp inside the window can resolve to it.
		if t.limit > 0 && len(t.states)-drop+1 > t.limit || !next.begin.After(cutoff) {
			drop++
			continue
		}
		break
	}
	t.dropStates(drop)
	if t.log != nil {
		// Delete whole segments: those whose records describe dropped states only, and the
		// oldest ones while the log is over its byte cap.
		for len(t.log.segs) > 1 {
			first := t.log.segs[0]
			oldest := t.head.seq
			if len(t.states) > 0 {
				oldest = t.states[0].seq
			}
			if first.last >= oldest && t.log.bytes() <= t.maxBytes {
				break
			}
			n := 0
			for n < len(t.states) && t.states[n].seq <= first.last {
				n++
			}
			t.dropStates(n)
			if !t.log.dropOldest() {
				break
			}
		}
		return
	}
	n, kept := 0, t.memBytes
	for n < len(t.states) && kept > t.maxBytes {
		for _, u := range t.states[n].undo {
			kept -= int64(u.length)
		}
		n++
	}
	t.dropStates(n)
}

// dropStates forgets the oldest n states.
func (t *timeline) dropStates(n int) {
	if n <= 0 {
		return
	}
	if t.log == nil {
		for _, s := range t.states[:n] {
			for _, u := range s.undo {
				t.memBytes -= int64(u.length)
			}
		}
		t.memBytes = max(t.memBytes, 0)
	}
	clear(t.states[:n])
	t.states = t.states[n:]
}

// imageOf rebuilds the database image of captured state s: the head's image with the undo
// records from the newest back to s's applied.
func (t *timeline) imageOf(s *state) ([]byte, error) {
	if s.file != "" {
		image, err := os.ReadFile(s.file)
		if err != nil {
			return nil, fmt.Errorf("time travel: %w", err)
		}
		return image, nil
	}
	image := bytes.Clone(t.image)
	if s == t.head {
		return image, nil
	}
	i := len(t.states) - 1
	for ; i >= 0; i-- {
		st := t.states[i]
		if int64(len(image)) > st.size {
			image = image[:st.size]
		} else if n := st.size - int64(len(image)); n > 0 {
			image = append(image, make([]byte, n)...)
		}
		for _, u := range st.undo {
			data := u.data
			if data == nil {
				var err error
				if data, err = t.log.read(u); err != nil {
					return nil, err
				}
			}
			copy(image[int(u.index)*chunkBytes:], data)
		}
		if st == s {
			return image, nil
		}
	}
	return nil, fmt.Errorf("time travel: state %s is not in the history", s.name)
}

// restored records that the database was put back in an earlier state at now: a new state,
// captured at once.
func (t *timeline) restored(c *conn, now time.Time) (*state, error) {
	t.wrote(now)
	return t.take(c, now)
}

// bytes is what the history takes: on disk with a Dir, else in memory (the head's image, the
// database once, is not counted).
func (t *timeline) bytes() int64 {
	if t.log != nil {
		return t.log.bytes()
	}
	return t.memBytes
}

// close captures the current state so that a later process continues the history, and closes
// the log.
func (t *timeline) close(c *conn, now time.Time) {
	if t.log == nil {
		return
	}
	if t.head == nil || t.head.seq != t.seq {
		if _, err := t.take(c, now); err != nil {
			t.logf("time travel: capture at close", "err", err)
		}
	}
	t.log.close()
}

// removeAll forgets the history, on disk too: the database is being deleted.
func (t *timeline) removeAll() {
	t.head, t.states, t.image, t.memBytes, t.headSaved = nil, nil, nil, 0, false
	if t.log != nil {
		t.log.removeAll()
	}
}
