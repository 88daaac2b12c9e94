package d1local

import (
	"net/http"

	"github.com/d1seal/d1seal/internal/wire"
)

// handleExport serves POST /export with D1's polling flow: the first call (no
// current_bookmark) dumps the database at its current bookmark and answers "active"; polling
// with that bookmark answers "complete" with the dump's signed URL.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request, d *database) {
	var req wire.ExportRequest
	if err := decodeBody(r, w, 1<<20, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.OutputFormat != "polling" {
		writeError(w, errBadRequest(`output_format must be "polling"`))
		return
	}
	if req.CurrentBookmark != "" {
		j := s.jobs.get(d.id, req.CurrentBookmark)
		if j == nil || !j.export {
			writeError(w, errSQL("No export in progress for bookmark "+req.CurrentBookmark+"."))
			return
		}
		resp := wire.ExportResponse{AtBookmark: req.CurrentBookmark, Status: j.status, Success: j.status == "complete", Type: "export"}
		if j.status == "complete" {
			resp.Messages = []string{"Generated " + j.filename, "Uploaded part 1", "Export complete"}
			resp.Result = &wire.ExportFile{Filename: j.filename, SignedURL: baseURL(r) + j.url}
		} else {
			resp.Error = j.err
		}
		writeResult(w, resp, nil)
		return
	}
	opts := wire.DumpOptions{}
	if req.DumpOptions != nil {
		opts = *req.DumpOptions
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		writeError(w, errNotFound())
		return
	}
	var bookmark string
	snap, err := d.timeline.current(d.conn, s.now())
	var data []byte
	if err == nil {
		bookmark = snap.name
		data, err = dump(d.conn, opts)
	}
	d.mu.Unlock()
	j := &job{export: true, status: "complete", filename: d.name + "-" + bookmark + ".sql"}
	if err != nil {
		j.status, j.err = "error", asAPIError(err).msg
	} else {
		j.url = s.files.add(&file{name: j.filename, data: data})
	}
	s.jobs.put(d.id, bookmark, j)
	writeResult(w, wire.ExportResponse{
		AtBookmark: bookmark,
		Status:     "active",
		Success:    true,
		Type:       "export",
		Messages:   []string{"Generating " + j.filename},
	}, nil)
}
