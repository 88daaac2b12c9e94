package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/syntax"
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
	did, err := syntax.ParseDID(a.DID())
	if err != nil {
		return AgentKeys{}, &InputError{Field: "agent DID", Err: err}
	}
	return AgentKeys{DID: did, Recipient: a.RecipientKey(), PostQuantum: a.PostQuantumKey(), Verifying: a.VerifyingKey()}, nil
}

func (k *AgentKeys) check() error {
	if _, err := syntax.ParseDID(string(k.DID)); err != nil {
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

// Agent is a registered agent, as this client trusts it: its keys are the head of its
// verified key log, never the agents row on its own, and its metadata carries its signature.
type Agent struct {
	AgentKeys
	Metadata  json.RawMessage // JSON, as registered, signed by the agent
	CreatedAt time.Time
	UpdatedAt time.Time // zero until the keys or metadata change

	// Rotations is the number of key changes in the agent's verified key log.
	Rotations int
}

// RegisterAgent publishes agent's public keys, as the first entry of its signed key log, and
// its JSON metadata (nil for none), signed by the agent. Registering again with the same keys
// is harmless (and keeps the first metadata); registering a DID whose key log holds other
// keys is ErrAgentExists (change keys with Store.RotateKeys).
//
// Only the agent itself can register: the key log entry is signed with its keys. Other
// agents' keys reach a client through their verified key logs, trusted on first use or
// pinned with Store.Pin.
func (s *Store) RegisterAgent(ctx context.Context, agent *crypto.Agent, metadata json.RawMessage) (*Agent, error) {
	if agent == nil {
		return nil, &InputError{Field: "agent", Reason: "nil"}
	}
	keys, err := PublicKeys(agent)
	if err != nil {
		return nil, err
	}
	if metadata != nil && !json.Valid(metadata) {
		return nil, &InputError{Field: "agent metadata", Reason: "not valid JSON"}
	}
	if err := s.Init(ctx); err != nil {
		return nil, err
	}
	genesis, err := agent.KeyGenesis(s.now())
	if err != nil {
		return nil, fmt.Errorf("records: register agent %s: %w", keys.DID, err)
	}
	now := s.timestamp()
	var pq any
	if keys.PostQuantum != nil {
		pq = keys.PostQuantum.Bytes()
	}
	did := string(keys.DID)
	var mdSig any
	if metadata != nil {
		mdSig = agent.SignMetadata(metadata)
	}
	stmts := []d1.Statement{{
		SQL:        "INSERT INTO agents (did, public_key, signing_key, pq_key, metadata, metadata_sig, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (did) DO NOTHING",
		Args:       []any{did, keys.Recipient.Bytes(), keys.Verifying.Bytes(), pq, nullJSON(metadata), mdSig, now},
		Idempotent: true,
	}, {
		SQL:        "INSERT INTO agent_key_log (did, seq, entry, created_at) VALUES (?, 0, ?, ?) ON CONFLICT (did, seq) DO NOTHING",
		Args:       []any{did, genesis.Marshal(), now},
		Idempotent: true,
	}}
	// The key history rows only for the keys the registry really holds for this DID.
	for _, k := range registeredKeys(&keys) {
		stmts = append(stmts, d1.Statement{
			SQL: `INSERT INTO agent_keys (key_id, did, kind, public_key, created_at)
SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM agents WHERE did = ? AND public_key = ? AND signing_key = ?)
ON CONFLICT (key_id) DO NOTHING`,
			Args:       []any{k.id[:], did, k.kind, k.public, now, did, keys.Recipient.Bytes(), keys.Verifying.Bytes()},
			Idempotent: true,
		})
	}
	stmts = append(stmts, s.keyLogStatement(keys.DID), d1.Statement{SQL: agentSelect(s.db) + " WHERE did = ?", Args: []any{did}})
	rs, err := s.db.Batch(ctx, stmts...)
	if err != nil {
		return nil, fmt.Errorf("records: register agent %s: %w", did, err)
	}
	v, err := s.applyKeyLog(keys.DID, rs[len(rs)-2], agent)
	if errors.Is(err, ErrUntrusted) {
		return nil, fmt.Errorf("%w: %s: %w", ErrAgentExists, did, err)
	}
	if err != nil {
		return nil, fmt.Errorf("records: register agent %s: %w", did, err)
	}
	if err := checkSelf(agent, v); err != nil {
		if errors.Is(err, ErrKeyRetired) {
			return nil, fmt.Errorf("%w: %s: these keys were rotated out", ErrAgentExists, did)
		}
		return nil, fmt.Errorf("%w: %s", ErrAgentExists, did)
	}
	row, err := d1.CollectOne[agentRow](rs[len(rs)-1])
	if err != nil {
		return nil, fmt.Errorf("records: register agent %s: %w", did, err)
	}
	return row.agent(v)
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

func agentSelect(db *d1.Client) string {
	return "SELECT did, metadata, " + blobsOf(db).out("metadata_sig") + " AS metadata_sig, created_at, updated_at FROM agents"
}

type agentRow struct {
	DID         string
	Metadata    *string
	MetadataSig d1.Hex
	CreatedAt   string
	UpdatedAt   *string
}

// agent returns the row as an Agent with the keys of v, its verified key history, checking
// the metadata's signature.
func (r *agentRow) agent(v *verifiedAgent) (*Agent, error) {
	did, err := syntax.ParseDID(r.DID)
	if err != nil || did != v.did {
		return nil, fmt.Errorf("%w: agents row %q", ErrTampered, r.DID)
	}
	a := &Agent{AgentKeys: v.agentKeys(), Metadata: rawJSON(r.Metadata), Rotations: len(v.entries) - 1}
	if err := v.checkMetadata(r.Metadata, r.MetadataSig); err != nil {
		return nil, err
	}
	a.CreatedAt, _ = time.Parse(time.RFC3339Nano, r.CreatedAt)
	if r.UpdatedAt != nil {
		a.UpdatedAt, _ = time.Parse(time.RFC3339Nano, *r.UpdatedAt)
	}
	return a, nil
}

// checkMetadata verifies an agents row's metadata signature with the agent's verified keys.
func (v *verifiedAgent) checkMetadata(metadata *string, sig []byte) error {
	if metadata == nil && len(sig) == 0 {
		return nil
	}
	var md []byte
	if metadata != nil {
		md = []byte(*metadata)
	}
	id, err := crypto.SignatureKeyID(sig)
	if err != nil {
		return fmt.Errorf("%w: metadata of %s: %w", ErrTampered, v.did, err)
	}
	k, err := v.signer(id)
	if err != nil {
		return fmt.Errorf("records: metadata of %s: %w", v.did, err)
	}
	if err := k.VerifyMetadata(string(v.did), md, sig); err != nil {
		return fmt.Errorf("%w: metadata of %s: %w", ErrTampered, v.did, err)
	}
	return nil
}

// Agent returns a registered agent with its verified keys, or an error matching
// ErrUnknownAgent (or ErrUntrusted when its keys cannot be verified).
func (s *Store) Agent(ctx context.Context, did DID) (*Agent, error) {
	if _, err := syntax.ParseDID(string(did)); err != nil {
		return nil, &InputError{Field: "agent DID", Err: err}
	}
	if err := s.Init(ctx); err != nil {
		return nil, err
	}
	rs, err := s.db.Batch(ctx, d1.Statement{SQL: agentSelect(s.db) + " WHERE did = ?", Args: []any{string(did)}}, s.keyLogStatement(did))
	if err != nil {
		return nil, fmt.Errorf("records: agent %s: %w", did, err)
	}
	row, err := d1.CollectOne[agentRow](rs[0])
	if errors.Is(err, d1.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAgent, did)
	}
	if err != nil {
		return nil, fmt.Errorf("records: agent %s: %w", did, err)
	}
	v, err := s.applyKeyLog(did, rs[1], nil)
	if err != nil {
		return nil, err
	}
	return row.agent(v)
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
	sql, args := agentSelect(s.db), []any{}
	if opts.Cursor != "" {
		after, err := decodeCursor(opts.Cursor, "a")
		if err != nil {
			return Page[*Agent]{}, err
		}
		sql, args = sql+" WHERE did > ?", append(args, after)
	}
	sql += " ORDER BY did LIMIT ?"
	args = append(args, limit+1)
	rs, err := s.db.Batch(ctx, d1.Statement{SQL: sql, Args: args},
		d1.Statement{SQL: "SELECT did, seq, " + blobsOf(s.db).out("entry") + " AS entry FROM agent_key_log WHERE did IN (SELECT did FROM (" + sql + ")) ORDER BY did, seq", Args: args})
	if err != nil {
		return Page[*Agent]{}, fmt.Errorf("records: agents: %w", err)
	}
	rows, err := d1.Collect[agentRow](rs[0])
	if err != nil {
		return Page[*Agent]{}, fmt.Errorf("records: agents: %w", err)
	}
	raw, seqs, err := keyLogRows(rs[1])
	if err != nil {
		return Page[*Agent]{}, err
	}
	page := Page[*Agent]{HasMore: len(rows) > limit}
	for _, r := range rows[:min(len(rows), limit)] {
		v, err := s.trust.learn(DID(r.DID), raw[DID(r.DID)], seqs[DID(r.DID)], nil)
		if err != nil {
			return Page[*Agent]{}, err
		}
		a, err := r.agent(v)
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

// self returns the acting agent's verified key history, checking that agent holds its
// current keys (ErrKeyRetired otherwise).
func (s *Store) self(ctx context.Context, agent *crypto.Agent) (*verifiedAgent, error) {
	did := DID(agent.DID())
	rs, err := s.db.Batch(ctx, s.keyLogStatement(did))
	if err != nil {
		return nil, fmt.Errorf("records: read key log of %s: %w", did, err)
	}
	v, err := s.applyKeyLog(did, rs[0], agent)
	if err != nil {
		return nil, err
	}
	return v, checkSelf(agent, v)
}

// checkSelf checks that agent holds the current keys of its verified history.
func checkSelf(agent *crypto.Agent, v *verifiedAgent) error {
	if v.head().Keys.Equal(agent.Keys()) {
		return nil
	}
	for _, id := range agent.Keys().KeyIDs() {
		if v.holds(id) {
			return fmt.Errorf("%w (%s)", ErrKeyRetired, v.did)
		}
	}
	return fmt.Errorf("%w: %s: the acting agent's keys are not in its key log", ErrUntrusted, v.did)
}
