// Command d1seal operates a d1seal database from a terminal: SQL, backups and restores, Time
// Travel and databases, against Cloudflare D1 (when CLOUDFLARE_ACCOUNT_ID,
// CLOUDFLARE_API_TOKEN and D1_DATABASE_ID are set) or the local D1 in a folder.
//
//	d1seal exec "SELECT count(*) FROM records"
//	d1seal exec -file migrations/0001_init.sql
//	d1seal export -o backup.sql
//	d1seal import backup.sql
//	d1seal bookmark
//	d1seal restore <bookmark>
//	d1seal db list
//	d1seal migrate apply -dir migrations
//	D1SEAL_PASSPHRASE=… d1seal keys generate -did did:plc:alice -out alice.key
//	D1SEAL_PASSPHRASE=… d1seal records put -key alice.key - '{"text":"hi"}'
//
// Run "d1seal help" for every command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"

	"github.com/d1seal/d1seal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand.
type command struct {
	summary string
	usage   string
	run     func(ctx context.Context, e *env, args []string) error
}

var commands = map[string]command{
	"exec":        {"run SQL (a statement, a script, or a file) and print the results", "exec [-json] -command SQL | -file F | SQL", cmdExec},
	"export":      {"write a SQL dump of the database", "export [-output FILE] [-table T]... [-no-data] [-no-schema]", cmdExport},
	"import":      {"run a SQL file (such as a dump) through D1's import", "import -file FILE", cmdImport},
	"bookmark":    {"print the Time Travel bookmark for now or for a time", "bookmark [-at RFC3339]", cmdBookmark},
	"restore":     {"rewind the database to a bookmark (prints the undo bookmark)", "restore BOOKMARK | -at RFC3339", cmdRestore},
	"time-travel": {"Time Travel: bookmark, or restore to a bookmark or a time", "time-travel bookmark [-at RFC3339] | time-travel restore BOOKMARK | -at RFC3339", cmdTimeTravel},
	"local":       {"serve the local D1 on a port for wrangler, curl and other SDKs (as cmd/d1local)", "local [-addr 127.0.0.1:8787] [-dir .d1local] [-token T] [-latency D]", cmdLocal},
	"db":          {"list, create or delete databases of the account", "db list [NAME] | db create NAME | db delete ID", cmdDB},
	"migrate":     {"status, apply, baseline or create numbered migrations (wrangler-compatible ledger)", "migrate status|apply|baseline|create [-dir DIR] [-table T] [-target N] [-dry-run] [-accept-drift] [-bookmark] [NAME]", cmdMigrate},
	"keys":        {"generate, show, register or rotate an agent's keys (passphrase-protected key files)", "keys generate -did DID -out FILE [-pq] | show -key FILE | register -key FILE [-metadata JSON] | rotate -key FILE -out NEWFILE", cmdKeys},
	"records":     {"list, get, put, delete, share or unshare sealed records as an agent", "records list|shared|get|put|delete|share|unshare -key FILE [-collection NSID] [ARGS]", cmdRecords},
}

// env is what every command gets: where to print and how to reach the database.
type env struct {
	stdout, stderr io.Writer
	stdin          *os.File
	local          string // folder of the local D1 when no credentials are set
	envName        string // -env: a named environment of the config file
	configPath     string
	db             *d1seal.DB
}

func (e *env) open(ctx context.Context) (*d1seal.DB, error) {
	if e.db != nil {
		return e.db, nil
	}
	var db *d1seal.DB
	var err error
	if e.envName != "" {
		db, err = openEnv(ctx, e.configPath, e.envName)
	} else {
		db, err = d1seal.Open(ctx, d1seal.Options{LocalDir: e.local})
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(e.stderr, "d1seal:", db.Where)
	e.db = db
	return db, nil
}

// usageError is a mistake on the command line: printed with the usage, exit status 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("d1seal", flag.ContinueOnError)
	global.SetOutput(stderr)
	local := global.String("local", ".d1seal", "folder of the local D1, used when CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and D1_DATABASE_ID are not set")
	envName := global.String("env", "", "a named environment of the config file, such as production, staging or local")
	configPath := global.String("config", DefaultConfig, "the config file of named environments (JSON)")
	global.Usage = func() { usage(stderr) }
	if err := global.Parse(args); err != nil {
		return 2
	}
	args = global.Args()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "d1seal: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	e := &env{stdout: stdout, stderr: stderr, stdin: os.Stdin, local: *local, envName: *envName, configPath: *configPath}
	defer func() {
		if e.db != nil {
			e.db.Close()
		}
	}()
	err := cmd.run(ctx, e, args[1:])
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "d1seal %s: %s\nusage: d1seal %s\n", args[0], ue.msg, cmd.usage)
		return 2
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintf(stderr, "d1seal %s: %v\n", args[0], err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: d1seal [-local DIR | -env NAME [-config d1seal.json]] <command> [arguments]")
	fmt.Fprintln(w, "\nCloudflare D1 when CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and D1_DATABASE_ID are set")
	fmt.Fprintln(w, "(CLOUDFLARE_API_BASE_URL overrides the endpoint); otherwise the local D1 in -local.")
	fmt.Fprintln(w, "-env picks a named environment (production, staging, local, ...) from the config file;")
	fmt.Fprintln(w, "the environment variables override its values, and the token always comes from CLOUDFLARE_API_TOKEN.")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n            d1seal %s\n", n, commands[n].summary, commands[n].usage)
	}
}

// flags returns a flag set for a subcommand that reports errors as usage errors.
func flags(name string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{strings.TrimSpace(err.Error())}
	}
	return nil
}
