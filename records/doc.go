// Package records holds d1seal's sealed records and the identifiers that address them.
//
// A record lives in an agent's repository, named by the agent's DID, in a collection named by
// an NSID, under a record key: did:plc:7iza6de2dwap2sbkpav7c6c6/com.example.note/3jzfcijpj2z2a.
// Ref holds those three parts and writes them in that id form (ParseID, Ref.ID), which d1seal
// uses as a record's primary key, or as an AT-URI (ParseURI, Ref.URI). Record keys that
// d1seal issues are TIDs from package tid. Rows of the events table are named by EventIDs,
// ULIDs from an EventIDSource.
//
// The identifier types (DID, NSID, RecordKey, ATURI, Ref, EventID) are validated values
// following the AT Protocol specs (https://atproto.com/specs/did, /nsid, /record-key and
// /at-uri-scheme): their Parse functions and UnmarshalText methods accept exactly the spec's
// syntax and length limits, checked against the project's interop vectors, and return a
// *SyntaxError wrapping ErrSyntax otherwise. They never panic. Parsing keeps the text as
// given; NSID.Canonical and Ref.Canonical give the one spelling to use wherever a collection
// name feeds a cryptographic context, since an NSID's authority is case-insensitive.
package records
