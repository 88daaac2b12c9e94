// Package bridge holds the d1seal bridge Worker: worker.js, a module Worker that exposes a D1
// binding over HTTPS with the request and response shapes of D1's REST /query and /raw, and
// wrangler.toml, its configuration template. It is the only non-Go code of d1seal; the Go side
// is d1.NewBridgeClient, and `d1seal bridge init` writes a project from these files.
//
// See worker.js for the protocol: routes, the signed headers (HMAC-SHA256 over method, path,
// timestamp, nonce, session and a body hash, within a clock window) and sessions.
package bridge

import _ "embed"

// Worker is the source of the bridge Worker (worker.js).
//
//go:embed worker.js
var Worker []byte

// WranglerTemplate is the wrangler.toml template, with REPLACE_WITH_DATABASE_NAME and
// REPLACE_WITH_DATABASE_ID where the database goes.
//
//go:embed wrangler.toml
var WranglerTemplate []byte
