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
//
// A Session's Idle must announce the updates already pending when it is
// called as well as those that arrive while it runs: the client may have
// seen "+ idling", and a message may have been delivered, before Idle
// starts. go-imap's SessionTracker.Idle does not do the former (it wakes up
// only for updates queued after it has started); a Session built on it
// should install its own wake-up signal, then Poll, then wait for the signal
// and Poll again, as the store's sessions and imaptest.MemBackend's do.
type Backend interface {
	NewSession(c *imapserver.Conn) (Session, error)
}

// BackendFunc is an adapter to allow the use of an ordinary function as a
// Backend.
type BackendFunc func(c *imapserver.Conn) (Session, error)

// NewSession calls f(c).
func (f BackendFunc) NewSession(c *imapserver.Conn) (Session, error) { return f(c) }

var _ Backend = BackendFunc(nil)
