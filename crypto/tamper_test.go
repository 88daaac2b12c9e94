package crypto

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tamper tests: everything an attacker who can edit rows might do fails closed with
// ErrDecrypt.

type tamperFixture struct {
	alice, bob, carol *Agent
	rc                RecordContext
	sealed            *Sealed
	plaintext         []byte
}

func newTamperFixture(t *testing.T) tamperFixture {
	f := tamperFixture{
		alice:     newAgent(t, aliceDID, true),
		bob:       newAgent(t, bobDID, false),
		carol:     newAgent(t, carolDID, false),
		rc:        noteContext(5),
		plaintext: []byte("the agent's private memory"),
	}
	var err error
	// Shared[2] is an HPKE (X-Wing) grant for alice herself, beside her owner grant.
	f.sealed, err = f.alice.Seal(f.rc, f.plaintext, f.bob.Recipient(), f.carol.Recipient(), f.alice.Recipient())
	require.NoError(t, err)
	return f
}

// flips calls fn with every single-bit flip of b.
func flips(b []byte, fn func(c []byte, i, bit int)) {
	for i := range b {
		for bit := range 8 {
			c := bytes.Clone(b)
			c[i] ^= 1 << bit
			fn(c, i, bit)
		}
	}
}

func TestTamperEnvelope(t *testing.T) {
	f := newTamperFixture(t)
	s, bob := f.sealed, f.bob
	grant := s.Shared[0].WrappedKey
	open := func(env Envelope) error {
		_, err := bob.Open(f.rc, env, grant, f.alice.VerifyingKey())
		return err
	}
	require.NoError(t, open(s.Envelope))
	key, err := bob.Unwrap(f.rc, grant)
	require.NoError(t, err)

	for name, col := range map[string]func(e *Envelope) *[]byte{
		"ciphertext": func(e *Envelope) *[]byte { return &e.Ciphertext },
		"nonce":      func(e *Envelope) *[]byte { return &e.Nonce },
		"signature":  func(e *Envelope) *[]byte { return &e.Signature },
	} {
		orig := *col(&s.Envelope)
		for n := range len(orig) {
			env := s.Envelope
			*col(&env) = orig[:n]
			require.ErrorIs(t, open(env), ErrDecrypt, "%s truncated to %d bytes", name, n)
		}
		env := s.Envelope
		*col(&env) = append(bytes.Clone(orig), 0)
		require.ErrorIs(t, open(env), ErrDecrypt, "%s extended", name)

		flips(orig, func(c []byte, i, bit int) {
			env := s.Envelope
			*col(&env) = c
			require.ErrorIs(t, open(env), ErrDecrypt, "%s byte %d bit %d", name, i, bit)
		})
	}

	// Without the signature check, the content's own authentication (commitment and GCM tag)
	// still catches every truncation and flip of the ciphertext and nonce.
	for n := range len(s.Ciphertext) {
		_, err := key.openContent(s.Ciphertext[:n], s.Nonce)
		require.ErrorIs(t, err, ErrDecrypt, "ciphertext truncated to %d", n)
	}
	flips(s.Ciphertext, func(c []byte, i, bit int) {
		_, err := key.openContent(c, s.Nonce)
		require.ErrorIs(t, err, ErrDecrypt, "ciphertext byte %d bit %d", i, bit)
	})
	flips(s.Nonce, func(c []byte, i, bit int) {
		_, err := key.openContent(s.Ciphertext, c)
		require.ErrorIs(t, err, ErrDecrypt, "nonce byte %d bit %d", i, bit)
	})
}

