package records_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

// env is a store on a fresh local D1, with the server for fault injection and counting.
type env struct {
	srv   *d1local.Server
	db    *d1.Client
	store *records.Store
}

func newEnv(t testing.TB, opts d1local.Options) *env {
	t.Helper()
	srv, err := d1local.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(context.Background(), "records")
	require.NoError(t, err)
	dbAcct, err := d1.NewAccount("acct", "local", d1.Options{
		BaseURL:    "http://d1local.invalid/client/v4",
		HTTPClient: &http.Client{Transport: srv.Transport()},
		RateLimit:  d1.RateLimit{Disabled: true},
		Retry:      d1.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
	})
	require.NoError(t, err)
	db := dbAcct.Database(id)
	return &env{srv: srv, db: db, store: records.NewStore(db, records.StoreOptions{})}
}

// agent generates and registers an agent.
func (e *env) agent(t testing.TB, did string) *crypto.Agent {
	t.Helper()
	a, err := crypto.GenerateAgent(did, crypto.GenerateOptions{})
	require.NoError(t, err)
	_, err = e.store.RegisterAgent(context.Background(), a, []byte(`{"role":"test"}`))
	require.NoError(t, err)
	return a
}

type note struct {
	Title string   `json:"title"`
	Body  string   `json:"body"`
	Tags  []string `json:"tags,omitempty"`
}

func notes(t testing.TB, e *env, a *crypto.Agent) *records.Collection[note] {
	t.Helper()
	c, err := records.NewCollection[note](e.store, a, "agent.memory.note", records.CollectionOptions[note]{})
	require.NoError(t, err)
	return c
}

func TestCreateGetUpdateDelete(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	c := notes(t, e, alice)

	r, err := c.Create(ctx, note{Title: "first", Body: "remember the milk"})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), r.Version)
	assert.Equal(t, "did:plc:alice/agent.memory.note/"+string(r.Ref.RKey), r.Ref.ID())

	got, err := c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, note{Title: "first", Body: "remember the milk"}, got.Value)
	assert.Equal(t, uint64(1), got.Version)
	assert.WithinDuration(t, time.Now(), got.CreatedAt, time.Minute)
	assert.True(t, got.UpdatedAt.IsZero())

	got.Value.Body = "remember the oat milk"
	upd, err := c.Update(ctx, got)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), upd.Version)
	again, err := c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, "remember the oat milk", again.Value.Body)
	assert.Equal(t, got.CreatedAt, again.CreatedAt)
	assert.False(t, again.UpdatedAt.IsZero())

	// An update from a stale read is refused, and loses nothing.
	got.Value.Body = "stale"
	_, err = c.Update(ctx, got)
	assert.ErrorIs(t, err, records.ErrConflict)
	again, err = c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, "remember the oat milk", again.Value.Body)

	require.NoError(t, c.Delete(ctx, r.Ref.RKey))
	_, err = c.Get(ctx, r.Ref.RKey)
	assert.ErrorIs(t, err, records.ErrNotFound)
	require.NoError(t, c.Delete(ctx, r.Ref.RKey), "deleting again is not an error")
}

