package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
)

// Errors about agents.
var (
	// ErrUnknownAgent is returned when a DID is not in the agents registry.
	ErrUnknownAgent = errors.New("records: unknown agent; register it with Store.RegisterAgent")

	// ErrAgentExists is returned by RegisterAgent when the DID is registered with other keys:
	// change keys with Store.RotateKeys.
	ErrAgentExists = errors.New("records: agent already registered with other keys; use Store.RotateKeys to change them")

	// ErrKeyRetired is returned when the acting agent's keys are no longer its registered
	// keys (they were rotated out): load the agent's current key file.
	ErrKeyRetired = errors.New("records: the acting agent's key was retired by a rotation; load its current keys")
)

// AgentKeys are the public keys an agent publishes in the registry.
type AgentKeys struct {
	DID         DID
	Recipient   *crypto.RecipientKey // X25519, for wrapping data keys; required
	PostQuantum *crypto.RecipientKey // X-Wing, optional; preferred for wrapping when present
	Verifying   *crypto.VerifyingKey // Ed25519, for verifying the agent's signatures; required
}

// PublicKeys returns the public half of an agent's keys.
func PublicKeys(a *crypto.Agent) (AgentKeys, error) {
	did, err := ParseDID(a.DID())
	if err != nil {
		return AgentKeys{}, &InputError{Field: "agent DID", Err: err}
	}
	return AgentKeys{DID: did, Recipient: a.RecipientKey(), PostQuantum: a.PostQuantumKey(), Verifying: a.VerifyingKey()}, nil
}

func (k *AgentKeys) check() error {
	if _, err := ParseDID(string(k.DID)); err != nil {
		return &InputError{Field: "agent DID", Err: err}
	}
	if k.Recipient == nil || k.Recipient.Suite() != crypto.SuiteX25519 {
		return &InputError{Field: "agent keys", Reason: "an X25519 recipient key is required"}
	}
	if k.PostQuantum != nil && k.PostQuantum.Suite() != crypto.SuiteXWing {
		return &InputError{Field: "agent keys", Reason: "the post-quantum key must be an X-Wing key"}
	}
	if k.Verifying == nil {
		return &InputError{Field: "agent keys", Reason: "an Ed25519 verifying key is required"}
	}
	return nil
}

// recipient returns the key others wrap data keys for: X-Wing when registered, else X25519.
func (k *AgentKeys) recipient() crypto.Recipient {
	if k.PostQuantum != nil {
		return crypto.Recipient{DID: string(k.DID), Key: k.PostQuantum}
	}
	return crypto.Recipient{DID: string(k.DID), Key: k.Recipient}
}

// Agent is a registered agent.
type Agent struct {
	AgentKeys
	Metadata  json.RawMessage // JSON, as registered
	CreatedAt time.Time
	UpdatedAt time.Time // zero until the keys or metadata change
}

// RegisterAgent publishes an agent's public keys and JSON metadata (nil for none).
// Registering the same keys again is harmless (and keeps the first metadata); registering
// a DID with other keys is ErrAgentExists.
func (s *Store) RegisterAgent(ctx context.Context, keys AgentKeys, metadata json.RawMessage) (*Agent, error) {
	if err := keys.check(); err != nil {
		return nil, err
	}
	if metadata != nil && !json.Valid(metadata) {
		return nil, &InputError{Field: "agent metadata", Reason: "not valid JSON"}
	}
	if err := s.Init(ctx); err != nil {
		return nil, err
	}
	now := s.timestamp()
	var pq any
	if keys.PostQuantum != nil {
		pq = keys.PostQuantum.Bytes()
	}
	did := string(keys.DID)
	stmts := []d1.Statement{{
		SQL:        "INSERT INTO agents (did, public_key, signing_key, pq_key, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (did) DO NOTHING",
		Args:       []any{did, keys.Recipient.Bytes(), keys.Verifying.Bytes(), pq, nullJSON(metadata), now},
		Idempotent: true,
	}}
	// Key history rows only for the keys the registry really holds for this DID.
	for _, k := range registeredKeys(&keys) {
		stmts = append(stmts, d1.Statement{
			SQL: `INSERT INTO agent_keys (key_id, did, kind, public_key, created_at)
SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM agents WHERE did = ? AND public_key = ? AND signing_key = ?)
ON CONFLICT (key_id) DO NOTHING`,
			Args:       []any{k.id[:], did, k.kind, k.public, now, did, keys.Recipient.Bytes(), keys.Verifying.Bytes()},
			Idempotent: true,
		})
	}
	stmts = append(stmts, d1.Statement{SQL: agentSelect + " WHERE did = ?", Args: []any{did}})
	rs, err := s.db.Batch(ctx, stmts...)
	if err != nil {
		return nil, fmt.Errorf("records: register agent %s: %w", did, err)
	}
	row, err := d1.CollectOne[agentRow](rs[len(rs)-1])
	if err != nil {
		return nil, fmt.Errorf("records: register agent %s: %w", did, err)
	}
	a, err := row.agent()
	if err != nil {
		return nil, err
	}
	if !a.Recipient.Equal(keys.Recipient) || !a.Verifying.Equal(keys.Verifying) || !samePQ(a.PostQuantum, keys.PostQuantum) {
		return nil, fmt.Errorf("%w: %s", ErrAgentExists, did)
	}
	s.keys.pin(a)
	return a, nil
}