func TestTamperWrappedKey(t *testing.T) {
	f := newTamperFixture(t)
	for _, c := range []struct {
		name  string
		agent *Agent
		grant []byte
	}{
		{"x25519", f.bob, f.sealed.Shared[0].WrappedKey},
		{"xwing", f.alice, f.sealed.Shared[2].WrappedKey},
		{"owner", f.alice, f.sealed.Owner.WrappedKey},
	} {
		_, err := c.agent.Unwrap(f.rc, c.grant)
		require.NoError(t, err)
		for n := range len(c.grant) {
			_, err := c.agent.Unwrap(f.rc, c.grant[:n])
			require.ErrorIs(t, err, ErrDecrypt, "%s grant truncated to %d", c.name, n)
		}
		_, err = c.agent.Unwrap(f.rc, append(bytes.Clone(c.grant), 0))
		require.ErrorIs(t, err, ErrDecrypt, "%s grant extended", c.name)
		flips(c.grant, func(b []byte, i, bit int) {
			_, err := c.agent.Unwrap(f.rc, b)
			require.ErrorIs(t, err, ErrDecrypt, "%s grant byte %d bit %d", c.name, i, bit)
		})
	}
}

// movedContexts returns rc (noteContext's record) moved to another owner, collection, record
// key or version, and with the boundary between two fields shifted, which the length
// prefixes keep apart.
func movedContexts(rc RecordContext) map[string]RecordContext {
	out := map[string]RecordContext{}
	for name, edit := range map[string]func(rc *RecordContext){
		"did":           func(rc *RecordContext) { rc.DID = bobDID },
		"collection":    func(rc *RecordContext) { rc.Collection = "com.example.other" },
		"rkey":          func(rc *RecordContext) { rc.RKey = "3jzfcijpj2z2b" },
		"older version": func(rc *RecordContext) { rc.Version-- },
		"newer version": func(rc *RecordContext) { rc.Version++ },
		"shifted":       func(rc *RecordContext) { rc.Collection, rc.RKey = "com.example.note3", "jzfcijpj2z2a" },
	} {
		moved := rc
		edit(&moved)
		out[name] = moved
	}
	return out
}

func TestTamperMovedToAnotherRecord(t *testing.T) {
	f := newTamperFixture(t)
	s := f.sealed
	key, err := f.bob.Unwrap(f.rc, s.Shared[0].WrappedKey)
	require.NoError(t, err)

	others := movedContexts(f.rc)
	named := f.rc
	named.Collection = "com.example.Note" // the name, unlike the authority, is case-sensitive
	others["collection name case"] = named
	for name, rc := range others {
		// The whole row moved: signature, grant and content all refuse.
		_, err := f.bob.Open(rc, s.Envelope, s.Shared[0].WrappedKey, f.alice.VerifyingKey())
		assert.ErrorIs(t, err, ErrDecrypt, name)
		assert.ErrorIs(t, f.alice.VerifyingKey().Verify(rc, s.Envelope), ErrDecrypt, name)
		_, err = f.bob.Unwrap(rc, s.Shared[0].WrappedKey)
		assert.ErrorIs(t, err, ErrDecrypt, "grant moved: %s", name)
		// Each layer on its own: the content under the right data key but the wrong context.
		moved := &DataKey{rc: rc, key: key.key}
		_, err = moved.openContent(s.Ciphertext, s.Nonce)
		assert.ErrorIs(t, err, ErrDecrypt, "content moved: %s", name)
	}

	// A ciphertext swapped with another version's, or with another record's, keeping the
	// rest of the row.
	s2, err := f.alice.Seal(noteContext(6), f.plaintext, f.bob.Recipient())
	require.NoError(t, err)
	for name, env := range map[string]Envelope{
		"ciphertext": {s2.Ciphertext, s.Nonce, s.Signature},
		"nonce":      {s.Ciphertext, s2.Nonce, s.Signature},
		"signature":  {s.Ciphertext, s.Nonce, s2.Signature},
		"envelope":   s2.Envelope,
	} {
		_, err := f.bob.Open(f.rc, env, s.Shared[0].WrappedKey, f.alice.VerifyingKey())
		assert.ErrorIs(t, err, ErrDecrypt, "%s from version 6", name)
	}
	// The grant of version 6 under version 5's row, and the reverse.
	_, err = f.bob.Open(f.rc, s.Envelope, s2.Shared[0].WrappedKey, f.alice.VerifyingKey())
	assert.ErrorIs(t, err, ErrDecrypt)
	_, err = f.bob.Open(noteContext(6), s2.Envelope, s.Shared[0].WrappedKey, f.alice.VerifyingKey())
	assert.ErrorIs(t, err, ErrDecrypt)
}