func TestListPagesWithCursor(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	c := notes(t, e, alice)
	var want []string
	for i := range 7 {
		r, err := c.Create(ctx, note{Title: fmt.Sprint("n", i)})
		require.NoError(t, err)
		want = append(want, string(r.Ref.RKey))
	}
	// Another agent's notes and another collection stay out of the listing.
	bob := e.agent(t, "did:plc:bob")
	_, err := notes(t, e, bob).Create(ctx, note{Title: "bob's"})
	require.NoError(t, err)

	var got []string
	cursor := ""
	pages := 0
	for {
		p, err := c.List(ctx, records.ListOptions{Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		pages++
		for _, r := range p.Items {
			got = append(got, string(r.Ref.RKey))
		}
		if !p.HasMore {
			assert.Empty(t, p.Cursor)
			break
		}
		cursor = p.Cursor
	}
	assert.Equal(t, want, got, "every record once, in key (time) order")
	assert.Equal(t, 3, pages)

	var all []string
	for r, err := range c.All(ctx) {
		require.NoError(t, err)
		all = append(all, r.Value.Title)
	}
	assert.Len(t, all, 7)

	_, err = c.List(ctx, records.ListOptions{Cursor: "garbage!"})
	assert.ErrorIs(t, err, records.ErrInvalid)
	_, err = c.List(ctx, records.ListOptions{Limit: 5000})
	assert.ErrorIs(t, err, records.ErrInvalid)
}

func TestPut(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	c := notes(t, e, e.agent(t, "did:plc:alice"))
	r, err := c.Put(ctx, "self", note{Title: "profile v1"})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), r.Version)
	r, err = c.Put(ctx, "self", note{Title: "profile v2"})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), r.Version)
	got, err := c.Get(ctx, "self")
	require.NoError(t, err)
	assert.Equal(t, "profile v2", got.Value.Title)
	_, err = c.Put(ctx, "bad key!", note{})
	assert.ErrorIs(t, err, records.ErrInvalid)
}

func TestAgentsRegistry(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	e.agent(t, "did:plc:bob")

	a, err := e.store.Agent(ctx, "did:plc:alice")
	require.NoError(t, err)
	assert.True(t, a.Recipient.Equal(alice.RecipientKey()))
	assert.True(t, a.Verifying.Equal(alice.VerifyingKey()))
	assert.JSONEq(t, `{"role":"test"}`, string(a.Metadata))

	// Registering the same keys again is harmless; other keys for the DID are refused.
	_, err = e.store.RegisterAgent(ctx, alice, nil)
	require.NoError(t, err)
	impostor, err := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	require.NoError(t, err)
	_, err = e.store.RegisterAgent(ctx, impostor, nil)
	assert.ErrorIs(t, err, records.ErrAgentExists)

	_, err = e.store.Agent(ctx, "did:plc:nobody")
	assert.ErrorIs(t, err, records.ErrUnknownAgent)

	p, err := e.store.Agents(ctx, records.ListOptions{Limit: 1})
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
	assert.True(t, p.HasMore)
	p2, err := e.store.Agents(ctx, records.ListOptions{Limit: 1, Cursor: p.Cursor})
	require.NoError(t, err)
	assert.Equal(t, records.DID("did:plc:bob"), p2.Items[0].DID)
	assert.False(t, p2.HasMore)

	// An unregistered agent cannot write.
	stranger, _ := crypto.GenerateAgent("did:plc:stranger", crypto.GenerateOptions{})
	_, err = notes(t, e, stranger).Create(ctx, note{})
	assert.True(t, errors.Is(err, records.ErrUnknownAgent), "got %v", err)
	_, err = notes(t, e, impostor).Create(ctx, note{})
	assert.ErrorIs(t, err, records.ErrUntrusted, "keys that are not in the agent's key log cannot write")
}

func TestCreateMany(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	c := notes(t, e, e.agent(t, "did:plc:alice"))
	values := make([]note, 250)
	for i := range values {
		values[i] = note{Title: fmt.Sprint("bulk ", i), Body: string(make([]byte, 100))}
	}
	before := e.srv.Requests()
	rs, err := c.CreateMany(ctx, values)
	require.NoError(t, err)
	require.Len(t, rs, 250)
	assert.Equal(t, int64(2), e.srv.Requests()-before, "one request checks the agent's keys (once per collection); 250 records fit in one more")
	before = e.srv.Requests()
	_, err = c.CreateMany(ctx, values[:10])
	require.NoError(t, err)
	assert.Equal(t, int64(1), e.srv.Requests()-before)
	for i, r := range rs {
		assert.Equal(t, values[i].Title, r.Value.Title, "results in order")
		if i > 0 {
			assert.Less(t, string(rs[i-1].Ref.RKey), string(r.Ref.RKey), "keys increase")
		}
	}
	got, err := c.Get(ctx, rs[137].Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, "bulk 137", got.Value.Title)
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records")
	require.NoError(t, err)
	assert.Equal(t, 260, n)
}

