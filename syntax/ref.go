package syntax

import (
	"fmt"
	"strings"
)

// Ref refers to one record: the DID of the agent whose repository holds it, its collection and
// its record key. It has two text forms: the id form did/collection/rkey, which d1seal stores as
// a record's primary key, and the URI form at://did/collection/rkey.
//
// A Ref from ParseID or ParseURI is valid; a Ref built field by field is valid if each field
// came from its Parse function.
type Ref struct {
	DID        DID
	Collection NSID
	RKey       RecordKey
}

// ParseID parses the id form did/collection/rkey: exactly three parts separated by '/', a DID,
// an NSID and a record key, as ParseDID, ParseNSID and ParseRecordKey accept them.
func ParseID(s string) (Ref, error) {
	r, reason := parseRef(s)
	if reason != "" {
		return Ref{}, &SyntaxError{Kind: "record ID", Text: s, Reason: reason}
	}
	return r, nil
}

// ParseURI parses the URI form at://did/collection/rkey. It is stricter than ParseATURI, which
// accepts every AT-URI the spec allows: ParseURI needs a DID as the authority, not a handle,
// since a handle can move to another repository, and it needs both the collection and the
// record key, since only then does the URI name one record.
func ParseURI(s string) (Ref, error) {
	rest, ok := strings.CutPrefix(s, "at://")
	if !ok {
		return Ref{}, &SyntaxError{Kind: "record URI", Text: s, Reason: `must start with "at://"`}
	}
	r, reason := parseRef(rest)
	if reason != "" {
		return Ref{}, &SyntaxError{Kind: "record URI", Text: s, Reason: reason}
	}
	return r, nil
}

// parseRef parses did/collection/rkey, returning why it is not valid if it is not.
func parseRef(s string) (Ref, string) {
	did, rest, ok := strings.Cut(s, "/")
	if !ok {
		return Ref{}, "want did/collection/rkey, got no '/'"
	}
	coll, rkey, ok := strings.Cut(rest, "/")
	if !ok {
		return Ref{}, "want did/collection/rkey, got no record key"
	}
	if strings.Contains(rkey, "/") {
		return Ref{}, "want did/collection/rkey, got more than three parts"
	}
	if reason := checkDID(did); reason != "" {
		return Ref{}, "DID " + reason
	}
	if reason := checkNSID(coll); reason != "" {
		return Ref{}, "collection " + reason
	}
	if reason := checkRecordKey(rkey); reason != "" {
		return Ref{}, "record key " + reason
	}
	return Ref{DID: DID(did), Collection: NSID(coll), RKey: RecordKey(rkey)}, ""
}

// ID returns the id form did/collection/rkey.
func (r Ref) ID() string {
	return string(r.DID) + "/" + string(r.Collection) + "/" + string(r.RKey)
}

// URI returns the URI form at://did/collection/rkey.
func (r Ref) URI() string {
	return "at://" + r.ID()
}

// Canonical returns r with its collection in canonical form (see NSID.Canonical): use its ID
// or URI wherever a record reference feeds a cryptographic context.
func (r Ref) Canonical() Ref {
	r.Collection = r.Collection.Canonical()
	return r
}

// String returns the URI form.
func (r Ref) String() string { return r.URI() }

// MarshalText returns the URI form.
func (r Ref) MarshalText() ([]byte, error) { return []byte(r.URI()), nil }

// UnmarshalText sets *r to the record that text names in URI form, as ParseURI parses it, and
// returns ParseURI's error otherwise.
func (r *Ref) UnmarshalText(text []byte) error {
	v, err := ParseURI(string(text))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ATURI is any syntactically valid AT-URI: at://authority, optionally followed by
// /collection and then /rkey, where the authority is a DID or a handle. Query and fragment
// parts are not allowed, as in Lexicon's at-uri format. To refer to one record, use Ref.
type ATURI string

// ParseATURI validates s as an AT-URI, at most 8192 bytes: "at://", a DID (as ParseDID) or a
// handle (a domain name of at least two labels whose last starts with a letter), then
// optionally "/" and an NSID, then optionally "/" and a record key. No trailing '/', query or
// fragment is allowed.
func ParseATURI(s string) (ATURI, error) {
	if reason := checkATURI(s); reason != "" {
		return "", &SyntaxError{Kind: "AT-URI", Text: s, Reason: reason}
	}
	return ATURI(s), nil
}

func checkATURI(s string) string {
	if len(s) > maxATURILen {
		return fmt.Sprintf("length is %d bytes, want at most %d", len(s), maxATURILen)
	}
	rest, ok := strings.CutPrefix(s, "at://")
	if !ok {
		return `must start with "at://"`
	}
	authority, path, hasPath := strings.Cut(rest, "/")
	if strings.HasPrefix(authority, "did:") {
		if reason := checkDID(authority); reason != "" {
			return "authority: DID " + reason
		}
	} else if reason := checkHandle(authority); reason != "" {
		return "authority is neither a DID nor a handle: " + reason
	}
	if !hasPath {
		return ""
	}
	coll, rkey, hasRKey := strings.Cut(path, "/")
	if reason := checkNSID(coll); reason != "" {
		return "collection " + reason
	}
	if !hasRKey {
		return ""
	}
	if strings.Contains(rkey, "/") {
		return "path has more than two parts, want at most /collection/rkey"
	}
	if reason := checkRecordKey(rkey); reason != "" {
		return "record key " + reason
	}
	return ""
}

// checkHandle checks s as a handle: at most 253 bytes in at least two labels separated by
// '.', each as checkLabel accepts, the last starting with a letter.
func checkHandle(s string) string {
	if len(s) > maxHandleLen {
		return fmt.Sprintf("handle is %d bytes, want at most %d", len(s), maxHandleLen)
	}
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 {
		return fmt.Sprintf("%q has one label, want at least two separated by '.'", s)
	}
	for label := range strings.SplitSeq(s, ".") {
		if reason := checkLabel(label); reason != "" {
			return "label " + reason
		}
	}
	if tld := s[dot+1:]; !isLetter(tld[0]) {
		return fmt.Sprintf("last label %q must start with a letter", tld)
	}
	return ""
}

// String returns u as text.
func (u ATURI) String() string { return string(u) }

// MarshalText returns u as text.
func (u ATURI) MarshalText() ([]byte, error) { return []byte(u), nil }

// UnmarshalText sets *u to text if ParseATURI accepts it and returns ParseATURI's error
// otherwise.
func (u *ATURI) UnmarshalText(text []byte) error { return unmarshal(u, text, ParseATURI) }
