package fleet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
)

// A tenant's rows, table by table, in the agent-records schema (records.Schema), in the order
// they are copied (parents first). Key material (agents, agent_keys, agent_key_log) is copied
// but never deleted from the source: it is public, self-authenticating, and other tenants'
// shares in the source may still need it.
type tenantTable struct {
	name  string
	key   []string // the conflict target of the copy
	omit  []string // columns not copied (the source's AUTOINCREMENT ids)
	where string   // the tenant's rows; ?1 is the tenant
	keep  bool     // never deleted from the source
}

var tenantTables = []tenantTable{
	{name: "agents", key: []string{"did"}, where: "did = ?1", keep: true},
	{name: "agent_keys", key: []string{"key_id"}, where: "did = ?1", keep: true},
	{name: "agent_key_log", key: []string{"did", "seq"}, where: "did = ?1", keep: true},
	{name: "records", key: []string{"id"}, where: "did = ?1"},
	{name: "shared_records", key: []string{"record_id", "recipient_did"}, omit: []string{"id"}, where: "substr(record_id, 1, length(?1) + 1) = ?1 || '/'"},
	{name: "record_tombstones", key: []string{"id"}, where: "substr(id, 1, length(?1) + 1) = ?1 || '/'"},
	{name: "events", key: []string{"id"}, where: "agent_did = ?1"},
	{name: "record_beacons", key: []string{"record_id", "field_tag", "beacon"}, where: "substr(record_id, 1, length(?1) + 1) = ?1 || '/'"},
	{name: "index_keys", key: []string{"owner_did", "collection", "field_tag", "recipient_did"}, where: "owner_did = ?1"},
}

// Tables of tenantTables that a database may lack, when its schema predates them: a move
// skips them in a source without them.
var optionalTables = []string{"record_beacons", "index_keys"}

// fenceMessage is what a write to a fenced tenant fails with (RAISE in the fence triggers).
const fenceMessage = "d1seal fleet: tenant moved"

// IsFenced reports whether err is a write refused because its tenant is being moved, or was
// moved, out of the database it was sent to. Read the route again (Fleet.Lookup) and write
// there; Records.Do does that for you.
func IsFenced(err error) bool {
	var e *d1.Error
	return errors.As(err, &e) && strings.Contains(e.Message, fenceMessage)
}

const fenceTableSQL = "CREATE TABLE IF NOT EXISTS d1seal_fleet_fences (tenant TEXT PRIMARY KEY, moved_to TEXT NOT NULL, state TEXT NOT NULL, fenced_at TEXT NOT NULL)"

// fenceStatements creates the fence table and triggers (once per database; has says which
// optional tables the database holds) and fences tenant.
func fenceStatements(tenant, to, now string, has func(table string) bool) []d1.Statement {
	raise := "BEGIN SELECT RAISE(ABORT, '" + fenceMessage + "'); END"
	fenced := func(expr, extra string) string {
		return "WHEN EXISTS (SELECT 1 FROM d1seal_fleet_fences WHERE tenant = " + expr + extra + ") " + raise
	}
	prefix := func(col string) string {
		return "substr(" + col + ", 1, instr(" + col + ", '/') - 1)"
	}
	ddl := []string{
		fenceTableSQL,
		"CREATE TRIGGER IF NOT EXISTS d1seal_fleet_fence_records_insert BEFORE INSERT ON records " + fenced("NEW.did", ""),
		"CREATE TRIGGER IF NOT EXISTS d1seal_fleet_fence_records_update BEFORE UPDATE ON records " + fenced("OLD.did", ""),
		"CREATE TRIGGER IF NOT EXISTS d1seal_fleet_fence_records_delete BEFORE DELETE ON records " + fenced("OLD.did", " AND state = 'fenced'"),
		"CREATE TRIGGER IF NOT EXISTS d1seal_fleet_fence_shares_insert BEFORE INSERT ON shared_records " + fenced(prefix("NEW.record_id"), ""),
		"CREATE TRIGGER IF NOT EXISTS d1seal_fleet_fence_shares_delete BEFORE DELETE ON shared_records " + fenced(prefix("OLD.record_id"), " AND state = 'fenced'"),
		"CREATE TRIGGER IF NOT EXISTS d1seal_fleet_fence_tombstones_insert BEFORE INSERT ON record_tombstones " + fenced(prefix("NEW.id"), ""),
		"CREATE TRIGGER IF NOT EXISTS d1seal_fleet_fence_events_insert BEFORE INSERT ON events " + fenced("NEW.agent_did", ""),
	}
	if has("record_beacons") {
		ddl = append(ddl,
			"CREATE TRIGGER IF NOT EXISTS d1seal_fleet_fence_beacons_insert BEFORE INSERT ON record_beacons "+fenced(prefix("NEW.record_id"), ""))
	}
	if has("index_keys") {
		ddl = append(ddl,
			"CREATE TRIGGER IF NOT EXISTS d1seal_fleet_fence_index_keys_insert BEFORE INSERT ON index_keys "+fenced("NEW.owner_did", ""),
			"CREATE TRIGGER IF NOT EXISTS d1seal_fleet_fence_index_keys_update BEFORE UPDATE ON index_keys "+fenced("OLD.owner_did", ""),
			"CREATE TRIGGER IF NOT EXISTS d1seal_fleet_fence_index_keys_delete BEFORE DELETE ON index_keys "+fenced("OLD.owner_did", " AND state = 'fenced'"))
	}
	stmts := make([]d1.Statement, 0, len(ddl)+1)
	for _, s := range ddl {
		stmts = append(stmts, d1.Statement{SQL: s, Idempotent: true})
	}
	return append(stmts, d1.Statement{
		SQL:  "INSERT INTO d1seal_fleet_fences (tenant, moved_to, state, fenced_at) VALUES (?, ?, 'fenced', ?) ON CONFLICT (tenant) DO UPDATE SET moved_to = excluded.moved_to, state = 'fenced'",
		Args: []any{tenant, to, now}, Idempotent: true,
	})
}