func TestTamperMovedToAnotherRecipient(t *testing.T) {
	f := newTamperFixture(t)
	s := f.sealed
	// Bob's grant handed to carol, and carol's to bob.
	_, err := f.carol.Open(f.rc, s.Envelope, s.Shared[0].WrappedKey, f.alice.VerifyingKey())
	assert.ErrorIs(t, err, ErrDecrypt)
	_, err = f.bob.Open(f.rc, s.Envelope, s.Shared[1].WrappedKey, f.alice.VerifyingKey())
	assert.ErrorIs(t, err, ErrDecrypt)

	// The same keys under another DID: the grant is bound to the recipient DID, not only to
	// the key (a key reused by two agents does not let one read the other's grants).
	impostor := &Agent{did: carolDID, enc: f.bob.enc, sign: f.bob.sign}
	_, err = impostor.Unwrap(f.rc, s.Shared[0].WrappedKey)
	assert.ErrorIs(t, err, ErrDecrypt)

	// A grant with its key id rewritten to carol's.
	g := bytes.Clone(s.Shared[0].WrappedKey)
	id := f.carol.RecipientKey().KeyID()
	copy(g[2:18], id[:])
	_, err = f.carol.Unwrap(f.rc, g)
	assert.ErrorIs(t, err, ErrDecrypt)
}

func TestTamperSuiteDowngrade(t *testing.T) {
	f := newTamperFixture(t)
	s := f.sealed

	// The envelope relabelled with another content suite or version.
	for _, b := range []struct {
		at   int
		to   byte
		name string
	}{{1, 0, "suite 0"}, {1, 2, "suite 2"}, {0, 0, "version 0"}, {0, 2, "version 2"}} {
		c := bytes.Clone(s.Ciphertext)
		c[b.at] = b.to
		_, err := f.bob.Open(f.rc, Envelope{c, s.Nonce, s.Signature}, s.Shared[0].WrappedKey, f.alice.VerifyingKey())
		assert.ErrorIs(t, err, ErrDecrypt, b.name)
		assert.ErrorIs(t, err, ErrUnsupported, b.name)
	}

	// Alice's X-Wing grant relabelled as X25519, and bob's X25519 grant as X-Wing, keeping
	// the length right by cutting or padding.
	owner := s.Shared[2].WrappedKey
	down := append([]byte{1, byte(SuiteX25519)}, owner[2:wrappedKeySize(SuiteX25519)]...)
	_, err := f.alice.Unwrap(f.rc, down)
	assert.ErrorIs(t, err, ErrDecrypt)
	up := append([]byte{1, byte(SuiteXWing)}, s.Shared[0].WrappedKey[2:]...)
	up = append(up, make([]byte, wrappedKeySize(SuiteXWing)-len(up))...)
	_, err = f.bob.Unwrap(f.rc, up)
	assert.ErrorIs(t, err, ErrDecrypt)

	// A suite that is not on the allow-list.
	g := bytes.Clone(s.Shared[0].WrappedKey)
	g[1] = 3
	_, err = f.bob.Unwrap(f.rc, g)
	assert.ErrorIs(t, err, ErrDecrypt)
	assert.ErrorIs(t, err, ErrUnsupported)

	// An X25519 grant for an agent that also holds X-Wing keys still opens (it is a valid
	// grant, made by the writer), but only with the key it names.
	x, err := f.alice.Seal(f.rc, f.plaintext, Recipient{DID: aliceDID, Key: f.alice.RecipientKey()})
	require.NoError(t, err)
	_, err = f.alice.Unwrap(f.rc, x.Shared[0].WrappedKey)
	assert.NoError(t, err)
}

