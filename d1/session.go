package d1

import (
	"context"
	"strings"
	"sync"
)

// Session constraints: where the first request of a Session may be served.
const (
	// FirstPrimary sends the session's first request to the primary: it sees every write
	// committed before it.
	FirstPrimary = "first-primary"
	// FirstUnconstrained lets any replica serve the first request (the fastest, possibly
	// behind the primary); later requests still see everything the session saw or wrote.
	FirstUnconstrained = "first-unconstrained"
)

// A Session is a sequence of requests that is sequentially consistent on D1's read replicas
// (D1's Sessions API): every request is served by a copy of the database at least as recent
// as the latest bookmark the session has seen, so a session reads its own writes even when a
// replica serves it. Bind one to a client with Client.WithSession; records can use such a
// client as any other.
//
// Sessions need the bridge (NewBridgeClient): the Sessions API is reachable only from a Worker
// binding. Through the REST API every request is served by the primary, so a session bound to
// a REST client changes nothing. A Session is safe for concurrent use; requests sent at once
// carry the same bookmark, and the session keeps the latest one answered.
type Session struct {
	mu       sync.Mutex
	bookmark string // the latest bookmark, or the constraint before the first answer
}

// NewSession starts a session at constraint: FirstPrimary, FirstUnconstrained, or a bookmark
// taken from an earlier session (Session.Bookmark) to continue after it. "" means
// FirstUnconstrained, as in D1's withSession.
func NewSession(constraint string) *Session {
	constraint = strings.TrimSpace(constraint)
	if constraint == "" {
		constraint = FirstUnconstrained
	}
	return &Session{bookmark: constraint}
}

// Bookmark returns the latest bookmark the session has received, or "" before its first
// answer. Bookmarks sort in commit order; hand one to NewSession to continue elsewhere.
func (s *Session) Bookmark() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bookmark == FirstPrimary || s.bookmark == FirstUnconstrained {
		return ""
	}
	return s.bookmark
}

// next returns what the next request sends: the constraint or the latest bookmark.
func (s *Session) next() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bookmark
}

// advance keeps b when it is more recent than what the session holds.
func (s *Session) advance(b string) {
	b = strings.TrimSpace(b)
	if b == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bookmark == FirstPrimary || s.bookmark == FirstUnconstrained || b > s.bookmark {
		s.bookmark = b
	}
}

// WithSession returns a client like c whose every request belongs to s. The two share their
// budget and settings.
func (c *Client) WithSession(s *Session) *Client {
	c2 := *c
	c2.session = s
	return &c2
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}
