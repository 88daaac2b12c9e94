package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/d1seal/d1seal/d1"
)

// account returns the account, for its database list: like open, but on Cloudflare D1 it
// needs only CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN, as wrangler d1 create and list do.
func (e *env) account(ctx context.Context) (*d1.Account, error) {
	acct, token := os.Getenv(d1.EnvAccountID), os.Getenv(d1.EnvAPIToken)
	if e.envName == "" && acct != "" && token != "" && os.Getenv(d1.EnvDatabaseID) == "" {
		fmt.Fprintln(e.stderr, "d1seal: Cloudflare account", acct)
		return d1.NewAccount(acct, token, d1.Options{BaseURL: os.Getenv(d1.EnvBaseURL)})
	}
	db, err := e.open(ctx)
	if err != nil {
		return nil, err
	}
	return db.Client.Account(), nil
}

func cmdInfo(ctx context.Context, e *env, args []string) error {
	fs := flags("info", e)
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	type table struct {
		Name string `json:"name"`
		Rows int64  `json:"rows"`
	}
	info := struct {
		Where       string  `json:"where"`
		Bytes       int64   `json:"size_bytes"`
		Replication string  `json:"read_replication,omitempty"`
		Tables      []table `json:"tables"`
	}{Where: db.Where, Tables: []table{}}
	// The read replication mode is an administration call: a bridge without REST credentials
	// cannot ask, and info then leaves it out.
	if d, err := db.Client.Info(ctx); err == nil {
		info.Replication = d.ReadReplication
	}
	names, err := d1.QueryAll[string](ctx, db.Client, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name`)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		stmts := make([]d1.Statement, len(names))
		for i, n := range names {
			stmts[i] = d1.Statement{SQL: `SELECT count(*) FROM "` + strings.ReplaceAll(n, `"`, `""`) + `"`}
		}
		rs, err := db.Client.Batch(ctx, stmts...)
		if err != nil {
			return err
		}
		for i, r := range rs {
			var n int64
			if err := r.Row(0).Scan(&n); err != nil {
				return err
			}
			info.Tables = append(info.Tables, table{names[i], n})
			info.Bytes = r.Meta.SizeAfter
		}
	}
	return e.print(info, func(w io.Writer) {
		fmt.Fprintf(w, "database  %s\nsize      %d bytes\n", info.Where, info.Bytes)
		if info.Replication != "" {
			fmt.Fprintf(w, "read replication  %s\n", info.Replication)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TABLE\tROWS")
		for _, t := range info.Tables {
			fmt.Fprintf(tw, "%s\t%d\n", t.Name, t.Rows)
		}
		tw.Flush()
	})
}

func cmdOptimize(ctx context.Context, e *env, args []string) error {
	fs := flags("optimize", e)
	if err := e.parse(fs, args); err != nil {
		return err
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	r, err := db.Client.Query(ctx, "PRAGMA optimize")
	if err != nil {
		return err
	}
	return e.print(map[string]any{"optimized": true, "rows_written": r.Meta.RowsWritten}, func(w io.Writer) {
		fmt.Fprintf(w, "optimized (%d rows written)\n", r.Meta.RowsWritten)
	})
}

// version is d1seal's module version: the tag it was built from, or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func cmdVersion(_ context.Context, e *env, args []string) error {
	fs := flags("version", e)
	if err := e.parse(fs, args); err != nil {
		return err
	}
	v := version()
	goVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	return e.print(map[string]string{"version": v, "go": goVersion}, func(w io.Writer) {
		fmt.Fprintf(w, "d1seal %s (%s)\n", v, goVersion)
	})
}

// subcommands lists each command's subcommands, for completion.
var subcommands = map[string][]string{
	"db":          {"list", "create", "delete"},
	"keys":        {"generate", "show", "register", "rotate", "pin"},
	"migrate":     {"status", "apply", "baseline", "create"},
	"records":     {"list", "shared", "get", "put", "delete", "share", "unshare"},
	"time-travel": {"bookmark", "restore"},
	"completion":  {"bash", "zsh"},
}

func cmdCompletion(_ context.Context, e *env, args []string) error {
	fs := flags("completion", e)
	if err := e.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "bash" && fs.Arg(0) != "zsh") {
		return usageError{"give bash or zsh"}
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	if fs.Arg(0) == "zsh" {
		b.WriteString("autoload -U +X bashcompinit && bashcompinit\n")
	}
	b.WriteString("# d1seal completion: eval \"$(d1seal completion " + fs.Arg(0) + ")\"\n_d1seal() {\n  local cur=${COMP_WORDS[COMP_CWORD]} cmd=\"\" i\n")
	b.WriteString("  for ((i = 1; i < COMP_CWORD; i++)); do case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break;; esac; done\n")
	b.WriteString("  case $cmd in\n    \"\") COMPREPLY=($(compgen -W \"" + strings.Join(names, " ") + " help\" -- \"$cur\"));;\n")
	subs := make([]string, 0, len(subcommands))
	for c := range subcommands {
		subs = append(subs, c)
	}
	sort.Strings(subs)
	for _, c := range subs {
		fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\"));;\n", c, strings.Join(subcommands[c], " "))
	}
	b.WriteString("    *) COMPREPLY=($(compgen -f -- \"$cur\"));;\n  esac\n}\ncomplete -F _d1seal d1seal\n")
	_, err := io.WriteString(e.stdout, b.String())
	return err
}
