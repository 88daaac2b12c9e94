package crypto

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var logTime = time.Date(2026, 11, 30, 3, 0, 0, 123456789, time.UTC)

// keyLog builds alice's log genesis → rotate → revoke and returns the entries and the agent
// behind each.
func keyLog(t testing.TB, pq bool) ([]*KeyEntry, []*Agent) {
	t.Helper()
	a0 := newAgent(t, aliceDID, pq)
	g, err := a0.KeyGenesis(logTime)
	require.NoError(t, err)
	a1, err := a0.NewKeys()
	require.NoError(t, err)
	r, err := a0.KeyRotation(g, a1, KeyRotate, nil, logTime.Add(time.Hour))
	require.NoError(t, err)
	a2, err := a1.NewKeys()
	require.NoError(t, err)
	v, err := a1.KeyRotation(r, a2, KeyRevoke, []KeyID{a0.VerifyingKey().KeyID()}, logTime.Add(2*time.Hour))
	require.NoError(t, err)
	return []*KeyEntry{g, r, v}, []*Agent{a0, a1, a2}
}

func verifyLog(log []*KeyEntry) error {
	var prev *KeyEntry
	for _, e := range log {
		if err := e.Verify(prev); err != nil {
			return err
		}
		prev = e
	}
	return nil
}

func TestKeyLogRoundTrip(t *testing.T) {
	for _, pq := range []bool{false, true} {
		log, agents := keyLog(t, pq)
		require.NoError(t, verifyLog(log))
		for i, e := range log {
			assert.True(t, agents[i].Keys().Equal(e.Keys), "entry %d keys", i)
			assert.Equal(t, uint64(i), e.Seq)
			assert.Equal(t, aliceDID, e.DID)
			b := e.Marshal()
			got, err := ParseKeyEntry(b)
			require.NoError(t, err, "entry %d", i)
			assert.Equal(t, b, got.Marshal(), "entry %d re-marshals", i)
			assert.Equal(t, e.Hash(), got.Hash())
			assert.True(t, e.Keys.Equal(got.Keys))
			assert.True(t, e.Time.Equal(got.Time))
			assert.Equal(t, time.UTC, got.Time.Location())
			log[i] = got
		}
		require.NoError(t, verifyLog(log), "parsed log verifies")

		assert.Equal(t, KeyGenesis, log[0].Change)
		assert.Equal(t, [32]byte{}, log[0].Prev)
		assert.Equal(t, log[0].Hash(), log[1].Prev)
		assert.Empty(t, log[1].Revoked)
		assert.Equal(t, KeyRevoke, log[2].Change)
		for _, id := range append(agents[1].Keys().KeyIDs(), agents[0].VerifyingKey().KeyID()) {
			assert.Contains(t, log[2].Revoked, id)
		}
		if pq {
			assert.Len(t, log[0].Keys.KeyIDs(), 3)
		} else {
			assert.Len(t, log[0].Keys.KeyIDs(), 2)
			assert.Nil(t, log[0].Keys.PostQuantum)
		}
	}
}

func TestKeyLogVerifyRefuses(t *testing.T) {
	log, agents := keyLog(t, false)
	g, r, v := log[0], log[1], log[2]

	assert.ErrorIs(t, r.Verify(nil), ErrDecrypt, "rotation as genesis")
	assert.ErrorIs(t, g.Verify(r), ErrDecrypt, "genesis after an entry")
	assert.ErrorIs(t, v.Verify(g), ErrDecrypt, "skipped entry")
	assert.ErrorIs(t, r.Verify(r), ErrDecrypt, "entry after itself")

	// Signed by the wrong key: a rotation after the genesis signed by the new key itself.
	forged, err := agents[1].KeyRotation(g, agents[1], KeyRotate, nil, logTime)
	assert.Error(t, err, "an agent cannot sign for keys it does not hold")
	assert.Nil(t, forged)
	e := *r
	e.Signature = agents[1].sign.signLabelled(keyLogSignatureLabel, e.body())
	assert.ErrorIs(t, e.Verify(g), ErrDecrypt, "rotation signed by the new key")

	// A proof by a key other than the entry's.
	e = *r
	e.Proof = agents[0].sign.signLabelled(keyLogProofLabel, e.body())
	assert.ErrorIs(t, e.Verify(g), ErrDecrypt, "proof by the old key")

	// The signature and the proof are not interchangeable.
	e = *g
	e.Signature, e.Proof = e.Proof, e.Signature
	assert.ErrorIs(t, e.Verify(nil), ErrDecrypt, "genesis signature and proof swapped")
}

