package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/records"
)

// The trust and state files the records and keys commands keep beside the key files (in the
// folder of -key) unless -trust and -state name others.
const (
	TrustFileName = "d1seal-trust.json" // agents' trusted key log heads and pins (records.TrustFile)
	StateFileName = "d1seal-state"      // versions and deletions seen (records.StateFile)
)

// trustFlags are -trust and -state.
type trustFlags struct {
	trust, state *string
	path         string // the trust file in use, once opened
}

func (t *trustFlags) add(fs *flag.FlagSet) {
	t.trust = fs.String("trust", "", "trust file: the agents' keys this client trusts (default: "+TrustFileName+" beside -key)")
	t.state = fs.String("state", "", "state file: record versions and deletions seen, to refuse rollbacks (default: "+StateFileName+" beside -key)")
}

// open returns a Store that trusts only what the trust file says (pins, and keys learned on
// first use, remembered there) and remembers versions in the state file.
func (t *trustFlags) open(ctx context.Context, e *env, keyFile string) (*records.Store, error) {
	trustPath, statePath := *t.trust, *t.state
	if keyFile != "" {
		dir := filepath.Dir(keyFile)
		if trustPath == "" {
			trustPath = filepath.Join(dir, TrustFileName)
		}
		if statePath == "" {
			statePath = filepath.Join(dir, StateFileName)
		}
	}
	if trustPath == "" || statePath == "" {
		return nil, usageError{"give -key FILE (the trust and state files live beside it) or both -trust and -state"}
	}
	trust, err := records.OpenTrustFile(trustPath)
	if err != nil {
		return nil, fmt.Errorf("trust file %s: %w", trustPath, err)
	}
	state, err := records.OpenStateFile(statePath, 0)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", statePath, err)
	}
	db, err := e.open(ctx)
	if err != nil {
		return nil, err
	}
	t.path = trustPath
	return records.NewStore(db.Client, records.StoreOptions{Trust: trust, State: state}), nil
}

// cliWords rewrite the records and crypto errors that name Go API calls in terms of this
// CLI's commands and flags.
var cliWords = []struct {
	err  error
	text string
}{
	{records.ErrUnknownAgent, "unknown agent; register it with d1seal keys register -key FILE"},
	{records.ErrAgentExists, "agent already registered with other keys; change keys with d1seal keys rotate -key OLD -out NEW"},
	{records.ErrKeyRetired, "this key file was rotated out; use the newer key file that d1seal keys rotate wrote"},
	{records.ErrKeyRevoked, "signed with a key revoked as compromised (d1seal keys rotate -compromised): not trusted"},
	{records.ErrUntrusted, "agent keys not trusted: check the agent's keys out of band, then pin them with d1seal keys pin FILE (made by d1seal keys show -json)"},
	{records.ErrRollback, "the database served an older version of the record than this client has seen (the state file remembers it)"},
	{crypto.ErrKeyFilePermissions, "key file permissions too open: run chmod 600 on it"},
}

// explain returns an error's message with Go API names replaced by the CLI's commands.
func explain(err error) string {
	msg := err.Error()
	for _, w := range cliWords {
		if errors.Is(err, w.err) {
			msg = strings.ReplaceAll(msg, w.err.Error(), w.text)
		}
	}
	return msg
}
