package syntax

import (
	"fmt"
	"strings"
)

// Length limits from the AT Protocol specs.
const (
	maxDIDLen       = 2048
	maxNSIDLen      = 317
	maxSegmentLen   = 63 // an NSID or handle segment, as a DNS label
	maxRecordKeyLen = 512
	maxHandleLen    = 253
	maxATURILen     = 8192
)

// DID is a decentralized identifier such as did:plc:7iza6de2dwap2sbkpav7c6c6: the agent that
// owns a record. Values from ParseDID are valid; build DIDs from untrusted text only with it.
// DIDs are case-sensitive and compared as given.
type DID string

// ParseDID validates s as a DID: "did:", a method of lower-case letters, ":", and an identifier
// of letters, digits and . _ : % - that does not end in : or %, at most 2048 bytes in all.
// It does not check percent-encoding or resolve the DID.
func ParseDID(s string) (DID, error) {
	if reason := checkDID(s); reason != "" {
		return "", &SyntaxError{Kind: "DID", Text: s, Reason: reason}
	}
	return DID(s), nil
}

func checkDID(s string) string {
	if len(s) > maxDIDLen {
		return fmt.Sprintf("length is %d bytes, want at most %d", len(s), maxDIDLen)
	}
	rest, ok := strings.CutPrefix(s, "did:")
	if !ok {
		return `must start with "did:" (lower case)`
	}
	method, id, ok := strings.Cut(rest, ":")
	if !ok {
		return "want did:method:identifier, got no ':' after the method"
	}
	if method == "" {
		return "method is empty, want one or more letters a-z"
	}
	for i := 0; i < len(method); i++ {
		if c := method[i]; c < 'a' || c > 'z' {
			return fmt.Sprintf("method has %q at offset %d, want only letters a-z", c, 4+i)
		}
	}
	if id == "" {
		return "identifier after the method is empty"
	}
	base := len(s) - len(id)
	for i := 0; i < len(id); i++ {
		if c := id[i]; !isAlnum(c) && !strings.ContainsRune("._:%-", rune(c)) {
			return fmt.Sprintf("identifier has %q at offset %d, want only letters, digits and . _ : %% -", c, base+i)
		}
	}
	if c := id[len(id)-1]; c == ':' || c == '%' {
		return fmt.Sprintf("must not end with %q", c)
	}
	return ""
}

// String returns d as text.
func (d DID) String() string { return string(d) }

// MarshalText returns d as text.
func (d DID) MarshalText() ([]byte, error) { return []byte(d), nil }

// UnmarshalText sets *d to text if ParseDID accepts it and returns ParseDID's error otherwise.
func (d *DID) UnmarshalText(text []byte) error { return unmarshal(d, text, ParseDID) }

// NSID is a namespaced identifier such as com.example.fooBar: a reversed domain name, the
// authority (com.example), then a name (fooBar). Records use NSIDs as collection names.
//
// The authority is case-insensitive and the name case-sensitive, so Com.Example.fooBar and
// com.example.fooBar are the same NSID. Use Canonical wherever an NSID feeds a cryptographic
// context (associated data, key derivation, signatures), so that both spellings seal alike.
type NSID string

// ParseNSID validates s as an NSID: at most 317 bytes in at least three segments separated by
// '.'. Every segment is 1 to 63 bytes. The authority segments hold letters, digits and '-'
// (not first or last), and the first of them starts with a letter; the name, the last
// segment, holds letters and digits and starts with a letter.
func ParseNSID(s string) (NSID, error) {
	if reason := checkNSID(s); reason != "" {
		return "", &SyntaxError{Kind: "NSID", Text: s, Reason: reason}
	}
	return NSID(s), nil
}

