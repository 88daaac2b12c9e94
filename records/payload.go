package records

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/d1seal/d1seal/crypto"
)

// payload is what is sealed (or, for a public record, signed): the row's own metadata, so that
// an altered created_at, updated_at or write_id column is caught on read; the version's
// access list; then the encoded value.
//
// Version 2 (written since the trust work):
//
//	0x02 || u16 len || created_at || u16 len || updated_at || u16 len || write_id
//	  || u16 n || n × (u16 len || recipient DID || suite (1) || key id (16)) || value
//
// The access list names every agent other than the owner that the version's data key is
// wrapped for, sorted by DID: the owner's signature covers the ciphertext, so it covers the
// list. Readers check they are on it; writers take the recipients of the next version from
// it (never from shared_records rows, which the database could add to). Version 1 (no access
// list) is still read: such a record's next version is shared with nobody until shared again.
//
// Version 3 is version 2 padded (CollectionOptions.Pad): after the access list, u32 length ||
// value || zero bytes up to the Padmé size of the whole payload (see padme).
type payload struct {
	createdAt, updatedAt, writeID string
	access                        []accessEntry // version 2 and 3
	legacy                        bool          // version 1: no access list
	pad                           bool          // version 3: padded (CollectionOptions.Pad)
	value                         []byte
}

// accessEntry is one recipient on a version's signed access list.
type accessEntry struct {
	DID   DID
	Suite crypto.Suite
	KeyID crypto.KeyID
}

const (
	payloadV1 = 1
	payloadV2 = 2
	payloadV3 = 3
)

// maxAccessList is the most recipients a version may have (each is a grant row and a wrap).
const maxAccessList = 1000

func (p *payload) marshal() []byte {
	n := 1 + 8 + len(p.createdAt) + len(p.updatedAt) + len(p.writeID) + len(p.value)
	for _, a := range p.access {
		n += 2 + len(a.DID) + 1 + len(a.KeyID)
	}
	if p.pad {
		n = padme(n + 4)
	}
	b := make([]byte, 0, n)
	if p.pad {
		b = append(b, payloadV3)
	} else {
		b = append(b, payloadV2)
	}
	for _, s := range []string{p.createdAt, p.updatedAt, p.writeID} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.access)))
	for _, a := range p.access {
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.DID)))
		b = append(b, a.DID...)
		b = append(b, byte(a.Suite))
		b = append(b, a.KeyID[:]...)
	}
	if !p.pad {
		return append(b, p.value...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.value)))
	b = append(b, p.value...)
	return append(b, make([]byte, n-len(b))...)
}

// padme returns the length Padmé pads n bytes to (Nikitin et al., "Reducing metadata leakage
// from encrypted files and communication with PURBs", 2019): n rounded up so that only its
// top floor(log2(floor(log2 n)))+1 bits may be set. The overhead is at most 12% (11.1% past
// 1 KiB, less for larger sizes), and a length reveals O(log log n) bits instead of O(log n).
func padme(n int) int {
	if n < 2 {
		return n
	}
	e := bits.Len(uint(n)) - 1 // floor(log2 n)
	s := bits.Len(uint(e))     // floor(log2 e) + 1
	mask := 1<<(e-s) - 1
	return (n + mask) &^ mask
}

func parsePayload(b []byte) (payload, error) {
	var p payload
	if len(b) < 1 || b[0] != payloadV1 && b[0] != payloadV2 && b[0] != payloadV3 {
		return p, fmt.Errorf("%w: unknown payload version", ErrTampered)
	}
	v, total := b[0], len(b)
	b = b[1:]
	str := func() (string, bool) {
		if len(b) < 2 {
			return "", false
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return "", false
		}
		s := string(b[2 : 2+n])
		b = b[2+n:]
		return s, true
	}
	var fields [3]string
	for i := range fields {
		var ok bool
		if fields[i], ok = str(); !ok {
			return p, fmt.Errorf("%w: truncated payload", ErrTampered)
		}
	}
	p.createdAt, p.updatedAt, p.writeID = fields[0], fields[1], fields[2]
	if v == payloadV1 {
		p.legacy, p.value = true, b
		return p, nil
	}
	if len(b) < 2 {
		return p, fmt.Errorf("%w: truncated payload", ErrTampered)
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n > maxAccessList {
		return p, fmt.Errorf("%w: access list of %d recipients", ErrTampered, n)
	}
	p.access = make([]accessEntry, 0, n)
	for range n {
		did, ok := str()
		if !ok || len(b) < 1+len(crypto.KeyID{}) {
			return p, fmt.Errorf("%w: truncated access list", ErrTampered)
		}
		a := accessEntry{DID: DID(did), Suite: crypto.Suite(b[0]), KeyID: crypto.KeyID(b[1 : 1+len(crypto.KeyID{})])}
		b = b[1+len(crypto.KeyID{}):]
		if k := len(p.access); k > 0 && p.access[k-1].DID >= a.DID {
			return p, fmt.Errorf("%w: access list out of order", ErrTampered)
		}
		p.access = append(p.access, a)
	}
	if v != payloadV3 {
		p.value = b
		return p, nil
	}
	if len(b) < 4 || int(binary.BigEndian.Uint32(b)) > len(b)-4 {
		return p, fmt.Errorf("%w: truncated padded payload", ErrTampered)
	}
	vlen := int(binary.BigEndian.Uint32(b))
	if padme(total-(len(b)-4-vlen)) != total {
		return p, fmt.Errorf("%w: padded to the wrong length", ErrTampered)
	}
	p.pad, p.value = true, b[4:4+vlen]
	for _, z := range b[4+vlen:] {
		if z != 0 {
			return p, fmt.Errorf("%w: padding is not zeros", ErrTampered)
		}
	}
	return p, nil
}

// accessOf returns the access list of recipients, sorted by DID.
func accessOf(recipients []crypto.Recipient) []accessEntry {
	out := make([]accessEntry, len(recipients))
	for i, r := range recipients {
		out[i] = accessEntry{DID: DID(r.DID), Suite: r.Key.Suite(), KeyID: r.Key.KeyID()}
	}
	slices.SortFunc(out, func(a, b accessEntry) int { return strings.Compare(string(a.DID), string(b.DID)) })
	return out
}

// dids returns the DIDs on an access list.
func dids(access []accessEntry) []DID {
	out := make([]DID, len(access))
	for i, a := range access {
		out[i] = a.DID
	}
	return out
}

func (p *payload) lists(did DID) (accessEntry, bool) {
	i, ok := slices.BinarySearchFunc(p.access, did, func(a accessEntry, d DID) int { return strings.Compare(string(a.DID), string(d)) })
	if !ok {
		return accessEntry{}, false
	}
	return p.access[i], true
}
