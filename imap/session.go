package imap

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// session wraps a Backend's Session: it delays failed logins and counts them
// (HARDENING I15), tells the guard when the client has logged in, bounds
// APPEND by MaxLiteralBytes, and offers the extensions imapserver requires of
// an IMAP4rev2 session (NAMESPACE, MOVE) even if the Backend's Session lacks
// them. It hides SessionSASL, so that AUTHENTICATE goes through Login too.
//
// IDLE is the Backend's own: its Session's Idle must write the updates queued
// before it was called, as well as those that come while it runs (go-imap's
// SessionTracker.Idle misses the former; see Backend). imapserver runs Idle
// on a goroutine of its own and recovers its panics.
type session struct {
	imapserver.Session
	g        *conn
	failures int
}

var (
	_ imapserver.SessionIMAP4rev2   = (*session)(nil)
	_ imapserver.SessionAppendLimit = (*session)(nil)
)

// Login calls the Backend's Login; a failure is delayed by AuthFailureDelay,
// and after MaxAuthFailures failures the guard ends the connection once the
// reply is sent. The guard counts the NO reply as an error too; if it is
// past SoftErrorLimit the reply waits the longer of AuthFailureDelay and
// ErrorDelay, not their sum.
func (sess *session) Login(username, password string) error {
	err := sess.Session.Login(username, password)
	if err == nil {
		sess.g.loggedIn()
		return nil
	}
	sess.failures++
	srv := sess.g.srv
	sess.g.log.Info("imap: login failed", "user", username, "failures", sess.failures)
	if d := srv.authFailureDelay(); d > 0 {
		sess.g.sleep(d)
		// The NO reply counts as an error (HARDENING G5), but its error
		// delay is what is left of ErrorDelay after this one.
		sess.g.credited(d)
	}
	if max := srv.maxAuthFailures(); max > 0 && sess.failures >= max {
		sess.g.byeAfterReply("Too many authentication failures", errAuthFailures)
	}
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
