package records

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/syntax"
)

// Event is one observability event of an agent: a row of the events table. Events are
// metadata, stored in clear so that they can be queried: keep record content out of Context,
// Reasoning and Error. They are signed by their agent and chained (see RecordEvents).
type Event struct {
	ID        EventID // assigned by RecordEvents when empty
	Agent     DID     // must be a registered agent
	Type      string  // such as "tool.call" or "records.create"; required
	Outcome   string  // such as "ok", "error", "denied"; required
	Timestamp time.Time
	Duration  time.Duration // stored in whole milliseconds; 0 is stored as NULL

	SessionID, TraceID, SpanID string

	Context   json.RawMessage // JSON object or nil
	Reasoning json.RawMessage // JSON decision trace or nil
	Error     json.RawMessage // JSON error context or nil

	CreatedAt time.Time // set by D1 (CURRENT_TIMESTAMP)

	// Seq is the event's number in its agent's log (0 for the first), set when it is
	// recorded or read.
	Seq int64

	prev      [32]byte // digest of the agent's event Seq-1
	signature []byte
}

const maxEventField = 256 // bytes of Type, Outcome and the ids

func (e *Event) check() error {
	if _, err := syntax.ParseDID(string(e.Agent)); err != nil {
		return &InputError{Field: "event agent", Err: err}
	}
	for name, v := range map[string]string{"type": e.Type, "outcome": e.Outcome} {
		if v == "" {
			return &InputError{Field: "event " + name, Reason: "required"}
		}
	}
	for name, v := range map[string]string{"type": e.Type, "outcome": e.Outcome, "session id": e.SessionID, "trace id": e.TraceID, "span id": e.SpanID} {
		if len(v) > maxEventField {
			return &InputError{Field: "event " + name, Reason: fmt.Sprintf("longer than %d bytes", maxEventField)}
		}
	}
	for name, v := range map[string]json.RawMessage{"context": e.Context, "reasoning": e.Reasoning, "error": e.Error} {
		if v != nil && !json.Valid(v) {
			return &InputError{Field: "event " + name, Reason: "not valid JSON"}
		}
	}
	if e.ID != "" {
		if _, err := ParseEventID(string(e.ID)); err != nil {
			return &InputError{Field: "event id", Err: err}
		}
	}
	return nil
}

// RecordEvents signs events as agent and stores them after the agent's previous events, in as
// few requests as D1's limits allow, each request atomic. Every event must be agent's (an
// empty Event.Agent is set to it); ids are assigned to events that have none (in the slice
// given). Events whose ids are already recorded are skipped, so a call repeated after a lost
// answer records nothing twice. Each event carries its number in the agent's log (0, 1, 2, ...) and the digest of
// the event before it, and the agent signs both with the event, so that an event edited,
// reordered or deleted in the database is caught when the log is read (Store.Events,
// Store.VerifyEvents). Writers of one agent's events in several processes take turns: a
// write that loses the race for a number reads the log's head again and retries.
func (s *Store) RecordEvents(ctx context.Context, agent *crypto.Agent, events ...Event) error {
	if agent == nil {
		return &InputError{Field: "agent", Reason: "nil"}
	}
	did := DID(agent.DID())
	for i := range events {
		if events[i].Agent == "" {
			events[i].Agent = did
		}
		if err := events[i].check(); err != nil {
			return fmt.Errorf("records: event %d: %w", i, err)
		}
		if events[i].Agent != did {
			return &InputError{Field: "event agent", Reason: fmt.Sprintf("event %d is %s's; only %s's events can be signed by this agent", i, events[i].Agent, did)}
		}
		if events[i].ID == "" {
			events[i].ID = s.events.Next()
		}
		if events[i].Timestamp.IsZero() {
			events[i].Timestamp = s.now()
		}
	}
	if err := s.Init(ctx); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	chain := s.chainOf(did)
	chain.mu.Lock()
	defer chain.mu.Unlock()
	// As many events per request as the limits allow: 15 parameters each.
	per := max(1, s.db.Limits().MaxStatements)
	for start := 0; start < len(events); start += per {
		batch := events[start:min(start+per, len(events))]
		for attempt := 1; len(batch) > 0; attempt++ {
			err := s.appendEvents(ctx, agent, chain, batch)
			if err == nil {
				break
			}
			var before *recordedBefore
			if errors.As(err, &before) {
				batch = slices.DeleteFunc(slices.Clone(batch), func(e Event) bool { return slices.Contains(before.ids, string(e.ID)) })
			} else if !errors.Is(err, errChainMoved) || attempt >= s.attempts()+2 {
				return fmt.Errorf("records: record events of %s: %w", did, err)
			}
			chain.known = false // another writer appended: read the head again
		}
	}
	return nil
}

