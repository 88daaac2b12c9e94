//go:build !unix

package records

// lockFile is a no-op where advisory locks are not available: processes sharing a trust or
// state file there may lose one another's last update (never a verified key: a lost update
// is learned again from the database).
func lockFile(string) (func(), error) { return func() {}, nil }
