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
	"syscall"

	"github.com/d1seal/d1seal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the command ran and failed
	exitUsage   = 2 // the command line is wrong
	exitPending = 3 // migrate status -check: migrations pending or applied files changed
)

// command is one subcommand.
type command struct {
	summary string
	usage   string
	run     func(ctx context.Context, e *env, args []string) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"exec":        {"run SQL (a statement, a script, or a file) and print the results", "exec [-json] [-file F | -command SQL | SQL]", cmdExec},
		"export":      {"write a SQL dump of the database", "export [-output FILE] [-table T]... [-no-data] [-no-schema] [-data-only]", cmdExport},
		"import":      {"run a SQL file (such as a dump) through D1's import", "import [-file] FILE", cmdImport},
		"bookmark":    {"print the Time Travel bookmark for now or for a time", "bookmark [-at RFC3339]", cmdBookmark},
		"restore":     {"rewind the database to a bookmark (prints the undo bookmark)", "restore [-y] BOOKMARK | -at RFC3339", cmdRestore},
		"time-travel": {"Time Travel: bookmark, or restore to a bookmark or a time", "time-travel bookmark [-at RFC3339] | time-travel restore [-y] BOOKMARK | -at RFC3339", cmdTimeTravel},
		"local":       {"serve the local D1 (in the -local folder) on a port for wrangler, curl and other SDKs", "local [-addr 127.0.0.1:8787] [-token T] [-latency D]", cmdLocal},
		"db":          {"list, create or delete databases of the account", "db list [NAME] | db create NAME | db delete [-y] NAME|ID", cmdDB},
		"info":        {"size, tables and rows of the database", "info", cmdInfo},
		"optimize":    {"run PRAGMA optimize on the database", "optimize", cmdOptimize},
		"insights":    {"the queries that cost the most (time, rows read or written, runs), as wrangler d1 insights", "insights [-json] [-period 1d] [-sort-by time|reads|writes|count] [-sort-type sum|avg] [-asc] [-limit 5] [-all]", cmdInsights},
		"migrate":     {"status, apply, baseline or create numbered migrations (wrangler-compatible ledger)", "migrate status|apply|baseline|create [-dir migrations | -agent-records] [-table T] [-target N] [-dry-run] [-accept-drift] [-bookmark] [-check] [-y] [NAME]", cmdMigrate},
		"keys":        {"generate, show, register, rotate or pin agents' keys (passphrase-protected key files)", "keys generate|show|register|rotate|pin [flags]; d1seal keys help", cmdKeys},
		"records":     {"list, get, put, delete, share or unshare sealed records as an agent", "records list|shared|get|put|delete|share|unshare -key FILE [-collection NSID] [ARGS]", cmdRecords},
		"version":     {"print d1seal's version", "version", cmdVersion},
		"bridge":      {"write the bridge Worker project (D1 binding, HMAC-signed requests)", "bridge init [-dir d1seal-bridge] [-name d1seal-bridge] [-database-name NAME] [-database-id ID] [-force]", cmdBridge},
		"completion":  {"print a shell completion script (bash or zsh)", "completion bash|zsh", cmdCompletion},
		"fleet":       {"create, list, status, migrate, query or move the databases of a fleet (its directory is this database)", "fleet create|list|status|migrate|query|move [-json] [-name N] (-operator FILE | -operator-key HEX) [flags]", runFleet},
	}
}

