// Package sqlsplit splits a multi-statement SQL script into statements exactly where SQLite
// would end them. It is a port of the tokenizer state machine behind sqlite3_complete()
// (SQLite's complete.c): string literals '...' (with ” escapes), quoted identifiers "...",
// `...` and [...], -- and /* */ comments, and CREATE [TEMP] TRIGGER ... BEGIN ... END, whose
// inner semicolons do not end the statement.
//
// Like SQLite, it reads the script as bytes and knows no more SQL grammar than that: it does not
// check that statements are valid, only where they end. A NUL byte ends the script, as it does
// for SQLite's C API.
package sqlsplit

import "strings"

// Token classes of sqlite3_complete's tokenizer.
const (
	tkSemi = iota
	tkWS
	tkOther
	tkExplain
	tkCreate
	tkTemp
	tkTrigger
	tkEnd
)

// States of sqlite3_complete's state machine.
const (
	stInvalid = iota // no token yet
	stStart          // at the start of a statement (just after a ';')
	stNormal
	stExplain
	stCreate
	stTrigger // inside CREATE [TEMP] TRIGGER
	stSemi    // after a ';' inside a trigger body
	stEnd     // after END inside a trigger body
)

// trans is sqlite3_complete's transition table, indexed by state then token.
var trans = [8][8]uint8{
	/*              SEMI WS OTHER EXPLAIN CREATE TEMP TRIGGER END */
	/* INVALID */ {1, 0, 2, 3, 4, 2, 2, 2},
	/* START   */ {1, 1, 2, 3, 4, 2, 2, 2},
	/* NORMAL  */ {1, 2, 2, 2, 2, 2, 2, 2},
	/* EXPLAIN */ {1, 3, 3, 2, 4, 2, 2, 2},
	/* CREATE  */ {1, 4, 2, 2, 2, 4, 5, 2},
	/* TRIGGER */ {6, 5, 5, 5, 5, 5, 5, 5},
	/* SEMI    */ {6, 6, 5, 5, 5, 5, 5, 7},
	/* END     */ {1, 7, 5, 5, 5, 5, 5, 5},
}

// Split returns the statements of sql in order, each trimmed of surrounding white space (space,
// \t, \n, \f, \r) and without its terminating ';'. Statements holding only white space and
// comments are dropped, so Split("") and Split(" ; -- note") return nil. A final statement
// needs no ';'. An unterminated string or identifier runs to the end of the script (SQLite would
// report that statement incomplete); an unterminated comment is a comment.
func Split(sql string) []string {
	if i := strings.IndexByte(sql, 0); i >= 0 {
		sql = sql[:i]
	}
	var out []string
	s := scanner{sql: sql}
	start, content := 0, false
	for {
		tok, ok := s.next()
		if !ok {
			break
		}
		if tok != tkWS && tok != tkSemi {
			content = true
		}
		s.state = trans[s.state][tok]
		if tok == tkSemi && s.state == stStart {
			if content {
				out = append(out, trim(sql[start:s.pos-1]))
			}
			start, content = s.pos, false
		}
	}
	if content || s.openQuote {
		out = append(out, trim(sql[start:]))
	}
	return out
}

// trim removes the white space sqlite3_complete knows (space, \t, \n, \f, \r) from both ends.
func trim(s string) string { return strings.Trim(s, " \t\n\f\r") }

// complete reports whether sql ends a statement, with the same answer as sqlite3_complete:
// the state machine is at the start of a statement and no string, identifier or comment is
// left open. It exists so the fuzz test can compare the port with SQLite itself.
func complete(sql string) bool {
	if i := strings.IndexByte(sql, 0); i >= 0 {
		sql = sql[:i]
	}
	s := scanner{sql: sql}
	for {
		tok, ok := s.next()
		if !ok {
			break
		}
		s.state = trans[s.state][tok]
	}
	return s.state == stStart && !s.pending
}

// scanner walks SQL text one sqlite3_complete token at a time.
type scanner struct {
	sql       string
	pos       int
	state     uint8
	pending   bool // the text ended inside a string, identifier or comment
	openQuote bool // ... and it was a string or identifier, not a comment
}

// next returns the class of the token at s.pos and moves past it; ok is false at the end of the
// text or when the text ends inside an unterminated string, identifier or comment (then
// s.pending is set and s.pos is the end of the text).
func (s *scanner) next() (tok int, ok bool) {
	sql, i := s.sql, s.pos
	if i >= len(sql) {
		return 0, false
	}
	switch c := sql[i]; c {
	case ';':
		tok = tkSemi
		i++
	case ' ', '\r', '\t', '\n', '\f':
		tok = tkWS
		i++
	case '/':
		if i+1 >= len(sql) || sql[i+1] != '*' {
			tok = tkOther
			i++
			break
		}
		end := strings.Index(sql[i+2:], "*/")
		if end < 0 {
			return s.unterminated()
		}
		tok = tkWS
		i += 2 + end + 2
	case '-':
		if i+1 >= len(sql) || sql[i+1] != '-' {
			tok = tkOther
			i++
			break
		}
		end := strings.IndexByte(sql[i:], '\n')
		if end < 0 {
			return s.unterminated()
		}
		tok = tkWS
		i += end + 1
	case '[':
		end := strings.IndexByte(sql[i+1:], ']')
		if end < 0 {
			return s.unterminated()
		}
		tok = tkOther
		i += 1 + end + 1
	case '`', '"', '\'':
		// A doubled quote closes one literal and opens the next: the same tokens result.
		end := strings.IndexByte(sql[i+1:], c)
		if end < 0 {
			return s.unterminated()
		}
		tok = tkOther
		i += 1 + end + 1
	default:
		if !isIDChar(c) {
			tok = tkOther
			i++
			break
		}
		n := 1
		for i+n < len(sql) && isIDChar(sql[i+n]) {
			n++
		}
		tok = keyword(sql[i : i+n])
		i += n
	}
	s.pos = i
	return tok, true
}

func (s *scanner) unterminated() (int, bool) {
	c := s.sql[s.pos]
	s.openQuote = c != '/' && c != '-'
	s.pos = len(s.sql)
	s.pending = true
	return 0, false
}

// isIDChar matches SQLite's IdChar for sqlite3_complete: letters, digits, '_', '$' and every
// byte >= 0x80.
func isIDChar(c byte) bool {
	return c >= 0x80 || c == '_' || c == '$' ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// keyword classifies an identifier the way sqlite3_complete does.
func keyword(id string) int {
	switch {
	case equalFoldASCII(id, "create"):
		return tkCreate
	case equalFoldASCII(id, "trigger"):
		return tkTrigger
	case equalFoldASCII(id, "temp"), equalFoldASCII(id, "temporary"):
		return tkTemp
	case equalFoldASCII(id, "end"):
		return tkEnd
	case equalFoldASCII(id, "explain"):
		return tkExplain
	}
	return tkOther
}

// equalFoldASCII compares s with the lower-case ASCII word w, folding only ASCII letters (as
// sqlite3StrNICmp does).
func equalFoldASCII(s, w string) bool {
	if len(s) != len(w) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}
