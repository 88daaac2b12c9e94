package records

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// RecordState is what a client remembers of one record: the highest version it read or wrote,
// and whether it deleted the record (then versions up to Version are refused: a database
// serving them resurrected a deleted record). Event logs are remembered the same way under
// the id "events/" + DID, Version being the number of events seen.
type RecordState struct {
	ID      string
	Version uint64
	Deleted bool
}

// StateStore keeps RecordStates for a Store beyond its memory, so that rollback and
// resurrection are caught after a restart. Implementations must be safe for concurrent use.
type StateStore interface {
	// LoadState returns what is remembered of id.
	LoadState(id string) (RecordState, bool, error)

	// SaveState remembers states: of each record, the highest version, and a deletion covers
	// every version known before it.
	SaveState(states ...RecordState) error
}

// merge returns what is known of a record after old, then news: the higher version, and a
// deletion reported after old covers every version old knew.
func merge(old, news RecordState) RecordState {
	switch {
	case news.Deleted && news.Version <= old.Version:
		return RecordState{ID: old.ID, Version: old.Version, Deleted: true}
	case news.Version > old.Version:
		return news
	}
	return old
}

// StateFile is a StateStore in a file: an append-only log of states, one line each, compacted
// when it holds more than twice its limit of records (the least recently saved are forgotten
// first). Several processes may share one file: each sees what the others appended when it
// next looks a record up. A StateFile is safe for concurrent use.
type StateFile struct {
	path  string
	limit int

	mu      sync.Mutex
	states  map[string]RecordState
	order   []string // ids in the order last saved, oldest first, with repeats
	offset  int64    // bytes of the file read so far
	partial []byte   // a line being appended by another process
}

// OpenStateFile returns the StateStore kept in the file at path (created when first written),
// remembering at least limit records (default DefaultTrackedRecords).
func OpenStateFile(path string, limit int) (*StateFile, error) {
	if limit <= 0 {
		limit = DefaultTrackedRecords
	}
	f := &StateFile{path: path, limit: limit, states: map[string]RecordState{}}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.catchUp(); err != nil {
		return nil, err
	}
	return f, nil
}

// catchUp reads what was appended to the file since it was last read.
func (f *StateFile) catchUp() error {
	file, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("records: state file: %w", err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return fmt.Errorf("records: state file: %w", err)
	}
	if fi.Size() < f.offset { // compacted by another process: read it again
		f.states, f.order, f.offset, f.partial = map[string]RecordState{}, nil, 0, nil
	}
	if fi.Size() == f.offset {
		return nil
	}
	if _, err := file.Seek(f.offset, io.SeekStart); err != nil {
		return fmt.Errorf("records: state file: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(file, fi.Size()-f.offset))
	if err != nil {
		return fmt.Errorf("records: state file: %w", err)
	}
	f.offset += int64(len(data))
	data = append(f.partial, data...)
	end := bytes.LastIndexByte(data, '\n') + 1
	f.partial = bytes.Clone(data[end:])
	sc := bufio.NewScanner(bytes.NewReader(data[:end]))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for sc.Scan() {
		st, err := parseStateLine(sc.Text())
		if err != nil {
			return fmt.Errorf("records: state file %s: %w", f.path, err)
		}
		f.apply(st)
	}
	return sc.Err()
}

func (f *StateFile) apply(st RecordState) {
	if old, ok := f.states[st.ID]; ok {
		if st = merge(old, st); st == old {
			return
		}
	}
	f.states[st.ID] = st
	f.order = append(f.order, st.ID)
}

// A state line is "v <version> <id>" or "d <version> <id>" (deleted).
func stateLine(st RecordState) string {
	kind := "v"
	if st.Deleted {
		kind = "d"
	}
	return kind + " " + strconv.FormatUint(st.Version, 10) + " " + st.ID + "\n"
}

func parseStateLine(line string) (RecordState, error) {
	kind, rest, ok1 := strings.Cut(line, " ")
	ver, id, ok2 := strings.Cut(rest, " ")
	v, err := strconv.ParseUint(ver, 10, 64)
	if !ok1 || !ok2 || err != nil || id == "" || kind != "v" && kind != "d" {
		return RecordState{}, fmt.Errorf("malformed line %q", line)
	}
	return RecordState{ID: id, Version: v, Deleted: kind == "d"}, nil
}

// LoadState implements StateStore.
func (f *StateFile) LoadState(id string) (RecordState, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.catchUp(); err != nil {
		return RecordState{}, false, err
	}
	st, ok := f.states[id]
	return st, ok, nil
}

// SaveState implements StateStore.
func (f *StateFile) SaveState(states ...RecordState) error {
	var buf strings.Builder
	for _, st := range states {
		if strings.ContainsAny(st.ID, " \n") || st.ID == "" {
			return fmt.Errorf("records: state file: bad record id %q", st.ID)
		}
		buf.WriteString(stateLine(st))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return fmt.Errorf("records: state file: %w", err)
	}
	unlock, err := lockFile(f.path + ".lock")
	if err != nil {
		return fmt.Errorf("records: state file: %w", err)
	}
	defer unlock()
	if err := f.catchUp(); err != nil {
		return err
	}
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("records: state file: %w", err)
	}
	_, werr := file.WriteString(buf.String())
	if cerr := file.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("records: state file: %w", werr)
	}
	if err := f.catchUp(); err != nil {
		return err
	}
	if len(f.order) > 2*f.limit {
		return f.compact()
	}
	return nil
}

// compact rewrites the file with the limit most recently saved records.
func (f *StateFile) compact() error {
	keep := map[string]bool{}
	var ids []string
	for i := len(f.order) - 1; i >= 0 && len(keep) < f.limit; i-- {
		if id := f.order[i]; !keep[id] {
			keep[id] = true
			ids = append(ids, id)
		}
	}
	var buf strings.Builder
	states := map[string]RecordState{}
	order := make([]string, 0, len(ids))
	for i := len(ids) - 1; i >= 0; i-- {
		st := f.states[ids[i]]
		states[st.ID] = st
		order = append(order, st.ID)
		buf.WriteString(stateLine(st))
	}
	if err := writeFileAtomic(f.path, []byte(buf.String())); err != nil {
		return fmt.Errorf("records: state file: %w", err)
	}
	f.states, f.order, f.offset, f.partial = states, order, int64(buf.Len()), nil
	return nil
}
