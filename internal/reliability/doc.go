// Package reliability holds no code: its tests show, with runs anyone can repeat, that d1seal
// keeps working under faults, load and hostile input without losing, duplicating or leaking a
// record. See RELIABILITY.md at the root of the repository for the scenarios, their figures
// and how to run the long versions:
//
//   - a fault soak (create, update, share, unshare, delete, create-many from 8 goroutines against
//     a local D1 that fails requests before executing them, drops responses after committing,
//     answers 429 with Retry-After, adds latency and answers D1's transient errors), checked
//     against a model of what succeeded; D1SEAL_SOAK=long runs 10,000 operations;
//   - Cloudflare's rate-limit lockout, and the client's own budget;
//   - concurrency: creators sharing a collection, updates racing for one record, two
//     processes initialising the schema at once;
//   - a table of hostile inputs across the public API and the local D1, each refused with a
//     typed error and nothing written;
//   - secrets (API token, passphrases, private keys, plaintext) kept out of errors, logs and
//     formatted values;
//   - durability of cmd/d1local killed with SIGKILL in the middle of batches.
package reliability