func TestKeyLogForkIsIndividuallyValid(t *testing.T) {
	log, agents := keyLog(t, false)
	other, err := agents[0].NewKeys()
	require.NoError(t, err)
	fork, err := agents[0].KeyRotation(log[0], other, KeyRotate, nil, logTime)
	require.NoError(t, err)
	assert.NoError(t, fork.Verify(log[0]), "each branch verifies; the records package refuses forks")
	assert.NoError(t, log[1].Verify(log[0]))
	assert.NotEqual(t, fork.Hash(), log[1].Hash())
}

func TestSignMetadataAndEvent(t *testing.T) {
	a := newAgent(t, aliceDID, false)
	k := a.VerifyingKey()
	md := []byte(`{"name":"alice"}`)
	sig := a.SignMetadata(md)
	assert.Len(t, sig, signatureSize)
	assert.NoError(t, k.VerifyMetadata(aliceDID, md, sig))
	assert.ErrorIs(t, k.VerifyMetadata(bobDID, md, sig), ErrDecrypt)
	assert.ErrorIs(t, k.VerifyMetadata(aliceDID, []byte(`{"name":"mallory"}`), sig), ErrDecrypt)

	empty, null := a.SignMetadata([]byte{}), a.SignMetadata(nil)
	assert.NoError(t, k.VerifyMetadata(aliceDID, []byte{}, empty))
	assert.NoError(t, k.VerifyMetadata(aliceDID, nil, null))
	assert.ErrorIs(t, k.VerifyMetadata(aliceDID, nil, empty), ErrDecrypt, "empty is not nil")
	assert.ErrorIs(t, k.VerifyMetadata(aliceDID, []byte{}, null), ErrDecrypt, "nil is not empty")

	d := [32]byte{1, 2, 3}
	es := a.SignEvent(d)
	assert.Len(t, es, signatureSize)
	assert.NoError(t, k.VerifyEvent(aliceDID, d, es))
	assert.ErrorIs(t, k.VerifyEvent(aliceDID, [32]byte{1, 2, 4}, es), ErrDecrypt)
	assert.ErrorIs(t, k.VerifyEvent(bobDID, d, es), ErrDecrypt)
	assert.ErrorIs(t, newAgent(t, aliceDID, false).VerifyingKey().VerifyEvent(aliceDID, d, es), ErrDecrypt)
}

// resign signs e again as given, Signature by signer and Proof by prover: an entry whose
// signatures are genuine but whose fields are wrong.
func resign(e KeyEntry, signer, prover *Agent) *KeyEntry {
	body := e.body()
	e.Signature = signer.sign.signLabelled(keyLogSignatureLabel, body)
	e.Proof = prover.sign.signLabelled(keyLogProofLabel, body)
	return &e
}

func TestTamperKeyEntry(t *testing.T) {
	log, _ := keyLog(t, false)
	pqLog, _ := keyLog(t, true)
	for _, log := range [][]*KeyEntry{log, pqLog} {
		var prev *KeyEntry
		for i, e := range log {
			b := e.Marshal()
			checked := 0
			// Every byte flipped (one bit per byte, a different bit at each offset) fails to
			// parse or to verify. Each parse validates an Ed25519 key (about 2 ms), so in the
			// post-quantum log only every 13th byte of the X-Wing key is flipped; the other
			// bytes are the same fields as in the first log.
			pqStart := 52 + len(aliceDID) + 33
			for j := range b {
				if e.Keys.PostQuantum != nil && (j < pqStart || j >= pqStart+1217 || j%13 != 0) {
					continue
				}
				c := bytes.Clone(b)
				c[j] ^= 1 << (j % 8)
				checked++
				got, err := ParseKeyEntry(c)
				if err != nil {
					require.ErrorIs(t, err, ErrDecrypt, "entry %d byte %d", i, j)
					continue
				}
				require.ErrorIs(t, got.Verify(prev), ErrDecrypt, "entry %d byte %d flipped still verifies", i, j)
			}
			assert.Greater(t, checked, 90)
			for n := range len(b) {
				_, err := ParseKeyEntry(b[:n])
				require.ErrorIs(t, err, ErrMalformed, "entry %d truncated to %d", i, n)
			}
			_, err := ParseKeyEntry(append(bytes.Clone(b), 0))
			assert.ErrorContains(t, err, "trailing")
			assert.ErrorIs(t, err, ErrDecrypt)
			prev = e
		}
	}
}

