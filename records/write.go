package records

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/d1seal/d1seal/d1"
)

// newWriteID returns a fresh token for one logical write. It is stored in the row (and sealed
// in its payload) so that after a lost response the write can be recognised as ours.
func newWriteID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// write sends stmts as one atomic request, exactly once in effect (see d1.Client.SendOnce).
func (s *Store) write(ctx context.Context, stmts []d1.Statement, committed func(context.Context) (bool, error)) ([]*d1.Result, error) {
	p, err := s.db.Prepare(stmts...)
	if err != nil {
		return nil, err
	}
	return s.db.SendOnce(ctx, p, committed)
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
