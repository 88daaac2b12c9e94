package records

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
)

// maxKeyLog is the longest key log a Store reads: a database cannot make it parse and verify
// more (one entry per rotation; a thousand rotations is far past any real agent).
const maxKeyLog = 1000

// keyState is where a key stands in its agent's verified history.
type keyState uint8

const (
	keyCurrent keyState = iota + 1 // in the head entry
	keyRetired                     // rotated out routinely: what it signed still verifies
	keyRevoked                     // revoked as compromised: nothing it signed verifies
)

// verifiedAgent is one agent's key history, verified from what the TrustStore holds. It is
// immutable once built: extending it makes a new one.
type verifiedAgent struct {
	did     DID
	raw     [][]byte
	entries []*crypto.KeyEntry
	state   map[crypto.KeyID]keyState
	signers map[crypto.KeyID]*crypto.VerifyingKey
	pq      bool // the agent has ever had a post-quantum key
	pinned  []crypto.KeyID
}

func (v *verifiedAgent) head() *crypto.KeyEntry { return v.entries[len(v.entries)-1] }

// agentKeys returns the agent's current keys.
func (v *verifiedAgent) agentKeys() AgentKeys {
	k := v.head().Keys
	return AgentKeys{DID: v.did, Recipient: k.Recipient, PostQuantum: k.PostQuantum, Verifying: k.Verifying}
}

// signer returns the verifying key with id, if the agent's history holds it and it was not
// revoked.
func (v *verifiedAgent) signer(id crypto.KeyID) (*crypto.VerifyingKey, error) {
	k := v.signers[id]
	switch {
	case k == nil:
		return nil, fmt.Errorf("%w: %s has no signing key %s in its verified key log", ErrUntrusted, v.did, id)
	case v.state[id] == keyRevoked:
		return nil, fmt.Errorf("%w: %w: key %s of %s", ErrTampered, ErrKeyRevoked, id, v.did)
	}
	return k, nil
}

// holds reports whether the agent's history ever held the key id.
func (v *verifiedAgent) holds(id crypto.KeyID) bool { return v.state[id] != 0 }

// extend returns v with more entries appended, each verified against the one before. raw
// may also repeat entries v already holds: they must be byte for byte the same (a database
// presenting another history is a fork).
func (v *verifiedAgent) extend(did DID, raw [][]byte, seqs []int64) (*verifiedAgent, error) {
	next := &verifiedAgent{did: did, pinned: nil}
	if v != nil {
		next.pinned = v.pinned
		next.raw = slices.Clone(v.raw)
		next.entries = slices.Clone(v.entries)
	}
	for i, b := range raw {
		seq := seqs[i]
		if seq < 0 || seq > maxKeyLog {
			return nil, fmt.Errorf("%w: %s: key log entry %d out of range", ErrUntrusted, did, seq)
		}
		if int(seq) < len(next.raw) {
			if !bytes.Equal(next.raw[seq], b) {
				return nil, fmt.Errorf("%w: %s: the database's key log entry %d differs from the one this client trusts (a fork of the agent's key history)", ErrUntrusted, did, seq)
			}
			continue
		}
		if int(seq) != len(next.raw) {
			return nil, fmt.Errorf("%w: %s: key log entry %d missing", ErrUntrusted, did, len(next.raw))
		}
		e, err := crypto.ParseKeyEntry(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: key log entry %d: %w", ErrUntrusted, did, seq, err)
		}
		var prev *crypto.KeyEntry
		if len(next.entries) > 0 {
			prev = next.entries[len(next.entries)-1]
		}
		if e.DID != string(did) || e.Seq != uint64(seq) {
			return nil, fmt.Errorf("%w: %s: key log entry %d names %s entry %d", ErrUntrusted, did, seq, e.DID, e.Seq)
		}
		if err := e.Verify(prev); err != nil {
			return nil, fmt.Errorf("%w: %s: key log entry %d does not follow the trusted history: %w", ErrUntrusted, did, seq, err)
		}
		if prev != nil && prev.Keys.PostQuantum != nil && e.Keys.PostQuantum == nil {
			return nil, fmt.Errorf("%w: %s: key log entry %d drops the agent's post-quantum key (a downgrade this client refuses)", ErrUntrusted, did, seq)
		}
		next.raw = append(next.raw, slices.Clone(b))
		next.entries = append(next.entries, e)
	}
	if len(next.entries) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAgent, did)
	}
	next.index()
	if len(next.pinned) > 0 && !next.matchesPin() {
		return nil, fmt.Errorf("%w: %s: no entry of its verified key log holds the pinned keys", ErrUntrusted, did)
	}
	return next, nil
}

// index fills the key states from the entries.
func (v *verifiedAgent) index() {
	v.state = map[crypto.KeyID]keyState{}
	v.signers = map[crypto.KeyID]*crypto.VerifyingKey{}
	v.pq = false
	for i, e := range v.entries {
		st := keyRetired
		if i == len(v.entries)-1 {
			st = keyCurrent
		}
		for _, id := range e.Keys.KeyIDs() {
			if v.state[id] != keyRevoked {
				v.state[id] = st
			}
		}
		v.signers[e.Keys.Verifying.KeyID()] = e.Keys.Verifying
		if e.Keys.PostQuantum != nil {
			v.pq = true
		}
		if e.Change == crypto.KeyRevoke {
			for _, id := range e.Revoked {
				v.state[id] = keyRevoked
			}
		}
	}
}

