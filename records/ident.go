package records

import "github.com/d1seal/d1seal/syntax"

// The identifiers that name records are package syntax's; these aliases let code that uses
// records spell them as records.DID, records.Ref and so on, since they appear throughout this
// package's API. They are the same types: parse them with syntax.ParseDID, syntax.ParseNSID,
// syntax.ParseRecordKey, syntax.ParseID and syntax.ParseURI, whose errors wrap
// syntax.ErrSyntax.
type (
	// DID is syntax.DID: the agent that owns a record.
	DID = syntax.DID
	// NSID is syntax.NSID: a collection name.
	NSID = syntax.NSID
	// RecordKey is syntax.RecordKey: a record's name within its collection.
	RecordKey = syntax.RecordKey
	// Ref is syntax.Ref: one record, as did/collection/rkey.
	Ref = syntax.Ref
)
