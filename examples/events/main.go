// Command events records an agent session's observability events (the events table)
// and queries them by agent, type, session and time range, page by page.
//
// Events are metadata, stored in clear so that they can be queried: keep record content out
// of their Context, Reasoning and Error.
//
//	go run ./examples/events
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/records"
	"github.com/d1seal/d1seal/tid"
)

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, ".d1seal"); err != nil {
		log.Fatal("events: ", err)
	}
}

func run(ctx context.Context, w io.Writer, dir string) error {
	db, err := d1seal.Open(ctx, d1seal.Options{LocalDir: dir})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(w, "database:", db.Where)
	// EmitEvents: every repository operation also records an event of its own.
	store, err := records.OpenStore(db.Client, dir, records.StoreOptions{EmitEvents: true}) // the keys it believes, the versions it has seen, kept in dir
	if err != nil {
		return err
	}

	stamp := tid.NewClock().Next().String()
	planner, err := register(ctx, store, "did:example:planner-"+stamp)
	if err != nil {
		return err
	}
	researcher, err := register(ctx, store, "did:example:researcher-"+stamp)
	if err != nil {
		return err
	}
	p, r := records.DID(planner.DID()), records.DID(researcher.DID())
	name := map[records.DID]string{p: "planner", r: "researcher"}

	// 1. A session of two agents, written in one request. Timestamps are the agents' own.
	t0 := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Minute)
	s1, s2 := "session-"+stamp+"-1", "session-"+stamp+"-2"
	at := func(min, sec int) time.Time {
		return t0.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
	}
	ctxJSON := func(s string) json.RawMessage { return json.RawMessage(s) }
	events := []records.Event{
		{Agent: p, Type: "task.start", Outcome: "ok", Timestamp: at(0, 0), SessionID: s1, TraceID: "trace-a"},
		{Agent: p, Type: "llm.call", Outcome: "ok", Timestamp: at(0, 5), Duration: 2300 * time.Millisecond, SessionID: s1, TraceID: "trace-a", SpanID: "plan"},
		{Agent: p, Type: "decision", Outcome: "ok", Timestamp: at(0, 9), SessionID: s1, TraceID: "trace-a",
			Reasoning: ctxJSON(`{"chose":"delegate","why":"needs a web search","alternatives":["answer directly"]}`)},
		{Agent: r, Type: "tool.call", Outcome: "ok", Timestamp: at(1, 0), Duration: 850 * time.Millisecond, SessionID: s1, TraceID: "trace-a", SpanID: "search-1",
			Context: ctxJSON(`{"tool":"web.search","results":8}`)},
		{Agent: r, Type: "tool.call", Outcome: "error", Timestamp: at(2, 30), Duration: 30 * time.Second, SessionID: s1, TraceID: "trace-a", SpanID: "fetch-1",
			Context: ctxJSON(`{"tool":"http.fetch"}`), Error: ctxJSON(`{"kind":"timeout","after_ms":30000}`)},
		{Agent: r, Type: "tool.call", Outcome: "ok", Timestamp: at(3, 10), Duration: 1200 * time.Millisecond, SessionID: s1, TraceID: "trace-a", SpanID: "fetch-2",
			Context: ctxJSON(`{"tool":"http.fetch","retry":true}`)},
		{Agent: r, Type: "llm.call", Outcome: "ok", Timestamp: at(4, 0), Duration: 4100 * time.Millisecond, SessionID: s1, TraceID: "trace-a", SpanID: "summarise"},
		{Agent: p, Type: "task.end", Outcome: "ok", Timestamp: at(5, 0), Duration: 5 * time.Minute, SessionID: s1, TraceID: "trace-a"},
		{Agent: p, Type: "task.start", Outcome: "ok", Timestamp: at(7, 0), SessionID: s2, TraceID: "trace-b"},
		{Agent: p, Type: "tool.call", Outcome: "denied", Timestamp: at(7, 20), SessionID: s2, TraceID: "trace-b",
			Context: ctxJSON(`{"tool":"shell.exec"}`), Error: ctxJSON(`{"kind":"policy","rule":"no shell"}`)},
		{Agent: p, Type: "task.end", Outcome: "error", Timestamp: at(8, 0), Duration: time.Minute, SessionID: s2, TraceID: "trace-b"},
	}
	// Each agent signs its own events, chained after its previous one: one request each.
	byAgent := map[records.DID][]records.Event{}
	for _, ev := range events {
		byAgent[ev.Agent] = append(byAgent[ev.Agent], ev)
	}
	for _, a := range []*crypto.Agent{planner, researcher} {
		if err := store.RecordEvents(ctx, a, byAgent[records.DID(a.DID())]...); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\n1. recorded %d events, each signed by its agent and chained to the one before; ids are ULIDs, e.g. %s\n", len(events), byAgent[p][0].ID)
	// Writing them again (as after a lost response) changes nothing: ids are the keys.
	for _, a := range []*crypto.Agent{planner, researcher} {
		if err := store.RecordEvents(ctx, a, byAgent[records.DID(a.DID())]...); err != nil {
			return err
		}
	}

	show := func(title string, q records.EventQuery) error {
		fmt.Fprintf(w, "\n%s\n", title)
		n := 0
		for ev, err := range store.AllEvents(ctx, q) {
			if err != nil {
				return err
			}
			n++
			line := fmt.Sprintf("   +%-6s %-10s %-10s %-6s", offset(ev.Timestamp.Sub(t0)), name[ev.Agent], ev.Type, ev.Outcome)
			if ev.Duration > 0 {
				line += fmt.Sprintf(" %8s", ev.Duration)
			}
			if ev.Reasoning != nil {
				line += " reasoning=" + string(ev.Reasoning)
			}
			if ev.Error != nil {
				line += " error=" + string(ev.Error)
			}
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
		fmt.Fprintf(w, "   (%d events)\n", n)
		return nil
	}
	if err := show("2. session 1, in order (query by session):", records.EventQuery{Session: s1}); err != nil {
		return err
	}
	if err := show("3. the researcher's tool calls (agent + type):", records.EventQuery{Agent: r, Type: "tool.call"}); err != nil {
		return err
	}
	if err := show("4. the researcher between +2:00 and +7:00 (time range: since inclusive, until exclusive):", records.EventQuery{Since: at(2, 0), Until: at(7, 0), Agent: r}); err != nil {
		return err
	}

	// 5. Pages: three events per page, with the cursor.
	fmt.Fprintln(w, "\n5. the planner's events, 3 per page:")
	q := records.EventQuery{Agent: p, Limit: 3, Since: t0}
	for page := 1; ; page++ {
		got, err := store.Events(ctx, q)
		if err != nil {
			return err
		}
		var types []string
		for _, ev := range got.Items {
			types = append(types, ev.Type)
		}
		fmt.Fprintf(w, "   page %d: %v\n", page, types)
		if !got.HasMore {
			break
		}
		q.Cursor = got.Cursor
	}

	// 6. A summary computed from a query: failure rate and time spent in tool calls.
	var calls, failed int
	var spent time.Duration
	for ev, err := range store.AllEvents(ctx, records.EventQuery{Type: "tool.call", Since: t0}) {
		if err != nil {
			return err
		}
		if ev.Agent != p && ev.Agent != r {
			continue
		}
		calls++
		spent += ev.Duration
		if ev.Outcome != "ok" {
			failed++
		}
	}
	fmt.Fprintf(w, "\n6. tool calls this run: %d, not ok: %d, time spent: %s\n", calls, failed, spent)

	// 7. Events the store emits itself (EmitEvents) for repository operations.
	notes, err := records.NewCollection[map[string]string](store, planner, "agent.memory.note", records.CollectionOptions[map[string]string]{})
	if err != nil {
		return err
	}
	if _, err := notes.Create(ctx, map[string]string{"text": "the researcher's fetch tool times out at 30 s"}); err != nil {
		return err
	}
	emitted, err := store.Events(ctx, records.EventQuery{Agent: p, Type: "records.create"})
	if err != nil {
		return err
	}
	for _, ev := range emitted.Items {
		fmt.Fprintf(w, "\n7. emitted by the store: %s %s context=%s\n", ev.Type, ev.Outcome, ev.Context)
	}
	return nil
}

func register(ctx context.Context, store *records.Store, did string) (*crypto.Agent, error) {
	a, err := crypto.GenerateAgent(did, crypto.GenerateOptions{})
	if err != nil {
		return nil, err
	}
	_, err = store.RegisterAgent(ctx, a, nil)
	return a, err
}

// offset prints a duration as m:ss.
func offset(d time.Duration) string {
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