func (v *verifiedAgent) matchesPin() bool {
	want := slices.Clone(v.pinned)
	slices.SortFunc(want, compareKeyIDs)
	for _, e := range v.entries {
		got := e.Keys.KeyIDs()
		slices.SortFunc(got, compareKeyIDs)
		if slices.Equal(got, want) {
			return true
		}
	}
	return false
}

func compareKeyIDs(a, b crypto.KeyID) int { return bytes.Compare(a[:], b[:]) }

// trustCache holds the verified agents of a Store, loaded from its TrustStore and extended
// from the database.
type trustCache struct {
	store         TrustStore
	requirePinned bool

	mu     sync.Mutex
	agents map[DID]*verifiedAgent
}

// known returns the verified agent did from memory or the TrustStore, or nil.
func (t *trustCache) known(did DID) (*verifiedAgent, error) {
	t.mu.Lock()
	v := t.agents[did]
	t.mu.Unlock()
	if v != nil {
		return v, nil
	}
	rec, err := t.store.LoadTrust(did)
	if err != nil || rec == nil {
		return nil, err
	}
	if len(rec.Log) == 0 {
		return &verifiedAgent{did: did, pinned: rec.Pinned}, nil // pinned, never seen
	}
	seqs := make([]int64, len(rec.Log))
	for i := range seqs {
		seqs[i] = int64(i)
	}
	v, err = (&verifiedAgent{pinned: rec.Pinned}).extend(did, rec.Log, seqs)
	if err != nil {
		return nil, fmt.Errorf("records: trust store entry of %s: %w", did, err)
	}
	t.mu.Lock()
	t.agents[did] = v
	t.mu.Unlock()
	return v, nil
}

// after returns the seq of the trusted head of did's key log (-1 when no entry is trusted
// yet): the database's log is read from there on.
func (t *trustCache) after(did DID) int64 {
	v, err := t.known(did)
	if err != nil || v == nil {
		return -1
	}
	return int64(len(v.entries)) - 1
}

// learn extends what is trusted about did with entries read from the database (seq order),
// following the trust policy: an agent never trusted before is learned on first use unless
// pins are required; self is the acting agent's keys, which it trusts as its own when the
// log ends with them.
func (t *trustCache) learn(did DID, raw [][]byte, seqs []int64, self *crypto.Agent) (*verifiedAgent, error) {
	cur, err := t.known(did)
	if err != nil {
		return nil, err
	}
	if cur != nil && len(cur.entries) > 0 && len(raw) == 0 {
		return cur, nil // the database withholds the log: what is trusted stands
	}
	if cur == nil && t.requirePinned && self == nil {
		return nil, fmt.Errorf("%w: %s was never pinned, and this store requires pins (StoreOptions.RequirePinned); pin its keys with Store.Pin", ErrUntrusted, did)
	}
	next, err := cur.extend(did, raw, seqs)
	if err != nil {
		return nil, err
	}
	if self != nil && !slices.ContainsFunc(self.Keys().KeyIDs(), next.holds) {
		return nil, fmt.Errorf("%w: %s: its key log in the database does not hold the acting agent's keys", ErrUntrusted, did)
	}
	if cur != nil && len(cur.entries) == len(next.entries) {
		return cur, nil
	}
	if err := t.save(next); err != nil {
		return nil, err
	}
	return next, nil
}

