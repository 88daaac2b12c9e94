package records_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/internal/childproc"
	"github.com/d1seal/d1seal/records"
)

// processStore opens, as a new process would, alice's notes in a Store that keeps its trust
// and state in files of dir.
func processStore(t *testing.T, db *d1.Client, dir string, a *crypto.Agent) (*records.Store, *records.Collection[note]) {
	t.Helper()
	trust, err := records.OpenTrustFile(filepath.Join(dir, "trust.json"))
	require.NoError(t, err)
	state, err := records.OpenStateFile(filepath.Join(dir, "state"), 0)
	require.NoError(t, err)
	s := records.NewStore(db, records.StoreOptions{Trust: trust, State: state})
	c, err := records.NewCollection[note](s, a, "agent.memory.note", records.CollectionOptions[note]{})
	require.NoError(t, err)
	return s, c
}

// childResult is what a child process hands back: its record and that record's first
// version, kept to be replayed.
type childResult struct {
	Ref records.Ref
	V1  savedRow
}

// TestChildTrustAndState is not a test on its own: TestTwoProcessesShareTrustAndState runs the
// test binary with it selected, as a process of alice's service sharing trust and state files
// with another: it writes a record to version 3 and learns carol's and dave's keys.
func TestChildTrustAndState(t *testing.T) {
	params, ok := childproc.Child()
	if !ok {
		t.Skip("runs only as a child of TestTwoProcessesShareTrustAndState")
	}
	dbAcct, err := d1.NewAccount("acct", "local", d1.Options{BaseURL: params["url"], RateLimit: d1.RateLimit{Disabled: true}})
	require.NoError(t, err)
	db := dbAcct.Database(params["db"])
	alice, err := crypto.ReadKeyFile(params["key"], []byte("correct horse"))
	require.NoError(t, err)
	childproc.Ready(t) // both processes start together
	ctx := context.Background()
	s, c := processStore(t, db, params["dir"], alice)
	r, err := c.Create(ctx, note{Body: "version 1"})
	require.NoError(t, err)
	e := &env{db: db}
	res := childResult{Ref: r.Ref, V1: saveRow(t, e, r.Ref.ID())}
	for _, body := range []string{"version 2", "version 3"} {
		r.Value.Body = body
		r, err = c.Update(ctx, r)
		require.NoError(t, err)
	}
	for _, did := range []records.DID{"did:plc:carol", "did:plc:dave"} {
		_, err := s.Agent(ctx, did)
		require.NoError(t, err)
	}
	childproc.Result(t, res)
}

// TestTwoProcessesShareTrustAndState: two processes of one service, sharing a trust file and a
// state file, work at the same moment; afterwards a third process (a restart) still refuses a
// replay of either's records and a forged key log of an agent either learned.
func TestTwoProcessesShareTrustAndState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := context.Background()
	srv, err := d1local.New(d1local.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(ctx, "trust")
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	dbAcct, err := d1.NewAccount("acct", "local", d1.Options{BaseURL: hs.URL + "/client/v4", RateLimit: d1.RateLimit{Disabled: true}})
	require.NoError(t, err)
	db := dbAcct.Database(id)
	e := &env{db: db, store: records.NewStore(db, records.StoreOptions{})}
	alice := e.agent(t, "did:plc:alice")
	e.agent(t, "did:plc:carol")
	e.agent(t, "did:plc:dave")
	dir := t.TempDir()
	key := filepath.Join(dir, "alice.key")
	require.NoError(t, crypto.WriteKeyFile(key, alice, []byte("correct horse"), crypto.KeyFileOptions{Time: crypto.MinKeyFileTime, MemoryKiB: crypto.MinKeyFileMemory, Threads: 1}))

	results := childproc.Run(t, "TestChildTrustAndState", 2, map[string]string{"url": hs.URL + "/client/v4", "db": id, "dir": dir, "key": key})
	var got []childResult
	for _, b := range results {
		var r childResult
		require.NoError(t, json.Unmarshal(b, &r))
		got = append(got, r)
	}

	// Both processes' versions reached the shared state file: a restart refuses either replay.
	for _, r := range got {
		restoreRow(t, e, r.Ref, r.V1)
		_, c := processStore(t, db, t.TempDir(), alice)
		old, err := c.Get(ctx, r.Ref.RKey)
		require.NoError(t, err, "control: a process with its own empty state takes the replayed version")
		require.Equal(t, "version 1", old.Value.Body)
		_, c = processStore(t, db, dir, alice)
		_, err = c.Get(ctx, r.Ref.RKey)
		assert.ErrorIs(t, err, records.ErrRollback, "the restart remembers version 3 of %s", r.Ref.RKey)
	}

	// Both agents learned on first use reached the shared trust file.
	for _, did := range []string{"did:plc:carol", "did:plc:dave"} {
		forgeGenesis(t, e, did)
		_, err := records.NewStore(db, records.StoreOptions{}).Agent(ctx, records.DID(did))
		require.NoError(t, err, "control: the forged log of %s is valid on its own", did)
		s, _ := processStore(t, db, dir, alice)
		_, err = s.Agent(ctx, records.DID(did))
		assert.ErrorIs(t, err, records.ErrUntrusted, "the restart remembers %s's real keys", did)
	}
}

// TestStateFile checks the state file on its own: merging, deletions covering what was seen,
// catching up with another writer, and compaction keeping the most recent records.
func TestStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	a, err := records.OpenStateFile(path, 3)
	require.NoError(t, err)
	b, err := records.OpenStateFile(path, 3)
	require.NoError(t, err)

	require.NoError(t, a.SaveState(records.RecordState{ID: "r1", Version: 5}, records.RecordState{ID: "r2", Version: 1}))
	require.NoError(t, a.SaveState(records.RecordState{ID: "r1", Version: 3}))
	st, ok, err := b.LoadState("r1")
	require.NoError(t, err)
	require.True(t, ok, "b sees what a appended")
	assert.Equal(t, records.RecordState{ID: "r1", Version: 5}, st, "an older version does not replace a newer one")

	require.NoError(t, b.SaveState(records.RecordState{ID: "r1", Version: 2, Deleted: true}))
	st, _, err = a.LoadState("r1")
	require.NoError(t, err)
	assert.Equal(t, records.RecordState{ID: "r1", Version: 5, Deleted: true}, st, "a deletion covers every version seen before")

	// Past twice its limit, the file is compacted to the most recently saved records.
	for i := range 8 {
		require.NoError(t, a.SaveState(records.RecordState{ID: "k" + string(rune('a'+i)), Version: uint64(i + 1)}))
	}
	c, err := records.OpenStateFile(path, 3)
	require.NoError(t, err)
	st, ok, err = c.LoadState("kh")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, uint64(8), st.Version)
	_, ok, err = c.LoadState("r2")
	require.NoError(t, err)
	assert.False(t, ok, "the least recently saved record was forgotten")
	_, ok, err = b.LoadState("kh")
	require.NoError(t, err)
	assert.True(t, ok, "a reader of the compacted file reads it again")

	require.Error(t, a.SaveState(records.RecordState{ID: "has space", Version: 1}))
}
