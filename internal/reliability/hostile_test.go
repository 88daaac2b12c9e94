package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
	"github.com/d1seal/d1seal/syntax"
)

// hostileEnv is what the hostile-input cases act on: a local D1 holding a store with two
// agents and a shared record, and a client pointed at canned responses.
type hostileEnv struct {
	t        *testing.T
	srv      *d1local.Server
	db       *d1.Client
	store    *records.Store
	alice    *crypto.Agent
	c, cb    *records.Collection[note]
	shared   *records.Record[note] // alice's, shared with bob
	keyFile  []byte                // alice's key file under passphrase "pass"
	sealed   *crypto.Sealed        // a record sealed for alice alone
	rc       crypto.RecordContext
	canned   *cannedTransport
	cannedDB *d1.Client
	carol    *crypto.Agent // registered; nothing is shared with carol
	tampered int           // collections used by corrupted-row cases

	tamperedC   *records.Collection[note] // the record a corrupted-row case reads
	tamperedKey records.RecordKey
}

// cannedTransport answers every request with one canned response and counts requests.
type cannedTransport struct {
	status int
	header http.Header
	body   []byte
	sent   atomic.Int64
}

func (c *cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	c.sent.Add(1)
	h := c.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: c.status, Header: h, Body: io.NopCloser(bytes.NewReader(c.body)), Request: r,
		ContentLength: int64(len(c.body))}, nil
}

// answer makes the canned transport answer status and body from now on.
func (h *hostileEnv) answer(status int, body string) *d1.Client {
	h.canned.status, h.canned.body, h.canned.header = status, []byte(body), http.Header{"Content-Type": {"application/json"}}
	return h.cannedDB
}

// refusal is the local D1's answer to a raw HTTP request, as an error.
type refusal struct {
	Status int
	Code   int
}

func (r *refusal) Error() string { return fmt.Sprintf("HTTP %d, code %d", r.Status, r.Code) }

