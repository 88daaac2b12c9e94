// Package syntax parses and validates the AT Protocol identifiers that d1seal's records are
// named by: DID, NSID (collection names), RecordKey, TID, AT-URI (ATURI), and Ref, the
// did/collection/rkey triple that names one record.
//
// Each identifier is a string type whose values are valid when they come from the type's Parse
// function (ParseDID, ParseNSID, ...); every type has String, MarshalText and a validating
// UnmarshalText, so it can sit directly in JSON or flag values. The parsers follow the AT
// Protocol specs and are tested against the protocol's interop vectors.
//
// Every parse failure is a *SyntaxError that says what was wrong and wraps ErrSyntax:
//
//	if _, err := syntax.ParseNSID(s); errors.Is(err, syntax.ErrSyntax) { ... }
//
// The package depends on nothing else in d1seal. Package records uses these types in its API
// (records.DID is syntax.DID, and so on), and package crypto binds ciphertext to a record by
// them (crypto.NewRecordContext), so that a record's name reaches the cryptography in exactly
// one spelling.
package syntax
