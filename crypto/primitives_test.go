package crypto

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	mrand "math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// hmacSHA256 and hkdfSHA256 replace crypto/hmac and crypto/hkdf on the sealing path (to
// save their allocations); these tests hold them to the standard library's bytes, at every
// length around the block and stack-buffer boundaries. The Wycheproof HKDF vectors run
// through hkdfSHA256 too (TestWycheproofHKDFSHA256).

func stdHMAC(key, a, b []byte, counter byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(a)
	m.Write(b)
	if counter != 0 {
		m.Write([]byte{counter})
	}
	return m.Sum(nil)
}

func checkHMACAndHKDF(t *testing.T, key, a, b, info []byte, counter byte, n int) {
	t.Helper()
	got := hmacSHA256(key, a, b, counter)
	require.Equal(t, stdHMAC(key, a, b, counter), got[:], "HMAC key %d a %d b %d counter %d", len(key), len(a), len(b), counter)
	want, err := hkdf.Key(sha256.New, key, a, string(info), n)
	require.NoError(t, err)
	out, err := hkdfSHA256(key, a, info, n)
	require.NoError(t, err)
	require.Equal(t, want, out, "HKDF ikm %d salt %d info %d length %d", len(key), len(a), len(info), n)
	prk, err := hkdf.Extract(sha256.New, key, a)
	require.NoError(t, err)
	require.Equal(t, want, hkdfExpandSHA256([]byte{}, prk, info, n))
}

func TestHKDFMatchesStandardLibrary(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	buf := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	// Keys around the block size (longer keys are hashed first); messages around the stack
	// buffer.
	for _, kl := range []int{0, 1, 31, 32, 33, 63, 64, 65, 100, 200} {
		for _, ml := range []int{0, 1, 55, 56, 64, hmacStackSize - 65, hmacStackSize - 64, hmacStackSize - 63, hmacStackSize, 1000} {
			checkHMACAndHKDF(t, buf(kl), buf(ml), buf(r.IntN(40)), buf(ml), byte(r.IntN(3)), 1+r.IntN(100))
		}
	}
	for _, n := range []int{0, 1, 16, 31, 32, 33, 64, 65, 255 * 32} {
		checkHMACAndHKDF(t, buf(32), nil, nil, buf(50), 1, n)
	}
	_, err := hkdfSHA256(buf(32), nil, nil, 255*32+1)
	require.Error(t, err)
	_, err = hkdfSHA256(buf(32), nil, nil, -1)
	require.Error(t, err)
}

func FuzzHKDF(f *testing.F) {
	f.Add([]byte("key"), []byte("salt"), []byte("info"), byte(1), uint16(42))
	f.Add(make([]byte, 65), make([]byte, 400), []byte{}, byte(0), uint16(64))
	f.Fuzz(func(t *testing.T, key, salt, info []byte, counter byte, n uint16) {
		checkHMACAndHKDF(t, key, salt, info, info, counter, int(n%(255*32+1)))
	})
}