func (t *trustCache) save(v *verifiedAgent) error {
	if err := t.store.SaveTrust(&TrustedAgent{DID: v.did, Pinned: v.pinned, Log: v.raw}); err != nil {
		return fmt.Errorf("records: save trust in %s: %w", v.did, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.agents[v.did]; old == nil || len(old.entries) <= len(v.entries) {
		t.agents[v.did] = v
	}
	return nil
}

// keyLogRows reads key log rows (did, seq, entry) of a result, grouped by DID in seq order.
func keyLogRows(res *d1.Result) (map[DID][][]byte, map[DID][]int64, error) {
	type row struct {
		DID   string
		Seq   int64
		Entry d1.Hex
	}
	rows, err := d1.Collect[row](res)
	if err != nil {
		return nil, nil, err
	}
	if len(rows) > maxKeyLog*4 {
		return nil, nil, fmt.Errorf("%w: the database sent %d key log entries", ErrUntrusted, len(rows))
	}
	raw, seqs := map[DID][][]byte{}, map[DID][]int64{}
	for _, r := range rows {
		d := DID(r.DID)
		if n := len(seqs[d]); n > 0 && seqs[d][n-1] >= r.Seq {
			return nil, nil, fmt.Errorf("%w: %s: key log rows out of order", ErrUntrusted, d)
		}
		raw[d], seqs[d] = append(raw[d], r.Entry), append(seqs[d], r.Seq)
	}
	return raw, seqs, nil
}

// keyLogStatement reads the key log entries of dids after what the store already trusts.
func (s *Store) keyLogStatement(dids ...DID) d1.Statement {
	var where []string
	var args []any
	for _, d := range dids {
		// From the trusted head itself: a database that replaced it is caught as a fork.
		where = append(where, "(did = ? AND seq >= ?)")
		args = append(args, string(d), s.trust.after(d))
	}
	if len(where) == 0 {
		where = append(where, "0")
	}
	return d1.Statement{SQL: "SELECT did, seq, " + blobsOf(s.db).out("entry") + " AS entry FROM agent_key_log WHERE " + strings.Join(where, " OR ") + " ORDER BY did, seq LIMIT " + fmt.Sprint(maxKeyLog*4+1), Args: args}
}

// applyKeyLog learns what res (from keyLogStatement) says of did and returns the verified
// agent. self, when set, is the acting agent's own keys.
func (s *Store) applyKeyLog(did DID, res *d1.Result, self *crypto.Agent) (*verifiedAgent, error) {
	raw, seqs, err := keyLogRows(res)
	if err != nil {
		return nil, err
	}
	return s.trust.learn(did, raw[did], seqs[did], self)
}

// verified returns the verified key history of did, reading the database's key log once if
// need says what is known is not enough (nil need: anything known will do).
func (s *Store) verified(ctx context.Context, did DID, need func(*verifiedAgent) bool) (*verifiedAgent, error) {
	v, err := s.trust.known(did)
	if err != nil {
		return nil, err
	}
	if v != nil && len(v.entries) > 0 && (need == nil || need(v)) {
		return v, nil
	}
	rs, err := s.db.Batch(ctx, s.keyLogStatement(did))
	if err != nil {
		return nil, fmt.Errorf("records: read key log of %s: %w", did, err)
	}
	return s.applyKeyLog(did, rs[0], nil)
}

// fresh returns the verified key history of did after reading what the database adds to it.
func (s *Store) fresh(ctx context.Context, did DID) (*verifiedAgent, error) {
	return s.verified(ctx, did, func(*verifiedAgent) bool { return false })
}

// signerFor returns the verifying key id of did's history, from the key log rows in res
// (which may be nil) or, if they do not reach it, from one more read of the database's log.
func (s *Store) signerFor(ctx context.Context, did DID, id crypto.KeyID, res *d1.Result) (*crypto.VerifyingKey, error) {
	var v *verifiedAgent
	var err error
	if res != nil {
		if v, err = s.applyKeyLog(did, res, nil); err != nil && !errors.Is(err, ErrUnknownAgent) {
			return nil, err
		}
	}
	if v == nil || v.signers[id] == nil {
		if v, err = s.verified(ctx, did, func(v *verifiedAgent) bool { return v.signers[id] != nil }); err != nil {
			return nil, err
		}
	}
	return v.signer(id)
}

// revokedSigner returns a revoked verifying key of did's verified history, for re-sealing
// after a compromise only.
func (s *Store) revokedSigner(did DID, id crypto.KeyID) (*crypto.VerifyingKey, error) {
	v, err := s.trust.known(did)
	if err != nil {
		return nil, err
	}
	if v == nil || v.signers[id] == nil {
		return nil, fmt.Errorf("%w: %s has no signing key %s", ErrUntrusted, did, id)
	}
	return v.signers[id], nil
}

// Pin trusts keys as the keys of keys.DID, from the service's own configuration: the agent's
// key log in the database must hold an entry with exactly these keys (later entries are
// followed only through valid signatures), or every use of the agent fails with ErrUntrusted.
// Pinning keys that contradict a log already verified is ErrUntrusted at once. Pins are kept
// in the Store's TrustStore; pin at every start-up from configuration.
func (s *Store) Pin(keys AgentKeys) error {
	if err := keys.check(); err != nil {
		return err
	}
	ids := []crypto.KeyID{keys.Recipient.KeyID(), keys.Verifying.KeyID()}
	if keys.PostQuantum != nil {
		ids = append(ids, keys.PostQuantum.KeyID())
	}
	cur, err := s.trust.known(keys.DID)
	if err != nil {
		return err
	}
	if cur == nil || len(cur.entries) == 0 {
		v := &verifiedAgent{did: keys.DID, pinned: ids}
		if err := s.trust.store.SaveTrust(&TrustedAgent{DID: keys.DID, Pinned: ids}); err != nil {
			return fmt.Errorf("records: pin %s: %w", keys.DID, err)
		}
		s.trust.mu.Lock()
		s.trust.agents[keys.DID] = v
		s.trust.mu.Unlock()
		return nil
	}
	next := *cur
	next.pinned = ids
	if !next.matchesPin() {
		return fmt.Errorf("%w: %s: the pinned keys are not in the key log this client already verified; if the agent really changed keys without a signed rotation, use a new trust store", ErrUntrusted, keys.DID)
	}
	return s.trust.save(&next)
}
