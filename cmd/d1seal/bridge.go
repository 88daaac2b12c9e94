package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/d1seal/d1seal/bridge"
)

// cmdBridge runs `d1seal bridge init`: it writes the bridge Worker project (worker.js,
// wrangler.toml with the database filled in) with a fresh secret, and prints the commands that
// deploy it and the variables that point d1seal at it. The secret is written to files readable
// only by the user, never printed.
func cmdBridge(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "init" {
		return usageError{"bridge init [-dir d1seal-bridge] [-name d1seal-bridge] [-database-name NAME] [-database-id ID] [-force]"}
	}
	fs := flags("bridge init", e)
	dir := fs.String("dir", "d1seal-bridge", "folder to write the Worker project into")
	name := fs.String("name", "d1seal-bridge", "the Worker's name (its URL is https://NAME.<subdomain>.workers.dev)")
	dbName := fs.String("database-name", "", "the D1 database's name (wrangler d1 list)")
	dbID := fs.String("database-id", os.Getenv("D1_DATABASE_ID"), "the D1 database's id (default $D1_DATABASE_ID)")
	force := fs.Bool("force", false, "overwrite an existing project")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{strings.TrimSpace(err.Error())}
	}
	if !regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`).MatchString(*name) {
		return usageError{"bridge init: -name must be lower-case letters, digits and dashes"}
	}
	if *dbName == "" {
		*dbName = *name
	}
	if *dbID == "" {
		*dbID = "REPLACE_WITH_DATABASE_ID"
	}
	files, err := bridgeProject(*name, *dbName, *dbID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fmt.Errorf("bridge init: %w", err)
	}
	for _, f := range files {
		p := filepath.Join(*dir, f.name)
		flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
		if *force {
			flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		}
		fh, err := os.OpenFile(p, flag, f.mode)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("bridge init: %s exists: use -force to overwrite the project (a new secret)", p)
		}
		if err != nil {
			return fmt.Errorf("bridge init: %w", err)
		}
		_, err = fh.Write(f.data)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("bridge init: %w", err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return fmt.Errorf("bridge init: %w", err)
		}
	}
	w := e.stdout
	fmt.Fprintf(w, "wrote the d1seal bridge Worker to %s (the secret is in %s and %s, mode 0600)\n\n",
		*dir, filepath.Join(*dir, ".dev.vars"), filepath.Join(*dir, "bridge.env"))
	if *dbID == "REPLACE_WITH_DATABASE_ID" {
		fmt.Fprintf(w, "first set database_id in %s (wrangler d1 list shows it)\n\n", filepath.Join(*dir, "wrangler.toml"))
	}
	fmt.Fprintf(w, "deploy it:\n\n  cd %s\n  npx wrangler deploy\n  cut -d= -f2- .dev.vars | npx wrangler secret put BRIDGE_SECRET\n\n", *dir)
	fmt.Fprintf(w, "then point d1seal at it (Open chooses the bridge when both are set):\n\n")
	fmt.Fprintf(w, "  export D1SEAL_BRIDGE_URL=https://%s.<your-subdomain>.workers.dev\n", *name)
	fmt.Fprintf(w, "  export $(cat %s)   # D1SEAL_BRIDGE_SECRET\n\n", filepath.Join(*dir, "bridge.env"))
	fmt.Fprintf(w, "try it locally first: cd %s && npx wrangler dev --local (the bridge is then http://127.0.0.1:8787)\n", *dir)
	return nil
}

type projectFile struct {
	name string
	data []byte
	mode os.FileMode
}

// bridgeProject returns the files of a bridge Worker project with a fresh 256-bit secret.
func bridgeProject(name, dbName, dbID string) ([]projectFile, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(b[:])
	cfg := bytes.Replace(bridge.WranglerTemplate, []byte(`name = "d1seal-bridge"`), []byte(fmt.Sprintf("name = %q", name)), 1)
	cfg = bytes.ReplaceAll(cfg, []byte("REPLACE_WITH_DATABASE_NAME"), []byte(dbName))
	cfg = bytes.ReplaceAll(cfg, []byte("REPLACE_WITH_DATABASE_ID"), []byte(dbID))
	return []projectFile{
		{"worker.js", bridge.Worker, 0o644},
		{"wrangler.toml", cfg, 0o644},
		{".dev.vars", []byte("BRIDGE_SECRET=" + secret + "\n"), 0o600},
		{"bridge.env", []byte("D1SEAL_BRIDGE_SECRET=" + secret + "\n"), 0o600},
		{".gitignore", []byte(".dev.vars\nbridge.env\n.wrangler/\n"), 0o644},
	}, nil
}
