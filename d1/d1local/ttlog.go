package d1local

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// The Time Travel log of a database with a Dir: Dir/<uuid>.timetravel/<16 hex digits>.log,
// segment files named by the sequence number of their first record, so they sort in order.
// A capture appends one record to the newest segment:
//
//	magic    "D1TT" (4 bytes)
//	length   uint32, of the whole record
//	seq      uint64, the captured state (the new head)
//	begin    int64, Unix nanoseconds: when the database entered that state
//	taken    int64, Unix nanoseconds: when it was captured
//	size     int64, the length of the state's database image
//	check    uint32, CRC-32 of the image's first chunk (the header, with SQLite's file change
//	         counter and page count): how a later process recognizes the state in the file
//	count    uint32, the undo chunks that follow
//	count ×  { index uint32, length uint32, bytes }: the previous head's chunks that differ
//	crc      uint32, CRC-32 (IEEE) of everything before it
//
// All integers are little-endian. A record whose length or CRC does not check (a write cut
// short) ends the segment. Segments roll over at segmentBytes so that pruning deletes whole
// files instead of rewriting them.

const (
	logMagic        = "D1TT"
	logHeaderBytes  = 4 + 4 + 8 + 8 + 8 + 8 + 4 + 4
	logChunkHeader  = 4 + 4
	maxSegmentBytes = 4 << 20
)

// segment is one file of the log.
type segment struct {
	path string
	size int64
	last uint64 // seq of the newest record's state
}

// undoLog is the on-disk half of a timeline.
type undoLog struct {
	dir      string
	segs     []*segment // oldest first
	f        *os.File   // the newest segment, open for appending
	rollover int64
}

// logRecord is a decoded record; its chunks' data are offsets into seg.
type logRecord struct {
	seq          uint64
	begin, taken time.Time
	size         int64
	check        uint32
	undo         []chunkRef
}

// readLog opens dir's segments and decodes their records, oldest first. A missing dir is an
// empty log.
func readLog(dir string, rollover int64) (*undoLog, []logRecord, error) {
	l := &undoLog{dir: dir, rollover: rollover}
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(names)
	var recs []logRecord
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, nil, err
		}
		seg := &segment{path: name}
		for off := 0; off < len(b); {
			r, n, ok := decodeRecord(b[off:], seg, int64(off))
			if !ok {
				break
			}
			recs = append(recs, r)
			seg.last = r.seq
			off += n
			seg.size = int64(off)
		}
		if seg.size < int64(len(b)) {
			// A torn tail: cut it off so the next record starts at a record boundary.
			if err := os.Truncate(name, seg.size); err != nil {
				return nil, nil, err
			}
		}
		if seg.size == 0 {
			_ = os.Remove(name)
			continue
		}
		l.segs = append(l.segs, seg)
	}
	return l, recs, nil
}

func decodeRecord(b []byte, seg *segment, base int64) (logRecord, int, bool) {
	le := binary.LittleEndian
	if len(b) < logHeaderBytes+4 || string(b[:4]) != logMagic {
		return logRecord{}, 0, false
	}
	n := int(le.Uint32(b[4:]))
	if n < logHeaderBytes+4 || n > len(b) || crc32.ChecksumIEEE(b[:n-4]) != le.Uint32(b[n-4:]) {
		return logRecord{}, 0, false
	}
	r := logRecord{
		seq:   le.Uint64(b[8:]),
		begin: time.Unix(0, int64(le.Uint64(b[16:]))).UTC(),
		taken: time.Unix(0, int64(le.Uint64(b[24:]))).UTC(),
		size:  int64(le.Uint64(b[32:])),
		check: le.Uint32(b[40:]),
	}
	count := int(le.Uint32(b[44:]))
	off := logHeaderBytes
	for range count {
		if off+logChunkHeader > n-4 {
			return logRecord{}, 0, false
		}
		idx, length := le.Uint32(b[off:]), int(le.Uint32(b[off+4:]))
		off += logChunkHeader
		if length > chunkBytes || off+length > n-4 {
			return logRecord{}, 0, false
		}
		r.undo = append(r.undo, chunkRef{index: idx, length: length, seg: seg, off: base + int64(off)})
		off += length
	}
	return r, n, true
}

// append writes a record for state s with the undo chunks of the previous head, and points
// the chunks at the bytes written (dropping their copies in memory).
func (l *undoLog) append(s *state, undo []chunkRef) error {
	le := binary.LittleEndian
	n := logHeaderBytes + 4
	for _, c := range undo {
		n += logChunkHeader + len(c.data)
	}
	b := make([]byte, logHeaderBytes, n)
	copy(b, logMagic)
	le.PutUint32(b[4:], uint32(n))
	le.PutUint64(b[8:], s.seq)
	le.PutUint64(b[16:], uint64(s.begin.UnixNano()))
	le.PutUint64(b[24:], uint64(s.taken.UnixNano()))
	le.PutUint64(b[32:], uint64(s.size))
	le.PutUint32(b[40:], s.check)
	le.PutUint32(b[44:], uint32(len(undo)))
	offs := make([]int, len(undo))
	for i, c := range undo {
		b = le.AppendUint32(b, c.index)
		b = le.AppendUint32(b, uint32(len(c.data)))
		offs[i] = len(b)
		b = append(b, c.data...)
	}
	b = le.AppendUint32(b, crc32.ChecksumIEEE(b))

	if l.f == nil || len(l.segs) == 0 || l.segs[len(l.segs)-1].size+int64(n) > l.rollover && l.segs[len(l.segs)-1].size > 0 {
		if err := l.roll(s.seq); err != nil {
			return err
		}
	}
	seg := l.segs[len(l.segs)-1]
	if _, err := l.f.Write(b); err != nil {
		// Cut a partial write off so that the segment stays decodable.
		_ = l.f.Truncate(seg.size)
		return fmt.Errorf("time travel log: %w", err)
	}
	for i := range undo {
		undo[i].seg, undo[i].off, undo[i].data = seg, seg.size+int64(offs[i]), nil
	}
	seg.size += int64(n)
	seg.last = s.seq
	return nil
}

