package records_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

// recorder keeps every request body a client sends.
type recorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body.Close()
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	return r.next.RoundTrip(req)
}

// TestCiphertextOnly writes private records holding a random canary through every write path,
// in fields indexed for search too, searches it, and finds the canary in no request body and no byte of the local D1's files (database,
// Time Travel snapshots, index), in clear, hex, base64 or as a JSON byte array.
func TestCiphertextOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := d1local.New(d1local.Options{Dir: dir})
	require.NoError(t, err)
	id, err := srv.CreateDatabase(ctx, "canary")
	require.NoError(t, err)
	rec := &recorder{next: srv.Transport()}
	dbAcct, err := d1.NewAccount("acct", "local", d1.Options{
		BaseURL: "http://d1local.invalid/client/v4", HTTPClient: &http.Client{Transport: rec}, RateLimit: d1.RateLimit{Disabled: true},
	})
	require.NoError(t, err)
	db := dbAcct.Database(id)
	e := &env{srv: srv, db: db, store: records.NewStore(db, records.StoreOptions{})}
	alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
	ca, cb := indexedNotes(t, e, alice), notes(t, e, bob)

	raw := make([]byte, 16)
	rand.Read(raw)
	canary := "canary-" + hex.EncodeToString(raw)

	r, err := ca.Create(ctx, note{Title: "private", Body: canary})
	require.NoError(t, err)
	_, err = ca.Put(ctx, "fixed-key", note{Body: canary + " put"})
	require.NoError(t, err)
	require.NoError(t, ca.Share(ctx, r.Ref.RKey, "did:plc:bob"))
	got, err := ca.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	got.Value.Tags = []string{canary}
	_, err = ca.Update(ctx, got)
	require.NoError(t, err)
	many := make([]note, 20)
	for i := range many {
		many[i] = note{Body: fmt.Sprint(canary, " #", i)}
	}
	_, err = ca.CreateMany(ctx, many)
	require.NoError(t, err)
	opened, err := cb.Open(ctx, r.Ref)
	require.NoError(t, err)
	require.Equal(t, canary, opened.Value.Body, "the canary round-trips for the recipient")
	found, err := ca.Find(ctx, "tags", []string{canary}, records.ListOptions{})
	require.NoError(t, err)
	require.Len(t, found.Items, 1, "the canary is searchable (its beacons were stored)")
	require.NoError(t, ca.Unshare(ctx, r.Ref.RKey, "did:plc:bob"))
	require.NoError(t, srv.Close())

	forms := map[string][]byte{
		"clear":      []byte(canary),
		"hex":        []byte(hex.EncodeToString([]byte(canary))),
		"HEX":        []byte(strings.ToUpper(hex.EncodeToString([]byte(canary)))),
		"base64":     []byte(base64.StdEncoding.EncodeToString([]byte(canary))[:24]),
		"base64url":  []byte(base64.RawURLEncoding.EncodeToString([]byte(canary))[:24]),
		"JSON bytes": []byte(strings.Trim(strings.Join(strings.Fields(fmt.Sprint([]byte(canary))), ","), "[]")),
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Greater(t, len(rec.bodies), 10)
	var sent int
	for i, b := range rec.bodies {
		sent += len(b)
		for name, f := range forms {
			assert.False(t, bytes.Contains(b, f), "request %d carries the canary (%s)", i, name)
		}
	}
	var files, stored int
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		stored += len(b)
		for name, f := range forms {
			assert.False(t, bytes.Contains(b, f), "%s holds the canary (%s)", path, name)
		}
		return nil
	}))
	t.Logf("searched %d request bodies (%d bytes) and %d files (%d bytes)", len(rec.bodies), sent, files, stored)
	assert.Positive(t, files)
}

