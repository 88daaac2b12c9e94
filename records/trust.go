package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/syntax"
)

// Errors about trust in agents' keys.
var (
	// ErrUntrusted is returned when an agent's keys cannot be reached from what this client
	// trusts: a key log that does not verify, a key id no verified log entry holds, keys that
	// differ from the pinned ones, a fork of a log already trusted, or (with
	// StoreOptions.RequirePinned) an agent that was never pinned. The error names the agent.
	// If the agent really changed its keys without a signed rotation, pin its new keys.
	ErrUntrusted = errors.New("records: agent keys not trusted")

	// ErrKeyRevoked is returned (wrapped in ErrTampered) when a record, event or metadata was
	// signed with a key its agent revoked as compromised: nothing that key signed is accepted.
	ErrKeyRevoked = errors.New("records: signed with a key revoked as compromised")
)

// TrustStore keeps, outside the database, what a client trusts about agents' keys: the keys
// pinned from the service's configuration and the key logs verified so far. The database's
// agents registry is never believed on its own: every key a Store uses is reached through
// valid signatures from what its TrustStore holds. Implementations must be safe for
// concurrent use; NewMemoryTrust and OpenTrustFile are the two provided.
type TrustStore interface {
	// LoadTrust returns what is trusted about did, or nil and no error when nothing is.
	LoadTrust(did DID) (*TrustedAgent, error)

	// SaveTrust records t, replacing what was trusted about t.DID. The Store only ever
	// extends a verified log or adds a pin.
	SaveTrust(t *TrustedAgent) error
}

// TrustedAgent is what a TrustStore holds about one agent.
type TrustedAgent struct {
	DID DID `json:"did"`

	// Pinned is the set of key ids the service's configuration gave for the agent
	// (Store.Pin): its verified key log must hold an entry with exactly these keys.
	Pinned []crypto.KeyID `json:"pinned,omitempty"`

	// Log is the agent's key log as verified so far, entry 0 first (crypto.KeyEntry.Marshal).
	// Its last entry is the trusted head: later entries are accepted only if they follow it
	// with valid signatures.
	Log [][]byte `json:"log,omitempty"`
}

func (t *TrustedAgent) clone() *TrustedAgent {
	if t == nil {
		return nil
	}
	c := &TrustedAgent{DID: t.DID, Pinned: slices.Clone(t.Pinned), Log: make([][]byte, len(t.Log))}
	for i, e := range t.Log {
		c.Log[i] = slices.Clone(e)
	}
	return c
}

// MemoryTrust is a TrustStore in memory: what it learns is forgotten when the process ends,
// so a key change made while it was down is caught only if the keys were pinned.
type MemoryTrust struct {
	mu     sync.Mutex
	agents map[DID]*TrustedAgent
}

// NewMemoryTrust returns an empty in-memory TrustStore.
func NewMemoryTrust() *MemoryTrust { return &MemoryTrust{agents: map[DID]*TrustedAgent{}} }

// LoadTrust implements TrustStore.
func (m *MemoryTrust) LoadTrust(did DID) (*TrustedAgent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.agents[did].clone(), nil
}

// SaveTrust implements TrustStore.
func (m *MemoryTrust) SaveTrust(t *TrustedAgent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.agents[t.DID] = t.clone()
	return nil
}

// TrustFile is a TrustStore in a JSON file, so that keys learned on first use are still
// trusted after a restart and a later change of keys without a signed rotation is caught. It
// reads the file again when another process changed it, and writes it atomically (a
// temporary file renamed over it, mode 0600) under an advisory lock, so several processes
// can share one file. Keep it with the agent key files: whoever can write it decides which
// keys this client believes.
type TrustFile struct {
	path string

	mu     sync.Mutex
	agents map[DID]*TrustedAgent
	stamp  fileStamp
}

type trustFileBody struct {
	Version int             `json:"version"`
	Agents  []*TrustedAgent `json:"agents"`
}

const trustFileVersion = 1

// OpenTrustFile returns the TrustStore kept in the file at path, which is created (with its
// directory) when first written.
func OpenTrustFile(path string) (*TrustFile, error) {
	f := &TrustFile{path: path}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// reload reads the file again if it changed since it was last read.
func (f *TrustFile) reload() error {
	st, err := statFile(f.path)
	if err != nil {
		return fmt.Errorf("records: trust file: %w", err)
	}
	if f.agents != nil && st == f.stamp {
		return nil
	}
	agents := map[DID]*TrustedAgent{}
	data, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("records: trust file: %w", err)
	default:
		var body trustFileBody
		if err := json.Unmarshal(data, &body); err != nil {
			return fmt.Errorf("records: trust file %s: not a d1seal trust file: %w", f.path, err)
		}
		if body.Version != trustFileVersion {
			return fmt.Errorf("records: trust file %s: version %d, this d1seal reads %d", f.path, body.Version, trustFileVersion)
		}
		for _, a := range body.Agents {
			if a == nil {
				continue
			}
			if _, err := syntax.ParseDID(string(a.DID)); err != nil {
				return fmt.Errorf("records: trust file %s: %w", f.path, err)
			}
			agents[a.DID] = a
		}
	}
	f.agents, f.stamp = agents, st
	return nil
}

// LoadTrust implements TrustStore.
func (f *TrustFile) LoadTrust(did DID) (*TrustedAgent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.reload(); err != nil {
		return nil, err
	}
	return f.agents[did].clone(), nil
}

// SaveTrust implements TrustStore.
func (f *TrustFile) SaveTrust(t *TrustedAgent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return fmt.Errorf("records: trust file: %w", err)
	}
	unlock, err := lockFile(f.path + ".lock")
	if err != nil {
		return fmt.Errorf("records: trust file: %w", err)
	}
	defer unlock()
	if err := f.reload(); err != nil {
		return err
	}
	f.agents[t.DID] = t.clone()
	body := trustFileBody{Version: trustFileVersion}
	for _, a := range f.agents {
		body.Agents = append(body.Agents, a)
	}
	slices.SortFunc(body.Agents, func(a, b *TrustedAgent) int { return compareStrings(string(a.DID), string(b.DID)) })
	data, err := json.MarshalIndent(body, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(f.path, append(data, '\n')); err != nil {
		return fmt.Errorf("records: trust file: %w", err)
	}
	f.stamp, err = statFile(f.path)
	return err
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fileStamp tells whether a file changed: its size and modification time.
type fileStamp struct {
	size  int64
	mtime int64
	ok    bool
}

func statFile(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano(), ok: true}, nil
}

// writeFileAtomic replaces path with data: a temporary file in the same directory, synced,
// then renamed over it, so that a reader or a crash sees the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
