package syntax

import (
	"errors"
	"fmt"
)

// ErrSyntax is wrapped by every error that this package's Parse functions and UnmarshalText
// methods return for malformed text. Test for it with errors.Is; the error itself is a
// *SyntaxError that says what was wrong.
var ErrSyntax = errors.New("invalid identifier syntax")

// SyntaxError reports text that is not a valid identifier of some kind. It wraps ErrSyntax.
//
// Kind says what was being parsed: "DID", "NSID", "record key", "AT-URI", "TID", "record ID"
// or "record URI" from this package, or a kind of its own from a package that builds on this
// one (records reports malformed event IDs as "event ID").
type SyntaxError struct {
	Kind   string // what was being parsed
	Text   string // the rejected text
	Reason string // what was wrong and what is allowed
}

// Error returns the kind, the text (shortened past 64 bytes) and the reason.
func (e *SyntaxError) Error() string {
	text := e.Text
	const limit = 64
	if len(text) > limit {
		text = text[:limit] + "..."
	}
	return fmt.Sprintf("syntax: parse %s %q: %s", e.Kind, text, e.Reason)
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// unmarshal sets *dst to parse(text), leaving it unchanged on error.
func unmarshal[T ~string](dst *T, text []byte, parse func(string) (T, error)) error {
	v, err := parse(string(text))
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