// env is what every command gets: where to print and how to reach the database.
type env struct {
	stdout, stderr io.Writer
	stdin          *os.File
	local          string // folder of the local D1 when no credentials are set
	envName        string // -env: a named environment of the config file
	configPath     string
	db             *d1seal.DB
	asJSON         bool // -json: print one JSON value instead of text
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

// exitError ends a command with a given status and no message of its own.
type exitError struct{ code int }

func (x exitError) Error() string { return fmt.Sprintf("exit status %d", x.code) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("d1seal", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	local := global.String("local", ".d1seal", "folder of the local D1, used when CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and D1_DATABASE_ID are not set")
	envName := global.String("env", "", "a named environment of the config file, such as production, staging or local")
	configPath := global.String("config", DefaultConfig, "the config file of named environments (JSON)")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "d1seal: %v\n\n", err)
		usage(stderr)
		return exitUsage
	}
	args = global.Args()
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		if len(args) > 1 {
			if _, ok := commands[args[1]]; ok {
				return run(ctx, append([]string{args[1]}, append(args[2:], "-h")...), stdout, stderr)
			}
			fmt.Fprintf(stderr, "d1seal help: unknown command %q\n", args[1])
			return exitUsage
		}
		usage(stdout)
		return exitOK
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "d1seal: unknown command %q (run d1seal help)\n", name)
		return exitUsage
	}
	e := &env{stdout: stdout, stderr: stderr, stdin: os.Stdin, local: *local, envName: *envName, configPath: *configPath}
	defer func() {
		if e.db != nil {
			e.db.Close()
		}
	}()
	err := cmd.run(ctx, e, args[1:])
	var ue usageError
	var xe exitError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &xe):
		return xe.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "d1seal %s: %s\nusage: d1seal %s\n(d1seal %s -h for every flag)\n", name, ue.msg, cmd.usage, name)
		return exitUsage
	}
	fmt.Fprintf(stderr, "d1seal %s: %s\n", name, explain(err))
	return exitFailed
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: d1seal [-local DIR | -env NAME [-config d1seal.json]] <command> [arguments]")
	fmt.Fprintln(w, "\nCloudflare D1 when CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN and D1_DATABASE_ID are set")
	fmt.Fprintln(w, "(CLOUDFLARE_API_BASE_URL overrides the endpoint); otherwise the local D1 in -local (default .d1seal).")
	fmt.Fprintln(w, "-env picks a named environment (production, staging, local, ...) from the config file;")
	fmt.Fprintln(w, "the environment variables override its values, and the token always comes from CLOUDFLARE_API_TOKEN.")
	fmt.Fprintln(w, "Flags may come before or after arguments; every command takes -h and -json.")
	fmt.Fprintln(w, "Exit status: 0 done, 1 failed, 2 wrong command line, 3 migrate status -check found pending or changed migrations.")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n              d1seal %s\n", n, commands[n].summary, commands[n].usage)
	}
}

// flags returns a flag set for a subcommand. Every subcommand takes -json.
func flags(name string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&e.asJSON, "json", false, "print the result as JSON (a stable shape)")
	return fs
}

// parse parses a subcommand's flags, which may come before, between or after its arguments
// ("--" ends the flags). -h prints the subcommand's usage and flags on standard output.
// parseNoArgs is parse for a command that takes flags only.
func (e *env) parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := e.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected argument " + fs.Arg(0)}
	}
	return nil
}

func (e *env) parse(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				e.help(fs)
				return err
			}
			return usageError{strings.TrimSpace(err.Error())}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	// Leave the positional arguments as fs.Args().
	return fs.Parse(append([]string{"--"}, pos...))
}

// help prints a subcommand's usage and flags on standard output.
func (e *env) help(fs *flag.FlagSet) {
	name, _, _ := strings.Cut(fs.Name(), " ")
	fmt.Fprintf(e.stdout, "usage: d1seal %s\n\n%s\n\nflags of d1seal %s:\n", commands[name].usage, commands[name].summary, fs.Name())
	fs.SetOutput(e.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// subcommand splits off a subcommand name, printing the command's usage for -h or help.
func (e *env) subcommand(name string, args []string, subs ...string) (string, []string, error) {
	if len(args) == 0 {
		return "", nil, usageError{"give " + strings.Join(subs, ", ")}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			return args[1], []string{"-h"}, nil
		}
		fmt.Fprintf(e.stdout, "usage: d1seal %s\n\n%s\n\nsubcommands: %s (d1seal %s SUBCOMMAND -h for its flags)\n",
			commands[name].usage, commands[name].summary, strings.Join(subs, ", "), name)
		return "", nil, flag.ErrHelp
	}
	for _, s := range subs {
		if args[0] == s {
			return args[0], args[1:], nil
		}
	}
	return "", nil, usageError{fmt.Sprintf("unknown %s subcommand %q: give %s", name, args[0], strings.Join(subs, ", "))}
}