func TestKeyEntryWrongFields(t *testing.T) {
	log, agents := keyLog(t, false)
	g, r, v := log[0], log[1], log[2]
	a0, a1, a2 := agents[0], agents[1], agents[2]
	require.NoError(t, resign(*r, a0, a1).Verify(g), "control: re-signing the same fields verifies")

	for name, c := range map[string]struct {
		e    *KeyEntry
		prev *KeyEntry
	}{
		"seq skipped":                  {resign(withSeq(*r, 2), a0, a1), g},
		"seq repeated":                 {resign(withSeq(*r, 0), a0, a1), g},
		"seq of genesis":               {resign(withSeq(*g, 1), a0, a0), nil},
		"prev zero":                    {resign(withPrev(*r, [32]byte{}), a0, a1), g},
		"prev of other":                {resign(withPrev(*r, v.Hash()), a0, a1), g},
		"genesis with prev":            {resign(withPrev(*g, [32]byte{1}), a0, a0), nil},
		"other DID":                    {resign(withDID(*r, bobDID), a0, a1), g},
		"genesis rotates":              {resign(withChange(*g, KeyRotate), a0, a0), nil},
		"rotate as genesis":            {resign(withChange(*r, KeyGenesis), a0, a1), g},
		"revoke missing previous keys": {resign(withRevoked(*v, []KeyID{a0.VerifyingKey().KeyID()}), a1, a2), r},
		"revoke without revoked":       {resign(withRevoked(*v, nil), a1, a2), r},
		"rotate with revoked":          {resign(withRevoked(withChange(*r, KeyRotate), []KeyID{a0.RecipientKey().KeyID()}), a0, a1), g},
		"revoked unsorted":             {resign(withRevoked(*v, reversed(v.Revoked)), a1, a2), r},
		"revoke own key":               {resign(withRevoked(*v, sortedIDs(append(bytes2IDs(v.Revoked), a2.RecipientKey().KeyID()))), a1, a2), r},
		"signed by the new key":        {resign(*r, a1, a1), g},
		"signed by an older key":       {resign(*v, a0, a2), r},
		"proof by the old key":         {resign(*r, a0, a0), g},
		"genesis signed by another":    {resign(*g, a1, a0), nil},
		"after a forged prev":          {v, resign(withDID(*r, bobDID), a0, a1)},
	} {
		err := c.e.Verify(c.prev)
		assert.ErrorIs(t, err, ErrDecrypt, name)
	}

	// The zero entry and entries missing keys fail without panicking.
	assert.ErrorIs(t, (&KeyEntry{}).Verify(nil), ErrDecrypt)
	assert.ErrorIs(t, (*KeyEntry)(nil).Verify(nil), ErrDecrypt)
	noSign := *g
	noSign.Keys.Verifying = nil
	assert.ErrorIs(t, noSign.Verify(nil), ErrDecrypt)
	_, err := ParseKeyEntry(noSign.Marshal())
	assert.ErrorIs(t, err, ErrMalformed)
	wrongKind := *g
	wrongKind.Keys.Recipient, wrongKind.Keys.PostQuantum = nil, a0.RecipientKey()
	assert.ErrorIs(t, wrongKind.Verify(nil), ErrDecrypt)
}

func withSeq(e KeyEntry, seq uint64) KeyEntry      { e.Seq = seq; return e }
func withPrev(e KeyEntry, h [32]byte) KeyEntry     { e.Prev = h; return e }
func withDID(e KeyEntry, did string) KeyEntry      { e.DID = did; return e }
func withChange(e KeyEntry, c KeyChange) KeyEntry  { e.Change = c; return e }
func withRevoked(e KeyEntry, ids []KeyID) KeyEntry { e.Revoked = ids; return e }
func bytes2IDs(ids []KeyID) []KeyID                { return append([]KeyID(nil), ids...) }
func reversed(ids []KeyID) []KeyID                 { r := bytes2IDs(ids); slices.Reverse(r); return r }
func sortedIDs(ids []KeyID) []KeyID {
	slices.SortFunc(ids, func(x, y KeyID) int { return bytes.Compare(x[:], y[:]) })
	return ids
}

