package d1sql

import (
	"context"
	"errors"

	"github.com/d1seal/d1seal/d1"
)

// tx buffers a transaction's writes until Commit sends them as one batch.
//
// It keeps the context given to BeginTx, as database/sql's contract asks (a transaction ends
// with its context), to send the batch at Commit, which takes no context of its own.
type tx struct {
	c        *conn
	ctx      context.Context
	readOnly bool
	stmts    []d1.Statement
	results  []*txResult
}

// txResult is the Result of a buffered write: ErrNotCommitted until Commit fills it.
type txResult struct {
	done bool
	result
}

func (r *txResult) LastInsertId() (int64, error) {
	if !r.done {
		return 0, ErrNotCommitted
	}
	return r.lastID, nil
}

func (r *txResult) RowsAffected() (int64, error) {
	if !r.done {
		return 0, ErrNotCommitted
	}
	return r.changes, nil
}

func (t *tx) buffer(query string, args []any) (*txResult, error) {
	if t.readOnly && !readOnly(query) {
		return nil, errors.New("d1sql: a write in a read-only transaction")
	}
	if readOnly(query) {
		// A read sent through Exec: nothing to buffer, and nothing it returns is kept.
		return &txResult{done: true}, nil
	}
	t.stmts = append(t.stmts, d1.Statement{SQL: query, Args: args})
	r := &txResult{}
	t.results = append(t.results, r)
	return r, nil
}

func (t *tx) checkRead(query string) error {
	if !readOnly(query) || len(t.stmts) > 0 {
		return ErrReadAfterWrite
	}
	return nil
}

// Commit sends every buffered write in one request, which D1 runs as one transaction.
func (t *tx) Commit() error {
	t.c.tx = nil
	if len(t.stmts) == 0 {
		return nil
	}
	rs, err := t.c.client.Batch(t.ctx, t.stmts...)
	if err != nil {
		return err
	}
	for i, r := range rs {
		t.results[i].changes, t.results[i].lastID, t.results[i].done = r.Meta.Changes, r.Meta.LastRowID, true
	}
	return nil
}

// Rollback discards the buffered writes; nothing was sent.
func (t *tx) Rollback() error {
	t.c.tx = nil
	return nil
}
