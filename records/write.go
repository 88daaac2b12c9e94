package records

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

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
//
// A request that may have reached D1 can land late, after the check said it had not
// committed: the resend then meets the row it wrote (a unique violation) or the version it
// moved on. So once any round may have reached D1, every failure is checked against the
// write log again before it is reported, and a write is never reported as conflicting with
// itself. The error returned then says Sent (see d1.Error): the write may yet land.
//
// It sends at most the client's Retry.MaxAttempts rounds, each retried by the client as its
// policy allows, with the policy's backoff between rounds.
func (s *Store) writePrepared(ctx context.Context, p *d1.Prepared, committed func(context.Context) (bool, error)) ([]*d1.Result, error) {
	policy := s.db.Retry()
	sent := false // whether an earlier round may have reached D1
	for round := 1; ; round++ {
		rs, err := s.db.Send(ctx, p)
		if err == nil {
			return rs, nil
		}
		var de *d1.Error
		isD1 := errors.As(err, &de)
		retryable := isD1 && d1.IsRetryable(err)
		// Ask the write log when this round may have committed with its answer lost, or when
		// an earlier round may have landed since (this round's failure may be meeting it).
		if sent || retryable && de.Sent || isD1 && de.Sent && de.Attempts > 1 {
			ok, verr := committed(ctx)
			if verr != nil {
				return nil, fmt.Errorf("%w (and checking whether it committed failed: %v)", mayHaveLanded(err, sent), verr)
			}
			if ok {
				return nil, nil
			}
		}
		sent = sent || isD1 && de.Sent
		if !retryable || round >= policy.MaxAttempts || ctx.Err() != nil {
			return nil, mayHaveLanded(err, sent)
		}
		t := time.NewTimer(policy.Backoff(round))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, mayHaveLanded(err, sent)
		}
	}
}

// mayHaveLanded marks err, the last round's failure, as sent when an earlier round may have
// reached D1: the write it carried may still commit, so the caller must not read the failure
// as "did not happen".
func mayHaveLanded(err error, sent bool) error {
	var de *d1.Error
	if sent && errors.As(err, &de) {
		de.Sent = true
	}
	return err
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