func TestKeyRotationRefuses(t *testing.T) {
	log, agents := keyLog(t, false)
	g, a0, a1 := log[0], agents[0], agents[1]
	bob := newAgent(t, bobDID, false)
	for name, try := range map[string]func() (*KeyEntry, error){
		"no prev":              func() (*KeyEntry, error) { return a0.KeyRotation(nil, a1, KeyRotate, nil, logTime) },
		"no next":              func() (*KeyEntry, error) { return a0.KeyRotation(g, nil, KeyRotate, nil, logTime) },
		"other DID":            func() (*KeyEntry, error) { return a0.KeyRotation(g, bob, KeyRotate, nil, logTime) },
		"not the signing key":  func() (*KeyEntry, error) { return a1.KeyRotation(g, a1, KeyRotate, nil, logTime) },
		"genesis change":       func() (*KeyEntry, error) { return a0.KeyRotation(g, a1, KeyGenesis, nil, logTime) },
		"unknown change":       func() (*KeyEntry, error) { return a0.KeyRotation(g, a1, 9, nil, logTime) },
		"revoked on rotate":    func() (*KeyEntry, error) { return a0.KeyRotation(g, a1, KeyRotate, []KeyID{{1}}, logTime) },
		"revoke keeps old key": func() (*KeyEntry, error) { return a0.KeyRotation(g, a0, KeyRevoke, nil, logTime) },
		"revoke next's key": func() (*KeyEntry, error) {
			return a0.KeyRotation(g, a1, KeyRevoke, []KeyID{a1.VerifyingKey().KeyID()}, logTime)
		},
		"time out of range": func() (*KeyEntry, error) { return a0.KeyRotation(g, a1, KeyRotate, nil, time.Time{}) },
	} {
		e, err := try()
		assert.Error(t, err, name)
		assert.Nil(t, e, name)
	}
	_, err := a0.KeyGenesis(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC))
	assert.ErrorContains(t, err, "1678 to 2262")

	// Rotating the encryption keys alone keeps the signing key: allowed for KeyRotate.
	enc, err := a0.NewEncryptionKeys()
	require.NoError(t, err)
	e, err := a0.KeyRotation(g, enc, KeyRotate, nil, logTime)
	require.NoError(t, err)
	assert.NoError(t, e.Verify(g))
	// Revoking with duplicates and previous ids listed again gives a sorted, unique list.
	e, err = a0.KeyRotation(g, a1, KeyRevoke, []KeyID{{9}, {9}, a0.RecipientKey().KeyID(), {1}}, logTime)
	require.NoError(t, err)
	assert.NoError(t, e.Verify(g))
	assert.Len(t, e.Revoked, 4)
	assert.True(t, slices.IsSortedFunc(e.Revoked, func(x, y KeyID) int { return bytes.Compare(x[:], y[:]) }))
}

func TestKeyEntryTimeIsUTCNanoseconds(t *testing.T) {
	a := newAgent(t, aliceDID, false)
	local := time.Date(2026, 6, 1, 9, 30, 0, 987654321, time.FixedZone("X", 5*3600))
	g, err := a.KeyGenesis(local)
	require.NoError(t, err)
	assert.Equal(t, time.UTC, g.Time.Location())
	assert.True(t, g.Time.Equal(local))
	got, err := ParseKeyEntry(g.Marshal())
	require.NoError(t, err)
	assert.Equal(t, g.Time, got.Time)
	// Monotonic readings are dropped: two marshals of one entry agree.
	g2, err := a.KeyGenesis(time.Now())
	require.NoError(t, err)
	assert.Equal(t, g2.Marshal(), g2.Marshal())
	assert.NoError(t, g2.Verify(nil))
}

