package imap

import (
	"errors"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/inetkit/inetkit/lineproto"
)

// session wraps a Backend's Session: it makes logins wait for the
// AuthLimiter, delays failed logins and counts them, tells the guard when
// the client has logged in, bounds APPEND by MaxLiteralBytes, and offers the
// extensions imapserver requires of an IMAP4rev2 session (NAMESPACE, MOVE)
// even if the Backend's Session lacks them. It hides SessionSASL, so that
// AUTHENTICATE goes through Login too.
//
// IDLE is the Backend's own: its Session's Idle must write the updates queued
// before it was called, as well as those that come while it runs (go-imap's
// SessionTracker.Idle misses the former; see Backend). imapserver runs Idle
// on a goroutine of its own and recovers its panics.
type session struct {
	imapserver.Session
	g *conn
}

var (
	_ imapserver.SessionIMAP4rev2   = (*session)(nil)
	_ imapserver.SessionAppendLimit = (*session)(nil)
)

// Login calls the Backend's Login, for LOGIN and AUTHENTICATE PLAIN. First
// it waits as long as the AuthLimiter says, for right and wrong passwords
// alike. A failure (an error with the code AUTHENTICATIONFAILED, such as
// ErrAuthFailed) is counted by the AuthLimiter and by the connection's
// counter, and its reply waits the longer of AuthFailureDelay and the error
// delay; at MaxAuthFailures the guard ends the connection once the reply is
// sent. Another error is a NO like any other.
func (sess *session) Login(username, password string) error {
	g := sess.g
	remote := g.raw.RemoteAddr()
	lim := g.srv.authLimiter
	if err := lim.Wait(g.ctx, remote, username); err != nil {
		return err
	}
	err := sess.Session.Login(username, password)
	if err == nil {
		lim.Succeeded(remote, username)
		if err := g.injectLogin(username); err != nil {
			return err
		}
		g.loggedIn(username)
		return nil
	}
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAuthenticationFailed {
		return err
	}
	lim.Failed(remote, username)
	delay, failures := g.authFailed()
	g.log.Info("imap: login failed", "user", username, "failures", failures)
	lineproto.Sleep(g.ctx, delay)
	return err
}

// Namespace calls the Backend's Namespace, or says the personal namespace is
// "" with delimiter "/".
func (sess *session) Namespace() (*imap.NamespaceData, error) {
	if ns, ok := sess.Session.(imapserver.SessionNamespace); ok {
		return ns.Namespace()
	}
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Delim: '/'}}}, nil
}

// Move calls the Backend's Move, or answers "NO [CANNOT]".
func (sess *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	if m, ok := sess.Session.(imapserver.SessionMove); ok {
		return m.Move(w, numSet, dest)
	}
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "MOVE is not supported by this mailbox store"}
}

// AppendLimit returns the lower of MaxLiteralBytes and the Backend's own
// limit.
func (sess *session) AppendLimit() uint32 {
	return uint32(min(sess.appendLimit(), 1<<32-1))
}

func (sess *session) appendLimit() int64 {
	limit := sess.g.srv.maxLiteralBytes()
	if al, ok := sess.Session.(imapserver.SessionAppendLimit); ok {
		limit = min(limit, int64(al.AppendLimit()))
	}
	return limit
}
