package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/records"
)

// EnvPassphrase holds the passphrase of key files when -passphrase-file is not given.
const EnvPassphrase = "D1SEAL_PASSPHRASE"

// passphrase reads a key file's passphrase from a file, D1SEAL_PASSPHRASE, or a prompt on the
// terminal (without echo; asked twice when confirm is set). Never from a flag, which would
// show it in the process list and shell history. It is never printed.
func passphrase(e *env, file string, confirm bool) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		p := []byte(strings.TrimRight(string(b), "\r\n"))
		if len(p) == 0 {
			return nil, fmt.Errorf("passphrase file %s is empty", file)
		}
		return p, nil
	}
	if p := os.Getenv(EnvPassphrase); p != "" {
		return []byte(p), nil
	}
	if e.stdin == nil || !term.IsTerminal(int(e.stdin.Fd())) {
		return nil, errors.New("no passphrase: set " + EnvPassphrase + ", give -passphrase-file, or run on a terminal to be asked")
	}
	fmt.Fprint(e.stderr, "passphrase: ")
	p, err := term.ReadPassword(int(e.stdin.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, errors.New("empty passphrase")
	}
	if confirm {
		fmt.Fprint(e.stderr, "again: ")
		again, err := term.ReadPassword(int(e.stdin.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return nil, err
		}
		if string(again) != string(p) {
			return nil, errors.New("the passphrases do not match")
		}
	}
	return p, nil
}

func loadAgent(e *env, keyFile, passFile string) (*crypto.Agent, error) {
	if keyFile == "" {
		return nil, usageError{"give -key FILE (made by d1seal keys generate)"}
	}
	p, err := passphrase(e, passFile, false)
	if err != nil {
		return nil, err
	}
	return crypto.ReadKeyFile(keyFile, p)
}

func cmdKeys(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"give generate, show, register or rotate"}
	}
	sub, args := args[0], args[1:]
	fs := flags("keys "+sub, e)
	did := fs.String("did", "", "the agent's DID (generate)")
	out := fs.String("out", "", "key file to write (generate, rotate)")
	key := fs.String("key", "", "key file to read (show, register, rotate)")
	passFile := fs.String("passphrase-file", "", "file holding the passphrase (default: $"+EnvPassphrase+")")
	pq := fs.Bool("pq", false, "also generate an X-Wing (ML-KEM-768 + X25519) key (generate)")
	meta := fs.String("metadata", "", "JSON metadata to register with the agent (register)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch sub {
	case "generate":
		if *did == "" || *out == "" {
			return usageError{"generate needs -did and -out"}
		}
		if _, err := records.ParseDID(*did); err != nil {
			return err
		}
		p, err := passphrase(e, *passFile, true)
		if err != nil {
			return err
		}
		a, err := crypto.GenerateAgent(*did, crypto.GenerateOptions{PostQuantum: *pq})
		if err != nil {
			return err
		}
		if err := crypto.WriteKeyFile(*out, a, p, crypto.KeyFileOptions{}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s for %s\n", *out, a)
		return nil
	case "show":
		a, err := loadAgent(e, *key, *passFile)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, a)
		return nil
	case "register":
		a, err := loadAgent(e, *key, *passFile)
		if err != nil {
			return err
		}
		var md json.RawMessage
		if *meta != "" {
			md = json.RawMessage(*meta)
		}
		db, err := e.open(ctx)
		if err != nil {
			return err
		}
		if _, err := records.NewStore(db.Client, records.StoreOptions{}).RegisterAgent(ctx, a, md); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "registered %s\n", a)
		return nil
	case "rotate":
		if *out == "" {
			return usageError{"rotate needs -key (the current key file) and -out (the new one)"}
		}
		old, err := loadAgent(e, *key, *passFile)
		if err != nil {
			return err
		}
		next, err := old.NewEncryptionKeys()
		if err != nil {
			return err
		}
		p, err := passphrase(e, *passFile, false)
		if err != nil {
			return err
		}
		// The new key file is written first: if the rotation stops half-way, both files are
		// there to run it again.
		if err := crypto.WriteKeyFile(*out, next, p, crypto.KeyFileOptions{}); err != nil {
			return err
		}
		db, err := e.open(ctx)
		if err != nil {
			return err
		}
		done, err := records.NewStore(db.Client, records.StoreOptions{}).RotateKeys(ctx, old, next, records.RotateOptions{
			Progress: func(n int) { fmt.Fprintf(e.stderr, "re-wrapped %d grants\n", n) },
		})
		if err != nil {
			return fmt.Errorf("%w (run the same command again with -out %s to finish)", err, *out)
		}
		fmt.Fprintf(e.stdout, "rotated %s: %d own records and %d shared grants re-wrapped; use %s from now on\n", old.DID(), done.Records, done.Shared, *out)
		return nil
	}
	return usageError{"unknown keys subcommand " + sub}
}