// RecordEvent signs and stores one event of agent and returns its id.
func (s *Store) RecordEvent(ctx context.Context, agent *crypto.Agent, e Event) (EventID, error) {
	evs := []Event{e}
	if err := s.RecordEvents(ctx, agent, evs...); err != nil {
		return "", err
	}
	return evs[0].ID, nil
}

var errChainMoved = errors.New("another writer appended to the event log")

// recordedBefore is events of a batch already in the log: a repeated call.
type recordedBefore struct{ ids []string }

func (e *recordedBefore) Error() string { return fmt.Sprintf("%d events recorded before", len(e.ids)) }

// eventChain is the head of one agent's event log as this Store last wrote or read it.
type eventChain struct {
	mu    sync.Mutex
	known bool
	next  int64    // seq of the next event
	prev  [32]byte // digest of event next-1
}

func (s *Store) chainOf(did DID) *eventChain {
	s.chainsMu.Lock()
	defer s.chainsMu.Unlock()
	if s.chains == nil {
		s.chains = map[DID]*eventChain{}
	}
	c := s.chains[did]
	if c == nil {
		c = &eventChain{}
		s.chains[did] = c
	}
	return c
}

// appendEvents writes batch after the chain's head in one atomic request.
func (s *Store) appendEvents(ctx context.Context, agent *crypto.Agent, chain *eventChain, batch []Event) error {
	did := DID(agent.DID())
	if !chain.known {
		if _, err := s.self(ctx, agent); err != nil {
			return err
		}
		rows, err := d1.QueryAll[eventRow](ctx, s.db, eventSelect(s.db)+" WHERE agent_did = ? AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1", string(did))
		if err != nil {
			return err
		}
		chain.next, chain.prev = 0, [32]byte{}
		if len(rows) == 1 {
			ev, err := s.verifyEvent(ctx, &rows[0])
			if err != nil {
				return err
			}
			chain.next, chain.prev = ev.Seq+1, ev.digest()
		}
		if err := s.versions.check(eventsStateID(did), uint64(chain.next), s.versions.mark()); err != nil {
			return fmt.Errorf("%w: events of %s end at %d, fewer than this client saw (deleted events)", ErrTampered, did, chain.next)
		}
		chain.known = true
	}
	stmts := make([]d1.Statement, 0, len(batch)+1)
	ids := make([]any, 0, len(batch))
	seq, prev := chain.next, chain.prev
	bl := blobsOf(s.db)
	for i := range batch {
		e := &batch[i]
		e.Seq, e.prev = seq, prev
		d := e.digest()
		e.signature = agent.SignEvent(d)
		var dur any
		if e.Duration > 0 {
			dur = e.Duration.Milliseconds()
		}
		stmts = append(stmts, d1.Statement{
			SQL: `INSERT INTO events (id, agent_did, event_type, outcome, timestamp, duration_ms, session_id, trace_id, span_id, context, reasoning, error, seq, prev_hash, signature)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ` + bl.in("?") + `, ` + bl.in("?") + `)`,
			Args: []any{string(e.ID), string(e.Agent), e.Type, e.Outcome, formatTime(e.Timestamp), dur, nullString(e.SessionID), nullString(e.TraceID),
				nullString(e.SpanID), nullJSON(e.Context), nullJSON(e.Reasoning), nullJSON(e.Error), seq, bl.arg(e.prev[:]), bl.arg(e.signature)},
		})
		ids = append(ids, string(e.ID))
		seq, prev = seq+1, d
	}
	in := "(" + strings.Repeat("?, ", len(ids)-1) + "?)"
	_, err := s.write(ctx, stmts, func(ctx context.Context) (bool, error) {
		n, err := d1.QueryOne[int](ctx, s.db, "SELECT count(*) FROM events WHERE id IN "+in, ids...)
		if err == nil && n != 0 && n != len(ids) {
			return false, fmt.Errorf("%d of %d events of one atomic request found", n, len(ids))
		}
		return n == len(ids), err
	})
	if d1.IsUniqueViolation(err) {
		// Either another writer took these numbers, or some of these events were recorded
		// before (a call repeated after a lost answer): those are dropped from the batch.
		have, qerr := d1.QueryAll[string](ctx, s.db, "SELECT id FROM events WHERE id IN "+in, ids...)
		if qerr != nil {
			return qerr
		}
		if len(have) > 0 {
			return &recordedBefore{ids: have}
		}
		return errChainMoved
	}
	if err != nil {
		return err
	}
	chain.next, chain.prev = seq, prev
	if err := s.versions.see(eventsStateID(did), uint64(seq)); err != nil {
		s.warn("records: remember events", "agent", did, "error", err)
	}
	return nil
}

