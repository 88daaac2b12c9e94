package crypto

import (
	"errors"
	"testing"
)

// FuzzWrappedKeyID feeds arbitrary bytes to WrappedKeyID, which reads the suite and key id of a
// stored grant before it is authenticated: it never panics, refuses with ErrDecrypt, and
// accepts only allow-listed suites at their exact size.
func FuzzWrappedKeyID(f *testing.F) {
	f.Add(make([]byte, wrappedKeySize(SuiteX25519)))
	f.Add(append([]byte{1, 1}, make([]byte, 96)...))
	f.Add(append([]byte{1, 2}, make([]byte, 1184)...))
	f.Add([]byte{1, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		suite, _, err := WrappedKeyID(b)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("WrappedKeyID: %v, want ErrDecrypt", err)
			}
			return
		}
		if n := wrappedKeySize(suite); n == 0 || n != len(b) {
			t.Fatalf("accepted %d bytes of suite %v (size %d)", len(b), suite, n)
		}
	})
}

// FuzzSignatureKeyID feeds arbitrary bytes to SignatureKeyID, which reads the signer's key id of
// a stored signature: it never panics and accepts only signatureSize bytes of version 1 and
// batch signatures (version 2) whose length matches their leaf's place in the tree.
func FuzzSignatureKeyID(f *testing.F) {
	f.Add(append([]byte{1}, make([]byte, signatureSize-1)...))
	f.Add([]byte{1})
	f.Add(append([]byte{2}, make([]byte, signatureSize-1)...))
	f.Add(withIndex(append([]byte{2}, make([]byte, batchHeadSize+32-1)...), 1, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := SignatureKeyID(b)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("SignatureKeyID: %v, want ErrDecrypt", err)
			}
			return
		}
		record := len(b) == signatureSize && b[0] == formatVersion
		batch := len(b) >= batchHeadSize && b[0] == batchVersion
		if batch {
			place, err := checkBatchSignature("fuzz", b)
			batch = err == nil && place.index < place.size && len(b) == batchHeadSize+32*auditPathLen(place.index, place.size)
		}
		if !record && !batch || string(id[:]) != string(b[1:17]) {
			t.Fatalf("accepted %x as key id %x", b, id)
		}
	})
}
