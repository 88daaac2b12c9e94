package d1local

import (
	"net/http"
	"time"

	"github.com/d1seal/d1seal/internal/wire"
)

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
	var snap *state
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
	// Capture the current state first (the undo point), so that pruning it may cause cannot
	// take the target away between looking it up and restoring it.
	previous, err := d.timeline.current(d.conn, now)
	if err != nil {
		fail(err)
		return
	}
	var target *state
	if name != "" {
		if target = d.timeline.lookup(name, now); target == nil {
			writeError(w, errSQL("Bookmark "+name+" is not available for this database."))
			return
		}
	} else {
		if target, err = d.timeline.at(d.conn, ts, now); err != nil {
			fail(err)
			return
		}
		if target == nil {
			writeError(w, errSQL("No bookmark found at or before "+ts.UTC().Format(time.RFC3339)+"."))
			return
		}
	}
	image, err := d.timeline.imageOf(target)
	if err != nil {
		fail(err)
		return
	}
	if err := d.conn.replaceWith(image); err != nil {
		fail(err)
		return
	}
	restored, err := d.timeline.restored(d.conn, now)
	if err != nil {
		fail(err)
		return
	}
	writeResult(w, wire.RestoreResponse{
		Bookmark:         restored.name,
		PreviousBookmark: previous.name,
		Message:          "Database restored to bookmark " + target.name + ".",
	}, nil)
}