func samePQ(a, b *crypto.RecipientKey) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(b)
}

type keyRow struct {
	id     crypto.KeyID
	kind   string
	public []byte
}

func registeredKeys(k *AgentKeys) []keyRow {
	rows := []keyRow{
		{k.Recipient.KeyID(), "x25519", k.Recipient.Bytes()},
		{k.Verifying.KeyID(), "ed25519", k.Verifying.Bytes()},
	}
	if k.PostQuantum != nil {
		rows = append(rows, keyRow{k.PostQuantum.KeyID(), "xwing", k.PostQuantum.Bytes()})
	}
	return rows
}

const agentSelect = "SELECT did, public_key, signing_key, pq_key, metadata, created_at, updated_at FROM agents"

type agentRow struct {
	DID        string
	PublicKey  []byte
	SigningKey []byte
	PQKey      []byte
	Metadata   *string
	CreatedAt  string
	UpdatedAt  *string
}

func (r *agentRow) agent() (*Agent, error) {
	did, err := ParseDID(r.DID)
	if err != nil {
		return nil, fmt.Errorf("records: agents row %q: %w", r.DID, err)
	}
	a := &Agent{AgentKeys: AgentKeys{DID: did}, Metadata: rawJSON(r.Metadata)}
	if a.Recipient, err = crypto.ParseRecipientKey(r.PublicKey); err != nil {
		return nil, fmt.Errorf("records: agent %s: stored recipient key: %w", did, err)
	}
	if a.Verifying, err = crypto.ParseVerifyingKey(r.SigningKey); err != nil {
		return nil, fmt.Errorf("records: agent %s: stored verifying key: %w", did, err)
	}
	if r.PQKey != nil {
		if a.PostQuantum, err = crypto.ParseRecipientKey(r.PQKey); err != nil {
			return nil, fmt.Errorf("records: agent %s: stored post-quantum key: %w", did, err)
		}
	}
	if err := a.check(); err != nil {
		return nil, fmt.Errorf("records: agent %s: stored keys: %w", did, err)
	}
	a.CreatedAt, _ = time.Parse(time.RFC3339Nano, r.CreatedAt)
	if r.UpdatedAt != nil {
		a.UpdatedAt, _ = time.Parse(time.RFC3339Nano, *r.UpdatedAt)
	}
	return a, nil
}

// Agent returns a registered agent, or an error matching ErrUnknownAgent.
func (s *Store) Agent(ctx context.Context, did DID) (*Agent, error) {
	if _, err := ParseDID(string(did)); err != nil {
		return nil, &InputError{Field: "agent DID", Err: err}
	}
	if err := s.Init(ctx); err != nil {
		return nil, err
	}
	row, err := d1.QueryOne[agentRow](ctx, s.db, agentSelect+" WHERE did = ?", string(did))
	if errors.Is(err, d1.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAgent, did)
	}
	if err != nil {
		return nil, fmt.Errorf("records: agent %s: %w", did, err)
	}
	return row.agent()
}

// ListOptions pages a listing: Limit defaults to 50 (at most 1,000); Cursor comes from the
// previous page.
type ListOptions struct {
	Limit  int
	Cursor string
}

