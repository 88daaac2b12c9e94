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
// Parse validates text against the spec's syntax. New and FromInteger build TIDs from their
// parts. A Clock issues fresh TIDs: they are strictly increasing per Clock, even when the wall
// clock stalls or steps back, carry a random clock id, and always have the top bit clear, so
// their first character is one of 234567ab. A Clock can be seeded with the last TID issued
// before a restart (ClockOptions.Last) so that order survives a clock stepped back across the
// restart.
//
// # Why not the seed's TIDs
//
// The TypeScript pattern this project started from (shared/seeds/d1-patterns.md) calls its
// ids AT Protocol compatible, but they are not. It writes Date.now() in base 36, padded to 10
// characters, and appends 4 characters of base-36 random bytes:
//
//   - The length is 14 characters, not 13, and base 36 uses 0, 1, 8 and 9, which the TID
//     alphabet excludes (today's ids start with "00"), so no AT Protocol implementation accepts
//     them as TIDs: they fail the syntax above.
//   - The timestamp is in milliseconds, not microseconds, and there is no clock id.
//   - It is not monotonic: ids from the same millisecond are ordered by their random suffix,
//     not by when they were issued, and a wall clock stepped back issues smaller ids.
//   - Ids from one millisecond can collide: the suffix is the first 4 characters of the random
//     bytes' base-36 digits, about 20 biased bits rather than 32 random ones.
//
// This package's TIDs pass the spec's syntax, decode to the time they were issued (to the
// microsecond, unless the clock had to run ahead of a stalled wall clock), and never repeat or
// go backwards for one Clock.
package tid
