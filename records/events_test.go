package records_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

func TestEventsRecordAndQuery(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	bob := e.agent(t, "did:plc:bob")
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var evs []records.Event
	for i := range 12 {
		agent := records.DID("did:plc:alice")
		if i%3 == 2 {
			agent = "did:plc:bob"
		}
		typ := "tool.call"
		if i%2 == 1 {
			typ = "llm.reply"
		}
		evs = append(evs, records.Event{
			Agent: agent, Type: typ, Outcome: "ok", Timestamp: t0.Add(time.Duration(i) * time.Minute),
			Duration: 1500 * time.Millisecond, SessionID: fmt.Sprint("s", i%2), TraceID: "trace-1", SpanID: fmt.Sprint("span-", i),
			Context: json.RawMessage(`{"tool":"search"}`), Reasoning: json.RawMessage(`{"why":"needed facts"}`),
		})
	}
	// Each agent signs its own events; the slices share evs's elements, so ids land there.
	var aliceEvs, bobEvs []int
	for i := range evs {
		if evs[i].Agent == "did:plc:bob" {
			bobEvs = append(bobEvs, i)
		} else {
			aliceEvs = append(aliceEvs, i)
		}
	}
	record := func(a *crypto.Agent, idx []int) {
		batch := make([]records.Event, len(idx))
		for j, i := range idx {
			batch[j] = evs[i]
		}
		require.NoError(t, e.store.RecordEvents(ctx, a, batch...))
		for j, i := range idx {
			evs[i] = batch[j]
		}
	}
	record(alice, aliceEvs)
	record(bob, bobEvs)
	for _, ev := range evs {
		assert.NotEmpty(t, ev.ID, "ids are assigned in place")
	}
	// Writing the same events again (as after a lost response) adds nothing.
	record(alice, aliceEvs)
	record(bob, bobEvs)
	n, err := d1.QueryOne[int](ctx, e.db, "SELECT count(*) FROM events")
	require.NoError(t, err)
	assert.Equal(t, len(evs), n)
	// Another agent's event cannot be signed by alice.
	_, err = e.store.RecordEvent(ctx, alice, records.Event{Agent: "did:plc:bob", Type: "t", Outcome: "ok"})
	assert.ErrorIs(t, err, records.ErrInvalid)

	page, err := e.store.Events(ctx, records.EventQuery{Agent: "did:plc:alice", Type: "tool.call"})
	require.NoError(t, err)
	for _, ev := range page.Items {
		assert.Equal(t, records.DID("did:plc:alice"), ev.Agent)
		assert.Equal(t, "tool.call", ev.Type)
	}
	assert.Len(t, page.Items, 4)
	got := page.Items[0]
	assert.Equal(t, evs[0].ID, got.ID)
	assert.Equal(t, 1500*time.Millisecond, got.Duration)
	assert.Equal(t, t0, got.Timestamp)
	assert.JSONEq(t, `{"why":"needed facts"}`, string(got.Reasoning))
	assert.Equal(t, "span-0", got.SpanID)
	assert.False(t, got.CreatedAt.IsZero())

	// Time range and session, across pages.
	var ids []records.EventID
	for ev, err := range e.store.AllEvents(ctx, records.EventQuery{Session: "s1", Since: t0.Add(2 * time.Minute), Until: t0.Add(10 * time.Minute), Limit: 2}) {
		require.NoError(t, err)
		ids = append(ids, ev.ID)
	}
	want := []records.EventID{evs[3].ID, evs[5].ID, evs[7].ID, evs[9].ID}
	slices.Sort(want) // listed in id order; bob's events got their ids after alice's
	assert.Equal(t, want, ids)

	// Bad input is refused before anything is sent.
	before := e.srv.Requests()
	for _, bad := range []records.Event{
		{Agent: "nope", Type: "t", Outcome: "ok"},
		{Agent: "did:plc:alice", Outcome: "ok"},
		{Agent: "did:plc:alice", Type: "t"},
		{Agent: "did:plc:alice", Type: "t", Outcome: "ok", Context: json.RawMessage(`{broken`)},
		{Agent: "did:plc:alice", Type: "t", Outcome: "ok", ID: "not-a-ulid"},
	} {
		_, err := e.store.RecordEvent(ctx, alice, bad)
		assert.ErrorIs(t, err, records.ErrInvalid)
	}
	assert.Equal(t, before, e.srv.Requests())
	// An unregistered agent's events are refused.
	nobody, err := crypto.GenerateAgent("did:plc:nobody", crypto.GenerateOptions{})
	require.NoError(t, err)
	_, err = e.store.RecordEvent(ctx, nobody, records.Event{Type: "t", Outcome: "ok"})
	assert.ErrorIs(t, err, records.ErrUnknownAgent)
}

func TestStoreEmitsEvents(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	e.store = records.NewStore(e.db, records.StoreOptions{EmitEvents: true})
	c := notes(t, e, e.agent(t, "did:plc:alice"))
	r, err := c.Create(ctx, note{Title: "x"})
	require.NoError(t, err)
	_, err = c.Get(ctx, r.Ref.RKey)
	require.NoError(t, err)
	_, err = c.Get(ctx, "3jzfcijpj2z2a")
	require.Error(t, err)
	page, err := e.store.Events(ctx, records.EventQuery{Agent: "did:plc:alice"})
	require.NoError(t, err)
	var got []string
	for _, ev := range page.Items {
		got = append(got, ev.Type+"/"+ev.Outcome)
	}
	assert.Equal(t, []string{"records.create/ok", "records.get/ok", "records.get/error"}, got)
	assert.JSONEq(t, `{"collection":"agent.memory.note","rkey":"`+string(r.Ref.RKey)+`"}`, string(page.Items[0].Context))
}

// TestEventTimeRangeWithFractions checks that time ranges compare times, not text: an event
// at 10:00:00.5 is after 10:00:00 and before 10:00:01.
func TestEventTimeRangeWithFractions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, d1local.Options{})
	alice := e.agent(t, "did:plc:alice")
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, at := range []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond} {
		_, err := e.store.RecordEvent(ctx, alice, records.Event{Agent: "did:plc:alice", Type: "t", Outcome: "ok", Timestamp: t0.Add(at)})
		require.NoError(t, err)
	}
	page, err := e.store.Events(ctx, records.EventQuery{Since: t0, Until: t0.Add(time.Second)})
	require.NoError(t, err)
	var got []time.Duration
	for _, ev := range page.Items {
		got = append(got, ev.Timestamp.Sub(t0))
	}
	assert.Equal(t, []time.Duration{0, 500 * time.Millisecond}, got)
}
