package records

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/d1seal/d1seal/d1"
)

// Event is one observability event of an agent: the seed's events table. Events are
// metadata, stored in clear so that they can be queried: keep record content out of Context,
// Reasoning and Error.
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
}

const maxEventField = 256 // bytes of Type, Outcome and the ids

func (e *Event) check() error {
	if _, err := ParseDID(string(e.Agent)); err != nil {
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

// RecordEvents stores events in as few requests as D1's limits allow, each request atomic; ids
// are assigned to events that have none (in the slice given). Writing an event twice with the
// same id is harmless, so lost responses are retried safely.
func (s *Store) RecordEvents(ctx context.Context, events ...Event) error {
	if err := s.Init(ctx); err != nil {
		return err
	}
	for i := range events {
		if err := events[i].check(); err != nil {
			return fmt.Errorf("records: event %d: %w", i, err)
		}
		if events[i].ID == "" {
			events[i].ID = s.events.Next()
		}
		if events[i].Timestamp.IsZero() {
			events[i].Timestamp = s.now()
		}
	}
	stmts := make([]d1.Statement, len(events))
	for i := range events {
		e := &events[i]
		var dur any
		if e.Duration > 0 {
			dur = e.Duration.Milliseconds()
		}
		stmts[i] = d1.Statement{
			SQL: `INSERT INTO events (id, agent_did, event_type, outcome, timestamp, duration_ms, session_id, trace_id, span_id, context, reasoning, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			Args:       []any{string(e.ID), string(e.Agent), e.Type, e.Outcome, formatTime(e.Timestamp), dur, nullString(e.SessionID), nullString(e.TraceID), nullString(e.SpanID), nullJSON(e.Context), nullJSON(e.Reasoning), nullJSON(e.Error)},
			Idempotent: true,
		}
	}
	return s.sendChunked(ctx, stmts)
}

// RecordEvent stores one event and returns its id.
func (s *Store) RecordEvent(ctx context.Context, e Event) (EventID, error) {
	evs := []Event{e}
	if err := s.RecordEvents(ctx, evs...); err != nil {
		return "", err
	}
	return evs[0].ID, nil
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
	sql := "SELECT id, agent_did, event_type, outcome, timestamp, duration_ms, session_id, trace_id, span_id, context, reasoning, error, created_at FROM events"
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
	for _, r := range rows {
		e, err := r.event()
		if err != nil {
			return Page[Event]{}, err
		}
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
