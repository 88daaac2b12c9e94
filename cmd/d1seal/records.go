package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/d1seal/d1seal/records"
	"github.com/d1seal/d1seal/syntax"
)

func cmdRecords(ctx context.Context, e *env, args []string) error {
	sub, args, err := e.subcommand("records", args, "list", "shared", "get", "put", "delete", "share", "unshare")
	if err != nil {
		return err
	}
	fs := flags("records "+sub, e)
	t := &trustFlags{}
	t.add(fs)
	key := fs.String("key", "", "the acting agent's key file")
	passFile := fs.String("passphrase-file", "", "file holding the passphrase (default: $"+EnvPassphrase+")")
	coll := fs.String("collection", "agent.memory.note", "the collection (NSID)")
	limit := fs.Int("limit", 50, "records per page (list, shared)")
	cursor := fs.String("cursor", "", "page cursor from a previous list")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	nsid, err := syntax.ParseNSID(*coll)
	if err != nil {
		return usageError{fmt.Sprintf("-collection %q is not an NSID such as agent.memory.note", *coll)}
	}
	agent, err := loadAgent(e, *key, *passFile)
	if err != nil {
		return err
	}
	store, err := t.open(ctx, e, *key)
	if err != nil {
		return err
	}
	c, err := records.NewCollection[json.RawMessage](store, agent, nsid, records.CollectionOptions[json.RawMessage]{})
	if err != nil {
		return err
	}
	arg := func(i int, what string) (string, error) {
		if fs.NArg() <= i {
			return "", usageError{"missing " + what}
		}
		return fs.Arg(i), nil
	}
	switch sub {
	case "list", "shared":
		var page records.Page[*records.Record[json.RawMessage]]
		if sub == "list" {
			page, err = c.List(ctx, records.ListOptions{Limit: *limit, Cursor: *cursor})
		} else {
			page, err = c.SharedWithMe(ctx, records.ListOptions{Limit: *limit, Cursor: *cursor})
		}
		if err != nil {
			return err
		}
		list := struct {
			Records []recordJSON `json:"records"`
			Cursor  string       `json:"cursor,omitempty"`
		}{Records: []recordJSON{}}
		for _, r := range page.Items {
			list.Records = append(list.Records, toJSON(r))
		}
		if page.HasMore {
			list.Cursor = page.Cursor
		}
		return e.print(list, func(w io.Writer) {
			for _, r := range page.Items {
				printRecord(w, r)
			}
			if page.HasMore {
				fmt.Fprintf(e.stderr, "more: -cursor %s\n", page.Cursor)
			}
		})
	case "get":
		ref, err := arg(0, "record key or at:// URI")
		if err != nil {
			return err
		}
		var r *records.Record[json.RawMessage]
		if u, perr := syntax.ParseURI(ref); perr == nil {
			r, err = c.Open(ctx, u)
		} else {
			r, err = c.Get(ctx, records.RecordKey(ref))
		}
		if err != nil {
			return err
		}
		return e.print(toJSON(r), func(w io.Writer) { printRecord(w, r) })
	case "put":
		rkey, err := arg(0, "record key (or - for a new TID)")
		if err != nil {
			return err
		}
		value, err := arg(1, "JSON value (or @file)")
		if err != nil {
			return err
		}
		if len(value) > 0 && value[0] == '@' {
			b, err := os.ReadFile(value[1:])
			if err != nil {
				return err
			}
			value = string(b)
		}
		if !json.Valid([]byte(value)) {
			return usageError{"the value is not valid JSON"}
		}
		var r *records.Record[json.RawMessage]
		if rkey == "-" {
			r, err = c.Create(ctx, json.RawMessage(value))
		} else {
			r, err = c.Put(ctx, records.RecordKey(rkey), json.RawMessage(value))
		}
		if err != nil {
			return err
		}
		return e.print(toJSON(r), func(w io.Writer) { fmt.Fprintf(w, "stored %s (version %d)\n", r.Ref.URI(), r.Version) })
	case "delete":
		rkey, err := arg(0, "record key")
		if err != nil {
			return err
		}
		if err := c.Delete(ctx, records.RecordKey(rkey)); err != nil {
			return err
		}
		return e.print(map[string]string{"deleted": rkey}, func(w io.Writer) { fmt.Fprintln(w, "deleted", rkey) })
	case "share", "unshare":
		rkey, err := arg(0, "record key")
		if err != nil {
			return err
		}
		with, err := arg(1, "recipient DID")
		if err != nil {
			return err
		}
		if sub == "share" {
			err = c.Share(ctx, records.RecordKey(rkey), records.DID(with))
		} else {
			err = c.Unshare(ctx, records.RecordKey(rkey), records.DID(with))
		}
		if err != nil {
			return err
		}
		return e.print(map[string]string{sub + "d": rkey, "with": with}, func(w io.Writer) { fmt.Fprintf(w, "%sd %s with %s\n", sub, rkey, with) })
	}
	return usageError{"unknown records subcommand " + sub}
}

// recordJSON is a record as records commands print it with -json.
type recordJSON struct {
	URI       string          `json:"uri"`
	Version   uint64          `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Value     json.RawMessage `json:"value"`
}

func toJSON(r *records.Record[json.RawMessage]) recordJSON {
	return recordJSON{URI: string(r.Ref.URI()), Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Value: r.Value}
}

func printRecord(w io.Writer, r *records.Record[json.RawMessage]) {
	fmt.Fprintf(w, "%s  v%d  %s  %s\n", r.Ref.URI(), r.Version, r.CreatedAt.Format(time.RFC3339), r.Value)
}