func TestTamperWrongKeys(t *testing.T) {
	f := newTamperFixture(t)
	s := f.sealed
	stranger := newAgent(t, bobDID, false) // same DID as bob, other keys
	_, err := stranger.Open(f.rc, s.Envelope, s.Shared[0].WrappedKey, f.alice.VerifyingKey())
	assert.ErrorIs(t, err, ErrDecrypt)

	// The right reader, the wrong author key.
	_, err = f.bob.Open(f.rc, s.Envelope, s.Shared[0].WrappedKey, f.bob.VerifyingKey())
	assert.ErrorIs(t, err, ErrDecrypt)

	// A signature re-made by someone else over the same bytes, claiming alice's key id.
	forged := f.bob.sign.signEnvelope(f.rc, s.Ciphertext, s.Nonce)
	id := f.alice.VerifyingKey().KeyID()
	copy(forged[1:17], id[:])
	_, err = f.bob.Open(f.rc, Envelope{s.Ciphertext, s.Nonce, forged}, s.Shared[0].WrappedKey, f.alice.VerifyingKey())
	assert.ErrorIs(t, err, ErrDecrypt)

	// Rotated out: after re-wrapping to new keys, the old keys open nothing new.
	next, err := f.bob.NewEncryptionKeys()
	require.NoError(t, err)
	g, err := f.bob.Rewrap(f.rc, s.Shared[0].WrappedKey, next.Recipient())
	require.NoError(t, err)
	_, err = f.bob.Unwrap(f.rc, g.WrappedKey)
	assert.ErrorIs(t, err, ErrDecrypt)
	_, err = next.Unwrap(f.rc, g.WrappedKey)
	assert.NoError(t, err)
}

func TestTamperEd25519KeyAsRecipient(t *testing.T) {
	// Through the published encodings the type byte refuses it outright.
	a := newAgent(t, aliceDID, false)
	_, err := ParseRecipientKey(a.VerifyingKey().Bytes())
	require.ErrorIs(t, err, ErrKeyType)

	// Relabelled by hand (the row edited to claim 0x01), about half of all Ed25519 keys are
	// also valid X25519 points (the rest have the sign bit set and are refused as
	// non-canonical). Find such an agent: a grant wrapped to its signing key as if it were an
	// X25519 key opens for no one, since the agent holds no X25519 key with that id.
	for range 64 {
		a = newAgent(t, aliceDID, false)
		raw := a.VerifyingKey().Bytes()[1:]
		k, err := ParseRecipientKey(append([]byte{0x01}, raw...))
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidKey)
			continue
		}
		rc := noteContext(1)
		s, err := a.Seal(rc, []byte("x"), Recipient{DID: aliceDID, Key: k})
		require.NoError(t, err)
		_, err = a.Unwrap(rc, s.Shared[0].WrappedKey)
		require.ErrorIs(t, err, ErrDecrypt)
		_, err = a.Open(rc, s.Envelope, s.Shared[0].WrappedKey, a.VerifyingKey())
		require.ErrorIs(t, err, ErrDecrypt)
		return
	}
	t.Fatal("no Ed25519 key with a clear sign bit in 64 tries")
}

