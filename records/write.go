package records

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/d1seal/d1seal/d1"
)

// newWriteID returns a fresh token for one logical write. It is stored in the row (and sealed
// in its payload) so that after a lost response the write can be recognised as ours.
func newWriteID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// write sends stmts as one atomic request, exactly once in effect (see writePrepared).
func (s *Store) write(ctx context.Context, stmts []d1.Statement, committed func(context.Context) (bool, error)) ([]*d1.Result, error) {
	p, err := s.db.Prepare(stmts...)
	if err != nil {
		return nil, err
	}
	return s.writePrepared(ctx, p, committed)
}

// writePrepared sends a prepared request, exactly once in effect. Its statements are not
// idempotent, so the client never replays them itself; when a request fails in a way that
// may have committed (the response was lost), committed asks the database whether it did,
// and the same request is sent again only if it did not. It returns the results, or nil
// results and a nil error when the write was found committed after a lost response.
func (s *Store) writePrepared(ctx context.Context, p *d1.Prepared, committed func(context.Context) (bool, error)) ([]*d1.Result, error) {
	writeAttempts := s.attempts()
	for attempt := 1; ; attempt++ {
		rs, err := s.db.Send(ctx, p)
		if err == nil {
			return rs, nil
		}
		var de *d1.Error
		if !errors.As(err, &de) || !d1.IsRetryable(err) || attempt >= writeAttempts || ctx.Err() != nil {
			return nil, err
		}
		if !de.Sent {
			continue // the client already retried what never reached D1; try again
		}
		ok, verr := committed(ctx)
		if verr != nil {
			return nil, fmt.Errorf("%w (and checking whether it committed failed: %v)", err, verr)
		}
		if ok {
			return nil, nil
		}
	}
}

// sendChunked sends idempotent statements in as few requests as the client's limits allow.
func (s *Store) sendChunked(ctx context.Context, stmts []d1.Statement) error {
	chunks, err := s.db.PrepareChunks(stmts)
	if err != nil {
		return err
	}
	for _, p := range chunks {
		if _, err := s.db.Send(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// attempts is how many times a write is tried: the client's retry policy.
func (s *Store) attempts() int { return s.db.Retry().MaxAttempts }
