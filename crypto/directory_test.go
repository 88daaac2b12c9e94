package crypto

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDirectoryEntrySignature(t *testing.T) {
	op := newAgent(t, "did:web:operator.example", false)
	k := op.VerifyingKey()
	e := DirectoryEntry{Fleet: "prod", Tenant: aliceDID, Database: "6f1c2c52-8d53-4d0e-9b7e-1f0c3f6a2b11", Epoch: 3}
	sig, err := op.SignDirectoryEntry(e)
	require.NoError(t, err)
	assert.Len(t, sig, signatureSize)
	require.NoError(t, k.VerifyDirectoryEntry(e, sig))

	// Every field is bound: another fleet, tenant, database or epoch does not verify.
	for name, other := range map[string]DirectoryEntry{
		"fleet":    {Fleet: "staging", Tenant: e.Tenant, Database: e.Database, Epoch: e.Epoch},
		"tenant":   {Fleet: e.Fleet, Tenant: bobDID, Database: e.Database, Epoch: e.Epoch},
		"database": {Fleet: e.Fleet, Tenant: e.Tenant, Database: "0a9e7c1b-0000-4000-8000-000000000000", Epoch: e.Epoch},
		"epoch":    {Fleet: e.Fleet, Tenant: e.Tenant, Database: e.Database, Epoch: e.Epoch - 1},
		// length prefixes: moving bytes between fields changes the message
		"shifted": {Fleet: e.Fleet + e.Tenant[:3], Tenant: e.Tenant[3:], Database: e.Database, Epoch: e.Epoch},
	} {
		assert.ErrorIs(t, k.VerifyDirectoryEntry(other, sig), ErrDecrypt, name)
	}
	assert.ErrorIs(t, newAgent(t, "did:web:operator.example", false).VerifyingKey().VerifyDirectoryEntry(e, sig), ErrDecrypt, "another operator key")
	flips(sig, func(c []byte, i, bit int) {
		require.ErrorIs(t, k.VerifyDirectoryEntry(e, c), ErrDecrypt, "byte %d bit %d", i, bit)
	})
	assert.ErrorIs(t, k.VerifyDirectoryEntry(e, sig[:10]), ErrMalformed)

	_, err = op.SignDirectoryEntry(DirectoryEntry{Fleet: "prod", Tenant: aliceDID})
	assert.ErrorContains(t, err, "empty database")
	assert.ErrorIs(t, k.VerifyDirectoryEntry(DirectoryEntry{Fleet: "prod", Tenant: strings.Repeat("x", 3000), Database: "d"}, sig), ErrMalformed)
}

func TestDirectoryLabelIsSeparate(t *testing.T) {
	labels := []string{signatureLabel, publicLabel, metadataLabel, eventLabel, keyLogSignatureLabel, keyLogProofLabel}
	assert.Equal(t, len(directoryLabel)-1, strings.IndexByte(directoryLabel, 0))
	for _, l := range labels {
		assert.False(t, strings.HasPrefix(l, directoryLabel) || strings.HasPrefix(directoryLabel, l), "%q and %q", l, directoryLabel)
	}
	// A directory signature over some bytes verifies as no other kind, and no other kind
	// verifies as a directory entry.
	a := newAgent(t, aliceDID, false)
	k := a.VerifyingKey()
	e := DirectoryEntry{Fleet: "f", Tenant: aliceDID, Database: "db", Epoch: 1}
	ds, err := a.SignDirectoryEntry(e)
	require.NoError(t, err)
	for _, l := range labels {
		assert.ErrorIs(t, k.verifyLabelled("test", l, e.message(), ds), ErrDecrypt, l)
		assert.ErrorIs(t, k.VerifyDirectoryEntry(e, a.sign.signLabelled(l, e.message())), ErrDecrypt, l)
	}
}