func TestParseKeyEntryCaps(t *testing.T) {
	log, _ := keyLog(t, false)
	b := log[0].Marshal()
	_, err := ParseKeyEntry(make([]byte, maxKeyEntrySize+1))
	assert.ErrorIs(t, err, ErrMalformed)
	assert.ErrorContains(t, err, "limit")

	for name, c := range map[string]struct {
		edit func(c []byte) []byte
		want error
	}{
		"version":     {func(c []byte) []byte { c[0] = 2; return c }, ErrUnsupported},
		"change":      {func(c []byte) []byte { c[1] = 4; return c }, ErrUnsupported},
		"change zero": {func(c []byte) []byte { c[1] = 0; return c }, ErrUnsupported},
		"empty DID":   {func(c []byte) []byte { return append(append(c[:50:50], 0, 0), c[52+len(aliceDID):]...) }, ErrMalformed},
		"Ed25519 as X25519": {func(c []byte) []byte {
			off := 52 + len(aliceDID)
			copy(c[off:], log[0].Keys.Verifying.tagged)
			return c
		}, ErrMalformed},
		"revoked count": {func(c []byte) []byte {
			off := len(c) - 2*signatureSize - 2
			c[off], c[off+1] = 0xff, 0xff
			return c
		}, ErrMalformed},
		"signature version": {func(c []byte) []byte { c[len(c)-2*signatureSize] = 2; return c }, ErrUnsupported},
	} {
		_, err := ParseKeyEntry(c.edit(bytes.Clone(b)))
		assert.ErrorIs(t, err, c.want, name)
		assert.ErrorIs(t, err, ErrDecrypt, name)
	}
	_, err = ParseKeyEntry(nil)
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestSignatureLabelsAreSeparate(t *testing.T) {
	// Every Ed25519 message this package signs starts with one of these labels. Each ends in
	// its only 0x00, so none is a prefix of another and no two kinds of message coincide.
	labels := []string{signatureLabel, publicLabel, metadataLabel, eventLabel, keyLogSignatureLabel, keyLogProofLabel}
	for i, l := range labels {
		assert.Equal(t, len(l)-1, strings.IndexByte(l, 0), "label %q must end in its only 0x00", l)
		for j, m := range labels {
			if i != j {
				assert.False(t, strings.HasPrefix(m, l), "%q is a prefix of %q", l, m)
			}
		}
	}

	// Behaviourally: one payload signed under each label verifies under that label only.
	a := newAgent(t, aliceDID, false)
	k := a.VerifyingKey()
	payload := []byte("the same bytes")
	for _, l := range labels {
		sig := a.sign.signLabelled(l, payload)
		for _, m := range labels {
			err := k.verifyLabelled("test", m, payload, sig)
			if l == m {
				assert.NoError(t, err, l)
			} else {
				assert.ErrorIs(t, err, ErrDecrypt, "%q verified as %q", l, m)
			}
		}
	}

	// And through the public API: a metadata signature is not an event signature, and
	// neither is a record or public record signature.
	var d [32]byte
	md := d[:]
	ms, es := a.SignMetadata(md), a.SignEvent(d)
	assert.ErrorIs(t, k.VerifyEvent(aliceDID, d, ms), ErrDecrypt)
	assert.ErrorIs(t, k.VerifyMetadata(aliceDID, md, es), ErrDecrypt)
	rc := noteContext(1)
	assert.ErrorIs(t, k.VerifyPublic(rc, md, ms), ErrDecrypt)
	assert.ErrorIs(t, k.VerifyPublic(rc, md, es), ErrDecrypt)
	ps, err := a.SignPublic(rc, md)
	require.NoError(t, err)
	assert.ErrorIs(t, k.VerifyMetadata(aliceDID, md, ps), ErrDecrypt)
	assert.ErrorIs(t, k.VerifyEvent(aliceDID, d, ps), ErrDecrypt)
}

func TestStatementSignaturesRefuseMalformed(t *testing.T) {
	a := newAgent(t, aliceDID, false)
	k := a.VerifyingKey()
	d := [32]byte{7}
	sig := a.SignEvent(d)
	for name, c := range map[string]struct {
		sig  []byte
		want error
	}{
		"empty":       {nil, ErrMalformed},
		"short":       {sig[:signatureSize-1], ErrMalformed},
		"long":        {append(bytes.Clone(sig), 0), ErrMalformed},
		"version":     {append([]byte{2}, sig[1:]...), ErrUnsupported},
		"other key":   {newAgent(t, aliceDID, false).SignEvent(d), ErrDecrypt},
		"flipped sig": {func() []byte { c := bytes.Clone(sig); c[40] ^= 1; return c }(), ErrDecrypt},
	} {
		assert.ErrorIs(t, k.VerifyEvent(aliceDID, d, c.sig), c.want, name)
		assert.ErrorIs(t, k.VerifyEvent(aliceDID, d, c.sig), ErrDecrypt, name)
	}
	flips(sig, func(c []byte, i, bit int) {
		require.ErrorIs(t, k.VerifyEvent(aliceDID, d, c), ErrDecrypt, "byte %d bit %d", i, bit)
	})
	ms := a.SignMetadata([]byte("m"))
	flips(ms, func(c []byte, i, bit int) {
		require.ErrorIs(t, k.VerifyMetadata(aliceDID, []byte("m"), c), ErrDecrypt, "byte %d bit %d", i, bit)
	})
	assert.ErrorIs(t, k.VerifyEvent("", d, sig), ErrMalformed)
	assert.ErrorIs(t, k.VerifyMetadata("", nil, a.SignMetadata(nil)), ErrDecrypt)
}