// TestLostResponsesLoseAndDuplicateNothing runs creates, updates, shares, unshares and deletes
// while the local D1 drops the response of one request in four after committing it (and
// fails some before executing), then checks the database against a model of what succeeded.
func TestLostResponsesLoseAndDuplicateNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	// With three requests in eight failing, give retries room: 12 attempts fail together with
	// probability (3/8)^12, about 8e-6.
	patientAcct, err := d1.NewAccount("acct", "local", d1.Options{
		BaseURL: "http://d1local.invalid/client/v4", HTTPClient: &http.Client{Transport: e.srv.Transport()},
		RateLimit: d1.RateLimit{Disabled: true}, Retry: d1.RetryPolicy{MaxAttempts: 12, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond},
	})
	require.NoError(t, err)
	patient := patientAcct.Database(e.db.DatabaseID())
	e.db, e.store = patient, records.NewStore(patient, records.StoreOptions{})
	alice, bob := e.agent(t, "did:plc:alice"), e.agent(t, "did:plc:bob")
	ca, cb := notes(t, e, alice), notes(t, e, bob)
	rng := mrand.New(mrand.NewPCG(1, 2))
	var mu sync.Mutex
	var dropped, refused int
	e.srv.SetFaultFunc(func(*http.Request) d1local.Fault {
		mu.Lock()
		defer mu.Unlock()
		switch n := rng.IntN(8); n {
		case 0, 1:
			dropped++
			return d1local.Fault{DropAfterCommit: true}
		case 2:
			refused++
			return d1local.Fault{Status: 503}
		}
		return d1local.Fault{}
	})

	type state = modelState
	model := map[records.RecordKey]*state{}
	var keys []records.RecordKey
	for i := range 60 {
		switch op := i % 6; {
		case op == 0 || op == 1 || len(keys) == 0:
			r, err := ca.Create(ctx, note{Body: fmt.Sprint("created ", i)})
			require.NoError(t, err, "create %d", i)
			model[r.Ref.RKey] = &state{body: r.Value.Body, version: 1}
			keys = append(keys, r.Ref.RKey)
		case op == 2:
			k := keys[i%len(keys)]
			cur, err := ca.Get(ctx, k)
			require.NoError(t, err)
			cur.Value.Body = fmt.Sprint("updated ", i)
			r, err := ca.Update(ctx, cur)
			require.NoError(t, err, "update %d", i)
			model[k].body, model[k].version = r.Value.Body, r.Version
		case op == 3:
			k := keys[i%len(keys)]
			require.NoError(t, ca.Share(ctx, k, "did:plc:bob"), "share %d", i)
			if !model[k].shared {
				model[k].version++ // a share writes a version whose signed access list adds bob
			}
			model[k].shared = true
		case op == 4:
			k := keys[(i/2)%len(keys)]
			require.NoError(t, ca.Unshare(ctx, k, "did:plc:bob"), "unshare %d", i)
			if model[k].shared {
				model[k].version++
			}
			model[k].shared = false
		case op == 5:
			k := keys[0]
			require.NoError(t, ca.Delete(ctx, k), "delete %d", i)
			delete(model, k)
			keys = keys[1:]
		}
	}
	vals, err := ca.CreateMany(ctx, []note{{Body: "bulk a"}, {Body: "bulk b"}, {Body: "bulk c"}})
	require.NoError(t, err)
	for _, r := range vals {
		model[r.Ref.RKey] = &state{body: r.Value.Body, version: 1}
	}
	e.srv.SetFaultFunc(nil)
	t.Logf("%d responses dropped after commit, %d requests refused with 503", dropped, refused)
	require.Greater(t, dropped, 20, "the run did meet lost responses")

	got := map[records.RecordKey]*state{}
	for r, err := range ca.All(ctx) {
		require.NoError(t, err)
		got[r.Ref.RKey] = &state{body: r.Value.Body, version: r.Version}
	}
	shared, err := e.store.SharedWith(ctx, "did:plc:bob", records.ListOptions{Limit: 1000})
	require.NoError(t, err)
	for _, ref := range shared.Items {
		got[ref.RKey].shared = true
		_, err := cb.Open(ctx, ref)
		require.NoError(t, err, "every share opens")
	}
	want := maps(model)
	assert.Equal(t, want, maps(got), "the database holds exactly what succeeded")
	n, err := dbCount(ctx, e.db)
	require.NoError(t, err)
	assert.Equal(t, len(model), n, "no duplicate rows")
}

// modelState is what a record should hold at the end of a run.
type modelState struct {
	body    string
	version uint64
	shared  bool
}

// maps renders a model as sorted lines, for a readable diff.
func maps(m map[records.RecordKey]*modelState) []string {
	var out []string
	for k, st := range m {
		out = append(out, fmt.Sprintf("%s v%d shared=%t %q", k, st.version, st.shared, st.body))
	}
	slices.Sort(out)
	return out
}

func dbCount(ctx context.Context, db *d1.Client) (int, error) {
	return d1.QueryOne[int](ctx, db, "SELECT count(*) FROM records")
}

// interfering passes requests on, except the first write of a records row it sees: that one it
// lets commit, then runs interfere (another writer's change) and loses the response.
type interfering struct {
	next      http.RoundTripper
	mu        sync.Mutex
	armed     bool
	interfere func()
}

func (tr *interfering) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	tr.mu.Lock()
	hit := tr.armed && bytes.Contains(body, []byte("UPDATE records SET ciphertext"))
	if hit {
		tr.armed = false
	}
	tr.mu.Unlock()
	res, err := tr.next.RoundTrip(r)
	if !hit || err != nil {
		return res, err
	}
	res.Body.Close()
	tr.interfere()
	return nil, errors.New("connection reset by peer (test: the write committed, its response is lost)")
}

// TestLostResponseThenAnotherWriter is the race the soak found: an update commits, its
// response is lost, and another writer changes the record before the first one checks. The
// first update did happen, so it must succeed, not report a conflict (and must not run twice).
func TestLostResponseThenAnotherWriter(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	other := notes(t, e, alice) // the other writer, on a plain transport
	r, err := other.Create(ctx, note{Body: "v1"})
	require.NoError(t, err)

	tr := &interfering{next: e.srv.Transport(), armed: true}
	tr.interfere = func() {
		cur, err := other.Get(ctx, r.Ref.RKey)
		require.NoError(t, err)
		require.Equal(t, "mine", cur.Value.Body, "the lost write did commit")
		cur.Value.Body = "theirs"
		_, err = other.Update(ctx, cur)
		require.NoError(t, err)
	}
	lossyAcct, err := d1.NewAccount("acct", "local", d1.Options{
		BaseURL: "http://d1local.invalid/client/v4", HTTPClient: &http.Client{Transport: tr}, RateLimit: d1.RateLimit{Disabled: true},
		Retry: d1.RetryPolicy{BaseDelay: time.Millisecond},
	})
	require.NoError(t, err)
	lossy := lossyAcct.Database(e.db.DatabaseID())
	mine, err := records.NewCollection[note](records.NewStore(lossy, records.StoreOptions{}), alice, "agent.memory.note", records.CollectionOptions[note]{})
	require.NoError(t, err)
	cur, err := mine.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	cur.Value.Body = "mine"
	upd, err := mine.Update(ctx, cur)
	require.NoError(t, err, "the update committed, so it succeeded")
	assert.Equal(t, uint64(2), upd.Version)
	got, err := other.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, "theirs", got.Value.Body)
	assert.Equal(t, uint64(3), got.Version, "two updates after the create, not three: nothing ran twice")
}
