package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/records"
	"github.com/d1seal/d1seal/syntax"
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
	return readKeyFile(keyFile, p)
}

// readKeyFile reads a key file and says in CLI terms what went wrong.
func readKeyFile(path string, p []byte) (*crypto.Agent, error) {
	a, err := crypto.ReadKeyFile(path, p)
	switch {
	case err == nil:
		return a, nil
	case errors.Is(err, crypto.ErrKeyFilePermissions):
		return nil, fmt.Errorf("key file %s is readable by other users: run chmod 600 %s", path, path)
	case errors.Is(err, crypto.ErrDecrypt):
		return nil, fmt.Errorf("wrong passphrase for key file %s (or the file is damaged)", path)
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("no key file %s (make one with d1seal keys generate -did DID -out %s)", path, path)
	}
	return nil, err
}

// writeNewKeyFile writes a key file where none exists. With force, an existing file is first
// moved aside to FILE.bak-TIMESTAMP (the backup is named in the output); without, an existing
// file is an error: a key file may be the only copy of a private key.
func writeNewKeyFile(e *env, path string, a *crypto.Agent, p []byte, force bool) error {
	if _, err := os.Lstat(path); err == nil {
		if !force {
			return fmt.Errorf("%s already exists: d1seal never overwrites a key file (give another -out, or -force to move the old file aside first)", path)
		}
		backup := path + ".bak-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Link(path, backup); err != nil {
			return fmt.Errorf("keep a backup of %s: %w", path, err)
		}
		fmt.Fprintf(e.stderr, "moved the old %s to %s\n", path, backup)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return crypto.WriteKeyFile(path, a, p, crypto.KeyFileOptions{})
}

// publicKeysJSON is the pinnable form of an agent's public keys: what keys show -json prints
// and keys pin reads. Keys are hex of their tagged encodings (crypto's Bytes).
type publicKeysJSON struct {
	DID       string `json:"did"`
	X25519    string `json:"x25519"`
	Ed25519   string `json:"ed25519"`
	XWing     string `json:"xwing,omitempty"`
	X25519ID  string `json:"x25519_id"`
	Ed25519ID string `json:"ed25519_id"`
	XWingID   string `json:"xwing_id,omitempty"`
}

func publicJSON(a *crypto.Agent) publicKeysJSON {
	k := publicKeysJSON{
		DID:       a.DID(),
		X25519:    hex.EncodeToString(a.RecipientKey().Bytes()),
		Ed25519:   hex.EncodeToString(a.VerifyingKey().Bytes()),
		X25519ID:  a.RecipientKey().KeyID().String(),
		Ed25519ID: a.VerifyingKey().KeyID().String(),
	}
	if pq := a.PostQuantumKey(); pq != nil {
		k.XWing, k.XWingID = hex.EncodeToString(pq.Bytes()), pq.KeyID().String()
	}
	return k
}

func (k publicKeysJSON) agentKeys() (records.AgentKeys, error) {
	var out records.AgentKeys
	did, err := syntax.ParseDID(k.DID)
	if err != nil {
		return out, err
	}
	out.DID = did
	dec := func(name, h string) ([]byte, error) {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("%q is not a hex key", name)
		}
		return b, nil
	}
	b, err := dec("x25519", k.X25519)
	if err != nil {
		return out, err
	}
	if out.Recipient, err = crypto.ParseRecipientKey(b); err != nil {
		return out, fmt.Errorf("x25519: %w", err)
	}
	if b, err = dec("ed25519", k.Ed25519); err != nil {
		return out, err
	}
	if out.Verifying, err = crypto.ParseVerifyingKey(b); err != nil {
		return out, fmt.Errorf("ed25519: %w", err)
	}
	if k.XWing != "" {
		if b, err = dec("xwing", k.XWing); err != nil {
			return out, err
		}
		if out.PostQuantum, err = crypto.ParseRecipientKey(b); err != nil {
			return out, fmt.Errorf("xwing: %w", err)
		}
	}
	return out, nil
}