// The steps of a move, in order; fleet_moves.step holds the next one to run.
const (
	stepCopy   = "copy"
	stepFence  = "fence"
	stepSync   = "sync"
	stepVerify = "verify"
	stepSwitch = "switch"
	stepDelete = "delete"
	stepDone   = "done"
)

var moveSteps = []string{stepCopy, stepFence, stepSync, stepVerify, stepSwitch, stepDelete, stepDone}

// MoveReport says what a move did.
type MoveReport struct {
	Tenant  string         `json:"tenant"`
	From    string         `json:"from"`
	To      string         `json:"to"`
	Epoch   uint64         `json:"epoch"`             // the tenant's epoch after the switch
	Rows    map[string]int `json:"rows"`              // rows of each table in the tenant's verified copy
	Resumed string         `json:"resumed,omitempty"` // the step an earlier, interrupted move had reached
	Steps   []string       `json:"steps"`             // the steps this call ran
}

// MoveOptions tunes Move.
type MoveOptions struct {
	// To is the id of the database to move the tenant to. "" lets the Placement choose (or
	// create) one other than the tenant's current database.
	To string

	// PageRows is how many rows are read per request while copying and verifying.
	// Default 500.
	PageRows int

	// Stop, if set, is called before each step; returning false stops the move there, as a
	// crash would (it is resumed by the next Move of the tenant). For tests and tools.
	Stop func(step string) bool
}

// ErrMoveStopped is returned by Move when MoveOptions.Stop stopped it.
var ErrMoveStopped = errors.New("fleet: move stopped before a step; Move again to resume")

