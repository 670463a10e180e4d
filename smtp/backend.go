package smtp

import (
	"context"
	"io"
	"net"
)

// An Envelope is what the SMTP transaction says about a message: its sender,
// its accepted recipients and how the client sent it.
type Envelope struct {
	From       string   // reverse-path, "" for the null sender <>
	To         []string // accepted forward-paths, in order, without duplicates
	UTF8       bool     // SMTPUTF8 was given on MAIL
	AuthUser   string   // the AUTH identity, "" if the client did not authenticate
	RemoteAddr net.Addr
	Helo       string // the EHLO/HELO domain
}

// A Backend authenticates clients and delivers the messages Server accepts.
// Server never relays: every accepted recipient is a local mailbox of the
// backend. Methods are called concurrently from many connections.
//
// A returned *Error (or an error wrapping one) is sent to the client as it
// is; any other error is logged and the client gets a temporary failure,
// "454 4.7.0" to AUTH (RFC 4954 §6) and "451 4.3.0" to the other commands,
// so a message is never acknowledged and then lost. Package smtptest's
// TestBackend checks a Backend against this contract.
type Backend interface {
	// Login checks AUTH credentials. It returns ErrAuthFailed when they are
	// wrong.
	Login(ctx context.Context, username, password string) error
	// CheckRecipient is called for every RCPT TO; a non-nil error refuses
	// that recipient (use ErrNoSuchMailbox for an unknown local address).
	CheckRecipient(ctx context.Context, env *Envelope, rcpt string) error
	// Deliver stores msg (the complete message, with the Received header
	// Server prepends) in the mailbox of every recipient in env.To. It
	// returns only when the message is durable: Server says 250 after it.
	// msg is a *bytes.Buffer holding the whole message, so a Backend may
	// take its Bytes() rather than copy them; the buffer is reused after
	// Deliver returns, so a Backend must not keep them.
	Deliver(ctx context.Context, env *Envelope, msg io.Reader) error
}

// A BackendCRAMMD5 is a Backend that can also take AUTH CRAM-MD5 (RFC 2195),
// which some clients ask for (swaks) or prefer when it is offered (curl).
// A CRAM-MD5 response proves knowledge of the password without sending it,
// so only a backend that holds passwords in the clear, or that takes any
// password, can check one.
type BackendCRAMMD5 interface {
	Backend
	// CRAMMD5Available reports whether the backend takes CRAM-MD5 logins
	// now. Server asks at every EHLO and AUTH CRAM-MD5, and offers and
	// takes the mechanism only while it is true: a client that prefers
	// CRAM-MD5 must not be led to a login that cannot succeed.
	CRAMMD5Available(ctx context.Context) bool
	// LoginCRAMMD5 checks a CRAM-MD5 response: digest is the lower-case
	// hex HMAC-MD5 (RFC 2104) of challenge, keyed with the password of
	// username. It returns ErrAuthFailed when the digest is wrong, or
	// cannot be checked for that user.
	LoginCRAMMD5(ctx context.Context, username, challenge, digest string) error
}
