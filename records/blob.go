package records

import "github.com/d1seal/d1seal/d1"

// blobForm is how BLOBs travel between records and a client. On a client that carries BLOBs
// compactly (the bridge: d1.Client.CompactBlobs, base64 both ways) they are bound with a plain ?
// and selected as they are. Elsewhere (REST, the local D1, whose JSON takes BLOBs only as
// arrays of byte values) they travel as hex text through unhex(?) and hex(col): 0.56x the
// bytes of the arrays, and faster to encode and decode (BENCHMARKS.md). d1.Hex scans both.
type blobForm struct{ compact bool }

func blobsOf(db *d1.Client) blobForm { return blobForm{compact: db.CompactBlobs()} }

// in is the SQL that stores the BLOB bound at expr (a ? or a VALUES column), given arg's value.
func (f blobForm) in(expr string) string {
	if f.compact {
		return expr
	}
	return "unhex(" + expr + ")"
}

// arg is the argument for a BLOB placed with in("?"), up to maxHexBlob/2 bytes.
func (f blobForm) arg(b []byte) any {
	if f.compact {
		return b
	}
	return d1.Hex(b)
}

// out is the SQL that selects BLOB expression expr for a d1.Hex destination. hex(NULL) is
// the empty string: use outNull for columns that may be NULL.
func (f blobForm) out(expr string) string {
	if f.compact {
		return expr
	}
	return "hex(" + expr + ")"
}

// outNull is out for a column that may be NULL, which stays NULL.
func (f blobForm) outNull(expr string) string {
	if f.compact {
		return expr
	}
	return "iif(" + expr + " IS NULL, NULL, hex(" + expr + "))"
}

// blob returns the placeholder and argument for a BLOB of any size (a ciphertext). Past the
// 1,000,000 bytes a hex value can carry under D1's 2,000,000-byte value limit, a BLOB goes as a
// plain []byte even where BLOBs otherwise travel as hex.
func (f blobForm) blob(b []byte) (string, any) {
	if f.compact || 2*len(b) > maxHexBlob {
		return "?", b
	}
	return "unhex(?)", d1.Hex(b)
}

const maxHexBlob = 2_000_000
