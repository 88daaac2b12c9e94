package crypto

import (
	"fmt"
	"math/big"
)

// The Ed25519 curve in math/big, an independent reference for the tests of
// checkEd25519Public (which uses filippo.io/edwards25519): slow and simple.

func newEdCurve() edCurve {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	d := new(big.Int).Mul(big.NewInt(-121665), new(big.Int).ModInverse(big.NewInt(121666), p))
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	return edCurve{p: p, d: d.Mod(d, p), l: l}
}

// decode decompresses a 32-byte encoding (RFC 8032, section 5.1.3), strictly: y must be
// below p and x = 0 must not come with the sign bit set.
func (c edCurve) decode(b []byte) (edPoint, error) {
	p := c.p
	le := make([]byte, 32)
	copy(le, b)
	sign := le[31] >> 7
	le[31] &= 0x7f
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		le[i], le[j] = le[j], le[i]
	}
	y := new(big.Int).SetBytes(le)
	if y.Cmp(p) >= 0 {
		return edPoint{}, fmt.Errorf("non-canonical Ed25519 point: %w", ErrInvalidKey)
	}
	// x² = (y² - 1) / (d·y² + 1); the denominator is never zero since -1/d is not a square.
	y2 := new(big.Int).Mod(new(big.Int).Mul(y, y), p)
	u := new(big.Int).Mod(new(big.Int).Sub(y2, big.NewInt(1)), p)
	v := new(big.Int).Mod(new(big.Int).Add(new(big.Int).Mul(c.d, y2), big.NewInt(1)), p)
	x2 := new(big.Int).Mod(new(big.Int).Mul(u, new(big.Int).ModInverse(v, p)), p)
	x := new(big.Int).ModSqrt(x2, p)
	if x == nil {
		return edPoint{}, fmt.Errorf("Ed25519 point not on the curve: %w", ErrInvalidKey)
	}
	if x.Sign() == 0 && sign == 1 {
		return edPoint{}, fmt.Errorf("non-canonical Ed25519 point: %w", ErrInvalidKey)
	}
	if x.Bit(0) != uint(sign) {
		x.Sub(p, x)
	}
	return edPoint{x, y}, nil
}

// edCurve is the twisted Edwards curve -x² + y² = 1 + d·x²·y² over GF(p), in affine
// coordinates. The addition law is complete on this curve, so mul needs no special cases.
type edCurve struct{ p, d, l *big.Int }

type edPoint struct{ x, y *big.Int }

func (c edCurve) add(a, b edPoint) edPoint {
	p := c.p
	x1y2 := new(big.Int).Mul(a.x, b.y)
	y1x2 := new(big.Int).Mul(a.y, b.x)
	y1y2 := new(big.Int).Mul(a.y, b.y)
	x1x2 := new(big.Int).Mul(a.x, b.x)
	t := new(big.Int).Mod(new(big.Int).Mul(c.d, new(big.Int).Mul(x1x2, y1y2)), p)
	xDen := new(big.Int).ModInverse(new(big.Int).Mod(new(big.Int).Add(big.NewInt(1), t), p), p)
	yDen := new(big.Int).ModInverse(new(big.Int).Mod(new(big.Int).Sub(big.NewInt(1), t), p), p)
	x := new(big.Int).Mod(new(big.Int).Mul(new(big.Int).Add(x1y2, y1x2), xDen), p)
	y := new(big.Int).Mod(new(big.Int).Mul(new(big.Int).Add(y1y2, x1x2), yDen), p)
	return edPoint{x, y}
}

func (c edCurve) mul(pt edPoint, k *big.Int) edPoint {
	acc := edPoint{big.NewInt(0), big.NewInt(1)}
	for i := k.BitLen() - 1; i >= 0; i-- {
		acc = c.add(acc, acc)
		if k.Bit(i) == 1 {
			acc = c.add(acc, pt)
		}
	}
	return acc
}

func (c edCurve) isIdentity(pt edPoint) bool { return pt.x.Sign() == 0 && pt.y.Cmp(big.NewInt(1)) == 0 }
