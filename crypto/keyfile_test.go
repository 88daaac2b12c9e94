package crypto

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testKDF keeps argon2id cheap in tests that derive many keys; it is below the minimum, so
// only marshalKeyFile takes it. minKDF is the cheapest setting WriteKeyFile accepts. The
// defaults are 3 passes over 64 MiB.
var (
	testKDF = KeyFileOptions{Time: 1, MemoryKiB: 64, Threads: 1}
	minKDF  = KeyFileOptions{Time: MinKeyFileTime, MemoryKiB: MinKeyFileMemory, Threads: 1}
)

func sameAgent(t *testing.T, want, got *Agent) {
	t.Helper()
	assert.Equal(t, want.DID(), got.DID())
	assert.True(t, want.RecipientKey().Equal(got.RecipientKey()), "X25519 key")
	assert.True(t, want.VerifyingKey().Equal(got.VerifyingKey()), "Ed25519 key")
	if want.PostQuantumKey() == nil {
		assert.Nil(t, got.PostQuantumKey())
	} else {
		assert.True(t, want.PostQuantumKey().Equal(got.PostQuantumKey()), "X-Wing key")
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, pq := range []bool{false, true} {
		a := newAgent(t, aliceDID, pq)
		path := filepath.Join(dir, "alice.key")
		require.NoError(t, WriteKeyFile(path, a, []byte("correct horse"), minKDF))
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

		got, err := ReadKeyFile(path, []byte("correct horse"))
		require.NoError(t, err)
		sameAgent(t, a, got)

		// The loaded agent opens what the original sealed.
		rc := noteContext(1)
		s, err := a.Seal(rc, []byte("kept"))
		require.NoError(t, err)
		pt, err := got.Open(rc, s.Envelope, s.Owner.WrappedKey, a.VerifyingKey())
		require.NoError(t, err)
		assert.Equal(t, "kept", string(pt))

		_, err = ReadKeyFile(path, []byte("wrong horse"))
		assert.ErrorIs(t, err, ErrDecrypt)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary files left behind")
}

func TestKeyFileMarshalLeavesAgentIntact(t *testing.T) {
	// Marshalling twice must write the same keys: crypto/hpke hands out its own seed slice
	// for X-Wing keys, which the first marshal must not wipe.
	a := newAgent(t, aliceDID, true)
	for range 2 {
		data, err := marshalKeyFile(a, []byte("pw"), testKDF)
		require.NoError(t, err)
		got, err := ParseKeyFile(data, []byte("pw"))
		require.NoError(t, err)
		sameAgent(t, a, got)
		seed, err := got.pq.priv.Bytes()
		require.NoError(t, err)
		assert.NotEqual(t, make([]byte, 32), seed)
	}
}

func TestKeyFileOverwriteIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k")
	a, b := newAgent(t, aliceDID, false), newAgent(t, bobDID, false)
	require.NoError(t, WriteKeyFile(path, a, []byte("p"), minKDF))
	require.NoError(t, WriteKeyFile(path, b, []byte("p"), minKDF))
	got, err := ReadKeyFile(path, []byte("p"))
	require.NoError(t, err)
	sameAgent(t, b, got)

	// A failed write (here: options out of range) leaves the old file untouched.
	err = WriteKeyFile(path, a, []byte("p"), KeyFileOptions{Time: MaxKeyFileTime + 1})
	assert.ErrorContains(t, err, "passes")
	got, err = ReadKeyFile(path, []byte("p"))
	require.NoError(t, err)
	sameAgent(t, b, got)

	assert.ErrorContains(t, WriteKeyFile(path, a, nil, minKDF), "empty passphrase")
	assert.Error(t, WriteKeyFile(filepath.Join(dir, "missing", "k"), a, []byte("p"), minKDF))
}

func TestKeyFileDefaultsAreStrong(t *testing.T) {
	o := KeyFileOptions{}.withDefaults()
	assert.Equal(t, KeyFileOptions{Time: 3, MemoryKiB: 64 << 10, Threads: 4}, o)
	assert.NoError(t, o.check())
}

func TestKeyFileRejectsTampering(t *testing.T) {
	a := newAgent(t, aliceDID, true)
	data, err := marshalKeyFile(a, []byte("pw"), testKDF)
	require.NoError(t, err)
	assert.Len(t, data, keyFileHeadSize+2+len(aliceDID)+32+32+1+32+1+32+16)

	for i := range data {
		for bit := range 8 {
			c := append([]byte(nil), data...)
			c[i] ^= 1 << bit
			if o, err := parseKeyFileHeader(c); err == nil && (o.MemoryKiB > 1024 || o.Time > 4) {
				continue // authenticated like the rest of the header, but too slow to run here
			}
			_, err := ParseKeyFile(c, []byte("pw"))
			require.ErrorIs(t, err, ErrDecrypt, "flip byte %d bit %d", i, bit)
		}
	}
	for n := range len(data) {
		_, err := ParseKeyFile(data[:n], []byte("pw"))
		require.ErrorIs(t, err, ErrDecrypt, "truncated to %d", n)
	}
}

func TestKeyFileCapsParameters(t *testing.T) {
	a := newAgent(t, aliceDID, false)
	data, err := marshalKeyFile(a, []byte("pw"), testKDF)
	require.NoError(t, err)
	for name, edit := range map[string]func(b []byte){
		"passes":   func(b []byte) { binary.BigEndian.PutUint32(b[10:], MaxKeyFileTime+1) },
		"memory":   func(b []byte) { binary.BigEndian.PutUint32(b[14:], MaxKeyFileMemory+1) },
		"lanes":    func(b []byte) { b[18] = MaxKeyFileThreads + 1 },
		"zero":     func(b []byte) { binary.BigEndian.PutUint32(b[10:], 0) },
		"kdf":      func(b []byte) { b[9] = 2 },
		"version":  func(b []byte) { b[8] = 3 },
		"version0": func(b []byte) { b[8] = 0 },
	} {
		c := append([]byte(nil), data...)
		edit(c)
		_, err := ParseKeyFile(c, []byte("pw"))
		assert.ErrorIs(t, err, ErrUnsupported, name)
		assert.ErrorIs(t, err, ErrDecrypt, name)
	}
	_, err = ParseKeyFile([]byte("not a key file at all, not even close to one"), []byte("pw"))
	assert.ErrorIs(t, err, ErrMalformed)
	assert.ErrorContains(t, err, "not a d1seal key file")

	big := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(big, make([]byte, maxKeyFileSize+1), 0o600))
	_, err = ReadKeyFile(big, []byte("pw"))
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = ReadKeyFile(filepath.Join(t.TempDir(), "none"), []byte("pw"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestKeyFileRefusesWeakSettings(t *testing.T) {
	a := newAgent(t, aliceDID, false)
	dir := t.TempDir()
	for _, o := range []KeyFileOptions{
		testKDF,
		{Time: 1, MemoryKiB: 1024, Threads: 1}, // what the examples once used
		{Time: 1, MemoryKiB: 46 << 10, Threads: 1},                          // OWASP's other setting: one rule only
		{Time: MinKeyFileTime, MemoryKiB: MinKeyFileMemory - 1, Threads: 1}, // one KiB short
		{Time: MinKeyFileTime - 1, MemoryKiB: 64 << 10},                     // one pass short
		{Time: 1}, // memory defaults, passes do not
	} {
		_, err := MarshalKeyFile(a, []byte("pw"), o)
		require.Error(t, err, "%+v", o)
		assert.ErrorContains(t, err, "below the minimum", "%+v", o)
		path := filepath.Join(dir, "weak.key")
		assert.ErrorContains(t, WriteKeyFile(path, a, []byte("pw"), o), "below the minimum", "%+v", o)
		_, err = os.Stat(path)
		assert.ErrorIs(t, err, os.ErrNotExist, "nothing written for %+v", o)
	}
	assert.NoError(t, KeyFileOptions{}.withDefaults().checkStrength(), "the defaults pass")

	// The minimum itself is accepted, and files below it (older or foreign) still read.
	data, err := MarshalKeyFile(a, []byte("pw"), minKDF)
	require.NoError(t, err)
	o, err := parseKeyFileHeader(data)
	require.NoError(t, err)
	assert.Equal(t, minKDF, o)
	weak, err := marshalKeyFile(a, []byte("pw"), testKDF)
	require.NoError(t, err)
	got, err := ParseKeyFile(weak, []byte("pw"))
	require.NoError(t, err)
	sameAgent(t, a, got)
}

func TestReadKeyFileRefusesOpenPermissions(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no Unix mode bits")
	}
	a := newAgent(t, aliceDID, false)
	data, err := marshalKeyFile(a, []byte("pw"), testKDF)
	require.NoError(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "alice.key")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	_, err = ReadKeyFile(path, []byte("pw"))
	require.NoError(t, err)

	for _, mode := range []os.FileMode{0o640, 0o604, 0o620, 0o602, 0o644, 0o660, 0o666, 0o700 | 0o070, 0o601} {
		require.NoError(t, os.Chmod(path, mode))
		_, err := ReadKeyFile(path, []byte("pw"))
		require.ErrorIs(t, err, ErrKeyFilePermissions, "mode %04o", mode)
		assert.NotErrorIs(t, err, ErrDecrypt, "not a decryption failure")
		assert.ErrorContains(t, err, "chmod 600 "+path)
		assert.ErrorContains(t, err, fmt.Sprintf("%04o", mode))
		// Refused before the passphrase is tried: a wrong one gives the same error.
		_, err = ReadKeyFile(path, []byte("wrong"))
		assert.ErrorIs(t, err, ErrKeyFilePermissions)
	}
	for _, mode := range []os.FileMode{0o400, 0o600, 0o700} {
		require.NoError(t, os.Chmod(path, mode))
		_, err := ReadKeyFile(path, []byte("pw"))
		assert.NoError(t, err, "mode %04o", mode)
	}

	// A path with spaces or quotes gets a chmod command that a shell runs as printed.
	odd := filepath.Join(dir, "it's a key")
	require.NoError(t, os.WriteFile(odd, data, 0o644))
	_, err = ReadKeyFile(odd, []byte("pw"))
	require.ErrorIs(t, err, ErrKeyFilePermissions)
	assert.ErrorContains(t, err, `chmod 600 '`+dir+`/it'\''s a key'`)
}
