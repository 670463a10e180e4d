package imap

import (
	"github.com/emersion/go-imap/v2/imapserver"
)

// Session is the server side of one IMAP connection: go-imap's
// imapserver.Session, with its optional extensions (imapserver.SessionMove,
// imapserver.SessionNamespace, imapserver.SessionIMAP4rev2, ...).
type Session = imapserver.Session

// A Backend opens a Session for each new connection. The Session's Login
// authenticates the user (returning imapserver.ErrAuthFailed when the
// credentials are wrong). Methods are called concurrently.
type Backend interface {
	NewSession(c *imapserver.Conn) (Session, error)
}

// BackendFunc is an adapter to allow the use of an ordinary function as a
// Backend.
type BackendFunc func(c *imapserver.Conn) (Session, error)

// NewSession calls f(c).
func (f BackendFunc) NewSession(c *imapserver.Conn) (Session, error) { return f(c) }

var _ Backend = BackendFunc(nil)
