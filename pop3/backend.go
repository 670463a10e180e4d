package pop3

import (
	"context"
	"io"
)

// MessageInfo describes one message of a maildrop.
type MessageInfo struct {
	Size int64  // exact size in octets as RETR sends it (CRLF line endings, before dot-stuffing)
	UID  string // unique-id for UIDL: 1 to 70 characters in 0x21..0x7E (RFC 1939 §7)
}

// A Backend authenticates users and opens their maildrops. Methods are called
// concurrently from many connections.
//
// A returned *Error is sent to the client as it is; any other error is
// logged and the client gets "-ERR [SYS/TEMP] internal error".
type Backend interface {
	// Login checks user and pass and returns a Session for user's maildrop.
	// It returns ErrAuthFailed when they are wrong, and ErrInUse when the
	// maildrop is locked by another session.
	Login(ctx context.Context, user, pass string) (Session, error)
}

// BackendAPOP is a Backend that supports the APOP command (RFC 1939 §7).
type BackendAPOP interface {
	Backend
	// LoginAPOP checks digest, the lower-case hex MD5 of timestamp followed
	// by the shared secret of user.
	LoginAPOP(ctx context.Context, user, timestamp, digest string) (Session, error)
}

// BackendFunc is an adapter to allow the use of an ordinary function as a
// Backend.
type BackendFunc func(ctx context.Context, user, pass string) (Session, error)

// Login calls f(ctx, user, pass).
func (f BackendFunc) Login(ctx context.Context, user, pass string) (Session, error) {
	return f(ctx, user, pass)
}

// A Session is one user's view of a maildrop in the TRANSACTION state. The
// maildrop it shows is fixed at Login: messages are numbered from 1 in the
// order List returns them, and the numbers stay valid for the whole session
// (RFC 1939 §4). The server keeps the deletion marks itself and passes them
// to Commit at QUIT; a session that ends without QUIT deletes nothing.
type Session interface {
	// List returns the messages of the maildrop, the same slice every time.
	List(ctx context.Context) ([]MessageInfo, error)
	// Open returns message n (1-based), with CRLF line endings.
	Open(ctx context.Context, n int) (io.ReadCloser, error)
	// Commit removes the messages numbered in deleted (the UPDATE state,
	// RFC 1939 §6). It is called at most once, on QUIT.
	Commit(ctx context.Context, deleted []int) error
	// Close releases the session (and its maildrop lock). It is always called.
	Close() error
}

var _ Backend = BackendFunc(nil)