func eventsStateID(did DID) string { return "events/" + string(did) }

const eventDigestLabel = "d1seal event v1\x00"

// digest is what an event's signature covers: every column the agent wrote, its number and
// the previous event's digest, in a canonical encoding:
//
//	SHA-256("d1seal event v1" || 0x00 || u64 seq || prev (32) || id || agent || type ||
//	  outcome || timestamp || i64 duration_ms (0 for NULL) || session_id || trace_id ||
//	  span_id || context || reasoning || error)
//
// where each text is u8 present (0 for NULL) || u32 length || bytes. created_at, which D1
// sets, is not covered.
func (e *Event) digest() [32]byte {
	h := sha256.New()
	h.Write([]byte(eventDigestLabel))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(e.Seq))
	h.Write(b[:])
	h.Write(e.prev[:])
	text := func(s string, present bool) {
		if !present {
			h.Write([]byte{0})
			return
		}
		var n [5]byte
		n[0] = 1
		binary.BigEndian.PutUint32(n[1:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	text(string(e.ID), true)
	text(string(e.Agent), true)
	text(e.Type, true)
	text(e.Outcome, true)
	text(formatTime(e.Timestamp), true)
	var dur int64
	if e.Duration > 0 {
		dur = e.Duration.Milliseconds()
	}
	binary.BigEndian.PutUint64(b[:], uint64(dur))
	h.Write(b[:])
	text(e.SessionID, e.SessionID != "")
	text(e.TraceID, e.TraceID != "")
	text(e.SpanID, e.SpanID != "")
	text(string(e.Context), e.Context != nil)
	text(string(e.Reasoning), e.Reasoning != nil)
	text(string(e.Error), e.Error != nil)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// verifyEvent turns a row into an Event and checks its signature with its agent's verified
// keys.
func (s *Store) verifyEvent(ctx context.Context, r *eventRow) (Event, error) {
	e, err := r.event()
	if err != nil {
		return e, err
	}
	if r.Seq == nil || len(r.PrevHash) != 32 || len(r.Signature) == 0 {
		return e, fmt.Errorf("%w: event %s of %s is not signed", ErrTampered, r.ID, r.AgentDID)
	}
	if _, err := syntax.ParseDID(r.AgentDID); err != nil {
		return e, fmt.Errorf("%w: event %s: %w", ErrTampered, r.ID, err)
	}
	e.Seq, e.prev, e.signature = *r.Seq, [32]byte(r.PrevHash), r.Signature
	id, err := crypto.SignatureKeyID(r.Signature)
	if err != nil {
		return e, fmt.Errorf("%w: event %s: %w", ErrTampered, r.ID, err)
	}
	k, err := s.signerFor(ctx, e.Agent, id, nil)
	if err != nil {
		return e, fmt.Errorf("records: event %s: %w", r.ID, err)
	}
	if err := k.VerifyEvent(string(e.Agent), e.digest(), r.Signature); err != nil {
		return e, fmt.Errorf("%w: event %s of %s: %w", ErrTampered, r.ID, e.Agent, err)
	}
	return e, nil
}

// EventLog says what VerifyEvents found.
type EventLog struct {
	Agent  DID
	Events int // events in the agent's log, all verified
}

// VerifyEvents reads the whole event log of did and checks it: every event signed by the
// agent, numbered 0, 1, 2, ... without a gap, each carrying the digest of the one before, and
// no shorter than this client last saw. An edited, reordered, inserted or deleted event is
// an error matching ErrTampered (a shortened log: ErrRollback).
func (s *Store) VerifyEvents(ctx context.Context, did DID) (EventLog, error) {
	log := EventLog{Agent: did}
	if _, err := syntax.ParseDID(string(did)); err != nil {
		return log, &InputError{Field: "agent DID", Err: err}
	}
	if err := s.Init(ctx); err != nil {
		return log, err
	}
	mark := s.versions.mark()
	var prev [32]byte
	next := int64(0)
	for {
		rows, err := d1.QueryAll[eventRow](ctx, s.db, eventSelect(s.db)+" WHERE agent_did = ? AND (seq >= ? OR seq IS NULL) ORDER BY seq IS NULL, seq LIMIT ?", string(did), next, maxPageLimit)
		if err != nil {
			return log, fmt.Errorf("records: verify events of %s: %w", did, err)
		}
		for i := range rows {
			e, err := s.verifyEvent(ctx, &rows[i])
			if err != nil {
				return log, err
			}
			switch {
			case e.Seq != next:
				return log, fmt.Errorf("%w: events of %s: event %d missing (deleted), next is %d", ErrTampered, did, next, e.Seq)
			case e.prev != prev:
				return log, fmt.Errorf("%w: events of %s: event %d does not follow event %d (edited or reordered)", ErrTampered, did, e.Seq, e.Seq-1)
			}
			prev, next = e.digest(), next+1
		}
		if len(rows) < maxPageLimit {
			break
		}
	}
	log.Events = int(next)
	if err := s.versions.check(eventsStateID(did), uint64(next), mark); err != nil {
		return log, fmt.Errorf("%w: events of %s: %d events, fewer than this client saw", ErrRollback, did, next)
	}
	s.see(eventsStateID(did), uint64(next))
	return log, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullJSON(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// EventQuery selects events. Empty fields do not filter.
type EventQuery struct {
	Agent   DID
	Type    string
	Session string
	Since   time.Time // inclusive
	Until   time.Time // exclusive
	Limit   int       // page size; default 50, at most 1,000
	Cursor  string    // from a previous page's Cursor
}

// Page is one page of a listing. Cursor is empty on the last page.
type Page[T any] struct {
	Items   []T
	Cursor  string
	HasMore bool
}

// Events returns one page of events matching q, oldest first.
func (s *Store) Events(ctx context.Context, q EventQuery) (Page[Event], error) {
	if err := s.Init(ctx); err != nil {
		return Page[Event]{}, err
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return Page[Event]{}, err
	}
	var where []string
	var args []any
	if q.Agent != "" {
		where, args = append(where, "agent_did = ?"), append(args, string(q.Agent))
	}
	if q.Type != "" {
		where, args = append(where, "event_type = ?"), append(args, q.Type)
	}
	if q.Session != "" {
		where, args = append(where, "session_id = ?"), append(args, q.Session)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "timestamp >= ?"), append(args, formatTime(q.Since))
	}
	if !q.Until.IsZero() {
		where, args = append(where, "timestamp < ?"), append(args, formatTime(q.Until))
	}
	if q.Cursor != "" {
		after, err := decodeCursor(q.Cursor, "e")
		if err != nil {
			return Page[Event]{}, err
		}
		where, args = append(where, "id > ?"), append(args, after)
	}
	sql := eventSelect(s.db)
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY id LIMIT ?"
	args = append(args, limit+1)
	rows, err := d1.QueryAll[eventRow](ctx, s.db, sql, args...)
	if err != nil {
		return Page[Event]{}, fmt.Errorf("records: events: %w", err)
	}
	page := Page[Event]{HasMore: len(rows) > limit}
	rows = rows[:min(len(rows), limit)]
	last := map[DID]Event{}
	for i := range rows {
		e, err := s.verifyEvent(ctx, &rows[i])
		if err != nil {
			return Page[Event]{}, err
		}
		// Within a page, an agent's consecutive events must link.
		if p, ok := last[e.Agent]; ok && e.Seq == p.Seq+1 && e.prev != p.digest() {
			return Page[Event]{}, fmt.Errorf("%w: events of %s: event %d does not follow event %d (edited or reordered)", ErrTampered, e.Agent, e.Seq, p.Seq)
		}
		last[e.Agent] = e
		page.Items = append(page.Items, e)
	}
	if page.HasMore {
		page.Cursor = encodeCursor("e", string(page.Items[len(page.Items)-1].ID))
	}
	return page, nil
}

// AllEvents walks every page of events matching q.
func (s *Store) AllEvents(ctx context.Context, q EventQuery) iter.Seq2[Event, error] {
	return walk(ctx, q.Cursor, func(cursor string) (Page[Event], error) {
		q.Cursor = cursor
		return s.Events(ctx, q)
	})
}

func eventSelect(db *d1.Client) string {
	bl := blobsOf(db)
	return "SELECT id, agent_did, event_type, outcome, timestamp, duration_ms, session_id, trace_id, span_id, context, reasoning, error, created_at, seq, " +
		bl.out("prev_hash") + " AS prev_hash, " + bl.out("signature") + " AS signature FROM events"
}

type eventRow struct {
	ID         string
	AgentDID   string
	EventType  string
	Outcome    string
	Timestamp  string
	DurationMS *int64
	SessionID  *string
	TraceID    *string
	SpanID     *string
	Context    *string
	Reasoning  *string
	Error      *string
	CreatedAt  *string
	Seq        *int64
	PrevHash   d1.Hex
	Signature  d1.Hex
}

func (r *eventRow) event() (Event, error) {
	e := Event{ID: EventID(r.ID), Agent: DID(r.AgentDID), Type: r.EventType, Outcome: r.Outcome}
	var err error
	if e.Timestamp, err = time.Parse(time.RFC3339Nano, r.Timestamp); err != nil {
		return e, fmt.Errorf("records: event %s: bad timestamp: %w", r.ID, err)
	}
	if r.DurationMS != nil {
		e.Duration = time.Duration(*r.DurationMS) * time.Millisecond
	}
	e.SessionID, e.TraceID, e.SpanID = deref(r.SessionID), deref(r.TraceID), deref(r.SpanID)
	e.Context, e.Reasoning, e.Error = rawJSON(r.Context), rawJSON(r.Reasoning), rawJSON(r.Error)
	if r.CreatedAt != nil {
		e.CreatedAt, _ = time.Parse("2006-01-02 15:04:05", *r.CreatedAt)
	}
	return e, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func rawJSON(p *string) json.RawMessage {
	if p == nil {
		return nil
	}
	return json.RawMessage(*p)
}

const defaultPageLimit, maxPageLimit = 50, 1000

func pageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return defaultPageLimit, nil
	case n < 0 || n > maxPageLimit:
		return 0, &InputError{Field: "limit", Reason: fmt.Sprintf("must be between 1 and %d", maxPageLimit)}
	}
	return n, nil
}

// Cursors are opaque to callers: a kind letter and the last key, base64url-encoded.
func encodeCursor(kind, last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + last))
}

func decodeCursor(c, kind string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), kind+":") {
		return "", &InputError{Field: "cursor", Reason: "not a cursor from this listing"}
	}
	return string(b[len(kind)+1:]), nil
}

// walk turns a page function into an iterator over every item of every page.
func walk[T any](ctx context.Context, cursor string, page func(cursor string) (Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			p, err := page(cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if !p.HasMore {
				return
			}
			if err := ctx.Err(); err != nil {
				var zero T
				yield(zero, err)
				return
			}
			cursor = p.Cursor
		}
	}
}

// InputError is bad input to a records call, reported before anything is sent.
type InputError struct {
	Field  string
	Reason string
	Err    error
}

func (e *InputError) Error() string {
	msg := "records: invalid " + e.Field
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *InputError) Unwrap() error { return e.Err }

// Is makes every InputError match ErrInvalid.
func (e *InputError) Is(target error) bool { return target == ErrInvalid }

// ErrInvalid is matched by every *InputError.
var ErrInvalid = errors.New("records: invalid input")
