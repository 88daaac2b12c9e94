package sqlsplit

import "strings"

// FirstKeyword returns the first word of the statement sql in upper case, after white space,
// comments and opening parentheses, and the text after it.
func FirstKeyword(sql string) (string, string) {
	s := sql
	for {
		s = strings.TrimLeft(s, " \t\r\n\f\v(")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return "", ""
			}
			s = s[i+1:]
			continue
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s[2:], "*/")
			if i < 0 {
				return "", ""
			}
			s = s[i+4:]
			continue
		}
		break
	}
	i := 0
	for i < len(s) && (s[i]|0x20 >= 'a' && s[i]|0x20 <= 'z' || s[i] == '_') {
		i++
	}
	return strings.ToUpper(s[:i]), s[i:]
}

// IsTransactionControl reports whether a statement's first keyword (FirstKeyword) starts a
// transaction statement, which D1 refuses: each request is one transaction.
func IsTransactionControl(keyword string) bool {
	switch keyword {
	case "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE":
		return true
	}
	return false
}
