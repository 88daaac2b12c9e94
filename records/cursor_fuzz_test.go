package records

import (
	"bytes"
	"errors"
	"testing"

	"github.com/d1seal/d1seal/crypto"
)

// FuzzDecodeCursor feeds arbitrary text as a listing cursor (ListOptions.Cursor and
// EventQuery.Cursor come from callers): decoding never panics, refuses with an *InputError,
// and every cursor this package issues decodes back to the key it was made from.
func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{"", "cjpkaWQ", encodeCursor("r", "did:plc:a/agent.memory.note/3k"), encodeCursor("e", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
		"'; DROP TABLE records; --", "====", "cjo\x00"} {
		f.Add(s, "r", "did:plc:a/x/y")
	}
	f.Fuzz(func(t *testing.T, cursor, kind, last string) {
		if _, err := decodeCursor(cursor, kind); err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("decodeCursor(%q) = %v, want an *InputError", cursor, err)
			}
		}
		got, err := decodeCursor(encodeCursor(kind, last), kind)
		if err != nil || got != last {
			t.Fatalf("cursor of %q/%q decodes to %q, %v", kind, last, got, err)
		}
	})
}

// FuzzParsePayload feeds arbitrary bytes to the decoder of the sealed payload (the metadata and
// value inside every record's ciphertext, reachable by whoever holds a data key): it never
// panics, refuses with ErrTampered, and what it accepts (in the current version 2) encodes back
// to the same bytes; a version 1 payload reads with no access list.
func FuzzParsePayload(f *testing.F) {
	p := payload{createdAt: "2026-01-02T03:04:05.000000000Z", updatedAt: "", writeID: "w1", value: []byte(`{"a":1}`)}
	f.Add(p.marshal())
	p.access = []accessEntry{{DID: "did:plc:bob", Suite: crypto.SuiteX25519}, {DID: "did:plc:carol", Suite: crypto.SuiteXWing}}
	f.Add(p.marshal())
	p.pad = true
	f.Add(p.marshal())
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0xff, 0xff})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parsePayload(b)
		if err != nil {
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("parsePayload: %v, want ErrTampered", err)
			}
			return
		}
		if b[0] == payloadV1 {
			if !got.legacy || len(got.access) != 0 {
				t.Fatalf("parsePayload(%x): a version 1 payload with an access list", b)
			}
			return
		}
		if again := got.marshal(); !bytes.Equal(again, b) {
			t.Fatalf("parsePayload(%x) re-encodes as %x", b, again)
		}
	})
}
