package crypto

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"slices"
	"testing"

	"github.com/c2sp/wycheproof"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Public test vectors, run through the package's own wrappers (primitives.go) and parsers.

func readWycheproof(t *testing.T, name string, v any) {
	t.Helper()
	b, err := fs.ReadFile(wycheproof.TestVectors, name)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

type hexBytes []byte

func (h *hexBytes) UnmarshalText(text []byte) error {
	b, err := hex.DecodeString(string(text))
	*h = b
	return err
}

func TestWycheproofAESGCM(t *testing.T) {
	var file struct {
		Groups []struct {
			KeySize, IVSize, TagSize int
			Tests                    []struct {
				TcID                       int
				Key, IV, AAD, Msg, CT, Tag hexBytes
				Result                     string
				Flags                      []string
			}
		} `json:"testGroups"`
	}
	readWycheproof(t, "aes_gcm_test.json", &file)
	ran := 0
	for _, g := range file.Groups {
		for _, tc := range g.Tests {
			sealed := append(append([]byte{}, tc.CT...), tc.Tag...)
			if g.KeySize != 256 || g.IVSize != 96 || g.TagSize != 128 {
				// Our wrapper is AES-256-GCM with 96-bit nonces only; anything else is refused.
				_, err := sealGCM(nil, tc.Key, tc.IV, tc.Msg, tc.AAD)
				assert.Error(t, err, "tcId %d: key %d bits, iv %d bits accepted", tc.TcID, g.KeySize, g.IVSize)
				_, err = openGCM(nil, tc.Key, tc.IV, sealed, tc.AAD)
				assert.Error(t, err, "tcId %d", tc.TcID)
				continue
			}
			ran++
			got, err := openGCM(nil, tc.Key, tc.IV, sealed, tc.AAD)
			if tc.Result == "valid" {
				require.NoError(t, err, "tcId %d", tc.TcID)
				assert.True(t, bytes.Equal(tc.Msg, got), "tcId %d: got %x, want %x", tc.TcID, got, tc.Msg)
				ct, err := sealGCM(nil, tc.Key, tc.IV, tc.Msg, tc.AAD)
				require.NoError(t, err)
				assert.Equal(t, sealed, ct, "tcId %d", tc.TcID)
			} else {
				assert.ErrorIs(t, err, errOpen, "tcId %d (%v) opened", tc.TcID, tc.Flags)
			}
		}
	}
	assert.Greater(t, ran, 20, "AES-256-GCM 96-bit-nonce vectors run")
}

func TestWycheproofX25519(t *testing.T) {
	var file struct {
		Groups []struct {
			Curve string
			Tests []struct {
				TcID                    int
				Public, Private, Shared hexBytes
				Result                  string
				Flags                   []string
			}
		} `json:"testGroups"`
	}
	readWycheproof(t, "x25519_test.json", &file)
	n := 0
	for _, g := range file.Groups {
		require.Equal(t, "curve25519", g.Curve)
		for _, tc := range g.Tests {
			n++
			zero := bytes.Equal(tc.Shared, make([]byte, 32))
			got, err := x25519(tc.Private, tc.Public)
			switch {
			case zero:
				assert.Error(t, err, "tcId %d: all-zero shared secret accepted", tc.TcID)
			case tc.Result == "valid" || tc.Result == "acceptable":
				require.NoError(t, err, "tcId %d", tc.TcID)
				assert.Equal(t, []byte(tc.Shared), got, "tcId %d", tc.TcID)
			}

			// The registration check: low-order and non-canonical points are refused, the
			// rest accepted.
			_, err = ParseRecipientKey(append([]byte{0x01}, tc.Public...))
			lowOrder := slices.Contains(tc.Flags, "LowOrderPublic") || zero
			nonCanonical := tc.Public[31]&0x80 != 0 || !lessThanP(tc.Public)
			if lowOrder || nonCanonical || slices.Contains(tc.Flags, "NonCanonicalPublic") {
				assert.ErrorIs(t, err, ErrInvalidKey, "tcId %d (%v): public key accepted", tc.TcID, tc.Flags)
			} else {
				assert.NoError(t, err, "tcId %d (%v)", tc.TcID, tc.Flags)
			}
		}
	}
	assert.Greater(t, n, 500)
}

func TestWycheproofEd25519(t *testing.T) {
	var file struct {
		Groups []struct {
			PublicKey struct{ PK hexBytes } `json:"publicKey"`
			Tests     []struct {
				TcID     int
				Msg, Sig hexBytes
				Result   string
				Flags    []string
			}
		} `json:"testGroups"`
	}
	readWycheproof(t, "ed25519_test.json", &file)
	n := 0
	for _, g := range file.Groups {
		_, err := ParseVerifyingKey(append([]byte{0x11}, g.PublicKey.PK...))
		require.NoError(t, err, "public key %x", g.PublicKey.PK)
		for _, tc := range g.Tests {
			n++
			ok := verifyEd25519(g.PublicKey.PK, tc.Msg, tc.Sig)
			assert.Equal(t, tc.Result == "valid", ok, "tcId %d (%v)", tc.TcID, tc.Flags)
		}
	}
	assert.Greater(t, n, 100)
}

func TestWycheproofHKDFSHA256(t *testing.T) {
	var file struct {
		Groups []struct {
			Tests []struct {
				TcID                 int
				IKM, Salt, Info, OKM hexBytes
				Size                 int
				Result               string
			}
		} `json:"testGroups"`
	}
	readWycheproof(t, "hkdf_sha256_test.json", &file)
	n := 0
	for _, g := range file.Groups {
		for _, tc := range g.Tests {
			n++
			got, err := hkdfSHA256(tc.IKM, tc.Salt, tc.Info, tc.Size)
			if tc.Result == "valid" {
				require.NoError(t, err, "tcId %d", tc.TcID)
				assert.Equal(t, []byte(tc.OKM), got, "tcId %d", tc.TcID)
			} else {
				assert.Error(t, err, "tcId %d", tc.TcID)
			}
		}
	}
	assert.Greater(t, n, 50)
}

// TestRFC9180Decrypt checks the receiving side of HPKE, as this package uses it (hpkeOpen),
// against the RFC 9180 vector for DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM.
// Go's copy of the vectors keeps only a hash of the 1000 ciphertexts, so the test rebuilds
// them from the vector's ephemeral key with an independent implementation of the RFC's key
// schedule, checks that their hash matches the vector, then decrypts each one.
func TestRFC9180Decrypt(t *testing.T) {
	var file struct {
		Vectors []struct {
			Info hexBytes `json:"info"`
			IkmE hexBytes `json:"ikmE"`
			IkmR hexBytes `json:"ikmR"`
			SkRm hexBytes `json:"skRm"`
			PkRm hexBytes `json:"pkRm"`
			Enc  hexBytes `json:"enc"`
			Acc  hexBytes `json:"encryptions_accumulated"`
		}
	}
	b, err := os.ReadFile("testdata/rfc9180_base_x25519_sha256_aes256gcm.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &file))
	require.Len(t, file.Vectors, 1)
	v := file.Vectors[0]

	kem := hpke.DHKEM(ecdh.X25519())
	skR, err := kem.NewPrivateKey(v.SkRm)
	require.NoError(t, err)
	require.Equal(t, []byte(v.PkRm), skR.PublicKey().Bytes())
	derived, err := kem.DeriveKeyPair(v.IkmR)
	require.NoError(t, err)
	require.Equal(t, []byte(v.PkRm), derived.PublicKey().Bytes())
	skE, err := kem.DeriveKeyPair(v.IkmE)
	require.NoError(t, err)
	require.Equal(t, []byte(v.Enc), skE.PublicKey().Bytes())

	// The sender's key schedule, RFC 9180 sections 4.1 and 5.1, by hand.
	skEBytes, err := skE.Bytes()
	require.NoError(t, err)
	dh, err := x25519(skEBytes, v.PkRm)
	require.NoError(t, err)
	kemID := []byte("KEM\x00\x20")
	suiteID := []byte("HPKE\x00\x20\x00\x01\x00\x02")
	extract := func(id []byte, salt []byte, label string, ikm []byte) []byte {
		prk, err := hkdf.Extract(sha256.New, slices.Concat([]byte("HPKE-v1"), id, []byte(label), ikm), salt)
		require.NoError(t, err)
		return prk
	}
	expand := func(id []byte, prk []byte, label string, info []byte, n int) []byte {
		out, err := hkdf.Expand(sha256.New, prk, string(slices.Concat(binary.BigEndian.AppendUint16(nil, uint16(n)), []byte("HPKE-v1"), id, []byte(label), info)), n)
		require.NoError(t, err)
		return out
	}
	shared := expand(kemID, extract(kemID, nil, "eae_prk", dh), "shared_secret", slices.Concat(v.Enc, v.PkRm), 32)
	ksContext := slices.Concat([]byte{0}, extract(suiteID, nil, "psk_id_hash", nil), extract(suiteID, nil, "info_hash", v.Info))
	secret := extract(suiteID, shared, "secret", nil)
	key := expand(suiteID, secret, "key", ksContext, 32)
	baseNonce := expand(suiteID, secret, "base_nonce", ksContext, 12)

	type encryption struct{ aad, pt, ct []byte }
	var encs []encryption
	source, sink := sha3.NewSHAKE128(), sha3.NewSHAKE128()
	draw := func() []byte {
		var l [1]byte
		source.Read(l[:])
		out := make([]byte, l[0])
		source.Read(out)
		return out
	}
	for seq := range 1000 {
		aad, pt := draw(), draw()
		nonce := slices.Clone(baseNonce)
		var s [12]byte
		binary.BigEndian.PutUint64(s[4:], uint64(seq))
		for i := range nonce {
			nonce[i] ^= s[i]
		}
		ct, err := sealGCM(nil, key, nonce, pt, aad)
		require.NoError(t, err)
		sink.Write(ct)
		encs = append(encs, encryption{aad, pt, ct})
	}
	acc := make([]byte, 16)
	sink.Read(acc)
	require.Equal(t, []byte(v.Acc), acc, "rebuilt ciphertexts match the vector")

	// Decrypt side: the first message through our single-shot wrapper, all of them in
	// sequence through a receiving context.
	pt, err := hpkeOpen(skR, v.Enc, v.Info, encs[0].aad, encs[0].ct)
	require.NoError(t, err)
	assert.Equal(t, encs[0].pt, pt)
	bad := slices.Clone(encs[0].ct)
	bad[0] ^= 1
	_, err = hpkeOpen(skR, v.Enc, v.Info, encs[0].aad, bad)
	assert.ErrorIs(t, err, errOpen)
	_, err = hpkeOpen(skR, v.Enc, append(slices.Clone(v.Info), 0), encs[0].aad, encs[0].ct)
	assert.ErrorIs(t, err, errOpen, "info is bound")

	r, err := hpke.NewRecipient(v.Enc, skR, hpke.HKDFSHA256(), hpke.AES256GCM(), v.Info)
	require.NoError(t, err)
	for i, e := range encs {
		pt, err := r.Open(e.aad, e.ct)
		require.NoError(t, err, "encryption %d", i)
		require.True(t, bytes.Equal(e.pt, pt), "encryption %d: got %x, want %x", i, pt, e.pt)
	}
}
