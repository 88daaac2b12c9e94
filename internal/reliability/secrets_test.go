package reliability_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"

	"github.com/d1seal/d1seal/crypto"
	"github.com/d1seal/d1seal/d1"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/d1seal/d1seal/records"
)

// canary is a secret to look for, in every encoding it could leak in.
type canary struct {
	name  string
	forms map[string]string
}

func textCanary(name, s string) canary {
	return canary{name: name, forms: map[string]string{
		"clear":     s,
		"hex":       hex.EncodeToString([]byte(s)),
		"base64":    base64.StdEncoding.EncodeToString([]byte(s))[:16],
		"base64url": base64.RawURLEncoding.EncodeToString([]byte(s))[:16],
		"%q":        fmt.Sprintf("%q", s),
	}}
}

func bytesCanary(name string, b []byte) canary {
	return canary{name: name, forms: map[string]string{
		"hex":        hex.EncodeToString(b)[:24],
		"HEX":        strings.ToUpper(hex.EncodeToString(b))[:24],
		"base64":     base64.StdEncoding.EncodeToString(b)[:16],
		"base64url":  base64.RawURLEncoding.EncodeToString(b)[:16],
		"raw":        string(b[:12]),
		"Go bytes":   strings.Trim(fmt.Sprint(b[:8]), "[]"),
		"JSON bytes": strings.Trim(strings.Join(strings.Fields(fmt.Sprint(b[:8])), ","), "[]"),
	}}
}

func randomText(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// leakScanner collects everything that could show a secret: error strings in every verb, log
// lines, request descriptions, formatted values, recovered panics.
type leakScanner struct {
	mu  sync.Mutex
	out []string
}

func (s *leakScanner) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = append(s.out, string(p))
	return len(p), nil
}

// value records v as %v, %+v, %#v, %s and %q would print it.
func (s *leakScanner) value(what string, v any) {
	if v == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		s.out = append(s.out, what+" "+verb+": "+fmt.Sprintf(verb, v))
	}
	if err, ok := v.(error); ok {
		s.out = append(s.out, what+" Error(): "+err.Error())
	}
}

// try runs f, recording any panic value instead of crashing.
func (s *leakScanner) try(what string, f func()) {
	defer func() {
		if p := recover(); p != nil {
			s.value(what+" panic", p)
		}
	}()
	f()
}

// leaks returns a description of every canary form found in what was collected, and how many
// outputs and bytes were searched.
func (s *leakScanner) leaks(canaries ...canary) (found []string, outputs, size int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range s.out {
		size += len(line)
		for _, c := range canaries {
			for form, f := range c.forms {
				if strings.Contains(line, f) {
					found = append(found, fmt.Sprintf("%s leaked (%s) in: %.300s", c.name, form, line))
				}
			}
		}
	}
	return found, len(s.out), size
}

// check fails for every canary form found in what was collected.
func (s *leakScanner) check(t *testing.T, canaries ...canary) {
	t.Helper()
	found, outputs, size := s.leaks(canaries...)
	require.Positive(t, outputs)
	for _, f := range found {
		t.Error(f)
	}
	t.Logf("searched %d outputs (%d bytes) for %d canaries", outputs, size, len(canaries))
}

