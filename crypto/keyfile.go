package crypto

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Key file format (all integers big-endian):
//
//	offset size
//	0      8    magic "d1sealK\n"
//	8      1    format version: 0x02 (written), or 0x01 (still read)
//	9      1    key derivation 0x01: argon2id (version 0x13)
//	10     4    argon2id passes (time)
//	14     4    argon2id memory in KiB
//	18     1    argon2id lanes (threads)
//	19     16   salt, random per file
//	35     12   AES-GCM nonce, random per file
//	47     ...  AES-256-GCM of the payload, key = argon2id(passphrase, salt, ...), AAD = bytes 0..46
//
// Payload, version 1: DID (2-byte length, bytes), X25519 private key (32), Ed25519 seed (32),
// then 0x00, or 0x01 and the X-Wing seed (32). Version 2 appends 0x00, or 0x01 and the owner
// key (32), and requires the X25519 key clamped.
const (
	keyFileMagic    = "d1sealK\n"
	keyFileHeadSize = 8 + 1 + 1 + 4 + 4 + 1 + 16 + nonceSize
	kdfArgon2id     = 1

	// keyFileVersion is the version WriteKeyFile writes: 2 adds the owner key. Version 1
	// files (no owner key) are still read.
	keyFileVersion = 2

	// maxKeyFileSize bounds what ReadKeyFile reads.
	maxKeyFileSize = 1 << 16
)

// Caps on the argon2id settings of a key file, checked before any work, so that a crafted
// file cannot make ParseKeyFile spend unbounded memory or time.
const (
	MaxKeyFileTime    = 16
	MaxKeyFileMemory  = 1 << 20 // KiB: 1 GiB
	MaxKeyFileThreads = 16
)

// The weakest argon2id settings MarshalKeyFile and WriteKeyFile accept: at least
// MinKeyFileTime passes over at least MinKeyFileMemory KiB (19 MiB), with any number of
// lanes. This is the first of OWASP's equivalent argon2id configurations (Password Storage
// Cheat Sheet: m=19456 KiB, t=2, p=1), chosen as one rule that is easy to state and check
// rather than a table of trade-offs. It costs about 35 ms on a laptop core, so tests can
// afford it too. ParseKeyFile and ReadKeyFile still read files written with weaker settings
// (older files, or ones written by other tools); rewrite those with WriteKeyFile.
const (
	MinKeyFileTime   = 2
	MinKeyFileMemory = 19 << 10 // KiB: 19 MiB
)

// KeyFileOptions are the argon2id settings for writing a key file. The zero value means the
// defaults: 3 passes over 64 MiB with 4 lanes (RFC 9106's second recommended setting). A
// field left zero takes its default; settings below MinKeyFileTime or MinKeyFileMemory are
// refused.
type KeyFileOptions struct {
	Time      uint32 // passes; default 3, at least MinKeyFileTime
	MemoryKiB uint32 // memory in KiB; default 65536 (64 MiB), at least MinKeyFileMemory
	Threads   uint8  // lanes; default 4
}

func (o KeyFileOptions) withDefaults() KeyFileOptions {
	if o.Time == 0 {
		o.Time = 3
	}
	if o.MemoryKiB == 0 {
		o.MemoryKiB = 64 << 10
	}
	if o.Threads == 0 {
		o.Threads = 4
	}
	return o
}

// check enforces the caps, which bound what a crafted file can cost its reader.
func (o KeyFileOptions) check() error {
	switch {
	case o.Time < 1 || o.Time > MaxKeyFileTime:
		return fmt.Errorf("argon2id passes %d outside 1..%d", o.Time, MaxKeyFileTime)
	case o.Threads < 1 || o.Threads > MaxKeyFileThreads:
		return fmt.Errorf("argon2id lanes %d outside 1..%d", o.Threads, MaxKeyFileThreads)
	case o.MemoryKiB < 8*uint32(o.Threads) || o.MemoryKiB > MaxKeyFileMemory:
		return fmt.Errorf("argon2id memory %d KiB outside %d..%d", o.MemoryKiB, 8*uint32(o.Threads), MaxKeyFileMemory)
	}
	return nil
}

// checkStrength enforces the minimum for new files.
func (o KeyFileOptions) checkStrength() error {
	if o.Time < MinKeyFileTime || o.MemoryKiB < MinKeyFileMemory {
		return fmt.Errorf("argon2id %d passes over %d KiB is below the minimum of %d passes over %d KiB (19 MiB): too cheap to guess passphrases against (leave KeyFileOptions zero for the defaults)",
			o.Time, o.MemoryKiB, MinKeyFileTime, MinKeyFileMemory)
	}
	return nil
}

