package crypto

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestPublicKeysRoundTrip(t *testing.T) {
	a := newAgent(t, aliceDID, true)
	for _, k := range []*RecipientKey{a.RecipientKey(), a.PostQuantumKey()} {
		b := k.Bytes()
		assert.Equal(t, byte(k.Suite()), b[0])
		got, err := ParseRecipientKey(b)
		require.NoError(t, err)
		assert.True(t, got.Equal(k))
		assert.Equal(t, k.KeyID(), got.KeyID())
		assert.Equal(t, k.Suite().String()+":"+k.KeyID().String(), got.String())
	}
	assert.Len(t, a.RecipientKey().Bytes(), 33)
	assert.Len(t, a.PostQuantumKey().Bytes(), 1217)

	v, err := ParseVerifyingKey(a.VerifyingKey().Bytes())
	require.NoError(t, err)
	assert.True(t, v.Equal(a.VerifyingKey()))
	assert.Len(t, v.Bytes(), 33)
	assert.Equal(t, byte(0x11), v.Bytes()[0])

	var id KeyID
	text, err := v.KeyID().MarshalText()
	require.NoError(t, err)
	require.NoError(t, id.UnmarshalText(text))
	assert.Equal(t, v.KeyID(), id)
	assert.ErrorIs(t, id.UnmarshalText([]byte("zz")), ErrMalformed)
	assert.ErrorIs(t, id.UnmarshalText(bytes.Repeat([]byte("g"), 32)), ErrMalformed)
}

func TestKeyTypesCannotBeConfused(t *testing.T) {
	a := newAgent(t, aliceDID, true)

	// An Ed25519 key offered as a recipient, and the reverse.
	_, err := ParseRecipientKey(a.VerifyingKey().Bytes())
	assert.ErrorIs(t, err, ErrKeyType)
	_, err = ParseVerifyingKey(a.RecipientKey().Bytes())
	assert.ErrorIs(t, err, ErrKeyType)
	_, err = ParseVerifyingKey(a.PostQuantumKey().Bytes())
	assert.ErrorIs(t, err, ErrKeyType)

	// The same 32 bytes under both tags get different key ids.
	raw := a.VerifyingKey().Bytes()[1:]
	asX, err := ParseRecipientKey(append([]byte{0x01}, raw...))
	if err == nil { // most Ed25519 encodings are also valid X25519 u-coordinates
		assert.NotEqual(t, a.VerifyingKey().KeyID(), asX.KeyID())

		// Forcing the signing key's bytes in as a recipient gives a grant nobody can open:
		// the agent holds no X25519 key with that id.
		rc := noteContext(1)
		s, err := a.Seal(rc, []byte("x"), Recipient{DID: aliceDID, Key: asX})
		require.NoError(t, err)
		_, err = a.Unwrap(rc, s.Shared[0].WrappedKey)
		assert.ErrorIs(t, err, ErrDecrypt)
	}

	for _, b := range [][]byte{nil, {0x03}, {0x01, 1, 2}} {
		_, err := ParseRecipientKey(b)
		assert.Error(t, err)
		_, err = ParseVerifyingKey(b)
		assert.Error(t, err)
	}
	_, err = ParseRecipientKey([]byte{0x7f})
	assert.ErrorIs(t, err, ErrUnsupported)
	_, err = ParseRecipientKey([]byte{0x01, 1, 2})
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestParseRecipientKeyRejectsLowOrderPoints(t *testing.T) {
	// The X25519 points of order 1, 2, 4 and 8 and their non-canonical encodings (u + p),
	// from RFC 7748 and libsodium's blocklist, plus values with the ignored top bit set.
	for _, s := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
		"4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
		"d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"0900000000000000000000000000000000000000000000000000000000000080", // base point, top bit set
		"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // >= p
	} {
		_, err := ParseRecipientKey(append([]byte{0x01}, unhex(t, s)...))
		assert.ErrorIs(t, err, ErrInvalidKey, "X25519 point %s accepted", s)
	}
	// A valid point (the base point) is accepted.
	_, err := ParseRecipientKey(append([]byte{0x01}, unhex(t, "0900000000000000000000000000000000000000000000000000000000000000")...))
	assert.NoError(t, err)

	// X-Wing: the X25519 share is checked too.
	a := newAgent(t, aliceDID, true)
	b := a.PostQuantumKey().Bytes()
	copy(b[len(b)-32:], make([]byte, 32))
	_, err = ParseRecipientKey(b)
	assert.ErrorIs(t, err, ErrInvalidKey)
}

