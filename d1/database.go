package d1

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	cfd1 "github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/d1seal/d1seal/internal/wire"
)

// Database describes a D1 database of the account.
type Database struct {
	ID        string
	Name      string
	CreatedAt time.Time
	Version   string
	NumTables int64
	FileSize  int64 // bytes
}

func databaseFromWire(w *wire.Database) Database {
	d := Database{ID: w.UUID, Name: w.Name, Version: w.Version, NumTables: w.NumTables, FileSize: w.FileSize}
	d.CreatedAt, _ = time.Parse(time.RFC3339Nano, w.CreatedAt)
	return d
}

// decodeEnvelope reads a JSON envelope into out, or returns the *Error it reports.
func decodeEnvelope[T any](op string, b []byte, out *T) error {
	var env wire.Envelope[T]
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	if !env.Success {
		e := &Error{Op: op, Statement: -1, StatusCode: 200, Sent: true}
		e.setMessages(env.Errors)
		if e.Message == "" {
			e.Message = "D1 answered success: false without an error message"
		}
		return e
	}
	*out = env.Result
	return nil
}

// admin runs one management call whose answer is an envelope around a T.
func admin[T any](ctx context.Context, c *Client, op string, safe bool, do func(context.Context, ...option.RequestOption) error) (T, error) {
	var out T
	cl := &call{op: op, safe: safe, do: do}
	cl.decode = func(b []byte) error { return decodeEnvelope(op, b, &out) }
	err := c.run(ctx, cl)
	return out, err
}

func checkID(op, id string) error {
	if id == "" || strings.ContainsAny(id, "/?#% ") {
		return &ArgError{Statement: -1, Index: -1, Type: "database id", Reason: op + ": invalid database id"}
	}
	return nil
}

// CreateDatabase creates a database named name in the client's account. It is not retried
// once the request may have reached Cloudflare.
func (c *Client) CreateDatabase(ctx context.Context, name string) (Database, error) {
	if name == "" {
		return Database{}, &ArgError{Statement: -1, Index: -1, Type: "name", Reason: "create database: empty name"}
	}
	w, err := admin[wire.Database](ctx, c, "create database", false, func(ctx context.Context, opts ...option.RequestOption) error {
		var p cfd1.DatabaseNewParams
		setField(&p.AccountID.Value, &p.AccountID.Present, c.accountID)
		setField(&p.Name.Value, &p.Name.Present, name)
		_, err := c.svc.New(ctx, p, opts...)
		return err
	})
	if err != nil {
		return Database{}, err
	}
	return databaseFromWire(&w), nil
}

// GetDatabase returns the database with the given id; "" means the client's own.
func (c *Client) GetDatabase(ctx context.Context, id string) (Database, error) {
	if id == "" {
		id = c.databaseID
	}
	if err := checkID("get database", id); err != nil {
		return Database{}, err
	}
	w, err := admin[wire.Database](ctx, c, "get database", true, func(ctx context.Context, opts ...option.RequestOption) error {
		var p cfd1.DatabaseGetParams
		setField(&p.AccountID.Value, &p.AccountID.Present, c.accountID)
		_, err := c.svc.Get(ctx, id, p, opts...)
		return err
	})
	if err != nil {
		return Database{}, err
	}
	return databaseFromWire(&w), nil
}

// ListDatabases returns the account's databases, every page of them; a non-empty name keeps
// only those whose name matches, as the API's ?name= filter does.
func (c *Client) ListDatabases(ctx context.Context, name string) ([]Database, error) {
	const perPage = 100
	var all []Database
	for page := 1; ; page++ {
		ws, err := admin[[]wire.Database](ctx, c, "list databases", true, func(ctx context.Context, opts ...option.RequestOption) error {
			var p cfd1.DatabaseListParams
			setField(&p.AccountID.Value, &p.AccountID.Present, c.accountID)
			if name != "" {
				setField(&p.Name.Value, &p.Name.Present, name)
			}
			setField(&p.Page.Value, &p.Page.Present, float64(page))
			setField(&p.PerPage.Value, &p.PerPage.Present, perPage)
			_, err := c.svc.List(ctx, p, opts...)
			return err
		})
		if err != nil {
			return nil, err
		}
		for i := range ws {
			all = append(all, databaseFromWire(&ws[i]))
		}
		if len(ws) < perPage {
			return all, nil
		}
	}
}

// DeleteDatabase deletes the database with the given id, which must be given explicitly
// (even for the client's own database).
func (c *Client) DeleteDatabase(ctx context.Context, id string) error {
	if err := checkID("delete database", id); err != nil {
		return err
	}
	_, err := admin[json.RawMessage](ctx, c, "delete database", false, func(ctx context.Context, opts ...option.RequestOption) error {
		var p cfd1.DatabaseDeleteParams
		setField(&p.AccountID.Value, &p.AccountID.Present, c.accountID)
		_, err := c.svc.Delete(ctx, id, p, opts...)
		return err
	})
	return err
}
