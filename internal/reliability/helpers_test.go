package reliability_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

// localURL is the base URL clients use with a local D1's in-process Transport; it never
// resolves.
const localURL = "http://d1local.invalid/client/v4"

// long reports whether the long versions of the scenarios were asked for (D1SEAL_SOAK=long).
func long() bool { return os.Getenv("D1SEAL_SOAK") == "long" }

// env is a records store over a fresh local D1, reached in process, with the server at hand
// for fault injection and request counting.
type env struct {
	srv   *d1local.Server
	db    *d1.Client
	store *records.Store
}

// newEnv starts a local D1 with opts and a client with copts (the base URL and transport are
// filled in; a zero RateLimit is replaced by a disabled one, a zero Retry by a fast one).
func newEnv(t testing.TB, opts d1local.Options, copts d1.Options) *env {
	t.Helper()
	srv, id := newLocal(t, opts)
	return &env{srv: srv, db: client(t, srv, id, copts), store: nil}
}

// newLocal starts a local D1, closed when the test ends, with one database.
func newLocal(t testing.TB, opts d1local.Options) (*d1local.Server, string) {
	t.Helper()
	srv, err := d1local.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	id, err := srv.CreateDatabase(context.Background(), "reliability")
	require.NoError(t, err)
	return srv, id
}

// client returns a client of database id on srv: in process, unless copts names another
// base URL and HTTP client (a proxy in front of srv).
func client(t testing.TB, srv *d1local.Server, id string, copts d1.Options) *d1.Client {
	t.Helper()
	if copts.BaseURL == "" {
		copts.BaseURL = localURL
	}
	if copts.HTTPClient == nil {
		copts.HTTPClient = &http.Client{Transport: srv.Transport()}
	}
	if copts.RateLimit == (d1.RateLimit{}) {
		copts.RateLimit = d1.RateLimit{Disabled: true}
	}
	if copts.Retry == (d1.RetryPolicy{}) {
		copts.Retry = d1.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
	}
	dbAcct, err := d1.NewAccount("acct", "local", copts)
	require.NoError(t, err)
	db := dbAcct.Database(id)
	return db
}

// withStore gives e a records store (which applies the schema on first use).
func (e *env) withStore(t testing.TB) *env {
	t.Helper()
	e.store = records.NewStore(e.db, records.StoreOptions{})
	require.NoError(t, e.store.Init(context.Background()))
	return e
}

// agent generates and registers an agent.
func (e *env) agent(t testing.TB, did string) *crypto.Agent {
	t.Helper()
	a, err := crypto.GenerateAgent(did, crypto.GenerateOptions{})
	require.NoError(t, err)
	_, err = e.store.RegisterAgent(context.Background(), a, nil)
	require.NoError(t, err)
	return a
}

// note is the value type of the test collections.
type note struct {
	Title string   `json:"title"`
	Body  string   `json:"body"`
	Score float64  `json:"score,omitempty"`
	Tags  []string `json:"tags,omitempty"`
}

const notesNSID = "agent.memory.note"

func notes(t testing.TB, s *records.Store, a *crypto.Agent) *records.Collection[note] {
	t.Helper()
	c, err := records.NewCollection[note](s, a, notesNSID, records.CollectionOptions[note]{})
	require.NoError(t, err)
	return c
}

// fingerprint describes every table of the database (its rows, in full), so that two
// fingerprints are equal exactly when nothing was written in between. It reads through a
// client of its own and should be taken with faults off.
func fingerprint(t testing.TB, srv *d1local.Server, id string) string {
	t.Helper()
	ctx := context.Background()
	db := client(t, srv, id, d1.Options{})
	tables, err := d1.QueryAll[string](ctx, db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	require.NoError(t, err)
	var b strings.Builder
	for _, name := range tables {
		r, err := db.Query(ctx, fmt.Sprintf("SELECT * FROM %q", name))
		require.NoError(t, err)
		var lines []string
		for _, row := range r.All() {
			lines = append(lines, fmt.Sprintf("%v", row.Values()))
		}
		sort.Strings(lines)
		fmt.Fprintf(&b, "%s %d rows\n%s\n", name, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}