// roll starts a new segment whose first record is state seq.
func (l *undoLog) roll(seq uint64) error {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return fmt.Errorf("time travel log: %w", err)
	}
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
	path := filepath.Join(l.dir, fmt.Sprintf("%016x.log", seq))
	if n := len(l.segs); n > 0 && l.segs[n-1].path == path {
		// Reopen the newest segment (after a restart) rather than starting an empty one.
	} else {
		l.segs = append(l.segs, &segment{path: path})
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		l.segs = l.segs[:len(l.segs)-1]
		return fmt.Errorf("time travel log: %w", err)
	}
	l.f = f
	return nil
}

// read returns the bytes of a chunk written to the log.
func (l *undoLog) read(c chunkRef) ([]byte, error) {
	f, err := os.Open(c.seg.path)
	if err != nil {
		return nil, fmt.Errorf("time travel log: %w", err)
	}
	defer f.Close()
	b := make([]byte, c.length)
	if _, err := f.ReadAt(b, c.off); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("time travel log: %w", err)
	}
	return b, nil
}

// bytes is the size of the log on disk.
func (l *undoLog) bytes() int64 {
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// dropOldest deletes the oldest segment; it never deletes the one being appended to.
func (l *undoLog) dropOldest() bool {
	if len(l.segs) < 2 {
		return false
	}
	if err := os.Remove(l.segs[0].path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false
	}
	l.segs = l.segs[1:]
	return true
}

// close closes the segment being appended to.
func (l *undoLog) close() {
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
}

// removeAll deletes the log.
func (l *undoLog) removeAll() {
	l.close()
	l.segs = nil
	_ = os.RemoveAll(l.dir)
}

// The head's image: Dir/<uuid>.timetravel/head.image holds the image of the newest captured
// state, and head.sum names it (the state's seq, its length and the CRC-32 of the whole
// image). With them a later process continues the history even when this one was killed
// before Close, or another program wrote to the database file: the file's changes since the
// head become one more state. Each capture rewrites the chunks of head.image that changed
// (the whole file the first time in a process), then replaces head.sum: head.sum is written
// last, so a capture cut short leaves a sum that does not match, and the history is dropped
// rather than restored wrongly.
const (
	headImageName = "head.image"
	headSumName   = "head.sum"
	headSumBytes  = 8 + 8 + 4
)

// saveHead writes the head's image: the chunks changed (indexes into image) when the file
// holds the previous head's image, else the whole image.
func (l *undoLog) saveHead(seq uint64, image []byte, changed []uint32, whole bool) error {
	path := filepath.Join(l.dir, headImageName)
	_ = os.Remove(filepath.Join(l.dir, headSumName)) // the image is about to change
	if whole {
		if err := writeFileAtomic(path, image); err != nil {
			return err
		}
	} else {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		for _, i := range changed {
			off := int(i) * chunkBytes
			if _, err := f.WriteAt(image[off:min(off+chunkBytes, len(image))], int64(off)); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Truncate(int64(len(image))); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	sum := make([]byte, 0, headSumBytes)
	sum = binary.LittleEndian.AppendUint64(sum, seq)
	sum = binary.LittleEndian.AppendUint64(sum, uint64(len(image)))
	sum = binary.LittleEndian.AppendUint32(sum, crc32.ChecksumIEEE(image))
	return writeFileAtomic(filepath.Join(l.dir, headSumName), sum)
}

// loadHead returns the head's image kept for state seq of size bytes, or nil when there is
// none that checks.
func (l *undoLog) loadHead(seq uint64, size int64) []byte {
	sum, err := os.ReadFile(filepath.Join(l.dir, headSumName))
	if err != nil || len(sum) != headSumBytes {
		return nil
	}
	le := binary.LittleEndian
	if le.Uint64(sum) != seq || int64(le.Uint64(sum[8:])) != size {
		return nil
	}
	image, err := os.ReadFile(filepath.Join(l.dir, headImageName))
	if err != nil || int64(len(image)) != size || crc32.ChecksumIEEE(image) != le.Uint32(sum[16:]) {
		return nil
	}
	return image
}

// writeFileAtomic writes path through a temporary file renamed over it, so that a process
// killed half-way leaves the old file or the new one, never a mix.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