// Agents returns one page of registered agents, in DID order.
func (s *Store) Agents(ctx context.Context, opts ListOptions) (Page[*Agent], error) {
	limit, err := pageLimit(opts.Limit)
	if err != nil {
		return Page[*Agent]{}, err
	}
	if err := s.Init(ctx); err != nil {
		return Page[*Agent]{}, err
	}
	sql, args := agentSelect, []any{}
	if opts.Cursor != "" {
		after, err := decodeCursor(opts.Cursor, "a")
		if err != nil {
			return Page[*Agent]{}, err
		}
		sql, args = sql+" WHERE did > ?", append(args, after)
	}
	rows, err := d1.QueryAll[agentRow](ctx, s.db, sql+" ORDER BY did LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return Page[*Agent]{}, fmt.Errorf("records: agents: %w", err)
	}
	page := Page[*Agent]{HasMore: len(rows) > limit}
	for _, r := range rows[:min(len(rows), limit)] {
		a, err := r.agent()
		if err != nil {
			return Page[*Agent]{}, err
		}
		page.Items = append(page.Items, a)
	}
	if page.HasMore {
		page.Cursor = encodeCursor("a", string(page.Items[len(page.Items)-1].DID))
	}
	return page, nil
}

// AllAgents walks every registered agent.
func (s *Store) AllAgents(ctx context.Context) iter.Seq2[*Agent, error] {
	return walk(ctx, "", func(cursor string) (Page[*Agent], error) {
		return s.Agents(ctx, ListOptions{Limit: maxPageLimit, Cursor: cursor})
	})
}

// keyCache remembers verifying keys by (did, key id): a key id is a hash of the key, so an
// entry never changes. It also pins the agents this process registered or rotated.
type keyCache struct {
	mu        sync.Mutex
	verifying map[string]*crypto.VerifyingKey // did + "\x00" + key id
}

func (c *keyCache) get(did string, id crypto.KeyID) *crypto.VerifyingKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verifying[did+"\x00"+string(id[:])]
}

func (c *keyCache) put(did string, k *crypto.VerifyingKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.verifying == nil {
		c.verifying = map[string]*crypto.VerifyingKey{}
	}
	id := k.KeyID()
	c.verifying[did+"\x00"+string(id[:])] = k
}

func (c *keyCache) pin(a *Agent) { c.put(string(a.DID), a.Verifying) }

// verifyingKey returns the registered verifying key with id of the agent did, from the cache
// or the agent_keys table (retired keys included: they verify what they signed before).
// verifyingKeyFrom returns the registered verifying key with id of agent did, from the cache
// or from signers, a result of signersStatement (key_id, public_key of every signing key the
// agent ever registered: retired keys still verify what they signed).
func (s *Store) verifyingKeyFrom(did string, id crypto.KeyID, signers *d1.Result) (*crypto.VerifyingKey, error) {
	if k := s.keys.get(did, id); k != nil {
		return k, nil
	}
	withDID := len(signers.Columns) == 3 // (did, key_id, public_key) for several owners at once
	for _, row := range signers.All() {
		var owner string
		var kid, pub []byte
		var err error
		if withDID {
			err = row.Scan(&owner, &kid, &pub)
		} else {
			err = row.Scan(&kid, &pub)
		}
		if err != nil {
			return nil, err
		}
		if string(kid) != string(id[:]) || withDID && owner != did {
			continue
		}
		k, err := crypto.ParseVerifyingKey(pub)
		if err != nil || k.KeyID() != id {
			return nil, fmt.Errorf("%w: the registered signing key %s of %s does not match its id", ErrTampered, id, did)
		}
		s.keys.put(did, k)
		return k, nil
	}
	return nil, fmt.Errorf("%w: %s has no registered signing key %s", ErrTampered, did, id)
}

// current checks that the acting agent's keys are its registered ones and returns the
// registered agent.
func (s *Store) current(ctx context.Context, a *crypto.Agent) (*Agent, error) {
	reg, err := s.Agent(ctx, DID(a.DID()))
	if err != nil {
		return nil, err
	}
	return reg, checkCurrent(a, reg)
}

func checkCurrent(a *crypto.Agent, reg *Agent) error {
	if !reg.Recipient.Equal(a.RecipientKey()) || !reg.Verifying.Equal(a.VerifyingKey()) || !samePQ(reg.PostQuantum, a.PostQuantumKey()) {
		return fmt.Errorf("%w (%s)", ErrKeyRetired, reg.DID)
	}
	return nil
}
