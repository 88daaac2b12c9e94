// Package tid implements AT Protocol timestamp identifiers (TIDs), the record keys of d1seal's
// records.
//
// A TID is a 64-bit integer written as 13 characters of the base32-sortable alphabet
// 234567abcdefghijklmnopqrstuvwxyz, most significant bits first. The top bit is 0, the next 53
// bits count microseconds since the Unix epoch, and the low 10 bits are a clock id that tells
// apart TIDs issued in the same microsecond by different generators. Because the alphabet is in
// ASCII order and the length is fixed, TIDs sort as strings in the same order as their integers,
// which is also their time order. See https://atproto.com/specs/record-key#record-key-type-tid.
//
// A Clock issues fresh TIDs: they are strictly increasing per Clock, even when the wall clock
// stalls or steps back, carry a random clock id, and always have the top bit clear, so their
// first character is one of 234567ab. A Clock can be seeded with the last TID issued before a
// restart (ClockOptions.Last) so that order survives a clock stepped back across the restart.
//
// The TID type and its parser live in package syntax, with the other AT Protocol identifiers:
// TID here is an alias of syntax.TID, and Parse, New and FromInteger are syntax.ParseTID,
// syntax.NewTID and syntax.NewTIDFromInteger under the names that read best beside Clock.
package tid