// TestLeakScannerFindsCanaries makes sure the scanner would see a leak in each encoding.
func TestLeakScannerFindsCanaries(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	text := randomText("canary-")
	for _, leak := range []string{
		text, hex.EncodeToString([]byte(text)), base64.StdEncoding.EncodeToString([]byte(text)),
		fmt.Sprintf("%x", key), fmt.Sprintf("%X", key), base64.RawURLEncoding.EncodeToString(key), fmt.Sprint(key),
		string(must(json.Marshal(key))), strings.Join(strings.Fields(fmt.Sprint(key)), ","),
	} {
		s := &leakScanner{}
		s.value("x", errors.New("wrapped: "+leak))
		found, _, _ := s.leaks(textCanary("text", text), bytesCanary("key", key))
		require.NotEmpty(t, found, "a leak of %.40s is seen", leak)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// debugLogger logs every level into w.
func debugLogger(w *leakScanner) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestTokenNeverShown uses a canary API token through successful requests, refused ones (wrong
// token, faults, SQL errors, rate limit) and every way of printing a client, with the client
// and the local D1 logging at debug level: the token appears nowhere.
func TestTokenNeverShown(t *testing.T) {
	ctx := context.Background()
	token := randomText("tok-canary-")
	s := &leakScanner{}
	srv, id := newLocal(t, d1local.Options{Token: token, Logger: debugLogger(s)})
	mk := func(tok string) *d1.Client {
		acct, err := d1.NewAccount("acct", tok, d1.Options{
			BaseURL: localURL, HTTPClient: &http.Client{Transport: srv.Transport()}, Logger: debugLogger(s),
			Retry:     d1.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
			RateLimit: d1.RateLimit{Disabled: true},
			OnRequest: func(ri d1.RequestInfo) { s.value("request info", ri) },
		})
		require.NoError(t, err)
		c := acct.Database(id)
		return c
	}
	good, wrong := mk(token), mk(token+"-wrong")
	for name, c := range map[string]*d1.Client{"good": good, "wrong": wrong} {
		s.value(name+" client", c)
		s.value(name+" client (struct)", *c)
		s.try(name, func() {
			_, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS t (x UNIQUE)")
			s.value(name+" create", err)
			_, err = c.Exec(ctx, "INSERT INTO t VALUES (1), (1)")
			s.value(name+" unique", err)
			_, err = c.Query(ctx, "SELECT * FROM nope")
			s.value(name+" no table", err)
			for _, f := range []d1local.Fault{{Status: 502}, {Status: 429, RetryAfter: time.Millisecond}, {DropAfterCommit: true}, {Transient: "Network connection lost."}} {
				srv.InjectFaults(f, f)
				_, err = c.Exec(ctx, "INSERT INTO t VALUES (?)", time.Now().UnixNano())
				s.value(name+" fault", err)
			}
			_, err = c.Info(ctx)
			s.value(name+" get database", err)
			_, err = c.Account().ListDatabases(ctx, "")
			s.value(name+" list databases", err)
			var buf bytes.Buffer
			_, err = c.Export(ctx, &buf, d1.ExportOptions{PollInterval: time.Millisecond})
			s.value(name+" export", err)
		})
	}
	_, err := d1.NewAccount("acct", token, d1.Options{BaseURL: "::bad url"})
	s.value("bad options", err)
	s.check(t, textCanary("API token", token))
}

// keyFileSecrets decrypts a key file the way its documented format says, to learn the private
// keys the tests must never see printed: the X25519 private key and the Ed25519 seed.
func keyFileSecrets(t *testing.T, file, passphrase []byte) (x25519, ed25519Seed []byte) {
	t.Helper()
	require.Greater(t, len(file), 47)
	header := file[:47]
	passes, mem, lanes := binary.BigEndian.Uint32(header[10:14]), binary.BigEndian.Uint32(header[14:18]), header[18]
	key := argon2.IDKey(passphrase, header[19:35], passes, mem, lanes, 32)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	payload, err := gcm.Open(nil, header[35:47], file[47:], header)
	require.NoError(t, err, "the key file opens as documented")
	n := int(binary.BigEndian.Uint16(payload))
	rest := payload[2+n:]
	return rest[:32], rest[32:64]
}

// TestKeysPassphrasesAndPlaintextNeverShown: private keys, passphrases and record plaintext
// (canaries all) go through key files, sealing, records operations that succeed and fail, with
// the d1 client and the local D1 logging at debug level and events emitted; none of them
// appears in any error (in every fmt verb), log line, request description, event, panic or
// formatted agent, data key or collection. (Opened records hold the caller's value in clear,
// by design, and are not scanned.)
func TestKeysPassphrasesAndPlaintextNeverShown(t *testing.T) {
	ctx := context.Background()
	s := &leakScanner{}
	pass := randomText("pass-canary-")
	plain := randomText("plaintext-canary-")

	// Key files: the passphrase and the keys inside.
	alice, err := crypto.GenerateAgent("did:plc:alice", crypto.GenerateOptions{})
	require.NoError(t, err)
	file, err := crypto.MarshalKeyFile(alice, []byte(pass), crypto.KeyFileOptions{Time: crypto.MinKeyFileTime, MemoryKiB: crypto.MinKeyFileMemory, Threads: 1})
	require.NoError(t, err)
	x, seed := keyFileSecrets(t, file, []byte(pass))
	path := filepath.Join(t.TempDir(), "alice.key")
	require.NoError(t, crypto.WriteKeyFile(path, alice, []byte(pass), crypto.KeyFileOptions{Time: crypto.MinKeyFileTime, MemoryKiB: crypto.MinKeyFileMemory, Threads: 1}))
	for i, p := range [][]byte{[]byte(pass + "x"), []byte(pass[:len(pass)-1]), nil} {
		_, err := crypto.ParseKeyFile(file, p)
		s.value(fmt.Sprint("wrong passphrase ", i), err)
		_, err = crypto.ReadKeyFile(path, p)
		s.value(fmt.Sprint("read with wrong passphrase ", i), err)
	}
	_, err = crypto.MarshalKeyFile(alice, nil, crypto.KeyFileOptions{})
	s.value("empty passphrase", err)
	_, err = crypto.MarshalKeyFile(alice, []byte(pass), crypto.KeyFileOptions{MemoryKiB: 1 << 31})
	s.value("too much memory", err)
	loaded, err := crypto.ReadKeyFile(path, []byte(pass))
	require.NoError(t, err)
	for name, a := range map[string]*crypto.Agent{"generated": alice, "loaded": loaded} {
		s.value(name+" agent", a)
		s.value(name+" agent (struct)", *a)
	}

	// Sealing: data keys, envelopes opened with wrong inputs.
	rc := crypto.RecordContext{DID: "did:plc:alice", Collection: notesNSID, RKey: "3kzzzzzzzzz22", Version: 1}
	sealed, err := alice.Seal(rc, []byte(plain))
	require.NoError(t, err)
	dk, err := alice.Unwrap(rc, sealed.Owner.WrappedKey)
	require.NoError(t, err)
	s.value("data key", dk)
	s.value("data key (struct)", *dk)
	bad := sealed.Envelope
	bad.Ciphertext = bytes.Clone(bad.Ciphertext)
	bad.Ciphertext[40] ^= 1
	_, err = alice.Open(rc, bad, sealed.Owner.WrappedKey, alice.VerifyingKey())
	s.value("open tampered", err)
	_, err = dk.Open(bad, alice.VerifyingKey())
	s.value("data key open tampered", err)

	// Records, with logging and events, through successes and failures.
	srv, id := newLocal(t, d1local.Options{Logger: debugLogger(s)})
	db := client(t, srv, id, d1.Options{Logger: debugLogger(s), OnRequest: func(ri d1.RequestInfo) { s.value("request info", ri) }})
	store := records.NewStore(db, records.StoreOptions{EmitEvents: true})
	e := &env{srv: srv, db: db, store: store}
	_, err = store.RegisterAgent(ctx, loaded, nil)
	require.NoError(t, err)
	e.agent(t, "did:plc:bob")
	c := notes(t, store, loaded)
	s.value("collection", c)
	s.try("records", func() {
		r, err := c.Create(ctx, note{Title: "secret", Body: plain})
		require.NoError(t, err)
		// An opened Record holds the caller's value in clear by design: printing it is the
		// caller's choice, so it is not scanned. Everything around it is.
		require.NoError(t, c.Share(ctx, r.Ref.RKey, "did:plc:bob"))
		_, err = c.Create(ctx, note{Body: plain + strings.Repeat("x", 2_000_000)})
		s.value("too large", err)
		_, err = c.CreateMany(ctx, []note{{Body: plain}, {Body: plain, Score: 1e400 * 0}})
		s.value("create many", err)
		stale := *r
		stale.Version = 7
		_, err = c.Update(ctx, &stale)
		s.value("conflict", err)
		srv.InjectFaults(d1local.Fault{DropAfterCommit: true}, d1local.Fault{Status: 503})
		r2, err := c.Update(ctx, r)
		s.value("update through faults", err)
		_ = r2
		// The stored row tampered with, then read.
		_, err = db.Exec(ctx, "UPDATE records SET ciphertext = CAST(substr(ciphertext, 1, 40) || X'00' || substr(ciphertext, 42) AS BLOB) WHERE id = ?", r.Ref.ID())
		require.NoError(t, err)
		_, err = c.Get(ctx, r.Ref.RKey)
		s.value("tampered", err)
		// The record opened as the wrong type.
		wrongType, err := records.NewCollection[int](store, loaded, notesNSID, records.CollectionOptions[int]{})
		require.NoError(t, err)
		r3, err := c.Create(ctx, note{Body: plain})
		require.NoError(t, err)
		_, err = wrongType.Get(ctx, r3.Ref.RKey)
		s.value("wrong type", err)
		s.value("unshare tampered", c.Unshare(ctx, r.Ref.RKey, "did:plc:bob"))
		require.NoError(t, c.Share(ctx, r3.Ref.RKey, "did:plc:bob"))
		require.NoError(t, c.Unshare(ctx, r3.Ref.RKey, "did:plc:bob"))
		var n int
		for ev, err := range store.AllEvents(ctx, records.EventQuery{}) {
			s.value("event", ev)
			s.value("event error", err)
			n++
		}
		require.Positive(t, n, "events were emitted")
	})
	s.check(t,
		textCanary("passphrase", pass),
		textCanary("plaintext", plain),
		bytesCanary("X25519 private key", x),
		bytesCanary("Ed25519 seed", seed),
	)
}