// MarshalKeyFile encrypts a's private keys under passphrase in the key file format. The
// passphrase must not be empty, and opts must not fall below MinKeyFileTime passes over
// MinKeyFileMemory KiB (or above the Max caps).
func MarshalKeyFile(a *Agent, passphrase []byte, opts KeyFileOptions) ([]byte, error) {
	o := opts.withDefaults()
	if err := o.checkStrength(); err != nil {
		return nil, fmt.Errorf("crypto: write key file: %w", err)
	}
	return marshalKeyFile(a, passphrase, o)
}

// marshalKeyFile is MarshalKeyFile without the minimum: the package's own tests use it to
// keep argon2id cheap. o must have its defaults applied.
func marshalKeyFile(a *Agent, passphrase []byte, o KeyFileOptions) ([]byte, error) {
	const op = "crypto: write key file"
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("%s: empty passphrase", op)
	}
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	head := make([]byte, 0, keyFileHeadSize)
	head = append(head, keyFileMagic...)
	head = append(head, keyFileVersion, kdfArgon2id)
	head = binary.BigEndian.AppendUint32(head, o.Time)
	head = binary.BigEndian.AppendUint32(head, o.MemoryKiB)
	head = append(head, o.Threads)
	var saltNonce [16 + nonceSize]byte
	rand.Read(saltNonce[:])
	head = append(head, saltNonce[:]...)

	payload, err := a.marshalPrivate()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer clear(payload)
	key := argon2.IDKey(passphrase, head[19:35], o.Time, o.MemoryKiB, o.Threads, keySize)
	defer clear(key)
	return sealGCM(head, key, head[35:keyFileHeadSize], payload, head)
}

func (a *Agent) marshalPrivate() ([]byte, error) {
	x, err := a.enc.priv.Bytes()
	if err != nil {
		return nil, err
	}
	p := appendString16(nil, a.did)
	p = append(p, x...)
	p = append(p, a.sign.priv.Seed()...)
	// Do not clear x or q: crypto/hpke may return its own copy of the seed (it does for
	// X-Wing), and clearing it would destroy the key.
	if a.pq == nil {
		p = append(p, 0)
	} else {
		q, err := a.pq.priv.Bytes()
		if err != nil {
			return nil, err
		}
		p = append(append(p, 1), q...)
	}
	if a.owner == nil {
		return append(p, 0), nil
	}
	return append(append(p, 1), a.owner.raw[:]...), nil
}

// ParseKeyFile decrypts a key file made by MarshalKeyFile. A wrong passphrase or any change
// to the file is ErrDecrypt; an argon2id setting above the caps (MaxKeyFileTime,
// MaxKeyFileMemory, MaxKeyFileThreads) is ErrUnsupported, refused before deriving anything.
func ParseKeyFile(data, passphrase []byte) (*Agent, error) {
	const op = "read key file"
	o, err := parseKeyFileHeader(data)
	if err != nil {
		return nil, err
	}
	key := argon2.IDKey(passphrase, data[19:35], o.Time, o.MemoryKiB, o.Threads, keySize)
	defer clear(key)
	payload, err := openGCM(nil, key, data[35:keyFileHeadSize], data[keyFileHeadSize:], data[:keyFileHeadSize])
	if err != nil {
		return nil, ErrDecrypt
	}
	defer clear(payload)
	a, err := unmarshalPrivate(payload, data[8])
	if err != nil {
		// Authenticated but not decodable: written by a broken or hostile writer.
		return nil, malformed(op, "%v", err)
	}
	return a, nil
}

// parseKeyFileHeader checks the header and returns the argon2id settings.
func parseKeyFileHeader(data []byte) (KeyFileOptions, error) {
	const op = "read key file"
	if len(data) < len(keyFileMagic) || !bytes.Equal(data[:len(keyFileMagic)], []byte(keyFileMagic)) {
		return KeyFileOptions{}, malformed(op, "not a d1seal key file")
	}
	if len(data) < keyFileHeadSize+tagSize {
		return KeyFileOptions{}, malformed(op, "%d bytes, want at least %d", len(data), keyFileHeadSize+tagSize)
	}
	if data[8] != 1 && data[8] != keyFileVersion {
		return KeyFileOptions{}, unsupported(op, "key file version %d, this package reads 1 and %d", data[8], keyFileVersion)
	}
	if data[9] != kdfArgon2id {
		return KeyFileOptions{}, unsupported(op, "key derivation %d", data[9])
	}
	o := KeyFileOptions{
		Time:      binary.BigEndian.Uint32(data[10:14]),
		MemoryKiB: binary.BigEndian.Uint32(data[14:18]),
		Threads:   data[18],
	}
	if err := o.check(); err != nil {
		return KeyFileOptions{}, unsupported(op, "%v", err)
	}
	return o, nil
}

