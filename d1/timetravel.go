package d1

import (
	"context"
	"time"

	cfd1 "github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/d1seal/d1seal/internal/wire"
)

// Bookmark returns the Time Travel bookmark of the database as it was at t; the zero t means
// now. Bookmarks are strings that sort in time order.
func (c *Client) Bookmark(ctx context.Context, t time.Time) (string, error) {
	w, err := admin[wire.Bookmark](ctx, c, "bookmark", true, func(ctx context.Context, opts ...option.RequestOption) error {
		var p cfd1.DatabaseTimeTravelGetBookmarkParams
		setField(&p.AccountID.Value, &p.AccountID.Present, c.accountID)
		if !t.IsZero() {
			setField(&p.Timestamp.Value, &p.Timestamp.Present, t.UTC())
		}
		_, err := c.svc.TimeTravel.GetBookmark(ctx, c.databaseID, p, opts...)
		return err
	})
	return w.Bookmark, err
}

// Restored is the outcome of a Time Travel restore.
type Restored struct {
	Bookmark string // a new bookmark for the database as it is after the restore
	// Undo is the bookmark of the database just before the restore: restore to it to undo.
	Undo    string
	Message string
}

// Restore rewinds the database, in place, to bookmark. It is not retried once it may have
// reached D1 (a second restore would move the undo point).
func (c *Client) Restore(ctx context.Context, bookmark string) (Restored, error) {
	if bookmark == "" {
		return Restored{}, &ArgError{Statement: -1, Index: -1, Type: "bookmark", Reason: "restore: empty bookmark"}
	}
	return c.restore(ctx, bookmark, time.Time{})
}

// RestoreAt rewinds the database, in place, to its state at time t.
func (c *Client) RestoreAt(ctx context.Context, t time.Time) (Restored, error) {
	if t.IsZero() {
		return Restored{}, &ArgError{Statement: -1, Index: -1, Type: "time", Reason: "restore: zero time"}
	}
	return c.restore(ctx, "", t)
}

func (c *Client) restore(ctx context.Context, bookmark string, t time.Time) (Restored, error) {
	w, err := admin[wire.RestoreResponse](ctx, c, "restore", false, func(ctx context.Context, opts ...option.RequestOption) error {
		var p cfd1.DatabaseTimeTravelRestoreParams
		setField(&p.AccountID.Value, &p.AccountID.Present, c.accountID)
		if bookmark != "" {
			setField(&p.Bookmark.Value, &p.Bookmark.Present, bookmark)
		} else {
			setField(&p.Timestamp.Value, &p.Timestamp.Present, t.UTC())
		}
		_, err := c.svc.TimeTravel.Restore(ctx, c.databaseID, p, opts...)
		return err
	})
	return Restored{Bookmark: w.Bookmark, Undo: w.PreviousBookmark, Message: w.Message}, err
}