// Move moves tenant's rows to another database with nothing lost and nothing copied twice:
//
//  1. copy: every row of the tenant is upserted into the target (keyed by primary key, so a
//     copy resumed or repeated never duplicates a row), while writers keep writing to the
//     source;
//  2. fence: in one request to the source, triggers are installed that refuse any write of
//     the tenant there (IsFenced), and the tenant is fenced; D1 runs a database's requests
//     one at a time, so every write that committed before the fence is seen by the next step;
//  3. sync: the copy again, and the rows the target holds but the source no longer does are
//     deleted;
//  4. verify: the tenant's rows of every table are read from both and must be identical;
//  5. switch: the directory entry is re-signed for the target with the next epoch (one
//     compare-and-swap request, which also moves the tenant's share index entries);
//  6. delete: the tenant's rows are deleted from the source (key material excepted); the
//     fence stays, so a writer with a stale route is refused and looks the route up again.
//
// The next step is recorded in the directory after each one, so a Move interrupted at any
// point (a crash, a cancelled ctx) is finished by calling Move for the tenant again; every
// step can run twice. Writers using Records.Do wait out the fence and carry on in the new
// database. Move needs Options.Operator.
func (f *Fleet) Move(ctx context.Context, tenant string, opts MoveOptions) (*MoveReport, error) {
	if f.opts.Operator == nil {
		return nil, ErrReadOnly
	}
	if err := f.Init(ctx); err != nil {
		return nil, err
	}
	type moveRow struct {
		From string `d1:"from_db"`
		To   string `d1:"to_db"`
		Step string `d1:"step"`
	}
	rows, err := d1.QueryAll[moveRow](ctx, f.dir, "SELECT from_db, to_db, step FROM fleet_moves WHERE tenant = ?", tenant)
	if err != nil {
		return nil, fmt.Errorf("fleet: move %s: %w", tenant, err)
	}
	rep := &MoveReport{Tenant: tenant, Rows: map[string]int{}}
	step := stepCopy
	if len(rows) == 1 {
		m := rows[0]
		if opts.To != "" && opts.To != m.To {
			return nil, fmt.Errorf("fleet: move %s: a move to %s is in progress (at %s); finish it first", tenant, m.To, m.Step)
		}
		rep.From, rep.To, step, rep.Resumed = m.From, m.To, m.Step, m.Step
	} else {
		rt, err := f.Lookup(ctx, tenant)
		if err != nil {
			return nil, fmt.Errorf("fleet: move %s: %w", tenant, err)
		}
		rep.From, rep.To = rt.Database, opts.To
		if rep.To == "" {
			f.placeMu.Lock()
			db, err := f.choose(ctx, rt.Database)
			f.placeMu.Unlock()
			if err != nil {
				return nil, fmt.Errorf("fleet: move %s: choose a database: %w", tenant, err)
			}
			rep.To = db.ID
		}
		if rep.To == rep.From {
			return nil, fmt.Errorf("fleet: move %s: it is already in %s", tenant, rep.To)
		}
		now := f.timestamp()
		if _, err := f.dir.Run(ctx, d1.Statement{SQL: "INSERT INTO fleet_moves (tenant, from_db, to_db, step, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant) DO NOTHING",
			Args: []any{tenant, rep.From, rep.To, stepCopy, now, now}, Idempotent: true}); err != nil {
			return nil, fmt.Errorf("fleet: move %s: %w", tenant, err)
		}
	}
	src, err := f.Client(rep.From)
	if err != nil {
		return nil, err
	}
	dst, err := f.Client(rep.To)
	if err != nil {
		return nil, err
	}
	cp := &copier{tenant: tenant, src: src, dst: dst, page: opts.PageRows}
	if cp.page <= 0 {
		cp.page = pageRows
	}
	for i := slices.Index(moveSteps, step); i >= 0 && moveSteps[i] != stepDone; i++ {
		step := moveSteps[i]
		if opts.Stop != nil && !opts.Stop(step) {
			return rep, ErrMoveStopped
		}
		if err := f.moveStep(ctx, step, cp, rep); err != nil {
			return rep, fmt.Errorf("fleet: move %s to %s: %s: %w", tenant, rep.To, step, err)
		}
		rep.Steps = append(rep.Steps, step)
		next := moveSteps[i+1]
		var st d1.Statement
		if next == stepDone {
			st = d1.Statement{SQL: "DELETE FROM fleet_moves WHERE tenant = ?", Args: []any{tenant}, Idempotent: true}
		} else {
			st = d1.Statement{SQL: "UPDATE fleet_moves SET step = ?, updated_at = ? WHERE tenant = ?", Args: []any{next, f.timestamp(), tenant}, Idempotent: true}
		}
		if step != stepSwitch { // the switch records its next step in its own request
			if _, err := f.dir.Run(ctx, st); err != nil {
				return rep, fmt.Errorf("fleet: move %s: record step: %w", tenant, err)
			}
		}
		f.log.Info("fleet: move", "tenant", tenant, "step", step, "to", rep.To)
	}
	if rep.Epoch == 0 {
		rt, err := f.Lookup(ctx, tenant)
		if err != nil {
			return rep, err
		}
		rep.Epoch = rt.Epoch
	}
	return rep, nil
}

func (f *Fleet) moveStep(ctx context.Context, step string, cp *copier, rep *MoveReport) error {
	switch step {
	case stepCopy:
		return cp.copy(ctx, false)
	case stepFence:
		if err := cp.columns(ctx); err != nil {
			return err
		}
		_, err := cp.src.Batch(ctx, fenceStatements(cp.tenant, rep.To, f.timestamp(), func(t string) bool { return cp.cols[t] != nil })...)
		return err
	case stepSync:
		return cp.copy(ctx, true)
	case stepVerify:
		rows, err := cp.verify(ctx)
		rep.Rows = rows
		return err
	case stepSwitch:
		return f.switchRoute(ctx, cp.tenant, rep)
	case stepDelete:
		return cp.deleteSource(ctx)
	}
	return fmt.Errorf("unknown step %q", step)
}

