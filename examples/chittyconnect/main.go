// Command chittyconnect runs the ChittyConnect database (actors, installations, contexts and
// connections) with d1seal instead of wrangler:
//
//   - its four numbered migrations (migrations/0001…0004, embedded in the binary) are applied
//     by automatic initialization, a middleware in front of an HTTP service, on its first
//     request: zero-configuration deployment, safe under concurrency;
//   - actors, installations, contexts and connections are written and queried: unique names,
//     soft delete through status, JSON array and object columns, the connection triggers;
//   - the schema is inspected with PRAGMA table_info and index_list, as one would with
//     wrangler when troubleshooting;
//   - the database is backed up with Export to a .sql file, restored with Import into a
//     fresh database, and the copy is compared with the original, table by table.
//
// With no Cloudflare credentials it runs on the embedded local D1 under .d1seal/; with
// CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and D1_DATABASE_ID set it runs on that D1
// database (and creates, then deletes, a second one for the restore: the token needs D1 Edit).
//
//	go run ./examples/chittyconnect
package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/migrations"
	"github.com/d1seal/d1seal/tid"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, ".d1seal"); err != nil {
		log.Fatal("chittyconnect: ", err)
	}
}

// run does the whole tour against the database d1seal.Open finds (the local one is named
// "chittyconnect" in the folder dir), and writes the backup file into dir.
func run(ctx context.Context, w io.Writer, dir string) error {
	var requests atomic.Int64 // D1 requests, counted by the client's hook
	db, err := d1seal.Open(ctx, d1seal.Options{
		LocalDir:  dir,
		LocalName: "chittyconnect",
		Client:    d1.Options{OnRequest: func(d1.RequestInfo) { requests.Add(1) }},
	})
	if err != nil {
		return err
	}
	defer db.Close()
	c := db.Client
	fmt.Fprintln(w, "database:", db.Where)

	// 1. The service, behind the automatic-initialization middleware.
	set, err := migrations.Load(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	init := migrations.NewInitializer(c, set, migrations.InitOptions{})
	api := init.Handler((&service{db: c}).routes(), func(r *http.Request, err error) {
		fmt.Fprintf(w, "   init failed on %s %s: %v\n", r.Method, r.URL.Path, err)
	})
	srv := httptest.NewServer(api)
	defer srv.Close()
	cl := &client{base: srv.URL, http: srv.Client()}

	fmt.Fprintln(w, "\n1. automatic initialization on the first request")
	for i := 1; i <= 2; i++ {
		before := requests.Load()
		status, _, err := cl.do(ctx, "GET", "/contexts", nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   request %d: GET /contexts -> %d, %d D1 requests\n", i, status, requests.Load()-before)
		if i == 1 {
			if res := init.Result(); len(res.Applied) > 0 {
				fmt.Fprintf(w, "   applied %d migrations: %s\n", len(res.Applied), strings.Join(res.Applied, ", "))
			} else {
				fmt.Fprintf(w, "   schema already current: %d migrations applied before\n", set.Len())
			}
		}
	}
	status, err := migrations.Status(ctx, c, set, migrations.StatusOptions{})
	if err != nil {
		return err
	}
	for _, e := range status {
		fmt.Fprintf(w, "   %-38s %s  %s\n", e.Name, e.State, e.AppliedAt.Format(time.DateTime))
	}

	// 2. Actors and an installation, in one atomic request. Upserts, so a second run is a no-op.
	if _, err := c.Batch(ctx, seedRows()...); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n2. actors and installations written (one atomic batch of upserts)")
	type actor struct {
		ChittyID     string
		ActorType    string
		Capabilities int
	}
	actors, err := d1.QueryAll[actor](ctx, c, `SELECT chitty_id, actor_type, json_array_length(capabilities) AS capabilities
		FROM actors WHERE status = 'active' ORDER BY chitty_id`)
	if err != nil {
		return err
	}
	for _, a := range actors {
		fmt.Fprintf(w, "   actor %-22s %-8s %d capabilities\n", a.ChittyID, a.ActorType, a.Capabilities)
	}
	issues, err := d1.QueryOne[string](ctx, c, "SELECT json_extract(permissions, '$.issues') FROM installations WHERE account_login = ?", "chitty-foundation")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   installation of chitty-foundation: issues permission %q (json_extract on a JSON object column)\n", issues)

	// 3. Contexts through the service: unique names, owners that must exist, JSON arrays.
	fmt.Fprintln(w, "\n3. contexts through the service")
	for _, ctxRow := range []chittyContext{
		{ChittyID: "CTX-0001", Name: "chittyconnect-main", Owner: "ACT-human-nick",
			Systems: json.RawMessage(`["github","notion"]`), Tools: json.RawMessage(`["github","slack"]`)},
		{ChittyID: "CTX-0002", Name: "evidence-ledger", Owner: "ACT-ai-claude",
			Data: json.RawMessage(`[{"case":"2024D007847"}]`), Tools: json.RawMessage(`["github"]`)},
		{ChittyID: "CTX-0003", Name: "scratch", Owner: "ACT-ai-claude", Tools: json.RawMessage(`["notion"]`)},
		{ChittyID: "CTX-0099", Name: "chittyconnect-main", Owner: "ACT-ai-claude"}, // name taken
		{ChittyID: "CTX-0098", Name: "orphan", Owner: "ACT-nobody"},                // no such actor
		{ChittyID: "CTX-0097", Name: "bad-json", Owner: "ACT-ai-claude", Tools: json.RawMessage(`{"not":"an array"}`)},
	} {
		code, body, err := cl.do(ctx, "POST", "/contexts", ctxRow)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   POST %-8s %-20s -> %d%s\n", ctxRow.ChittyID, ctxRow.Name, code, firstLine(body, code))
	}
	using, err := d1.QueryAll[string](ctx, c, `SELECT DISTINCT c.name FROM contexts c, json_each(c.tools) t
		WHERE t.value = 'github' AND c.status = 'active' ORDER BY c.name`)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   active contexts using the github tool (json_each): %s\n", strings.Join(using, ", "))

	// 4. Connections: the source must be a context or an actor (enforced by triggers).
	fmt.Fprintln(w, "\n4. connections")
	for _, cn := range []struct{ id, source, target string }{
		{"7f0c1a52-2f4e-4c57-9a61-0d5f3a1b2c01", "CTX-0001", "github"},
		{"7f0c1a52-2f4e-4c57-9a61-0d5f3a1b2c02", "CTX-0003", "notion"},
		{"7f0c1a52-2f4e-4c57-9a61-0d5f3a1b2c03", "ACT-svc-router", "openai"},
		{"7f0c1a52-2f4e-4c57-9a61-0d5f3a1b2c04", "CTX-missing", "slack"},
	} {
		_, err := c.Run(ctx, d1.Statement{
			SQL: `INSERT INTO connections (connection_id, source_chitty_id, target_service, credentials_kv_key)
				VALUES (?, ?, ?, ?) ON CONFLICT (connection_id) DO UPDATE SET status = 'active', updated_at = CURRENT_TIMESTAMP`,
			Args:       []any{cn.id, cn.source, cn.target, "api_keys/" + cn.target + "/" + cn.source},
			Idempotent: true,
		})
		outcome := "ok"
		if err != nil {
			if !d1.IsConstraint(err) {
				return err
			}
			outcome = "refused: " + sqlMessage(err)
		}
		fmt.Fprintf(w, "   %-15s -> %-7s %s\n", cn.source, cn.target, outcome)
	}

	// 5. Soft delete: the row stays, with status 'deleted'; a hard delete is refused while a
	// connection names the context.
	fmt.Fprintln(w, "\n5. soft delete")
	code, _, err := cl.do(ctx, "DELETE", "/contexts/CTX-0003", nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   DELETE /contexts/CTX-0003 -> %d\n", code)
	if _, err := c.Exec(ctx, "UPDATE connections SET status = 'disconnected', updated_at = CURRENT_TIMESTAMP WHERE source_chitty_id = ?", "CTX-0003"); err != nil {
		return err
	}
	_, body, err := cl.do(ctx, "GET", "/contexts", nil)
	if err != nil {
		return err
	}
	var active []chittyContext
	if err := json.Unmarshal(body, &active); err != nil {
		return err
	}
	fmt.Fprintf(w, "   GET /contexts: %s\n", names(active))
	type count struct {
		Status string
		N      int
	}
	counts, err := d1.QueryAll[count](ctx, c, "SELECT status, count(*) AS n FROM contexts GROUP BY status ORDER BY status")
	if err != nil {
		return err
	}
	var kept []string
	for _, n := range counts {
		kept = append(kept, fmt.Sprintf("%d %s", n.N, n.Status))
	}
	fmt.Fprintf(w, "   rows kept in contexts: %s\n", strings.Join(kept, ", "))
	_, err = c.Exec(ctx, "DELETE FROM contexts WHERE chitty_id = ?", "CTX-0003")
	if err == nil {
		return errors.New("hard delete of a connected context was allowed")
	}
	fmt.Fprintf(w, "   hard DELETE of CTX-0003: refused: %s\n", sqlMessage(err))

	// 6. Schema inspection, as one would with wrangler when troubleshooting.
	if err := inspect(ctx, w, c, "contexts"); err != nil {
		return err
	}

	// 7. Backup and restore into a fresh database, then compare them.
	return backupAndRestore(ctx, w, c, dir)
}

// seedRows are the actors and the installation, as idempotent upserts.
func seedRows() []d1.Statement {
	actor := func(id, typ, caps string) d1.Statement {
		return d1.Statement{
			SQL: `INSERT INTO actors (chitty_id, actor_type, capabilities) VALUES (?, ?, json(?))
				ON CONFLICT (chitty_id) DO UPDATE SET actor_type = excluded.actor_type,
					capabilities = excluded.capabilities, status = 'active', updated_at = CURRENT_TIMESTAMP`,
			Args: []any{id, typ, caps}, Idempotent: true,
		}
	}
	return []d1.Statement{
		actor("ACT-human-nick", "human", `["contexts:write","connections:write","admin"]`),
		actor("ACT-ai-claude", "ai", `["contexts:read","contexts:write"]`),
		actor("ACT-svc-router", "service", `["connections:read"]`),
		{
			SQL: `INSERT INTO installations (installation_id, chitty_id, account_id, account_login,
					repository_selection, permissions, events) VALUES (?, ?, ?, ?, ?, json(?), json(?))
				ON CONFLICT (installation_id) DO UPDATE SET permissions = excluded.permissions,
					events = excluded.events, uninstalled_at = NULL, updated_at = CURRENT_TIMESTAMP`,
			Args: []any{48213377, "INST-0001", 90210, "chitty-foundation", "selected",
				`{"contents":"read","issues":"write","pull_requests":"write"}`, `["push","pull_request","issues"]`},
			Idempotent: true,
		},
	}
}

// inspect prints a table's columns and indexes from PRAGMA table_info and index_list.
func inspect(ctx context.Context, w io.Writer, c *d1.Client, table string) error {
	type column struct {
		CID     int
		Name    string
		Type    string
		NotNull bool
		Dflt    *string `d1:"dflt_value"`
		PK      int
	}
	cols, err := d1.QueryAll[column](ctx, c, "PRAGMA table_info("+table+")")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n6. schema of %s (PRAGMA table_info)\n", table)
	for _, col := range cols {
		var notes []string
		if col.PK > 0 {
			notes = append(notes, "primary key")
		}
		if col.NotNull {
			notes = append(notes, "not null")
		}
		if col.Dflt != nil {
			notes = append(notes, "default "+*col.Dflt)
		}
		fmt.Fprintf(w, "   %-16s %-5s %s\n", col.Name, col.Type, strings.Join(notes, ", "))
	}
	type index struct {
		Seq     int
		Name    string
		Unique  bool
		Origin  string
		Partial bool
	}
	idx, err := d1.QueryAll[index](ctx, c, "PRAGMA index_list("+table+")")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   indexes (PRAGMA index_list):")
	for _, ix := range idx {
		kind := map[string]string{"c": "", "u": " (UNIQUE constraint)", "pk": " (primary key)"}[ix.Origin]
		fmt.Fprintf(w, "\n   %-34s unique=%-5v%s", ix.Name, ix.Unique, kind)
	}
	fmt.Fprintln(w)
	return nil
}

// backupAndRestore exports the database to a .sql file in dir, imports that file into a new
// database, compares every table of the two, and deletes the new database.
func backupAndRestore(ctx context.Context, w io.Writer, c *d1.Client, dir string) error {
	fmt.Fprintln(w, "\n7. backup and restore")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "chittyconnect-backup-"+time.Now().UTC().Format("20060102")+".sql")
	size, err := backup(ctx, w, c, path)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   wrote %s (%d bytes)\n", path, size)

	// A fresh database of the same account, for the restore.
	name := "chittyconnect-restore-" + tid.NewClock().Next().String()
	fresh, err := c.Account().CreateDatabase(ctx, name)
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Account().DeleteDatabase(context.WithoutCancel(ctx), fresh.ID); err != nil {
			fmt.Fprintln(w, "   could not delete the restore database:", err)
		}
	}()
	rc := c.Account().Database(fresh.ID)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var phases []string
	imp, err := rc.Import(ctx, f, d1.ImportOptions{PollInterval: 200 * time.Millisecond, Progress: phaseLog(&phases)})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   import into new database %s: %s, %d statements\n", name, strings.Join(phases, " -> "), imp.NumQueries)

	diffs, err := compare(ctx, w, c, rc)
	if err != nil {
		return err
	}
	if diffs > 0 {
		return fmt.Errorf("restore differs from the original in %d tables", diffs)
	}
	fmt.Fprintln(w, "   restore verified: schema and every row identical; restore database deleted")
	return nil
}

// backup writes the database to a .sql file at path in two parts, the schema then the data,
// and returns its size.
//
// One whole dump (d1.ExportOptions{}) lists each table with its rows in creation order, so
// its contexts rows come before the actors table they reference exists, and importing it
// fails with "no such table: main.actors" (0001 creates contexts, 0003 actors). Schema first,
// then data, restores in one Import: the dump's PRAGMA defer_foreign_keys=TRUE holds the
// foreign-key checks until the end. The two exports are two moments: stop writers first.
func backup(ctx context.Context, w io.Writer, c *d1.Client, path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var size int64
	for _, part := range []struct {
		name string
		opts d1.ExportOptions
	}{{"schema", d1.ExportOptions{NoData: true}}, {"data", d1.ExportOptions{NoSchema: true}}} {
		var phases []string
		part.opts.PollInterval = 200 * time.Millisecond
		part.opts.Progress = phaseLog(&phases)
		info, err := c.Export(ctx, f, part.opts)
		if err != nil {
			return 0, err
		}
		if _, err := io.WriteString(f, "\n"); err != nil { // each dump ends with a complete statement
			return 0, err
		}
		size += info.Bytes + 1
		fmt.Fprintf(w, "   export %s: %s, %d bytes\n", part.name, strings.Join(phases, " -> "), info.Bytes)
	}
	return size, f.Close()
}

// phaseLog returns a Progress callback that notes each new phase.
func phaseLog(phases *[]string) func(d1.Progress) {
	return func(p d1.Progress) {
		if n := len(*phases); n == 0 || (*phases)[n-1] != p.Phase {
			*phases = append(*phases, p.Phase)
		}
	}
}

// compare checks that two databases hold the same schema and the same rows in every table,
// printing one line per table, and returns how many tables differ.
func compare(ctx context.Context, w io.Writer, a, b *d1.Client) (int, error) {
	const objects = `SELECT type, name, tbl_name, sql FROM sqlite_master
		WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY type, name`
	sa, err := dump(ctx, a, objects)
	if err != nil {
		return 0, err
	}
	sb, err := dump(ctx, b, objects)
	if err != nil {
		return 0, err
	}
	if !equal(sa, sb) {
		return 0, fmt.Errorf("restored schema differs: %d objects, want %d", len(sb), len(sa))
	}
	tables, err := d1.QueryAll[string](ctx, a, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name`)
	if err != nil {
		return 0, err
	}
	diffs := 0
	for _, t := range tables {
		q := `SELECT * FROM "` + t + `" ORDER BY rowid`
		ra, err := dump(ctx, a, q)
		if err != nil {
			return 0, err
		}
		rb, err := dump(ctx, b, q)
		if err != nil {
			return 0, err
		}
		mark := "equal"
		if !equal(ra, rb) {
			mark = fmt.Sprintf("DIFFERENT (%d rows restored)", len(rb))
			diffs++
		}
		fmt.Fprintf(w, "   %-28s %2d rows  %s\n", t, len(ra), mark)
	}
	return diffs, nil
}

// dump runs a query and returns each row as JSON text, values in column order.
func dump(ctx context.Context, c *d1.Client, sql string) ([]string, error) {
	res, err := c.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	rows := make([]string, 0, res.Len())
	for _, row := range res.All() {
		b, err := json.Marshal(row.Values())
		if err != nil {
			return nil, err
		}
		rows = append(rows, string(b))
	}
	return rows, nil
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// client calls the service over HTTP.
type client struct {
	base string
	http *http.Client
}

func (cl *client) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, cl.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// sqlMessage is D1's message for a SQL error, without the SQLite codes at its end.
func sqlMessage(err error) string {
	var de *d1.Error
	if !errors.As(err, &de) {
		return err.Error()
	}
	m, _, _ := strings.Cut(de.Message, " (extended: ")
	return strings.TrimSuffix(m, ": "+de.SQLiteCode)
}

// firstLine shortens a response body for printing: nothing for a success.
func firstLine(body []byte, code int) string {
	if code < 300 {
		return ""
	}
	s, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	return " " + s
}

func names(cs []chittyContext) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Name)
	}
	return strings.Join(s, ", ")
}
