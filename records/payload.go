package records

import (
	"encoding/binary"
	"fmt"
)

// payload is what is sealed (or, for a public record, signed): the row's own metadata, so that
// an altered created_at, updated_at or write_id column is caught on read, then the encoded
// value.
//
//	0x01 || u16 len || created_at || u16 len || updated_at || u16 len || write_id || value
type payload struct {
	createdAt, updatedAt, writeID string
	value                         []byte
}

const payloadVersion = 1

func (p *payload) marshal() []byte {
	b := make([]byte, 0, 1+6+len(p.createdAt)+len(p.updatedAt)+len(p.writeID)+len(p.value))
	b = append(b, payloadVersion)
	for _, s := range []string{p.createdAt, p.updatedAt, p.writeID} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return append(b, p.value...)
}

func parsePayload(b []byte) (payload, error) {
	var p payload
	if len(b) < 1 || b[0] != payloadVersion {
		return p, fmt.Errorf("%w: unknown payload version", ErrTampered)
	}
	b = b[1:]
	var fields [3]string
	for i := range fields {
		if len(b) < 2 {
			return p, fmt.Errorf("%w: truncated payload", ErrTampered)
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return p, fmt.Errorf("%w: truncated payload", ErrTampered)
		}
		fields[i], b = string(b[2:2+n]), b[2+n:]
	}
	p.createdAt, p.updatedAt, p.writeID, p.value = fields[0], fields[1], fields[2], b
	return p, nil
}