// switchRoute re-signs the tenant's entry for rep.To with the next epoch, in one request
// that also moves its share index entries and records the next step.
func (f *Fleet) switchRoute(ctx context.Context, tenant string, rep *MoveReport) error {
	f.Forget(tenant)
	rt, err := f.Lookup(ctx, tenant)
	if err != nil {
		return err
	}
	if rt.Database == rep.To { // switched by an earlier attempt whose step was not recorded
		rep.Epoch = rt.Epoch
		_, err := f.dir.Run(ctx, d1.Statement{SQL: "UPDATE fleet_moves SET step = ? WHERE tenant = ?", Args: []any{stepDelete, tenant}, Idempotent: true})
		return err
	}
	e := crypto.DirectoryEntry{Fleet: f.name, Tenant: tenant, Database: rep.To, Epoch: rt.Epoch + 1}
	sig, err := f.sign(e)
	if err != nil {
		return err
	}
	now := f.timestamp()
	_, err = f.dir.Batch(ctx,
		d1.Statement{SQL: "UPDATE fleet_tenants SET database_id = ?, epoch = ?, signature = ?, updated_at = ? WHERE tenant = ? AND epoch = ?",
			Args: []any{rep.To, e.Epoch, sig, now, tenant, rt.Epoch}, Idempotent: true},
		d1.Statement{SQL: "UPDATE fleet_shares SET database_id = ? WHERE owner = ? AND database_id = ?", Args: []any{rep.To, tenant, rep.From}, Idempotent: true},
		d1.Statement{SQL: "UPDATE fleet_databases SET tenants = (SELECT count(*) FROM fleet_tenants WHERE database_id = fleet_databases.id) WHERE id IN (?, ?)", Args: []any{rep.From, rep.To}, Idempotent: true},
		d1.Statement{SQL: "UPDATE fleet_moves SET step = ?, updated_at = ? WHERE tenant = ?", Args: []any{stepDelete, now, tenant}, Idempotent: true})
	if err != nil {
		return err
	}
	f.Forget(tenant)
	got, err := f.Lookup(ctx, tenant)
	if err != nil {
		return err
	}
	if got.Database != rep.To {
		return fmt.Errorf("the directory still routes the tenant to %s (a concurrent change?)", got.Database)
	}
	rep.Epoch = got.Epoch
	return nil
}

// copier copies one tenant's rows between two databases.
type copier struct {
	tenant   string
	src, dst *d1.Client
	cols     map[string][]column // per table, from the source's schema
	page     int                 // rows per read
}

type column struct {
	name string
	blob bool
}

// columns reads the copied tables' columns from the source (one request).
func (cp *copier) columns(ctx context.Context) error {
	if cp.cols != nil {
		return nil
	}
	stmts := make([]d1.Statement, len(tenantTables))
	for i, t := range tenantTables {
		stmts[i] = d1.Statement{SQL: "SELECT name, upper(type) AS type FROM pragma_table_info(?) ORDER BY cid", Args: []any{t.name}}
	}
	rs, err := cp.src.Batch(ctx, stmts...)
	if err != nil {
		return err
	}
	cp.cols = map[string][]column{}
	for i, t := range tenantTables {
		type info struct{ Name, Type string }
		infos, err := d1.Collect[info](rs[i])
		if err != nil {
			return err
		}
		if len(infos) == 0 {
			if slices.Contains(optionalTables, t.name) {
				continue
			}
			return fmt.Errorf("table %s missing from the source: is the agent-records schema applied?", t.name)
		}
		for _, in := range infos {
			if !slices.Contains(t.omit, in.Name) {
				cp.cols[t.name] = append(cp.cols[t.name], column{name: in.Name, blob: in.Type == "BLOB"})
			}
		}
	}
	return nil
}

// tables returns the tenant tables the source holds, in copy order.
func (cp *copier) tables() []tenantTable {
	var out []tenantTable
	for _, t := range tenantTables {
		if cp.cols[t.name] != nil {
			out = append(out, t)
		}
	}
	return out
}

