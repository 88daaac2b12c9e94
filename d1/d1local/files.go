package d1local

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/d1seal/d1seal/internal/wire"
)

// Export dumps and import uploads live at unguessable URLs served by the same handler, standing
// in for the R2 signed URLs D1 hands out: GET downloads an export, PUT uploads an import and
// answers, like R2, with ETag set to the quoted MD5 of the body. Only the newest maxFiles are
// kept.

const maxFiles = 64

type file struct {
	name   string
	upload bool   // an import slot, written by PUT
	data   []byte // export dump, or the uploaded SQL
	md5    string // hex MD5 of data, once uploaded
	filled bool
}

type fileStore struct {
	mu    sync.Mutex
	files map[string]*file
	order []string
}

func (fs *fileStore) init() { fs.files = map[string]*file{} }

// add stores f and returns its URL path.
func (fs *fileStore) add(f *file) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	key := hex.EncodeToString(b[:])
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.files[key] = f
	fs.order = append(fs.order, key)
	for len(fs.order) > maxFiles {
		delete(fs.files, fs.order[0])
		fs.order = fs.order[1:]
	}
	return filesPrefix + key + "/" + f.name
}

func (fs *fileStore) get(key, name string) *file {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f := fs.files[key]; f != nil && f.name == name {
		return f
	}
	return nil
}

// uploaded returns the filled import slot called name.
func (fs *fileStore) uploaded(name string) *file {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.files {
		if f.upload && f.filled && f.name == name {
			return f
		}
	}
	return nil
}

// serveFile serves the signed URLs: GET for an export dump, PUT for an import upload.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	f := s.files.get(r.PathValue("key"), r.PathValue("name"))
	if f == nil {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	switch {
	case r.Method == http.MethodGet && !f.upload:
		w.Header().Set("Content-Type", "application/sql")
		w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
		_, _ = w.Write(f.data)
	case r.Method == http.MethodPut && f.upload:
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
		if err != nil {
			status := http.StatusBadRequest
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				status = http.StatusRequestEntityTooLarge
			}
			http.Error(w, "upload failed", status)
			return
		}
		sum := md5.Sum(data)
		s.files.mu.Lock()
		f.data, f.md5, f.filled = data, hex.EncodeToString(sum[:]), true
		s.files.mu.Unlock()
		w.Header().Set("ETag", `"`+f.md5+`"`)
		w.WriteHeader(http.StatusOK)
	default:
		writeError(w, errMethod())
	}
}

// jobStore remembers exports and imports by database and bookmark, for polling.
type jobStore struct {
	mu   sync.Mutex
	jobs map[string]*job
}

type job struct {
	export     bool
	status     string // "complete" or "error"
	filename   string
	url        string // export: the dump's path
	err        string
	numQueries int64
	meta       wire.Meta
	final      string // import: bookmark after the import
}

func (js *jobStore) init() { js.jobs = map[string]*job{} }

func (js *jobStore) put(db, bookmark string, j *job) {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.jobs[db+"/"+bookmark] = j
}

func (js *jobStore) get(db, bookmark string) *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.jobs[db+"/"+bookmark]
}
