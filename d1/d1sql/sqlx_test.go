package d1sql_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d1seal/d1seal/d1/d1sql"
)

type note struct {
	ID        int64          `db:"id"`
	Body      string         `db:"body"`
	Tag       sql.NullString `db:"tag"`
	Blob      []byte         `db:"blob"`
	CreatedAt time.Time      `db:"created_at"`
}

// TestSQLX scans with sqlx (Get, Select, named queries, In, transactions) against the local
// D1 through the driver.
func TestSQLX(t *testing.T) {
	ctx := context.Background()
	raw, _ := open(t, d1sql.Options{ParseTime: true})
	sqlx.BindDriver(d1sql.DriverName, sqlx.QUESTION)
	db := sqlx.NewDb(raw, d1sql.DriverName)

	db.MustExecContext(ctx, `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, tag TEXT, blob BLOB,
		created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`)
	_, err := db.NamedExecContext(ctx, "INSERT INTO notes (body, tag, blob) VALUES (:body, :tag, :blob)", []note{
		{Body: "one", Tag: sql.NullString{String: "a", Valid: true}, Blob: []byte{1}},
		{Body: "two"},
		{Body: "three", Tag: sql.NullString{String: "a", Valid: true}},
	})
	require.NoError(t, err)

	var got []note
	require.NoError(t, db.SelectContext(ctx, &got, "SELECT * FROM notes WHERE tag = ? ORDER BY id", "a"))
	require.Len(t, got, 2)
	assert.Equal(t, "one", got[0].Body)
	assert.Equal(t, []byte{1}, got[0].Blob)
	assert.Nil(t, got[1].Blob)
	assert.WithinDuration(t, time.Now(), got[0].CreatedAt, time.Minute)

	var one note
	require.NoError(t, db.GetContext(ctx, &one, "SELECT * FROM notes WHERE body = ?", "two"))
	assert.False(t, one.Tag.Valid)
	assert.ErrorIs(t, db.GetContext(ctx, &one, "SELECT * FROM notes WHERE body = ?", "none"), sql.ErrNoRows)

	query, args, err := sqlx.In("SELECT body FROM notes WHERE id IN (?) ORDER BY id", []int64{1, 3})
	require.NoError(t, err)
	var bodies []string
	require.NoError(t, db.SelectContext(ctx, &bodies, db.Rebind(query), args...))
	assert.Equal(t, []string{"one", "three"}, bodies)

	tx := db.MustBeginTx(ctx, nil)
	tx.MustExecContext(ctx, "DELETE FROM notes WHERE tag IS NULL")
	tx.MustExecContext(ctx, "UPDATE notes SET body = upper(body)")
	require.NoError(t, tx.Commit())
	require.NoError(t, db.SelectContext(ctx, &bodies, "SELECT body FROM notes ORDER BY id"))
	assert.Equal(t, []string{"ONE", "THREE"}, bodies)
}
