package crypto

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testKDF keeps argon2id cheap in tests; the defaults are 3 passes over 64 MiB.
var testKDF = KeyFileOptions{Time: 1, MemoryKiB: 64, Threads: 1}

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
		require.NoError(t, WriteKeyFile(path, a, []byte("correct horse"), testKDF))
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

		got, err := ReadKeyFile(path, []byte("correct horse"))
		require.NoError(t, err)
		sameAgent(t, a, got)

		// The loaded agent opens what the original sealed.
		rc := noteContext(1)
		s, err := Seal(rc, []byte("kept"), a)
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
		data, err := MarshalKeyFile(a, []byte("pw"), testKDF)
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
	require.NoError(t, WriteKeyFile(path, a, []byte("p"), testKDF))
	require.NoError(t, WriteKeyFile(path, b, []byte("p"), testKDF))
	got, err := ReadKeyFile(path, []byte("p"))
	require.NoError(t, err)
	sameAgent(t, b, got)

	// A failed write (here: options out of range) leaves the old file untouched.
	err = WriteKeyFile(path, a, []byte("p"), KeyFileOptions{Time: MaxKeyFileTime + 1})
	assert.ErrorContains(t, err, "passes")
	got, err = ReadKeyFile(path, []byte("p"))
	require.NoError(t, err)
	sameAgent(t, b, got)

	assert.ErrorContains(t, WriteKeyFile(path, a, nil, testKDF), "empty passphrase")
	assert.Error(t, WriteKeyFile(filepath.Join(dir, "missing", "k"), a, []byte("p"), testKDF))
}

func TestKeyFileDefaultsAreStrong(t *testing.T) {
	o := KeyFileOptions{}.withDefaults()
	assert.Equal(t, KeyFileOptions{Time: 3, MemoryKiB: 64 << 10, Threads: 4}, o)
	assert.NoError(t, o.check())
}

func TestKeyFileRejectsTampering(t *testing.T) {
	a := newAgent(t, aliceDID, true)
	data, err := MarshalKeyFile(a, []byte("pw"), testKDF)
	require.NoError(t, err)
	assert.Len(t, data, keyFileHeadSize+2+len(aliceDID)+32+32+1+32+16)

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
	data, err := MarshalKeyFile(a, []byte("pw"), testKDF)
	require.NoError(t, err)
	for name, edit := range map[string]func(b []byte){
		"passes":  func(b []byte) { binary.BigEndian.PutUint32(b[10:], MaxKeyFileTime+1) },
		"memory":  func(b []byte) { binary.BigEndian.PutUint32(b[14:], MaxKeyFileMemory+1) },
		"lanes":   func(b []byte) { b[18] = MaxKeyFileThreads + 1 },
		"zero":    func(b []byte) { binary.BigEndian.PutUint32(b[10:], 0) },
		"kdf":     func(b []byte) { b[9] = 2 },
		"version": func(b []byte) { b[8] = 2 },
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
	require.NoError(t, os.WriteFile(big, make([]byte, MaxKeyFileSize+1), 0o600))
	_, err = ReadKeyFile(big, []byte("pw"))
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = ReadKeyFile(filepath.Join(t.TempDir(), "none"), []byte("pw"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