func TestTamperOwnerGrant(t *testing.T) {
	f := newTamperFixture(t)
	s, alice := f.sealed, f.alice
	owner := s.Owner.WrappedKey
	require.Len(t, owner, wrappedKeySize(SuiteOwner))
	open := func(a *Agent, rc RecordContext, w []byte) error {
		_, err := a.Unwrap(rc, w)
		return err
	}
	require.NoError(t, open(alice, f.rc, owner))

	// Moved to another record, version or owner.
	for name, rc := range movedContexts(f.rc) {
		assert.ErrorIs(t, open(alice, rc, owner), ErrDecrypt, name)
	}
	// Alice's owner key under another DID, for alice's record and for one moved to that DID.
	impostor := &Agent{did: carolDID, enc: alice.enc, pq: alice.pq, sign: alice.sign, owner: alice.owner}
	assert.ErrorIs(t, open(impostor, f.rc, owner), ErrDecrypt)
	moved := f.rc
	moved.DID = carolDID
	assert.ErrorIs(t, open(impostor, moved, owner), ErrDecrypt)
	// Another agent with alice's DID and its own owner key; then the grant relabelled with
	// that agent's owner key id.
	other := newAgent(t, aliceDID, true)
	assert.ErrorIs(t, open(other, f.rc, owner), ErrDecrypt)
	relabelled := bytes.Clone(owner)
	id := other.OwnerKeyID()
	copy(relabelled[2:18], id[:])
	assert.ErrorIs(t, open(other, f.rc, relabelled), ErrDecrypt)
	assert.ErrorIs(t, open(alice, f.rc, relabelled), ErrDecrypt)

	// Version 6's owner grant in version 5's row, and the reverse.
	s6, err := alice.Seal(noteContext(6), f.plaintext)
	require.NoError(t, err)
	_, err = alice.Open(f.rc, s.Envelope, s6.Owner.WrappedKey, alice.VerifyingKey())
	assert.ErrorIs(t, err, ErrDecrypt)
	_, err = alice.Open(noteContext(6), s6.Envelope, owner, alice.VerifyingKey())
	assert.ErrorIs(t, err, ErrDecrypt)

	// Downgrade and upgrade between grant kinds, keeping the length right by cutting or
	// padding: an owner grant relabelled as an HPKE grant, and HPKE grants as owner grants.
	for _, to := range []Suite{SuiteX25519, SuiteXWing} {
		w := append([]byte{1, byte(to)}, owner[2:]...)
		w = append(w, make([]byte, wrappedKeySize(to)-len(w))...)
		assert.ErrorIs(t, open(alice, f.rc, w), ErrDecrypt, "owner grant as %s", to)
	}
	for name, w := range map[string][]byte{
		"x25519": s.Shared[0].WrappedKey, "xwing": s.Shared[2].WrappedKey,
	} {
		up := append([]byte{1, byte(SuiteOwner)}, w[2:wrappedKeySize(SuiteOwner)]...)
		assert.ErrorIs(t, open(alice, f.rc, up), ErrDecrypt, "%s grant as an owner grant", name)
		// With alice's owner key id, so that it reaches the AEAD.
		id := alice.OwnerKeyID()
		copy(up[2:18], id[:])
		assert.ErrorIs(t, open(alice, f.rc, up), ErrDecrypt, "%s grant as an owner grant", name)
	}
	// An owner grant at the wrong length is malformed; another version byte, unsupported.
	for _, w := range [][]byte{owner[:77], append(bytes.Clone(owner), 0), append(bytes.Clone(owner), make([]byte, 20)...)} {
		err := open(alice, f.rc, w)
		assert.ErrorIs(t, err, ErrDecrypt)
		assert.ErrorIs(t, err, ErrMalformed)
	}
	for _, v := range []byte{0, 2, 0xff} {
		w := bytes.Clone(owner)
		w[0] = v
		err := open(alice, f.rc, w)
		assert.ErrorIs(t, err, ErrDecrypt)
		assert.ErrorIs(t, err, ErrUnsupported)
	}
	// Suites near the owner suite are not on the allow-list.
	for _, sb := range []byte{0x03, 0x0f, 0x11, 0x20} {
		w := bytes.Clone(owner)
		w[1] = sb
		err := open(alice, f.rc, w)
		assert.ErrorIs(t, err, ErrUnsupported, "suite 0x%02x", sb)
	}
	// No public key can claim the owner suite.
	_, err = ParseRecipientKey(append([]byte{byte(SuiteOwner)}, make([]byte, 32)...))
	assert.ErrorIs(t, err, ErrUnsupported)
}