// unmarshalPrivate decodes the payload of a key file of the given version (1 or 2), exactly:
// every flag byte is 0x00 or 0x01, nothing may follow the last field, and (version 2) the
// X25519 key is clamped, so that a version 2 payload has one encoding per agent.
func unmarshalPrivate(p []byte, version byte) (*Agent, error) {
	if len(p) < 2 {
		return nil, errors.New("payload too short")
	}
	n := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if len(p) < n+2*keySize+1 {
		return nil, errors.New("payload too short")
	}
	did := string(p[:n])
	if err := checkDID(did); err != nil {
		return nil, err
	}
	p = p[n:]
	// crypto/hpke serialises X25519 private keys clamped (RFC 9180, section 7.1.2), so every
	// key file holds a clamped scalar; version 2 refuses any other spelling of the same key.
	if x := p[:keySize]; version >= 2 && (x[0]&7 != 0 || x[31]&0xc0 != 0x40) {
		return nil, errors.New("X25519 key not clamped")
	}
	enc, err := newDecryptionKey(SuiteX25519, p[:keySize])
	if err != nil {
		return nil, errors.New("bad X25519 key")
	}
	a := &Agent{did: did, enc: enc, sign: newSigningKey(p[keySize : 2*keySize])}
	p = p[2*keySize:]
	pq, p, err := optionalKey(p)
	if err != nil {
		return nil, err
	}
	if pq != nil {
		if a.pq, err = newDecryptionKey(SuiteXWing, pq); err != nil {
			return nil, errors.New("bad X-Wing key")
		}
	}
	if version >= 2 {
		var owner []byte
		if owner, p, err = optionalKey(p); err != nil {
			return nil, err
		}
		if owner != nil {
			a.owner = newOwnerKey(owner)
		}
	}
	if len(p) != 0 {
		return nil, errors.New("bad payload tail")
	}
	return a, nil
}

// optionalKey reads 0x00 (no key) or 0x01 and a 32-byte key from the front of p.
func optionalKey(p []byte) (key, rest []byte, err error) {
	switch {
	case len(p) >= 1 && p[0] == 0:
		return nil, p[1:], nil
	case len(p) >= 1+keySize && p[0] == 1:
		return p[1 : 1+keySize], p[1+keySize:], nil
	}
	return nil, nil, errors.New("bad payload tail")
}

// WriteKeyFile writes a's key file (MarshalKeyFile, with the same minimum settings) to path
// atomically: into a temporary file in the same directory with mode 0600, synced, then
// renamed over path. A crash leaves either the old file or the new one, never a partial file.
func WriteKeyFile(path string, a *Agent, passphrase []byte, opts KeyFileOptions) error {
	data, err := MarshalKeyFile(a, passphrase, opts)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic writes data to path with mode 0600, as WriteKeyFile describes.
func writeFileAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("crypto: write key file: %w", err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("crypto: write key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("crypto: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("crypto: write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("crypto: write key file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("crypto: write key file: %w", err)
	}
	done = true
	if d, err := os.Open(dir); err == nil { // persist the rename; best effort
		d.Sync()
		d.Close()
	}
	return nil
}

// ErrKeyFilePermissions means a key file is readable or writable by its group or by
// others, so ReadKeyFile refused it before asking anything of the passphrase (as ssh refuses
// an "UNPROTECTED PRIVATE KEY FILE"). The error's message names the chmod that fixes it.
var ErrKeyFilePermissions = errors.New("crypto: key file permissions too open")

// ReadKeyFile reads and decrypts the key file at path (ParseKeyFile). Files larger than
// maxKeyFileSize are refused with ErrMalformed. On Unix, a file whose mode grants its group
// or others any access (mode & 0o077 != 0) is refused with an error matching
// ErrKeyFilePermissions: run chmod 600 on it. WriteKeyFile writes mode 0600.
func ReadKeyFile(path string, passphrase []byte) (*Agent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("crypto: read key file: %w", err)
	}
	defer f.Close()
	if err := checkKeyFileMode(path, f); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("crypto: read key file: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, malformed("read key file", "%s is larger than %d bytes", path, maxKeyFileSize)
	}
	return ParseKeyFile(data, passphrase)
}

// checkKeyFileMode refuses an open key file that its group or others may read or write. The
// mode comes from the open file, not the path, so a file swapped after the check is not
// what was read. Windows and Plan 9 have no such mode bits.
func checkKeyFileMode(path string, f *os.File) error {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("crypto: read key file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("crypto: read key file: %s has mode %04o, open to group or others: run chmod 600 %s: %w",
			path, perm, shellQuote(path), ErrKeyFilePermissions)
	}
	return nil
}

// shellQuote quotes path for a POSIX shell when it holds anything but safe characters.
func shellQuote(path string) string {
	for _, c := range path {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-+=:,@%", c)) {
			return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
		}
	}
	return path
}