func (cp *copier) selectList(t tenantTable) string {
	var b strings.Builder
	for i, c := range cp.cols[t.name] {
		if i > 0 {
			b.WriteString(", ")
		}
		if c.blob {
			fmt.Fprintf(&b, "iif(%[1]s IS NULL, NULL, hex(%[1]s)) AS %[1]s", c.name)
		} else {
			b.WriteString(c.name)
		}
	}
	return b.String()
}

// pageRows is how many rows a move reads per request; MoveOptions.PageRows overrides it.
const pageRows = 500

// keyCols returns the positions of t's key columns among the copied columns.
func (cp *copier) keyCols(t tenantTable) []int {
	idx := make([]int, len(t.key))
	for i, k := range t.key {
		idx[i] = slices.IndexFunc(cp.cols[t.name], func(c column) bool { return c.name == k })
	}
	return idx
}

// pages reads the tenant's rows of t from c, ordered by t's key, a page at a time (keyset
// pagination, so every page costs the same), blobs as hex text, and hands each page to fn.
func (cp *copier) pages(ctx context.Context, c *d1.Client, t tenantTable, fn func(rows [][]any) error) error {
	keys := cp.keyCols(t)
	order := strings.Join(t.key, ", ")
	var after []any // the last key read
	for {
		where, args := t.where, []any{cp.tenant}
		if after != nil {
			ph := make([]string, len(t.key))
			for i, j := range keys {
				ph[i] = fmt.Sprintf("?%d", i+2)
				if cp.cols[t.name][j].blob {
					ph[i] = fmt.Sprintf("unhex(?%d)", i+2)
				}
			}
			where = fmt.Sprintf("(%s) AND (%s) > (%s)", where, order, strings.Join(ph, ", "))
			args = append(args, after...)
		}
		res, err := c.Query(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %d", cp.selectList(t), t.name, where, order, cp.page), args...)
		if err != nil {
			return fmt.Errorf("read %s: %w", t.name, err)
		}
		rows := make([][]any, 0, res.Len())
		for _, row := range res.All() {
			rows = append(rows, row.Values())
		}
		if len(rows) > 0 {
			if err := fn(rows); err != nil {
				return err
			}
			last := rows[len(rows)-1]
			after = make([]any, len(keys))
			for i, j := range keys {
				after[i] = last[j]
			}
		}
		if len(rows) < cp.page {
			return nil
		}
	}
}

// send sends stmts to the target in as few requests as its limits allow.
func (cp *copier) send(ctx context.Context, stmts []d1.Statement) error {
	if len(stmts) == 0 {
		return nil
	}
	chunks, err := cp.dst.PrepareChunks(stmts)
	if err != nil {
		return err
	}
	for _, p := range chunks {
		if _, err := cp.dst.Send(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// copy upserts every row of the tenant from the source into the target, a page at a time;
// with prune it then deletes the target's rows of the tenant that the source no longer
// holds (children first). Memory holds one page and the keys of one table.
func (cp *copier) copy(ctx context.Context, prune bool) error {
	if err := cp.columns(ctx); err != nil {
		return err
	}
	// A tenant moving back into a database it was once moved out of is unfenced there first.
	if err := cp.send(ctx, []d1.Statement{
		{SQL: fenceTableSQL, Idempotent: true},
		{SQL: "DELETE FROM d1seal_fleet_fences WHERE tenant = ?", Args: []any{cp.tenant}, Idempotent: true},
	}); err != nil {
		return err
	}
	var deletes [][]d1.Statement
	for _, t := range cp.tables() {
		keys := cp.keyCols(t)
		have := map[string]bool{}
		err := cp.pages(ctx, cp.src, t, func(rows [][]any) error {
			if prune {
				for _, r := range rows {
					have[rowKey(r, keys)] = true
				}
			}
			return cp.send(ctx, cp.upserts(t, rows))
		})
		if err != nil {
			return err
		}
		if prune {
			stale, err := cp.stale(ctx, t, have)
			if err != nil {
				return err
			}
			deletes = append(deletes, stale)
		}
	}
	var stmts []d1.Statement
	for i := len(deletes) - 1; i >= 0; i-- { // children before parents
		stmts = append(stmts, deletes[i]...)
	}
	return cp.send(ctx, stmts)
}

func (cp *copier) upserts(t tenantTable, rows [][]any) []d1.Statement {
	cols := cp.cols[t.name]
	names := make([]string, len(cols))
	one := make([]string, len(cols))
	var set []string
	for i, c := range cols {
		names[i] = c.name
		one[i] = "?"
		if c.blob {
			one[i] = "unhex(?)"
		}
		if !slices.Contains(t.key, c.name) {
			set = append(set, c.name+" = excluded."+c.name)
		}
	}
	conflict := "DO NOTHING"
	if len(set) > 0 {
		conflict = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	per := max(1, 100/len(cols))
	var out []d1.Statement
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		tuples := make([]string, len(chunk))
		var args []any
		for i, r := range chunk {
			tuples[i] = "(" + strings.Join(one, ", ") + ")"
			args = append(args, r...)
		}
		out = append(out, d1.Statement{
			SQL:        fmt.Sprintf("INSERT INTO %s (%s) VALUES %s ON CONFLICT (%s) %s", t.name, strings.Join(names, ", "), strings.Join(tuples, ", "), strings.Join(t.key, ", "), conflict),
			Args:       args,
			Idempotent: true,
		})
	}
	return out
}

// stale returns deletes of the target's rows of the tenant in t whose keys are not in have.
func (cp *copier) stale(ctx context.Context, t tenantTable, have map[string]bool) ([]d1.Statement, error) {
	keys := cp.keyCols(t)
	conds := make([]string, len(t.key))
	for i, k := range t.key {
		conds[i] = k + " = ?"
		if cp.cols[t.name][keys[i]].blob {
			conds[i] = k + " = unhex(?)"
		}
	}
	var out []d1.Statement
	err := cp.pages(ctx, cp.dst, t, func(rows [][]any) error {
		for _, r := range rows {
			if have[rowKey(r, keys)] {
				continue
			}
			args := make([]any, len(keys))
			for i, j := range keys {
				args[i] = r[j]
			}
			out = append(out, d1.Statement{SQL: fmt.Sprintf("DELETE FROM %s WHERE %s", t.name, strings.Join(conds, " AND ")), Args: args, Idempotent: true})
		}
		return nil
	})
	return out, err
}

func rowKey(r []any, idx []int) string {
	var b strings.Builder
	for _, i := range idx {
		fmt.Fprintf(&b, "%T:%v\x00", r[i], r[i])
	}
	return b.String()
}

// verify reads the tenant's rows of every table from both databases, a page at a time, and
// compares their digests and counts.
func (cp *copier) verify(ctx context.Context) (map[string]int, error) {
	if err := cp.columns(ctx); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, t := range cp.tables() {
		ha, hb := sha256.New(), sha256.New()
		na, nb := 0, 0
		if err := cp.pages(ctx, cp.src, t, func(rows [][]any) error { na += len(rows); digestRows(ha, rows); return nil }); err != nil {
			return nil, err
		}
		if err := cp.pages(ctx, cp.dst, t, func(rows [][]any) error { nb += len(rows); digestRows(hb, rows); return nil }); err != nil {
			return nil, err
		}
		if na != nb || !bytes.Equal(ha.Sum(nil), hb.Sum(nil)) {
			return nil, fmt.Errorf("%s differs: %d rows in the source, %d in the target", t.name, na, nb)
		}
		counts[t.name] = na
	}
	return counts, nil
}

func digestRows(h hash.Hash, rows [][]any) {
	for _, r := range rows {
		for _, v := range r {
			fmt.Fprintf(h, "%T:%v\x00", v, v)
		}
		h.Write([]byte{0xff})
	}
}

// deleteSource deletes the tenant's rows from the source, children first, in one request
// that lets the fence's delete triggers through for its own duration only.
func (cp *copier) deleteSource(ctx context.Context) error {
	stmts := []d1.Statement{{SQL: "UPDATE d1seal_fleet_fences SET state = 'draining' WHERE tenant = ?", Args: []any{cp.tenant}, Idempotent: true}}
	if err := cp.columns(ctx); err != nil {
		return err
	}
	tables := cp.tables()
	for i := len(tables) - 1; i >= 0; i-- {
		t := tables[i]
		if !t.keep {
			stmts = append(stmts, d1.Statement{SQL: "DELETE FROM " + t.name + " WHERE " + t.where, Args: []any{cp.tenant}, Idempotent: true})
		}
	}
	stmts = append(stmts, d1.Statement{SQL: "UPDATE d1seal_fleet_fences SET state = 'moved' WHERE tenant = ?", Args: []any{cp.tenant}, Idempotent: true})
	_, err := cp.src.Batch(ctx, stmts...)
	return err
}
