package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/d1seal/d1seal"
	"github.com/d1seal/d1seal/d1"
)

// DefaultConfig is the config file d1seal reads environments from when -config is not given.
const DefaultConfig = "d1seal.json"

// config is the file of named environments, such as production, staging and local:
//
//	{
//	  "environments": {
//	    "production": {"account_id": "…", "database_id": "…"},
//	    "staging":    {"account_id": "…", "database_id": "…"},
//	    "local":      {"local_dir": ".d1seal"}
//	  }
//	}
//
// API tokens are never kept in it: CLOUDFLARE_API_TOKEN supplies the token, and
// CLOUDFLARE_ACCOUNT_ID, D1_DATABASE_ID and CLOUDFLARE_API_BASE_URL override the file's values.
type config struct {
	Environments map[string]environment `json:"environments"`
}

type environment struct {
	AccountID  string `json:"account_id,omitempty"`
	DatabaseID string `json:"database_id,omitempty"`
	BaseURL    string `json:"base_url,omitempty"`
	LocalDir   string `json:"local_dir,omitempty"`
}

func loadConfig(path string) (*config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read environments: %w", err)
	}
	var c config
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for name, env := range c.Environments {
		if strings.Contains(string(b), `"token"`) || strings.Contains(string(b), `"api_token"`) {
			return nil, fmt.Errorf("%s: keep API tokens out of the file: set CLOUDFLARE_API_TOKEN", path)
		}
		if (env.DatabaseID == "") == (env.LocalDir == "") {
			return nil, fmt.Errorf("%s: environment %q needs either database_id (Cloudflare D1) or local_dir (the local D1)", path, name)
		}
	}
	return &c, nil
}

// openEnv opens the database of the named environment.
func openEnv(ctx context.Context, path, name string) (*d1seal.DB, error) {
	c, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	env, ok := c.Environments[name]
	if !ok {
		names := make([]string, 0, len(c.Environments))
		for n := range c.Environments {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, usageError{fmt.Sprintf("no environment %q in %s (it has: %s)", name, path, strings.Join(names, ", "))}
	}
	override := func(v *string, key string) {
		if s := os.Getenv(key); s != "" {
			*v = s
		}
	}
	override(&env.AccountID, d1.EnvAccountID)
	override(&env.DatabaseID, d1.EnvDatabaseID)
	override(&env.BaseURL, d1.EnvBaseURL)
	if env.DatabaseID == "" {
		return d1seal.OpenLocal(ctx, d1seal.Options{LocalDir: env.LocalDir})
	}
	token := os.Getenv(d1.EnvAPIToken)
	if token == "" {
		return nil, errors.New("environment " + name + " is Cloudflare D1: set " + d1.EnvAPIToken + " (tokens are never kept in the config file)")
	}
	if env.AccountID == "" {
		return nil, errors.New("environment " + name + " has no account_id: add it to the file or set " + d1.EnvAccountID)
	}
	clientAcct, err := d1.NewAccount(env.AccountID, token, d1.Options{BaseURL: env.BaseURL})
	if err != nil {
		return nil, err
	}
	client := clientAcct.Database(env.DatabaseID)
	return &d1seal.DB{Client: client, Where: "Cloudflare D1 database " + env.DatabaseID + " (environment " + name + ")"}, nil
}
