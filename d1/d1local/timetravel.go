package d1local

import (
	"net/http"
	"time"

	"github.com/d1seal/d1seal/internal/wire"
)

// parseTimestamp reads the timestamp parameter of the Time Travel routes ("" is the zero time).
func parseTimestamp(v string) (time.Time, *apiError) {
	if v == "" {
		return time.Time{}, nil
	}
	ts, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errBadRequest("timestamp must be an RFC 3339 date-time")
	}
	return ts, nil
}

// lockOpen locks d and reports true if it is open; otherwise it unlocks it, answers not found
// and reports false.
func (d *database) lockOpen(w http.ResponseWriter) bool {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		writeError(w, errNotFound())
		return false
	}
	return true
}

func (s *Server) handleBookmark(w http.ResponseWriter, r *http.Request, d *database) {
	ts, aerr := parseTimestamp(r.URL.Query().Get("timestamp"))
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if !d.lockOpen(w) {
		return
	}
	defer d.mu.Unlock()
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
		var aerr *apiError
		if ts, aerr = parseTimestamp(v); aerr != nil {
			writeError(w, aerr)
			return
		}
	}
	if !d.lockOpen(w) {
		return
	}
	defer d.mu.Unlock()
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