func cmdKeys(ctx context.Context, e *env, args []string) error {
	sub, args, err := e.subcommand("keys", args, "generate", "show", "register", "rotate", "pin")
	if err != nil {
		return err
	}
	fs := flags("keys "+sub, e)
	passFile := fs.String("passphrase-file", "", "file holding the passphrase (default: $"+EnvPassphrase+", else asked on a terminal)")
	var (
		did, out, key, meta                 *string
		pq, force, compromised, keepSigning *bool
	)
	t := &trustFlags{}
	switch sub {
	case "generate":
		did = fs.String("did", "", "the agent's DID")
		out = fs.String("out", "", "key file to write (never overwritten)")
		pq = fs.Bool("pq", false, "also generate an X-Wing (ML-KEM-768 + X25519) key")
		force = fs.Bool("force", false, "move an existing -out file aside (FILE.bak-TIME) instead of refusing")
	case "show":
		key = fs.String("key", "", "key file to read")
	case "register", "rotate", "pin":
		key = fs.String("key", "", "the agent's key file")
		t.add(fs)
	}
	switch sub {
	case "register":
		meta = fs.String("metadata", "", "JSON metadata to register with the agent (signed by it)")
	case "rotate":
		out = fs.String("out", "", "key file for the new keys (if it exists, the rotation to it is resumed)")
		compromised = fs.Bool("compromised", false, "the old keys leaked: revoke them (nothing they signed verifies) and reseal every record")
		keepSigning = fs.Bool("keep-signing-key", false, "replace only the encryption keys (not with -compromised)")
		force = fs.Bool("force", false, "start a new rotation although -out exists (the old -out is moved aside first)")
	}
	if err := e.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 && sub != "pin" {
		return usageError{"unexpected argument " + fs.Arg(0)}
	}
	switch sub {
	case "generate":
		if *did == "" || *out == "" {
			return usageError{"generate needs -did and -out"}
		}
		if _, err := syntax.ParseDID(*did); err != nil {
			return usageError{fmt.Sprintf("-did %q is not a DID such as did:plc:alice", *did)}
		}
		if _, err := os.Lstat(*out); err == nil && !*force {
			return fmt.Errorf("%s already exists: d1seal never overwrites a key file (give another -out, or -force to move the old file aside first)", *out)
		}
		p, err := passphrase(e, *passFile, true)
		if err != nil {
			return err
		}
		a, err := crypto.GenerateAgent(*did, crypto.GenerateOptions{PostQuantum: *pq})
		if err != nil {
			return err
		}
		if err := writeNewKeyFile(e, *out, a, p, *force); err != nil {
			return err
		}
		return e.print(struct {
			File string         `json:"file"`
			Keys publicKeysJSON `json:"keys"`
		}{*out, publicJSON(a)}, func(w io.Writer) {
			fmt.Fprintf(w, "wrote %s for %s\n", *out, a)
			fmt.Fprintf(w, "next: d1seal keys register -key %s\n", *out)
		})
	case "show":
		a, err := loadAgent(e, *key, *passFile)
		if err != nil {
			return err
		}
		return e.print(publicJSON(a), func(w io.Writer) { fmt.Fprintln(w, a) })
	case "register":
		a, err := loadAgent(e, *key, *passFile)
		if err != nil {
			return err
		}
		var md json.RawMessage
		if *meta != "" {
			if !json.Valid([]byte(*meta)) {
				return usageError{"-metadata is not valid JSON"}
			}
			md = json.RawMessage(*meta)
		}
		store, err := t.open(ctx, e, *key)
		if err != nil {
			return err
		}
		if _, err := store.RegisterAgent(ctx, a, md); err != nil {
			return err
		}
		return e.print(struct {
			Registered publicKeysJSON `json:"registered"`
		}{publicJSON(a)}, func(w io.Writer) { fmt.Fprintf(w, "registered %s\n", a) })
	case "pin":
		return pinKeys(ctx, e, t, *key, fs.Args())
	case "rotate":
		return rotateKeys(ctx, e, t, *key, *out, *passFile, *compromised, *keepSigning, *force)
	}
	return nil
}

