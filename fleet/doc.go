// Package fleet keeps many D1 databases of one account as one store: a directory that routes
// each tenant to its database, databases created on demand, migrations applied to all of
// them, tenants moved between them, queries over all of them, and the agent-records store
// (package records) spread across them.
//
// A D1 database stops at 10 GB, and that cannot be raised; an account may hold up to a
// million databases. Agents' memories grow without bound, so a service that outgrows one
// database gives each tenant (for records, each agent, by DID) a database of its own, or
// packs tenants into databases up to a size.
//
//	dir, _ := d1.NewClientFromEnv(d1.Options{})   // the directory database
//	f, _ := fleet.New(dir, fleet.Options{Name: "prod", Operator: operator, Placement: fleet.OnePerTenant,
//		NamePattern: "agents-%05d", LocationHint: "weur", Jurisdiction: "eu"})
//	rs := f.Records(records.StoreOptions{Trust: trust})
//	rs.RegisterAgent(ctx, alice, nil)               // places alice, creating her database
//	notes, _ := fleet.NewCollection[Note](rs, alice, "agent.memory.note", records.CollectionOptions[Note]{})
//	r, _ := notes.Create(ctx, Note{Text: "..."})    // in alice's database
//	notes.Share(ctx, r.Ref.RKey, "did:plc:bob")      // bob may live in another database
//	f.MigrateAll(ctx, set, fleet.MigrateOptions{Canaries: 3})
//	f.Move(ctx, "did:plc:alice", fleet.MoveOptions{})
//
// # The directory, and why it is signed
//
// The directory is a small D1 database of its own (DirectorySchema, applied on first use):
// the fleet's databases (fleet_databases), one route per tenant (fleet_tenants), migrate-all
// statuses, moves in progress and the share index. Clients cache routes.
//
// The directory lives in D1, which the threat model of this SDK does not trust, and a route
// decides where a tenant's writes go. So each route is signed by an operator key
// (crypto.Agent.SignDirectoryEntry over the fleet's name, the tenant, the database id and an
// epoch), and clients are configured with the operator's verifying key (Options.OperatorKey)
// from their own configuration, never from the directory. A route that does not verify is
// ErrUntrusted; a route whose epoch is lower than one the client has seen (an old route
// replayed after a move) is ErrRollback. Only processes that place or move tenants hold the
// operator's private key (Options.Operator); the others only route.
//
// What a hostile directory can still do: withhold routes (calls fail), replay an old route
// to a client that never saw the newer one (its writes then go to the tenant's old database,
// where the move's fence refuses them: see Move), list databases that are not the fleet's or
// hide some (the database list is not signed: migrate-all would then skip or touch them; the
// token decides which databases exist at all), and withhold or invent share index entries
// (SharedWithMe then misses shares or reads databases that hold none for the agent; every
// record it returns is still verified by the records package).
//
// # Placement
//
// OnePerTenant gives each tenant its own database; Packed(maxBytes) and Placement{MaxTenants}
// pack tenants into the first database with room (sizes are those measured last by
// MeasureSizes, from the account's database list: one request per hundred databases). When
// none has room, Place creates a database named by Options.NamePattern with the next
// sequence number, with Options.LocationHint and Options.Jurisdiction
// (d1.Client.CreateDatabaseWithOptions), applies Options.Schema to it (the agent-records
// schema by default), and lists it; an interrupted creation is adopted by the next one.
//
// # Migrating every database
//
// MigrateAll applies a migrations.Set to every database with migrations.Apply, so each
// database keeps wrangler's ledger (wrangler agrees with it on each database) and each
// migration commits with its ledger row in one request. The canaries (the first databases
// created) go first; if one fails, nothing else is touched (ErrCanaryFailed). Then the others
// go Concurrency at a time, all under the client's one rate-limit budget (every client the
// fleet hands out shares it, as Cloudflare counts per token). Outcomes are recorded in the
// directory, FlushEvery at a time, so a run stopped by a crash, Ctrl-C or a failure is
// finished by running it again: databases recorded as applied are skipped without a request,
// and the others' ledgers decide what is pending, so nothing is applied twice. Report lists
// each database as applied, pending, failed (with the error) or drifted, as a table
// (WriteTable) or JSON. Status reads the recorded statuses (one request) or, live, every
// ledger.
//
// Requests are the scarce resource: 1,200 per five minutes per token, and a token that goes
// over is locked out for five minutes. A migration costs each database one ledger read plus
// one request per migration. SimulateMigration replays MigrateAll's schedule in virtual time
// under the same token bucket the client uses; for 10,000 databases and 4 migrations it
// counts 50,403 requests, takes about 3 h 39 min (the budget, not latency or concurrency,
// sets the pace: 3.83 requests a second) and never has more than 1,200 requests in any five
// minutes. The request counts of the model are checked against real runs on the local D1.
//
// # Records across a fleet
//
// Records gives each agent's records the database its route names, with one records.Store
// per database, all sharing one TrustStore. Collection follows its agent across moves.
// Sharing crosses databases: the recipient's key log is copied into the owner's database
// (key log entries are signed and verified by each reader from its own trust store, so a
// copy is as good as the original), the owner shares there, and the share is indexed in the
// directory (recipient, collection, database). SharedWithMe reads a page of one database at a
// time, found through the index: at most an index read, a database read and, once per
// database, the check of the reader's own keys, however many databases the fleet has. Why
// key logs are copied into tenant databases rather than kept in the directory: the records
// package reads a record's keys in the same request as the record, and each database stays
// self-contained (a backup, an export or a moved tenant carries the keys that verify it).
// Records.RotateKeys rotates an agent's keys in its home database and then in every database
// that shares records with it, so that its grants there follow; readers also refresh their
// own key log copies on demand (Records.SyncKeyLog does it for all of them).
//
// # Moving a tenant
//
// Move copies the tenant's rows (records, grants, tombstones, events, search beacons and index
// keys, and its key material) to another database, fences the tenant in the source (triggers
// that refuse its writes: IsFenced), copies again what changed and deletes what was deleted
// meanwhile, verifies that both hold identical rows, switches the signed route to the next
// epoch, and deletes the rows from the source. Each step is recorded and can run twice, so an
// interrupted move is finished by calling Move again. Writers using Records.Do or Collection
// are refused by the fence, wait for the switch and write again in the new database: nothing is
// lost and nothing is written twice. Key material stays in the source, where other tenants'
// shares may need it. A move reads and writes a page of rows at a time (MoveOptions.PageRows,
// by keyset pagination) and holds in memory only the keys of one table, to find what the sync
// must delete.
//
// # Fan-out
//
// FanOut runs a function on every database and Query[T] runs one statement on each, a few
// at a time; a database that fails is reported in the result (DatabaseError, with its name
// and error) while the others' rows are kept, merged in database order.
package fleet