// post sends body to the local D1's route (query or raw) of the store's database, or to
// path when it starts with '/', and returns a *refusal unless it succeeded.
func (h *hostileEnv) post(route string, body []byte, header ...string) error {
	url := localURL + "/accounts/acct/d1/database/" + h.db.DatabaseID() + "/" + route
	if strings.HasPrefix(route, "/") {
		url = localURL + route
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(h.t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Transport: h.srv.Transport()}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Success bool `json:"success"`
		Errors  []struct {
			Code int `json:"code"`
		} `json:"errors"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("HTTP %d: undecodable answer: %w", resp.StatusCode, err)
	}
	if resp.StatusCode == 200 && env.Success {
		return nil
	}
	r := &refusal{Status: resp.StatusCode}
	if len(env.Errors) > 0 {
		r.Code = env.Errors[0].Code
	}
	return r
}

// tamper creates a record of alice's in a collection of its own, applies sql (with ? bound to
// the record's id) to its stored row, and returns a collection to read it with.
func (h *hostileEnv) tamper(sql string, args ...any) (*records.Collection[note], records.RecordKey) {
	t := h.t
	h.tampered++
	c, err := records.NewCollection[note](h.store, h.alice, records.NSID(fmt.Sprintf("agent.memory.tamper%d", h.tampered)), records.CollectionOptions[note]{})
	require.NoError(t, err)
	r, err := c.Create(context.Background(), note{Body: "to be tampered with"})
	require.NoError(t, err)
	_, err = h.db.Exec(context.Background(), sql, append(args, r.Ref.ID())...)
	require.NoError(t, err)
	return c, r.Ref.RKey
}

// hostileCase is one malformed input: run must fail with an error matching is (errors.Is) or
// as (errors.As, a pointer to a pointer of the error type), without panicking, and must write
// nothing. sends says how many requests reach the local D1 (or the canned transport with
// canned set): -1 for any number.
type hostileCase struct {
	name   string
	setup  func(h *hostileEnv) // may write; runs before the "nothing written" baseline
	run    func(ctx context.Context, h *hostileEnv) error
	is     error
	as     any
	sends  int
	canned bool
}

// TestHostileInputs runs every case of hostileCases against one environment.
func TestHostileInputs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{}, d1.Options{}).withStore(t)
	h := &hostileEnv{t: t, srv: e.srv, db: e.db, store: e.store}
	h.alice = e.agent(t, "did:plc:alice")
	bob := e.agent(t, "did:plc:bob")
	h.carol = e.agent(t, "did:plc:carol")
	h.c, h.cb = notes(t, e.store, h.alice), notes(t, e.store, bob)
	var err error
	h.shared, err = h.c.Create(ctx, note{Title: "shared", Body: "with bob"})
	require.NoError(t, err)
	require.NoError(t, h.c.Share(ctx, h.shared.Ref.RKey, "did:plc:bob"))
	h.keyFile, err = crypto.MarshalKeyFile(h.alice, []byte("pass"), crypto.KeyFileOptions{Time: crypto.MinKeyFileTime, MemoryKiB: crypto.MinKeyFileMemory, Threads: 1})
	require.NoError(t, err)
	h.rc = crypto.RecordContext{DID: "did:plc:alice", Collection: notesNSID, RKey: "3kzzzzzzzzz22", Version: 1}
	h.sealed, err = h.alice.Seal(h.rc, []byte("hello"))
	require.NoError(t, err)
	h.canned = &cannedTransport{}
	cannedDBAcct, err := d1.NewAccount("acct", "tok", d1.Options{
		BaseURL: "http://canned.invalid/client/v4", HTTPClient: &http.Client{Transport: h.canned},
		RateLimit: d1.RateLimit{Disabled: true}, Retry: d1.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
		Limits: d1.Limits{MaxResponseBytes: 64 << 10},
	})
	require.NoError(t, err)
	h.cannedDB = cannedDBAcct.Database("db")

	cases := hostileCases()
	require.GreaterOrEqual(t, len(cases), 60)
	kinds := map[string]int{}
	for _, tc := range cases {
		kinds[strings.SplitN(tc.name, ":", 2)[0]]++
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			if tc.setup != nil {
				tc.setup(h)
			}
			before := fingerprint(t, e.srv, e.db.DatabaseID())
			reqs, canned := e.srv.Requests(), h.canned.sent.Load()
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				err = tc.run(ctx, h)
			}()
			require.Error(t, err, "the input is refused")
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is, "got %v", err)
			}
			if tc.as != nil {
				assert.ErrorAs(t, err, tc.as, "got %v", err)
			}
			sent := e.srv.Requests() - reqs
			if tc.canned {
				sent = h.canned.sent.Load() - canned
			}
			if tc.sends >= 0 {
				assert.Equal(t, int64(tc.sends), sent, "requests sent")
			}
			assert.Equal(t, before, fingerprint(t, e.srv, e.db.DatabaseID()), "nothing was written")
			t.Logf("%d requests: %v", sent, err)
		})
	}
	t.Logf("%d hostile inputs: %v", len(cases), kinds)
}

func hostileCases() []hostileCase {
	var (
		argErr   *d1.ArgError
		limErr   *d1.ArgError
		d1Err    *d1.Error
		synErr   *syntax.SyntaxError
		inErr    *records.InputError
		ref      *refusal
		jsonType *json.UnsupportedTypeError
		jsonVal  *json.UnsupportedValueError
		pathErr  *fs.PathError
	)
	big := strings.Repeat("x", 2_000_001)
	params := func(n int) []any {
		a := make([]any, n)
		for i := range a {
			a[i] = i
		}
		return a
	}
	qmarks := func(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }
	bobRef := func(h *hostileEnv) records.Ref { return h.shared.Ref }
	mutate := func(b []byte, f func([]byte) []byte) []byte { return f(bytes.Clone(b)) }
	none := 0

	return []hostileCase{
		// Identifiers.
		{name: "ident: empty DID", run: func(context.Context, *hostileEnv) error { _, err := syntax.ParseDID(""); return err }, is: syntax.ErrSyntax, as: &synErr},
		{name: "ident: DID with upper-case method", run: func(context.Context, *hostileEnv) error { _, err := syntax.ParseDID("did:PLC:abc"); return err }, is: syntax.ErrSyntax},
		{name: "ident: DID ending in %", run: func(context.Context, *hostileEnv) error { _, err := syntax.ParseDID("did:plc:abc%"); return err }, is: syntax.ErrSyntax},
		{name: "ident: DID of 2049 bytes", run: func(context.Context, *hostileEnv) error {
			_, err := syntax.ParseDID("did:plc:" + strings.Repeat("a", 2041))
			return err
		}, is: syntax.ErrSyntax},
		{name: "ident: DID with NUL", run: func(context.Context, *hostileEnv) error { _, err := syntax.ParseDID("did:plc:a\x00b"); return err }, is: syntax.ErrSyntax},
		{name: "ident: NSID of two segments", run: func(context.Context, *hostileEnv) error { _, err := syntax.ParseNSID("com.example"); return err }, is: syntax.ErrSyntax},
		{name: "ident: NSID of 318 bytes", run: func(context.Context, *hostileEnv) error {
			_, err := syntax.ParseNSID(strings.Repeat("a.", 158) + "ab")
			return err
		}, is: syntax.ErrSyntax},
		{name: "ident: NSID name with a hyphen", run: func(context.Context, *hostileEnv) error {
			_, err := syntax.ParseNSID("com.example.foo-bar")
			return err
		}, is: syntax.ErrSyntax},
		{name: "ident: record key ..", run: func(context.Context, *hostileEnv) error { _, err := syntax.ParseRecordKey(".."); return err }, is: syntax.ErrSyntax},
		{name: "ident: record key with a slash", run: func(context.Context, *hostileEnv) error { _, err := syntax.ParseRecordKey("a/b"); return err }, is: syntax.ErrSyntax},
		{name: "ident: record key of 513 bytes", run: func(context.Context, *hostileEnv) error {
			_, err := syntax.ParseRecordKey(strings.Repeat("k", 513))
			return err
		}, is: syntax.ErrSyntax},
		{name: "ident: URI with a handle", run: func(context.Context, *hostileEnv) error {
			_, err := syntax.ParseURI("at://alice.example.com/agent.memory.note/3k")
			return err
		}, is: syntax.ErrSyntax},
		{name: "ident: URI with a query", run: func(context.Context, *hostileEnv) error {
			_, err := syntax.ParseATURI("at://did:plc:a/agent.memory.note/3k?x=1")
			return err
		}, is: syntax.ErrSyntax},
		{name: "ident: id without a record key", run: func(context.Context, *hostileEnv) error {
			_, err := syntax.ParseID("did:plc:a/agent.memory.note")
			return err
		}, is: syntax.ErrSyntax},
		{name: "ident: lower-case event id", run: func(context.Context, *hostileEnv) error {
			_, err := records.ParseEventID("01arz3ndektsv4rrffq69g5fav")
			return err
		}, is: syntax.ErrSyntax},
		{name: "ident: record key in JSON", run: func(context.Context, *hostileEnv) error {
			var v struct{ K records.RecordKey }
			return json.Unmarshal([]byte(`{"K":"../../etc/passwd"}`), &v)
		}, is: syntax.ErrSyntax},

		// The records API: refused before anything is sent.
		{name: "records: collection with a bad NSID", run: func(_ context.Context, h *hostileEnv) error {
			_, err := records.NewCollection[note](h.store, h.alice, "not an nsid", records.CollectionOptions[note]{})
			return err
		}, is: records.ErrInvalid, as: &inErr, sends: none},
		{name: "records: nil agent", run: func(_ context.Context, h *hostileEnv) error {
			_, err := records.NewCollection[note](h.store, nil, notesNSID, records.CollectionOptions[note]{})
			return err
		}, is: records.ErrInvalid, sends: none},
		{name: "records: get ../x", run: func(ctx context.Context, h *hostileEnv) error { _, err := h.c.Get(ctx, "../x"); return err }, is: records.ErrInvalid, sends: none},
		{name: "records: put under .", run: func(ctx context.Context, h *hostileEnv) error { _, err := h.c.Put(ctx, ".", note{}); return err }, is: records.ErrInvalid, sends: none},
		{name: "records: delete a key with NUL", run: func(ctx context.Context, h *hostileEnv) error { return h.c.Delete(ctx, "a\x00b") }, is: records.ErrInvalid, sends: none},
		{name: "records: share with a bad DID", run: func(ctx context.Context, h *hostileEnv) error {
			return h.c.Share(ctx, h.shared.Ref.RKey, "bob")
		}, is: records.ErrInvalid, sends: none},
		{name: "records: share with oneself", run: func(ctx context.Context, h *hostileEnv) error {
			return h.c.Share(ctx, h.shared.Ref.RKey, "did:plc:alice")
		}, is: records.ErrInvalid, sends: none},
		{name: "records: unshare from a bad DID", run: func(ctx context.Context, h *hostileEnv) error {
			return h.c.Unshare(ctx, h.shared.Ref.RKey, "did:x")
		}, is: records.ErrInvalid, sends: none},
		{name: "records: share with an unknown agent", run: func(ctx context.Context, h *hostileEnv) error {
			return h.c.Share(ctx, h.shared.Ref.RKey, "did:plc:mallory")
		}, is: records.ErrUnknownAgent, sends: -1},
		{name: "records: open a ref of another collection", run: func(ctx context.Context, h *hostileEnv) error {
			r := bobRef(h)
			r.Collection = "agent.memory.other"
			_, err := h.cb.Open(ctx, r)
			return err
		}, is: records.ErrInvalid, sends: none},
		{name: "records: open a ref with a bad DID", run: func(ctx context.Context, h *hostileEnv) error {
			r := bobRef(h)
			r.DID = "did:plc:bad/../x"
			_, err := h.cb.Open(ctx, r)
			return err
		}, is: records.ErrInvalid, sends: none},
		{name: "records: list limit -1", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.c.List(ctx, records.ListOptions{Limit: -1})
			return err
		}, is: records.ErrInvalid, sends: none},
		{name: "records: list limit 1,000,001", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.c.List(ctx, records.ListOptions{Limit: 1_000_001})
			return err
		}, is: records.ErrInvalid, sends: none},
		{name: "records: list with a forged cursor", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.c.List(ctx, records.ListOptions{Cursor: "'; DROP TABLE records; --"})
			return err
		}, is: records.ErrInvalid, sends: none},
		{name: "records: list with an events cursor", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.c.List(ctx, records.ListOptions{Cursor: "ZTowMUFSWjNOREVLVFNWNFJSRkZRNjlHNUZBVg"}) // base64url("e:01ARZ3NDEKTSV4RRFFQ69G5FAV")
			return err
		}, is: records.ErrInvalid, sends: none},
		{name: "records: events with limit 100,000", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.store.Events(ctx, records.EventQuery{Limit: 100_000})
			return err
		}, is: records.ErrInvalid, sends: none},
		{name: "records: event without a type", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.store.RecordEvent(ctx, h.alice, records.Event{Agent: "did:plc:alice", Outcome: "ok"})
			return err
		}, is: records.ErrInvalid, sends: none},
		{name: "records: event with a non-JSON context", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.store.RecordEvent(ctx, h.alice, records.Event{Agent: "did:plc:alice", Type: "t", Outcome: "ok", Context: json.RawMessage("{not json")})
			return err
		}, is: records.ErrInvalid, sends: none},
		{name: "records: agent with non-JSON metadata", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.store.RegisterAgent(ctx, h.alice, json.RawMessage("{'a':1}"))
			return err
		}, is: records.ErrInvalid, sends: none},
		{name: "records: agent without keys", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.store.RegisterAgent(ctx, nil, nil)
			return err
		}, is: records.ErrInvalid, sends: none},
		{name: "records: pin of keys without a verifying key", run: func(ctx context.Context, h *hostileEnv) error {
			return h.store.Pin(records.AgentKeys{DID: "did:plc:nokeys"})
		}, is: records.ErrInvalid, sends: none},
		{name: "records: agent registered again with other keys", run: func(ctx context.Context, h *hostileEnv) error {
			other, err := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
			require.NoError(h.t, err)
			_, err = h.store.RegisterAgent(ctx, other, nil)
			return err
		}, is: records.ErrAgentExists, sends: -1},
		{name: "records: value that JSON cannot encode (func)", run: func(ctx context.Context, h *hostileEnv) error {
			c, err := records.NewCollection[any](h.store, h.alice, notesNSID, records.CollectionOptions[any]{})
			require.NoError(h.t, err)
			_, err = c.Create(ctx, func() {})
			return err
		}, as: &jsonType, sends: none},
		{name: "records: value holding NaN", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.c.Create(ctx, note{Body: "nan", Score: math.NaN()})
			return err
		}, as: &jsonVal, sends: none},
		{name: "records: value holding +Inf", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.c.CreateMany(ctx, []note{{Body: "ok"}, {Score: math.Inf(1)}})
			return err
		}, as: &jsonVal, sends: none},
		{name: "records: value of 2 MB", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.c.Create(ctx, note{Body: big})
			return err
		}, is: records.ErrTooLarge, sends: none},
		{name: "records: create-many with one value of 2 MB", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.c.CreateMany(ctx, []note{{Body: "a"}, {Body: "b"}, {Body: big}})
			return err
		}, is: records.ErrTooLarge, sends: none},
		{name: "records: update from a stale version", setup: func(h *hostileEnv) {
			cur, err := h.c.Get(context.Background(), h.shared.Ref.RKey)
			require.NoError(h.t, err)
			cur.Value.Title = "moved on"
			_, err = h.c.Update(context.Background(), cur)
			require.NoError(h.t, err)
		}, run: func(ctx context.Context, h *hostileEnv) error {
			stale := *h.shared // version 1; the record is at 2
			stale.Value.Body = "lost?"
			_, err := h.c.Update(ctx, &stale)
			return err
		}, is: records.ErrConflict, sends: -1},
		{name: "records: update of a missing record", run: func(ctx context.Context, h *hostileEnv) error {
			missing := *h.shared
			missing.Ref.RKey = "3kaaaaaaaaa22"
			_, err := h.c.Update(ctx, &missing)
			return err
		}, is: records.ErrNotFound, sends: -1},
		{name: "records: open a record not shared with the reader", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.carolNotes().Open(ctx, h.shared.Ref)
			return err
		}, is: records.ErrNotShared, sends: -1},

		// The d1 client: refused before anything is sent.
		{name: "d1: NaN argument", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "SELECT ?", math.NaN())
			return err
		}, is: d1.ErrBadArg, as: &argErr, sends: none},
		{name: "d1: -Inf argument", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "SELECT ?", math.Inf(-1))
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: integer past 2^53", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "INSERT INTO agents (did) VALUES (?)", int64(1)<<53+1)
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: uint64 max", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "SELECT ?", uint64(math.MaxUint64))
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: invalid UTF-8 text", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "SELECT ?", "a\xffb")
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: struct argument", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "SELECT ?", struct{ A int }{1})
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: map argument", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "SELECT ?", map[string]int{"a": 1})
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: channel argument", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "SELECT ?", make(chan int))
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: 101 parameters", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "SELECT "+qmarks(101), params(101)...)
			return err
		}, is: d1.ErrBadArg, as: &limErr, sends: none},
		{name: "d1: 100,001 bytes of SQL", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "SELECT 1 "+strings.Repeat(" ", 100_001))
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: text of 2,000,001 bytes", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "INSERT INTO agents (did) VALUES (?)", big)
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: BLOB of 2,000,001 bytes", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "INSERT INTO agents (did) VALUES (?)", []byte(big))
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: 1,001 statements in a batch", run: func(ctx context.Context, h *hostileEnv) error {
			stmts := make([]d1.Statement, 1001)
			for i := range stmts {
				stmts[i] = d1.Statement{SQL: "DELETE FROM records"}
			}
			_, err := h.db.Batch(ctx, stmts...)
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: script with BEGIN", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.ExecScript(ctx, "BEGIN; DELETE FROM records; COMMIT;")
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: script with SAVEPOINT", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.ExecScript(ctx, "DELETE FROM shared_records; SAVEPOINT a; RELEASE a;")
			return err
		}, is: d1.ErrBadArg, sends: none},
		{name: "d1: empty script", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.ExecScript(ctx, " -- nothing\n;")
			return err
		}, is: d1.ErrBadArg, sends: none},

		// SQL the local D1 refuses, as D1 does, without writing.
		{name: "local D1: BEGIN", run: func(ctx context.Context, h *hostileEnv) error { _, err := h.db.Exec(ctx, "BEGIN"); return err }, as: &d1Err, sends: 1},
		{name: "local D1: ATTACH", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "ATTACH DATABASE '/tmp/x.db' AS x")
			return err
		}, as: &d1Err, sends: 1},
		{name: "local D1: CREATE TEMP TABLE", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "CREATE TEMP TABLE t (x)")
			return err
		}, as: &d1Err, sends: 1},
		{name: "local D1: table named _cf_x", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "CREATE TABLE _cf_x (x)")
			return err
		}, as: &d1Err, sends: 1},
		{name: "local D1: sqlite_version()", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Query(ctx, "SELECT sqlite_version()")
			return err
		}, as: &d1Err, sends: 1},
		{name: "local D1: wrong parameter count", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Exec(ctx, "DELETE FROM records WHERE id = ? AND did = ?", "x")
			return err
		}, as: &d1Err, sends: 1},
		{name: "local D1: batch whose last statement fails", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.db.Batch(ctx, d1.Statement{SQL: "DELETE FROM shared_records"}, d1.Statement{SQL: "DELETE FROM records"}, d1.Statement{SQL: "INSERT INTO nope VALUES (1)"})
			return err
		}, as: &d1Err, sends: 1},
		{name: "local D1: body that is not JSON", run: func(_ context.Context, h *hostileEnv) error { return h.post("query", []byte("DELETE FROM records")) }, as: &ref, sends: 1},
		{name: "local D1: sql as a number", run: func(_ context.Context, h *hostileEnv) error { return h.post("raw", []byte(`{"sql":5}`)) }, as: &ref, sends: 1},
		{name: "local D1: truncated body", run: func(_ context.Context, h *hostileEnv) error {
			return h.post("query", []byte(`{"sql":"DELETE FROM records","params":[`))
		}, as: &ref, sends: 1},
		{name: "local D1: params with a multi-statement sql", run: func(_ context.Context, h *hostileEnv) error {
			return h.post("query", []byte(`{"sql":"DELETE FROM shared_records; DELETE FROM records WHERE id = ?","params":["x"]}`))
		}, as: &ref, sends: 1},
		{name: "local D1: object parameter", run: func(_ context.Context, h *hostileEnv) error {
			return h.post("raw", []byte(`{"sql":"DELETE FROM records WHERE id = ?","params":[{"a":1}]}`))
		}, as: &ref, sends: 1},
		{name: "local D1: BLOB byte 256", run: func(_ context.Context, h *hostileEnv) error {
			return h.post("raw", []byte(`{"sql":"UPDATE records SET nonce = ?","params":[[0,256]]}`))
		}, as: &ref, sends: 1},
		{name: "local D1: NaN literal in params", run: func(_ context.Context, h *hostileEnv) error {
			return h.post("raw", []byte(`{"sql":"UPDATE records SET version = ?","params":[NaN]}`))
		}, as: &ref, sends: 1},
		{name: "local D1: unknown database", run: func(_ context.Context, h *hostileEnv) error {
			return h.post("/accounts/acct/d1/database/00000000-0000-0000-0000-000000000000/query", []byte(`{"sql":"DELETE FROM records"}`))
		}, as: &ref, sends: 1},
		{name: "local D1: empty batch item", run: func(_ context.Context, h *hostileEnv) error {
			return h.post("query", []byte(`{"batch":[{"sql":"DELETE FROM shared_records"},{}]}`))
		}, as: &ref, sends: 1},
		{name: "local D1: 101 parameters sent raw", run: func(_ context.Context, h *hostileEnv) error {
			b, _ := json.Marshal(map[string]any{"sql": "DELETE FROM records WHERE id IN (" + qmarks(101) + ")", "params": params(101)})
			return h.post("raw", b)
		}, as: &ref, sends: 1},

		// Malformed answers: the client reports them, and never sends a write twice.
		{name: "answer: truncated JSON", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.answer(200, `{"result":[{"results":{"columns":["a"],"rows":[[1`).Exec(ctx, "DELETE FROM records")
			return err
		}, as: &d1Err, canned: true, sends: 1},
		{name: "answer: HTML with status 200", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.answer(200, `<html><body>502 Bad Gateway</body></html>`).Exec(ctx, "DELETE FROM records")
			return err
		}, as: &d1Err, canned: true, sends: 1},
		{name: "answer: empty body", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.answer(200, ``).Exec(ctx, "DELETE FROM records")
			return err
		}, as: &d1Err, canned: true, sends: 1},
		{name: "answer: success false without errors", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.answer(200, `{"result":null,"success":false,"errors":[],"messages":[]}`).Exec(ctx, "DELETE FROM records")
			return err
		}, as: &d1Err, canned: true, sends: 1},
		{name: "answer: two results for one statement", run: func(ctx context.Context, h *hostileEnv) error {
			item := `{"results":{"columns":[],"rows":[]},"success":true,"meta":{}}`
			_, err := h.answer(200, `{"result":[`+item+`,`+item+`],"success":true,"errors":[]}`).Exec(ctx, "DELETE FROM records")
			return err
		}, as: &d1Err, canned: true, sends: 1},
		{name: "answer: row wider than its columns", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.answer(200, `{"result":[{"results":{"columns":["a"],"rows":[[1,2]]},"success":true,"meta":{}}],"success":true,"errors":[]}`).Exec(ctx, "DELETE FROM records")
			return err
		}, as: &d1Err, canned: true, sends: 1},
		{name: "answer: result null with success true", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.answer(200, `{"result":null,"success":true,"errors":[]}`).Exec(ctx, "DELETE FROM records")
			return err
		}, as: &d1Err, canned: true, sends: 1},
		{name: "answer: 500 with a non-JSON body", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.answer(500, `upstream exploded`).Exec(ctx, "DELETE FROM records")
			return err
		}, as: &d1Err, canned: true, sends: 1},
		{name: "answer: huge response", run: func(ctx context.Context, h *hostileEnv) error {
			rows := strings.TrimSuffix(strings.Repeat(`["`+strings.Repeat("y", 1000)+`"],`, 200), ",")
			_, err := h.answer(200, `{"result":[{"results":{"columns":["a"],"rows":[`+rows+`]},"success":true,"meta":{}}],"success":true,"errors":[]}`).Exec(ctx, "DELETE FROM records")
			return err
		}, as: &d1Err, canned: true, sends: 1},
		{name: "answer: huge response to a read", run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.answer(200, `{"result":[{"results":{"columns":["a"],"rows":[["`+strings.Repeat("z", 100_000)+`"]]},"success":true,"meta":{}}],"success":true,"errors":[]}`).Query(ctx, "SELECT a FROM t")
			return err
		}, as: &d1Err, canned: true, sends: -1},

		// Key files.
		{name: "key file: empty", run: func(_ context.Context, h *hostileEnv) error {
			_, err := crypto.ParseKeyFile(nil, []byte("pass"))
			return err
		}, is: crypto.ErrDecrypt},
		{name: "key file: truncated", run: func(_ context.Context, h *hostileEnv) error {
			_, err := crypto.ParseKeyFile(h.keyFile[:len(h.keyFile)-1], []byte("pass"))
			return err
		}, is: crypto.ErrDecrypt},
		{name: "key file: wrong passphrase", run: func(_ context.Context, h *hostileEnv) error {
			_, err := crypto.ParseKeyFile(h.keyFile, []byte("Pass"))
			return err
		}, is: crypto.ErrDecrypt},
		{name: "key file: empty passphrase", run: func(_ context.Context, h *hostileEnv) error {
			_, err := crypto.ParseKeyFile(h.keyFile, nil)
			return err
		}, is: crypto.ErrDecrypt},
		{name: "key file: bad magic", run: func(_ context.Context, h *hostileEnv) error {
			_, err := crypto.ParseKeyFile(mutate(h.keyFile, func(b []byte) []byte { b[0] = 'X'; return b }), []byte("pass"))
			return err
		}, is: crypto.ErrMalformed},
		{name: "key file: unknown version", run: func(_ context.Context, h *hostileEnv) error {
			_, err := crypto.ParseKeyFile(mutate(h.keyFile, func(b []byte) []byte { b[8] = 9; return b }), []byte("pass"))
			return err
		}, is: crypto.ErrUnsupported},
		{name: "key file: 4 TiB of argon2 memory", run: func(_ context.Context, h *hostileEnv) error {
			_, err := crypto.ParseKeyFile(mutate(h.keyFile, func(b []byte) []byte { copy(b[14:18], []byte{0xff, 0xff, 0xff, 0xff}); return b }), []byte("pass"))
			return err
		}, is: crypto.ErrUnsupported},
		{name: "key file: a flipped ciphertext bit", run: func(_ context.Context, h *hostileEnv) error {
			_, err := crypto.ParseKeyFile(mutate(h.keyFile, func(b []byte) []byte { b[len(b)-20] ^= 1; return b }), []byte("pass"))
			return err
		}, is: crypto.ErrDecrypt},
		{name: "key file: missing", run: func(_ context.Context, h *hostileEnv) error {
			_, err := crypto.ReadKeyFile(filepath.Join(h.t.TempDir(), "none.key"), []byte("pass"))
			return err
		}, is: fs.ErrNotExist, as: &pathErr},

		// Public keys and envelopes.
		{name: "key: low-order X25519 point", run: func(context.Context, *hostileEnv) error {
			_, err := crypto.ParseRecipientKey(append([]byte{0x01}, make([]byte, 32)...))
			return err
		}, is: crypto.ErrInvalidKey},
		{name: "key: signing key offered as a recipient", run: func(_ context.Context, h *hostileEnv) error {
			_, err := crypto.ParseRecipientKey(h.alice.VerifyingKey().Bytes())
			return err
		}, is: crypto.ErrKeyType},
		{name: "key: small-order Ed25519 point", run: func(context.Context, *hostileEnv) error {
			_, err := crypto.ParseVerifyingKey(append([]byte{0x11, 0x01}, make([]byte, 31)...))
			return err
		}, is: crypto.ErrInvalidKey},
		{name: "key: truncated recipient key", run: func(_ context.Context, h *hostileEnv) error {
			_, err := crypto.ParseRecipientKey(h.alice.RecipientKey().Bytes()[:20])
			return err
		}, is: crypto.ErrMalformed},
		{name: "envelope: truncated ciphertext", run: func(_ context.Context, h *hostileEnv) error {
			env := h.sealed.Envelope
			env.Ciphertext = env.Ciphertext[:10]
			_, err := h.alice.Open(h.rc, env, h.sealed.Owner.WrappedKey, h.alice.VerifyingKey())
			return err
		}, is: crypto.ErrDecrypt},
		{name: "envelope: format version 2", run: func(_ context.Context, h *hostileEnv) error {
			env := h.sealed.Envelope
			env.Ciphertext = mutate(env.Ciphertext, func(b []byte) []byte { b[0] = 2; return b })
			_, err := h.alice.Open(h.rc, env, h.sealed.Owner.WrappedKey, h.alice.VerifyingKey())
			return err
		}, is: crypto.ErrUnsupported},
		{name: "envelope: nonce of 11 bytes", run: func(_ context.Context, h *hostileEnv) error {
			env := h.sealed.Envelope
			env.Nonce = env.Nonce[:11]
			_, err := h.alice.Open(h.rc, env, h.sealed.Owner.WrappedKey, h.alice.VerifyingKey())
			return err
		}, is: crypto.ErrDecrypt},
		{name: "envelope: opened as another version", run: func(_ context.Context, h *hostileEnv) error {
			rc := h.rc
			rc.Version = 2
			_, err := h.alice.Open(rc, h.sealed.Envelope, h.sealed.Owner.WrappedKey, h.alice.VerifyingKey())
			return err
		}, is: crypto.ErrDecrypt},
		{name: "envelope: wrapped key of an unknown suite", run: func(_ context.Context, h *hostileEnv) error {
			_, err := h.alice.Unwrap(h.rc, mutate(h.sealed.Owner.WrappedKey, func(b []byte) []byte { b[1] = 7; return b }))
			return err
		}, is: crypto.ErrUnsupported},
		{name: "envelope: signature by a key that is not the author's", run: func(_ context.Context, h *hostileEnv) error {
			other, err := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
			require.NoError(h.t, err)
			_, err = h.alice.Open(h.rc, h.sealed.Envelope, h.sealed.Owner.WrappedKey, other.VerifyingKey())
			return err
		}, is: crypto.ErrDecrypt},

		// Corrupted rows: reads refuse them and write nothing.
		{name: "row: a ciphertext bit flipped", setup: func(h *hostileEnv) {
			h.setTamper(h.tamper("UPDATE records SET ciphertext = CAST(substr(ciphertext, 1, 40) || X'00' || substr(ciphertext, 42) AS BLOB) WHERE id = ?"))
		}, run: getTampered, is: records.ErrTampered, sends: -1},
		{name: "row: version column raised", setup: func(h *hostileEnv) {
			h.setTamper(h.tamper("UPDATE records SET version = version + 1 WHERE id = ?"))
		}, run: getTampered, is: records.ErrTampered, sends: -1},
		{name: "row: signature truncated", setup: func(h *hostileEnv) {
			h.setTamper(h.tamper("UPDATE records SET signature = substr(signature, 1, 40) WHERE id = ?"))
		}, run: getTampered, is: records.ErrTampered, sends: -1},
		{name: "row: created_at altered", setup: func(h *hostileEnv) {
			h.setTamper(h.tamper("UPDATE records SET created_at = '2001-01-01T00:00:00.000000000Z' WHERE id = ?"))
		}, run: getTampered, is: records.ErrTampered, sends: -1},
		{name: "row: data key of another record", setup: func(h *hostileEnv) {
			h.setTamper(h.tamper("UPDATE records SET encrypted_dek = (SELECT encrypted_dek FROM records WHERE id = ?) WHERE id = ?", h.shared.Ref.ID()))
		}, run: getTampered, is: records.ErrTampered, sends: -1},
		{name: "row: nonce zeroed", setup: func(h *hostileEnv) {
			h.setTamper(h.tamper("UPDATE records SET nonce = zeroblob(12) WHERE id = ?"))
		}, run: getTampered, is: records.ErrTampered, sends: -1},
		{name: "row: ciphertext emptied", setup: func(h *hostileEnv) {
			h.setTamper(h.tamper("UPDATE records SET ciphertext = X'' WHERE id = ?"))
		}, run: getTampered, is: records.ErrTampered, sends: -1},
		{name: "row: grant moved to another recipient", setup: func(h *hostileEnv) {
			_, err := h.db.Exec(context.Background(), "INSERT INTO shared_records (record_id, recipient_did, encrypted_dek, shared_at, version, key_id) SELECT record_id, 'did:plc:carol', encrypted_dek, shared_at, version, key_id FROM shared_records WHERE record_id = ? AND recipient_did = 'did:plc:bob'", h.shared.Ref.ID())
			require.NoError(h.t, err)
		}, run: func(ctx context.Context, h *hostileEnv) error {
			_, err := h.carolNotes().Open(ctx, h.shared.Ref)
			return err
		}, is: records.ErrTampered, sends: -1},
	}
}

// setTamper makes c and rkey the record getTampered reads.
func (h *hostileEnv) setTamper(c *records.Collection[note], rkey records.RecordKey) {
	h.tamperedC, h.tamperedKey = c, rkey
}

// getTampered reads the record of the last setTamper.
func getTampered(ctx context.Context, h *hostileEnv) error {
	_, err := h.tamperedC.Get(ctx, h.tamperedKey)
	return err
}

// carol returns the collection of the registered agent carol, with whom nothing is shared.
func (h *hostileEnv) carolNotes() *records.Collection[note] {
	c, err := records.NewCollection[note](h.store, h.carol, notesNSID, records.CollectionOptions[note]{})
	require.NoError(h.t, err)
	return c
}

// TestUpdateFromVersionZero: a Record whose Version is 0 (built by hand, or the zero value
// with a Ref filled in) claims no version that the record could still be at, so Update should
// refuse it. It currently overwrites whatever version is stored, since 0 is also the internal
// "any version" of the rewrite shared with Unshare: a silent overwrite of a concurrent change.
// (Found by this test; Update now refuses it.)
func TestUpdateFromVersionZero(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{}, d1.Options{}).withStore(t)
	c := notes(t, e.store, e.agent(t, "did:plc:alice"))
	r, err := c.Create(ctx, note{Body: "v1"})
	require.NoError(t, err)
	cur, err := c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	cur.Value.Body = "v2, a concurrent change"
	_, err = c.Update(ctx, cur)
	require.NoError(t, err)

	blind := &records.Record[note]{Ref: r.Ref, Value: note{Body: "blind overwrite"}}
	_, err = c.Update(ctx, blind)
	assert.ErrorIs(t, err, records.ErrConflict)
	got, err := c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	assert.Equal(t, "v2, a concurrent change", got.Value.Body, "nothing was overwritten")
}
