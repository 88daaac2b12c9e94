package d1local

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/d1seal/d1seal/internal/wire"
)

// database is one D1 database: one SQLite connection, used by one request at a time (D1
// serializes the requests to a database too).
type database struct {
	id      string
	name    string
	created time.Time

	mu       sync.Mutex // guards everything below, and serializes requests
	conn     *conn
	timeline *timeline
	closed   bool

	replication  string     // read replication mode: "auto", or "" for disabled
	stats        queryStats // query insights (it has its own lock)
	settingsPath string     // with a Dir: where both are kept between processes
}

// indexFile lists the databases of a Dir, so names survive restarts.
const indexFile = "d1local.json"

type indexEntry struct {
	UUID      string    `json:"uuid"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// dbPath is where database id lives ("" in memory).
func (s *Server) dbPath(id string) string {
	if s.opts.Dir == "" {
		return ""
	}
	return filepath.Join(s.opts.Dir, id+".sqlite")
}

// loadIndex opens the databases listed in Dir.
func (s *Server) loadIndex() error {
	b, err := os.ReadFile(filepath.Join(s.opts.Dir, indexFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var entries []indexEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		return fmt.Errorf("%s: %w", indexFile, err)
	}
	for _, e := range entries {
		d, err := s.openDatabase(e.UUID, e.Name, e.CreatedAt)
		if err != nil {
			return err
		}
		s.dbs[e.UUID] = d
		s.order = append(s.order, e.UUID)
	}
	return nil
}

// saveIndex rewrites the index atomically. The caller holds s.mu.
func (s *Server) saveIndex() error {
	if s.opts.Dir == "" {
		return nil
	}
	entries := make([]indexEntry, 0, len(s.order))
	for _, id := range s.order {
		d := s.dbs[id]
		entries = append(entries, indexEntry{UUID: d.id, Name: d.name, CreatedAt: d.created})
	}
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.opts.Dir, indexFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.opts.Dir, indexFile))
}

func (s *Server) openDatabase(id, name string, created time.Time) (*database, error) {
	c, err := openConn(s.dbPath(id), s.opts.StatementCacheSize)
	if err != nil {
		return nil, err
	}
	d := &database{id: id, name: name, created: created, conn: c, timeline: newTimeline(s, id, c, s.now())}
	if path := s.dbPath(id); path != "" {
		d.settingsPath = strings.TrimSuffix(path, ".sqlite") + ".insights.json"
		d.loadSettings(s.log)
	}
	return d, nil
}

// CreateDatabase creates an empty database called name and returns its id (a UUID). Names are
// unique, as in D1.
func (s *Server) CreateDatabase(ctx context.Context, name string) (id string, err error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	d, aerr := s.create(name)
	if aerr != nil {
		return "", fmt.Errorf("d1local: create database %q: %s", name, aerr.msg)
	}
	return d.id, nil
}

func (s *Server) create(name string) (*database, *apiError) {
	if strings.TrimSpace(name) == "" {
		return nil, errBadRequest("name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errInternal("closed")
	}
	for _, d := range s.dbs {
		if d.name == name {
			return nil, &apiError{status: http.StatusBadRequest, code: 7502, msg: "A database with that name already exists"}
		}
	}
	id := newUUID()
	d, err := s.openDatabase(id, name, s.now().UTC())
	if err != nil {
		s.log.Error("create database", "name", name, "err", err)
		return nil, errInternal(id)
	}
	s.dbs[id] = d
	s.order = append(s.order, id)
	if err := s.saveIndex(); err != nil {
		s.log.Error("save index", "err", err)
		return nil, errInternal(id)
	}
	return d, nil
}

// lookup returns the database id, or nil.
func (s *Server) lookup(id string) *database {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dbs[id]
}

// lookupName returns the database called name, or nil.
func (s *Server) lookupName(name string) *database {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.order {
		if d := s.dbs[id]; d.name == name {
			return d
		}
	}
	return nil
}

// write runs fn with the database locked. Before fn, the Time Travel timeline may copy the
// current state (see timetravel.go); when fn reports a write, the database enters a new state.
func (d *database) write(s *Server, fn func() (wrote bool, err error)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errNotFound()
	}
	if err := d.timeline.beforeRequest(d.conn, s.now()); err != nil {
		s.log.Error("time travel snapshot", "db", d.id, "err", err)
	}
	wrote, err := fn()
	if err != nil {
		return err
	}
	if wrote {
		d.timeline.wrote(s.now())
	}
	return nil
}

// info describes the database as D1's admin API does.
func (d *database) info() wire.Database {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := wire.Database{UUID: d.id, Name: d.name, CreatedAt: d.created.Format(time.RFC3339Nano), Version: "production",
		ReadReplication: &wire.ReadReplication{Mode: cmp.Or(d.replication, "disabled")}}
	if d.closed {
		return out
	}
	out.NumTables, _ = d.conn.queryInt("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'")
	out.FileSize = d.conn.size()
	return out
}

// close closes the database; with keep, its Time Travel history is captured for a later
// process first.
func (d *database) close(now time.Time, keep bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		if keep {
			d.timeline.close(d.conn, now)
			d.saveSettings()
		}
		d.conn.close()
	}
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateDatabaseRequest
	if err := decodeBody(r, w, 1<<20, &req); err != nil {
		writeError(w, err)
		return
	}
	d, err := s.create(req.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	writeResult(w, d.info(), nil)
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, perPage := 1, 1000
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, errBadRequest("page must be a positive integer"))
			return
		}
		page = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, errBadRequest("per_page must be between 1 and 10000"))
			return
		}
		perPage = n
	}
	name := q.Get("name")
	s.mu.Lock()
	var matched []*database
	for _, id := range s.order {
		if d := s.dbs[id]; strings.Contains(d.name, name) {
			matched = append(matched, d)
		}
	}
	s.mu.Unlock()
	from := min((page-1)*perPage, len(matched))
	to := min(from+perPage, len(matched))
	out := make([]wire.Database, 0, to-from)
	for _, d := range matched[from:to] {
		out = append(out, d.info())
	}
	writeResult(w, out, &wire.ResultInfo{Page: page, PerPage: perPage, Count: len(out), TotalCount: len(matched)})
}

func (s *Server) handleDelete(w http.ResponseWriter, d *database) {
	s.mu.Lock()
	delete(s.dbs, d.id)
	s.order = slices.DeleteFunc(s.order, func(id string) bool { return id == d.id })
	err := s.saveIndex()
	s.mu.Unlock()
	d.close(s.now(), false)
	if path := s.dbPath(d.id); path != "" {
		for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
			_ = os.Remove(path + suffix)
		}
		_ = os.Remove(d.settingsPath)
	}
	d.timeline.removeAll()
	if err != nil {
		s.log.Error("save index", "err", err)
	}
	writeResult(w, nil, nil)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