func TestCreateManySplitsByLimits(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	smallAcct, err := d1.NewAccount("acct", "local", d1.Options{
		BaseURL: "http://d1local.invalid/client/v4", HTTPClient: &http.Client{Transport: e.srv.Transport()},
		RateLimit: d1.RateLimit{Disabled: true}, Limits: d1.Limits{MaxStatements: 40},
	})
	require.NoError(t, err)
	small := smallAcct.Database(e.db.DatabaseID())
	e.store = records.NewStore(small, records.StoreOptions{})
	c := notes(t, e, e.agent(t, "did:plc:alice"))
	values := make([]note, 600)
	before := e.srv.Requests()
	rs, err := c.CreateMany(ctx, values)
	require.NoError(t, err)
	assert.Len(t, rs, 600)
	// One request checks the acting agent's keys; then 7 records per statement (100
	// parameters / 13 per row) and 40 statements per request: ceil(600/280) = 3 requests.
	assert.Equal(t, int64(1+3), e.srv.Requests()-before)
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(DISTINCT id) FROM records")
	require.NoError(t, err)
	assert.Equal(t, 600, n)
}

// failing is a value whose encoding fails, to stop a stream part-way.
// failing cannot be encoded when Bad, and is too large to store with Big set.
type failing struct {
	Bad bool
	Big string
}

func (f failing) MarshalJSON() ([]byte, error) {
	if f.Bad {
		return nil, errors.New("cannot encode")
	}
	return json.Marshal(map[string]string{"big": f.Big})
}

func TestCreateAllStreams(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	smallAcct, err := d1.NewAccount("acct", "local", d1.Options{
		BaseURL: "http://d1local.invalid/client/v4", HTTPClient: &http.Client{Transport: e.srv.Transport()},
		RateLimit: d1.RateLimit{Disabled: true}, Limits: d1.Limits{MaxStatements: 3},
	})
	require.NoError(t, err)
	small := smallAcct.Database(e.db.DatabaseID())
	alice := e.agent(t, "did:plc:alice") // the schema and registration take more than 3 statements
	e.store = records.NewStore(small, records.StoreOptions{ManualSchema: true})
	c := notes(t, e, alice)

	// 100 values, 21 per request (3 statements of 7): 5 requests, yielded in order.
	gen := func(n int) func(func(note) bool) {
		return func(yield func(note) bool) {
			for i := range n {
				if !yield(note{Title: fmt.Sprint(i)}) {
					return
				}
			}
		}
	}
	i := 0
	before := e.srv.Requests()
	for r, err := range c.CreateAll(ctx, gen(100)) {
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(i), r.Value.Title)
		i++
	}
	assert.Equal(t, 100, i)
	assert.Equal(t, int64(1+5), e.srv.Requests()-before, "a key check, then ceil(100/21) requests")

	// Stopping early writes at most what was already sent.
	n := 0
	for _, err := range c.CreateAll(ctx, gen(1000)) {
		require.NoError(t, err)
		if n++; n == 10 {
			break
		}
	}
	total, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records")
	require.NoError(t, err)
	assert.LessOrEqual(t, total, 100+42, "stopping after 10 records leaves at most the in-flight requests")

	// A value that cannot be encoded stops the stream with an error after the records before
	// its window.
	fc, err := records.NewCollection[failing](e.store, alice, "agent.memory.fail", records.CollectionOptions[failing]{})
	require.NoError(t, err)
	var got int
	var last error
	for _, err := range fc.CreateAll(ctx, func(yield func(failing) bool) {
		for i := range 60 {
			if !yield(failing{Bad: i == 50}) {
				return
			}
		}
	}) {
		if err != nil {
			last = err
			break
		}
		got++
	}
	assert.ErrorIs(t, last, records.ErrInvalid)
	assert.Equal(t, 42, got, "the two windows before the bad value were written")
}

