package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/d1seal/d1seal/records"
)

func cmdRecords(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"give list, get, put, delete, share, unshare or shared"}
	}
	sub, args := args[0], args[1:]
	fs := flags("records "+sub, e)
	key := fs.String("key", "", "the acting agent's key file")
	passFile := fs.String("passphrase-file", "", "file holding the passphrase (default: $"+EnvPassphrase+")")
	coll := fs.String("collection", "agent.memory.note", "the collection (NSID)")
	limit := fs.Int("limit", 50, "records per page (list, shared)")
	cursor := fs.String("cursor", "", "page cursor from a previous list")
	if err := parse(fs, args); err != nil {
		return err
	}
	nsid, err := records.ParseNSID(*coll)
	if err != nil {
		return err
	}
	agent, err := loadAgent(e, *key, *passFile)
	if err != nil {
		return err
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	store := records.NewStore(db.Client, records.StoreOptions{})
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
		for _, r := range page.Items {
			printRecord(e, r)
		}
		if page.HasMore {
			fmt.Fprintf(e.stderr, "more: -cursor %s\n", page.Cursor)
		}
		return nil
	case "get":
		ref, err := arg(0, "record key or at:// URI")
		if err != nil {
			return err
		}
		var r *records.Record[json.RawMessage]
		if u, perr := records.ParseURI(ref); perr == nil {
			r, err = c.Open(ctx, u)
		} else {
			r, err = c.Get(ctx, records.RecordKey(ref))
		}
		if err != nil {
			return err
		}
		printRecord(e, r)
		return nil
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
		fmt.Fprintf(e.stdout, "stored %s (version %d)\n", r.Ref.URI(), r.Version)
		return nil
	case "delete":
		rkey, err := arg(0, "record key")
		if err != nil {
			return err
		}
		if err := c.Delete(ctx, records.RecordKey(rkey)); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "deleted", rkey)
		return nil
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
		fmt.Fprintf(e.stdout, "%sd %s with %s\n", sub, rkey, with)
		return nil
	}
	return usageError{"unknown records subcommand " + sub}
}

func printRecord(e *env, r *records.Record[json.RawMessage]) {
	fmt.Fprintf(e.stdout, "%s  v%d  %s  %s\n", r.Ref.URI(), r.Version, r.CreatedAt.Format(time.RFC3339), r.Value)
}