// pinKeys pins agents' public keys from files of keys show -json output ("-" for standard
// input) into the trust file.
func pinKeys(ctx context.Context, e *env, t *trustFlags, key string, files []string) error {
	if len(files) == 0 {
		return usageError{"give the files of the keys to pin (made by d1seal keys show -json), or - for standard input"}
	}
	var all []records.AgentKeys
	for _, f := range files {
		var b []byte
		var err error
		if f == "-" {
			b, err = io.ReadAll(io.LimitReader(e.stdin, 1<<20))
		} else {
			b, err = os.ReadFile(f)
		}
		if err != nil {
			return err
		}
		var k publicKeysJSON
		if err := json.Unmarshal(b, &k); err != nil {
			return fmt.Errorf("%s: not the output of d1seal keys show -json: %w", f, err)
		}
		ak, err := k.agentKeys()
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		all = append(all, ak)
	}
	store, err := t.open(ctx, e, key)
	if err != nil {
		return err
	}
	var pinned []string
	for _, ak := range all {
		if err := store.Pin(ak); err != nil {
			return err
		}
		pinned = append(pinned, string(ak.DID))
	}
	return e.print(struct {
		Pinned []string `json:"pinned"`
		Trust  string   `json:"trust_file"`
	}{pinned, t.path}, func(w io.Writer) {
		for _, d := range pinned {
			fmt.Fprintf(w, "pinned %s in %s\n", d, t.path)
		}
	})
}

// rotateKeys replaces an agent's keys. The new key file is written before anything is
// published, and never overwritten: if -out exists, the rotation to the keys in it is
// resumed (RotateKeys is safe to run again with the same old and new keys).
func rotateKeys(ctx context.Context, e *env, t *trustFlags, key, out, passFile string, compromised, keepSigning, force bool) error {
	if key == "" || out == "" {
		return usageError{"rotate needs -key (the current key file) and -out (the new one)"}
	}
	if compromised && keepSigning {
		return usageError{"-compromised replaces every key: leave out -keep-signing-key"}
	}
	old, err := loadAgent(e, key, passFile)
	if err != nil {
		return err
	}
	p, err := passphrase(e, passFile, false)
	if err != nil {
		return err
	}
	var next *crypto.Agent
	resumed := false
	if _, err := os.Lstat(out); err == nil && !force {
		if next, err = readKeyFile(out, p); err != nil {
			return fmt.Errorf("%s exists but cannot be read to resume the rotation: %w", out, err)
		}
		if next.DID() != old.DID() {
			return fmt.Errorf("%s holds keys of %s, not of %s: give another -out", out, next.DID(), old.DID())
		}
		resumed = true
		fmt.Fprintf(e.stderr, "%s exists: resuming the rotation to the keys in it\n", out)
	} else {
		if keepSigning {
			next, err = old.NewEncryptionKeys()
		} else {
			next, err = old.NewKeys()
		}
		if err != nil {
			return err
		}
		// Written first: if the rotation stops half-way, both files are there to resume it.
		if err := writeNewKeyFile(e, out, next, p, force); err != nil {
			return err
		}
	}
	store, err := t.open(ctx, e, key)
	if err != nil {
		return err
	}
	done, err := store.RotateKeys(ctx, old, next, records.RotateOptions{
		Compromised: compromised,
		Progress:    func(n int) { fmt.Fprintf(e.stderr, "re-wrapped %d grants\n", n) },
	})
	if err != nil {
		return fmt.Errorf("%w (run the same command again to resume: -out %s is kept)", err, out)
	}
	return e.print(struct {
		DID         string         `json:"did"`
		NewKeyFile  string         `json:"new_key_file"`
		Resumed     bool           `json:"resumed"`
		Compromised bool           `json:"compromised"`
		Records     int            `json:"records"`
		Shared      int            `json:"shared"`
		Resealed    int            `json:"resealed"`
		Keys        publicKeysJSON `json:"keys"`
	}{old.DID(), out, resumed, compromised, done.Records, done.Shared, done.Resealed, publicJSON(next)}, func(w io.Writer) {
		fmt.Fprintf(w, "rotated %s: %d own records and %d shared grants re-wrapped", old.DID(), done.Records, done.Shared)
		if compromised {
			fmt.Fprintf(w, ", %d records resealed; the old keys are revoked", done.Resealed)
		}
		fmt.Fprintf(w, "; use %s from now on (keep %s until every process has switched)\n", out, key)
	})
}