// Of several bad values sealed at once on every CPU, the error names the first, and nothing
// is written.
func TestCreateManyNamesFirstBadValue(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	fc, err := records.NewCollection[failing](e.store, alice, "agent.memory.fail", records.CollectionOptions[failing]{})
	require.NoError(t, err)
	bad := make([]failing, 1000) // one request's worth: sealed together
	bad[999].Bad, bad[700].Bad, bad[130].Bad = true, true, true
	got, err := fc.CreateMany(ctx, bad)
	assert.ErrorIs(t, err, records.ErrInvalid)
	assert.ErrorContains(t, err, "value 130:")
	assert.Empty(t, got)

	// Within one group of records sealed together, a value found too large only once sealed
	// (3) comes before one that cannot be encoded (5).
	mixed := make([]failing, 20)
	mixed[3].Big, mixed[5].Bad = strings.Repeat("x", 2_000_001), true
	_, err = fc.CreateMany(ctx, mixed)
	assert.ErrorIs(t, err, records.ErrTooLarge)
	assert.ErrorContains(t, err, "value 3:")

	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records")
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestTooLargeIsRefusedBeforeSending(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	c := notes(t, e, e.agent(t, "did:plc:alice"))
	_, err := c.Create(ctx, note{Title: "warm"})
	require.NoError(t, err)
	before := e.srv.Requests()
	big := note{Body: strings.Repeat("x", 2_000_000)} // over D1's 2,000,000-byte value limit once sealed
	_, err = c.Create(ctx, big)
	assert.ErrorIs(t, err, records.ErrTooLarge)
	assert.ErrorIs(t, err, records.ErrInvalid)
	_, err = c.CreatePublic(ctx, big)
	assert.ErrorIs(t, err, records.ErrTooLarge)
	_, err = c.CreateMany(ctx, []note{{Title: "fine"}, big})
	assert.ErrorIs(t, err, records.ErrTooLarge)
	assert.Equal(t, before, e.srv.Requests(), "nothing was sent")
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM records")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "nothing was written")

	// Just under the limit fits: about 1 MB travels as hex, the rest as a byte array.
	ok := note{Body: strings.Repeat("y", 1_500_000)}
	r, err := c.Create(ctx, ok)
	require.NoError(t, err)
	got, err := c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, len(ok.Body), len(got.Value.Body))
}

// TestSignEachRecord: with CollectionOptions.SignEachRecord, CreateMany writes the record
// signatures releases before batch signatures read (version 1, 81 bytes); by default it
// writes batch signatures (version 2).
func TestSignEachRecord(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	kinds := func(coll string) map[string]int {
		type row struct {
			Version string
			Size    int
		}
		rows, err := d1.QueryAll[row](ctx, e.db, "SELECT hex(substr(signature, 1, 1)) AS version, length(signature) AS size FROM records WHERE collection = ?", coll)
		require.NoError(t, err)
		out := map[string]int{}
		for _, r := range rows {
			out[fmt.Sprintf("%s/%d", r.Version, r.Size)]++
		}
		return out
	}
	for _, each := range []bool{false, true} {
		coll := fmt.Sprintf("agent.memory.each%v", each)
		c, err := records.NewCollection[note](e.store, alice, records.NSID(coll), records.CollectionOptions[note]{SignEachRecord: each})
		require.NoError(t, err)
		recs, err := c.CreateMany(ctx, make([]note, 20))
		require.NoError(t, err)
		if each {
			assert.Equal(t, map[string]int{"01/81": 20}, kinds(coll))
		} else {
			assert.Equal(t, map[string]int{"02/213": 16, "02/149": 4}, kinds(coll), "a group of 16 and one of 4")
		}
		for _, r := range recs {
			_, err := c.Get(ctx, r.Ref.RKey)
			require.NoError(t, err)
		}
	}
}
