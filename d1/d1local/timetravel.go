package d1local

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/d1seal/d1seal/internal/wire"
)

// Time Travel: after every request that wrote, the database records a bookmark with a copy of
// its committed state (in memory, or under Dir/<uuid>.timetravel/ when the server has a Dir).
// Bookmarks sort in the order they were taken, like D1's. Restoring copies a bookmark's state
// back in place and records a new bookmark; the bookmark current before the restore is the undo
// point. Only the last Options.TimeTravelLimit bookmarks are kept.

// timeline holds a database's bookmarks. Its database's mutex guards it.
type timeline struct {
	dir    string // "" = in memory
	limit  int
	prefix string // identifies the database in its bookmarks
	seq    uint64
	marks  []bookmark
	images map[string][]byte // in memory only
	mu     sync.Mutex        // guards images and marks for readers outside the db lock
}

type bookmark struct {
	name string
	at   time.Time
}

func newTimeline(s *Server, id string) *timeline {
	t := &timeline{limit: s.opts.TimeTravelLimit, images: map[string][]byte{}}
	if t.limit <= 0 {
		t.limit = 100
	}
	h := sha256.Sum256([]byte(id))
	t.prefix = fmt.Sprintf("%x", h[:16])
	if s.opts.Dir != "" {
		t.dir = filepath.Join(s.opts.Dir, id+".timetravel")
	}
	return t
}

// record takes a bookmark of the connection's committed state at now.
func (t *timeline) record(c *conn, now time.Time) error {
	image, err := c.serialize()
	if err != nil {
		return err
	}
	_, err = t.add(image, now)
	return err
}

func (t *timeline) add(image []byte, now time.Time) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	// Four groups of hex like D1's bookmarks; the sequence first makes them sort in order.
	name := fmt.Sprintf("%08x-%08x-%08x-%s", t.seq>>32, t.seq&0xffffffff, uint32(now.Unix()), t.prefix)
	if t.dir != "" {
		if err := os.MkdirAll(t.dir, 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(t.dir, name+".sqlite"), image, 0o600); err != nil {
			return "", err
		}
	} else {
		t.images[name] = image
	}
	t.marks = append(t.marks, bookmark{name: name, at: now})
	for len(t.marks) > t.limit {
		t.drop(t.marks[0].name)
		t.marks = t.marks[1:]
	}
	return name, nil
}

func (t *timeline) drop(name string) {
	if t.dir != "" {
		_ = os.Remove(filepath.Join(t.dir, name+".sqlite"))
	} else {
		delete(t.images, name)
	}
}

func (t *timeline) image(name string) ([]byte, error) {
	if t.dir != "" {
		return os.ReadFile(filepath.Join(t.dir, name+".sqlite"))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.images[name], nil
}

// current returns the newest bookmark.
func (t *timeline) current() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.marks[len(t.marks)-1].name
}

// at returns the newest bookmark taken at or before ts.
func (t *timeline) at(ts time.Time) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := sort.Search(len(t.marks), func(i int) bool { return t.marks[i].at.After(ts) })
	if i == 0 {
		return "", false
	}
	return t.marks[i-1].name, true
}

func (t *timeline) has(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.marks {
		if m.name == name {
			return true
		}
	}
	return false
}

func (t *timeline) removeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dir != "" {
		_ = os.RemoveAll(t.dir)
	}
	t.images, t.marks = map[string][]byte{}, nil
}

func (s *Server) handleBookmark(w http.ResponseWriter, r *http.Request, d *database) {
	d.mu.Lock()
	defer d.mu.Unlock()
	name := d.timeline.current()
	if v := r.URL.Query().Get("timestamp"); v != "" {
		ts, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, errBadRequest("timestamp must be an RFC 3339 date-time"))
			return
		}
		var ok bool
		if name, ok = d.timeline.at(ts); !ok {
			writeError(w, errSQL("No bookmark found at or before "+ts.UTC().Format(time.RFC3339)+"."))
			return
		}
	}
	writeResult(w, wire.Bookmark{Bookmark: name}, nil)
}

func (s *Server) handleRestore(w http.ResponseWriter, r *http.Request, d *database) {
	q := r.URL.Query()
	target, ts := q.Get("bookmark"), q.Get("timestamp")
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case target != "" && ts != "":
		writeError(w, errBadRequest("give bookmark or timestamp, not both"))
		return
	case target == "" && ts == "":
		writeError(w, errBadRequest("bookmark or timestamp is required"))
		return
	case ts != "":
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			writeError(w, errBadRequest("timestamp must be an RFC 3339 date-time"))
			return
		}
		var ok bool
		if target, ok = d.timeline.at(t); !ok {
			writeError(w, errSQL("No bookmark found at or before "+t.UTC().Format(time.RFC3339)+"."))
			return
		}
	case !d.timeline.has(target):
		writeError(w, errSQL("Bookmark "+target+" is not available for this database."))
		return
	}
	previous := d.timeline.current()
	image, err := d.timeline.image(target)
	if err != nil {
		s.log.Error("time travel restore", "db", d.id, "err", err)
		writeError(w, errInternal(target))
		return
	}
	if err := d.conn.replaceWith(image); err != nil {
		s.log.Error("time travel restore", "db", d.id, "err", err)
		writeError(w, errInternal(target))
		return
	}
	name, err := d.timeline.add(image, s.now())
	if err != nil {
		s.log.Error("time travel restore", "db", d.id, "err", err)
		writeError(w, errInternal(target))
		return
	}
	writeResult(w, wire.RestoreResponse{
		Bookmark:         name,
		PreviousBookmark: previous,
		Message:          "Database restored to bookmark " + target + ".",
	}, nil)
}
