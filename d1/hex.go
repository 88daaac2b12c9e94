package d1

import (
	"encoding/hex"
	"fmt"
)

// Hex is a BLOB that travels as hexadecimal text instead of D1's JSON array of byte values:
// two characters per byte instead of about 3.6, so requests and responses are about 45%
// smaller and faster to encode and decode (see BENCHMARKS.md). It is meant for REST clients:
// a bridge client (CompactBlobs) sends a []byte as base64, a third smaller than hex, bound as
// a BLOB with a plain ?; Hex stays hex text there too, for SQL that says unhex(?).
//
// As an argument it is sent as a hex string: bind it with unhex(?) in SQL so that D1 stores a
// BLOB (a bare ? would store the hex text). A Hex argument counts 2 bytes per byte against
// D1's 2,000,000-byte value limit, so it carries up to 1,000,000 bytes; send larger BLOBs as
// []byte. As a Scan destination it takes hex text (select hex(col)) and decodes it, or a BLOB
// as is. SQLite's hex(NULL) is the empty string: select iif(col IS NULL, NULL, hex(col)) where
// NULL must stay NULL. The hex of a BLOB over 1,000,000 bytes exceeds D1's 2,000,000-byte
// value limit (SQLITE_TOOBIG): select iif(length(col) > 1000000, col, hex(col)) for columns
// that may hold such BLOBs.
type Hex []byte

// Scan implements sql.Scanner.
func (h *Hex) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*h = nil
	case []byte:
		*h = v // already a fresh copy
	case string:
		b, err := hex.DecodeString(v)
		if err != nil {
			return fmt.Errorf("d1: Hex: %d characters of text that are not hexadecimal", len(v))
		}
		*h = b
	default:
		return fmt.Errorf("d1: Hex: cannot scan a %T", src)
	}
	return nil
}

func appendHex(buf []byte, b Hex) []byte {
	if b == nil {
		return append(buf, "null"...)
	}
	buf = append(buf, '"')
	buf = hex.AppendEncode(buf, b)
	return append(buf, '"')
}