// edEncode is the inverse of edCurve.decode.
func edEncode(pt edPoint) []byte {
	be := pt.y.FillBytes(make([]byte, 32))
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		be[i], be[j] = be[j], be[i]
	}
	be[31] |= byte(pt.x.Bit(0)) << 7
	return be
}

func TestParseVerifyingKeyRejectsWeakPoints(t *testing.T) {
	c := newEdCurve()
	// The eight points of small order, canonically encoded ("Taming the many EdDSAs").
	small := []string{
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0000000000000000000000000000000000000000000000000000000000000080",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	}
	for _, s := range small {
		pt, err := c.decode(unhex(t, s))
		require.NoError(t, err, s)
		require.True(t, c.isIdentity(c.mul(pt, big.NewInt(8))), "%s has order dividing 8", s)
		_, err = ParseVerifyingKey(append([]byte{0x11}, unhex(t, s)...))
		assert.ErrorIs(t, err, ErrInvalidKey, s)
		assert.ErrorContains(t, err, "small-order", s)
	}
	// Non-canonical: y >= p, and x = 0 with the sign bit set.
	for _, s := range []string{
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"0100000000000000000000000000000000000000000000000000000000000080",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	} {
		_, err := ParseVerifyingKey(append([]byte{0x11}, unhex(t, s)...))
		assert.ErrorIs(t, err, ErrInvalidKey, s)
		assert.ErrorContains(t, err, "non-canonical", s)
	}
	// Not on the curve: y = 2 has no x.
	_, err := ParseVerifyingKey(append([]byte{0x11}, unhex(t, "0200000000000000000000000000000000000000000000000000000000000000")...))
	assert.ErrorContains(t, err, "not on the curve")

	// A real key plus a point of order 8: mixed order.
	a := newAgent(t, aliceDID, false)
	pt, err := c.decode(a.VerifyingKey().Bytes()[1:])
	require.NoError(t, err)
	t8, err := c.decode(unhex(t, small[4]))
	require.NoError(t, err)
	mixed := edEncode(c.add(pt, t8))
	_, err = ParseVerifyingKey(append([]byte{0x11}, mixed...))
	assert.ErrorIs(t, err, ErrInvalidKey)
	assert.ErrorContains(t, err, "small-order component")
	assert.Equal(t, a.VerifyingKey().Bytes()[1:], edEncode(pt), "encode inverts decode")
}

func TestSecretsNeverPrint(t *testing.T) {
	a := newAgent(t, aliceDID, true)
	rc := noteContext(1)
	s, err := a.Seal(rc, []byte("x"))
	require.NoError(t, err)
	dk, err := a.Unwrap(rc, s.Owner.WrappedKey)
	require.NoError(t, err)

	xPriv, err := a.enc.priv.Bytes()
	require.NoError(t, err)
	qPriv, err := a.pq.priv.Bytes()
	require.NoError(t, err)
	secrets := map[string][]byte{
		"x25519": xPriv, "xwing": qPriv,
		"ed25519 seed": a.sign.priv.Seed(), "data key": dk.key[:],
	}
	values := []any{a, *a, a.enc, *a.enc, a.pq, a.sign, *a.sign, dk, *dk, []any{a, dk}, struct{ A *Agent }{a}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b", "%T %v"} {
		for _, v := range values {
			out := fmt.Sprintf(verb, v)
			for name, secret := range secrets {
				for _, enc := range []string{string(secret), hex.EncodeToString(secret), fmt.Sprint(secret), fmt.Sprintf("%X", secret)} {
					assert.NotContains(t, out, enc, "%s of %T shows the %s", verb, v, name)
				}
			}
		}
	}
	assert.Equal(t, "crypto.DataKey("+rc.String()+", REDACTED)", fmt.Sprint(dk))
	assert.Contains(t, fmt.Sprint(a), aliceDID)
	assert.Contains(t, fmt.Sprintf("%#v", a.sign), "REDACTED")
}