func checkNSID(s string) string {
	if len(s) > maxNSIDLen {
		return fmt.Sprintf("length is %d bytes, want at most %d", len(s), maxNSIDLen)
	}
	if n := strings.Count(s, ".") + 1; n < 3 {
		return fmt.Sprintf("has %d segments, want at least 3 separated by '.', like com.example.record", n)
	}
	dot := strings.LastIndexByte(s, '.')
	authority, name := s[:dot], s[dot+1:]
	for seg := range strings.SplitSeq(authority, ".") {
		if reason := checkLabel(seg); reason != "" {
			return "authority segment " + reason
		}
	}
	if first := authority[:strings.IndexByte(authority, '.')]; !isLetter(first[0]) {
		return fmt.Sprintf("first segment %q must start with a letter", first)
	}
	switch {
	case name == "":
		return "name, the last segment, is empty"
	case len(name) > maxSegmentLen:
		return fmt.Sprintf("name is %d bytes, want at most %d", len(name), maxSegmentLen)
	case !isLetter(name[0]):
		return fmt.Sprintf("name %q must start with a letter", name)
	}
	for i := 0; i < len(name); i++ {
		if !isAlnum(name[i]) {
			return fmt.Sprintf("name has %q at offset %d, want only letters and digits", name[i], dot+1+i)
		}
	}
	return ""
}

// checkLabel checks one segment of an NSID authority or a handle: 1 to 63 bytes of letters,
// digits and '-', not starting or ending with '-'.
func checkLabel(seg string) string {
	switch {
	case seg == "":
		return "is empty (two dots in a row, or a dot at either end)"
	case len(seg) > maxSegmentLen:
		return fmt.Sprintf("%.16q... is %d bytes, want at most %d", seg, len(seg), maxSegmentLen)
	case seg[0] == '-' || seg[len(seg)-1] == '-':
		return fmt.Sprintf("%q must not start or end with '-'", seg)
	}
	for i := 0; i < len(seg); i++ {
		if c := seg[i]; !isAlnum(c) && c != '-' {
			return fmt.Sprintf("%q has %q, want only letters, digits and '-'", seg, c)
		}
	}
	return ""
}

// Canonical returns n with its authority in lower case and its name as it was: the one
// spelling of n to use wherever it feeds a cryptographic context. n must be valid.
func (n NSID) Canonical() NSID {
	dot := strings.LastIndexByte(string(n), '.')
	if dot < 0 {
		return n
	}
	authority := string(n[:dot])
	for i := 0; i < len(authority); i++ {
		if c := authority[i]; 'A' <= c && c <= 'Z' || c >= 0x80 {
			return NSID(strings.ToLower(authority) + string(n[dot:]))
		}
	}
	return n
}

// Name returns the last segment of n, which is case-sensitive.
func (n NSID) Name() string {
	return string(n[strings.LastIndexByte(string(n), '.')+1:])
}

// String returns n as text, as it was parsed (not canonical).
func (n NSID) String() string { return string(n) }

// MarshalText returns n as text, as it was parsed (not canonical).
func (n NSID) MarshalText() ([]byte, error) { return []byte(n), nil }

// UnmarshalText sets *n to text if ParseNSID accepts it and returns ParseNSID's error
// otherwise.
func (n *NSID) UnmarshalText(text []byte) error { return unmarshal(n, text, ParseNSID) }

// RecordKey names a record within a collection; d1seal issues TIDs (package tid) as record
// keys, but any valid key is accepted. Record keys are case-sensitive.
type RecordKey string

// ParseRecordKey validates s as a record key: 1 to 512 bytes of letters, digits and _ ~ . : -,
// other than "." and "..".
func ParseRecordKey(s string) (RecordKey, error) {
	if reason := checkRecordKey(s); reason != "" {
		return "", &SyntaxError{Kind: "record key", Text: s, Reason: reason}
	}
	return RecordKey(s), nil
}

func checkRecordKey(s string) string {
	switch {
	case s == "":
		return "is empty, want 1 to 512 bytes"
	case len(s) > maxRecordKeyLen:
		return fmt.Sprintf("length is %d bytes, want at most %d", len(s), maxRecordKeyLen)
	case s == "." || s == "..":
		return `"." and ".." are not allowed`
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune("_~.:-", rune(c)) {
			return fmt.Sprintf("has %q at offset %d, want only letters, digits and _ ~ . : -", c, i)
		}
	}
	return ""
}

// String returns k as text.
func (k RecordKey) String() string { return string(k) }

// MarshalText returns k as text.
func (k RecordKey) MarshalText() ([]byte, error) { return []byte(k), nil }

// UnmarshalText sets *k to text if ParseRecordKey accepts it and returns ParseRecordKey's
// error otherwise.
func (k *RecordKey) UnmarshalText(text []byte) error { return unmarshal(k, text, ParseRecordKey) }

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isAlnum(c byte) bool { return isLetter(c) || '0' <= c && c <= '9' }
