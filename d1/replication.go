package d1

import (
	"context"
	"fmt"

	cfd1 "github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/d1seal/d1seal/internal/wire"
)

// Read replication modes (Database.ReadReplication).
const (
	ReplicationAuto     = "auto"     // D1 serves reads from replicas near the reader (through the Sessions API)
	ReplicationDisabled = "disabled" // every query goes to the primary
)

// SetReadReplication sets the read replication mode of the database with the given id:
// ReplicationAuto or ReplicationDisabled. It returns the database as D1
// describes it afterwards. Replicas serve reads only to Sessions API callers (a Worker binding,
// such as the bridge); REST queries always reach the primary.
func (a *Account) SetReadReplication(ctx context.Context, id, mode string) (Database, error) {
	const op = "set read replication"
	if err := checkID(op, id); err != nil {
		return Database{}, err
	}
	if mode != ReplicationAuto && mode != ReplicationDisabled {
		return Database{}, &ArgError{Statement: -1, Index: -1, Type: "mode", Reason: fmt.Sprintf("%q: the read replication mode is %q or %q", mode, ReplicationAuto, ReplicationDisabled)}
	}
	w, err := admin[wire.Database](ctx, a, op, true, func(ctx context.Context, opts ...option.RequestOption) error {
		var p cfd1.DatabaseEditParams
		setField(&p.AccountID.Value, &p.AccountID.Present, a.accountID)
		opts = append([]option.RequestOption{option.WithJSONSet("read_replication", map[string]string{"mode": mode})}, opts...)
		_, err := a.svc.Edit(ctx, id, p, opts...)
		return err
	})
	if err != nil {
		return Database{}, err
	}
	return databaseFromWire(&w), nil
}
