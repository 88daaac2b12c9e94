package records

import (
	"context"
	"encoding/json"
	"time"
)

// emit records one event for a repository operation when the store's EmitEvents is set. It
// never fails the operation: an event that cannot be written is dropped.
func (c *Collection[T]) emit(ctx context.Context, op string, rkey RecordKey, start time.Time, err error) {
	if !c.s.opts.EmitEvents || ctx.Err() != nil {
		return
	}
	outcome := "ok"
	var errJSON json.RawMessage
	if err != nil {
		outcome = "error"
		errJSON, _ = json.Marshal(map[string]string{"message": err.Error()})
	}
	fields := map[string]string{"collection": string(c.nsid)}
	if rkey != "" {
		fields["rkey"] = string(rkey)
	}
	ctxJSON, _ := json.Marshal(fields)
	_, _ = c.s.RecordEvent(ctx, c.agent, Event{
		Agent: c.did, Type: "records." + op, Outcome: outcome, Timestamp: start,
		Duration: max(time.Since(start), time.Millisecond), Context: ctxJSON, Error: errJSON,
	})
}
