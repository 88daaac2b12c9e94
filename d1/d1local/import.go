package d1local

import (
	"net/http"
	"regexp"

	"github.com/d1seal/d1seal/internal/sqlsplit"
	"github.com/d1seal/d1seal/internal/wire"
)

// handleImport serves POST /import with D1's flow: "init" with the file's MD5 answers an upload
// URL (served by this handler, which answers the PUT with the MD5 as ETag); "ingest" runs the
// uploaded SQL as one transaction (all of it commits or none) and answers "active" with a
// bookmark; "poll" with that bookmark answers "complete" (or "error" with D1's message). init
// hands out a fresh upload URL even when the same etag was uploaded before (D1 may answer
// without one then, and wrangler skips the upload; uploading again is simpler and equivalent).
func (s *Server) handleImport(w http.ResponseWriter, r *http.Request, d *database) {
	var req wire.ImportRequest
	if err := decodeBody(r, w, 1<<20, &req); err != nil {
		writeError(w, err)
		return
	}
	switch req.Action {
	case "init":
		if !md5Hex.MatchString(req.Etag) {
			writeError(w, errBadRequest("etag must be the MD5 of the file in hex"))
			return
		}
		name := d.id + "-" + req.Etag + ".sql"
		url := s.files.add(&file{name: name, upload: true})
		writeResult(w, wire.ImportResponse{Success: true, Filename: name, UploadURL: baseURL(r) + url}, nil)
	case "ingest":
		s.ingest(w, d, req)
	case "poll":
		j := s.jobs.get(d.id, req.CurrentBookmark)
		if req.CurrentBookmark == "" || j == nil || j.export {
			writeError(w, errSQL("No import in progress for bookmark "+req.CurrentBookmark+"."))
			return
		}
		resp := wire.ImportResponse{AtBookmark: req.CurrentBookmark, Status: j.status, Success: j.status == "complete", Type: "import"}
		if j.status == "complete" {
			resp.Messages = []string{"Import complete"}
			resp.Result = &wire.ImportResult{FinalBookmark: j.final, NumQueries: j.numQueries, Meta: j.meta}
		} else {
			resp.Error = j.err
		}
		writeResult(w, resp, nil)
	default:
		writeError(w, errBadRequest(`action must be "init", "ingest" or "poll"`))
	}
}

var md5Hex = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (s *Server) ingest(w http.ResponseWriter, d *database, req wire.ImportRequest) {
	f := s.files.uploaded(req.Filename)
	if f == nil {
		writeError(w, errBadRequest("no uploaded file called %q", req.Filename))
		return
	}
	s.files.mu.Lock()
	data, sum := f.data, f.md5
	s.files.mu.Unlock()
	if sum != req.Etag {
		writeError(w, errBadRequest("etag does not match the uploaded file"))
		return
	}
	var stmts []statement
	for _, sql := range sqlsplit.Split(string(data)) {
		stmts = append(stmts, statement{sql: sql})
	}
	j := &job{status: "complete", numQueries: int64(len(stmts))}
	var bookmark string
	err := d.write(s, func() (bool, error) {
		if len(stmts) == 0 {
			return false, errSQL(msgNoStatements)
		}
		results, wrote, err := d.run(stmts)
		if err != nil {
			return false, err
		}
		for _, r := range results {
			j.meta.Changes += r.meta.Changes
			j.meta.RowsRead += r.meta.RowsRead
			j.meta.RowsWritten += r.meta.RowsWritten
			j.meta.Duration += r.meta.Duration
			j.meta.LastRowID = r.meta.LastRowID
			j.meta.SizeAfter = r.meta.SizeAfter
			j.meta.ChangedDB = j.meta.ChangedDB || r.meta.ChangedDB
		}
		return wrote, nil
	})
	d.mu.Lock()
	if !d.closed {
		snap, serr := d.timeline.current(d.conn, s.now())
		if serr != nil {
			d.mu.Unlock()
			s.log.Error("time travel snapshot", "db", d.id, "err", serr)
			writeError(w, errInternal(d.id))
			return
		}
		bookmark = snap.name
	}
	d.mu.Unlock()
	if err != nil {
		j.status, j.err = "error", asAPIError(err).msg
	}
	j.final = bookmark
	j.meta.ServedBy, j.meta.ServedByPrimary, j.meta.TotalAttempts = servedBy, true, 1
	s.jobs.put(d.id, bookmark, j)
	writeResult(w, wire.ImportResponse{
		Success:    true,
		Type:       "import",
		AtBookmark: bookmark,
		Filename:   req.Filename,
		Status:     "active",
		Messages:   []string{"Ingesting " + req.Filename},
	}, nil)
}
