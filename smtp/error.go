package smtp

import (
	"fmt"

	"github.com/inetkit/inetkit/sockserver"
)

// EnhancedCode is an RFC 3463 enhanced status code, as {5, 1, 1}.
type EnhancedCode [3]int

// Error is an SMTP reply with a 4xx or 5xx code. A Backend returns one to
// choose the reply; the client returns one for every negative reply.
type Error struct {
	Code         int
	EnhancedCode EnhancedCode
	Message      string
}

func (e *Error) Error() string {
	if e.EnhancedCode == (EnhancedCode{}) {
		return fmt.Sprintf("smtp: %d %s", e.Code, e.Message)
	}
	c := e.EnhancedCode
	return fmt.Sprintf("smtp: %d %d.%d.%d %s", e.Code, c[0], c[1], c[2], e.Message)
}

// Temporary reports whether the reply is a 4xx (transient) one.
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

var (
	// ErrAuthFailed is the reply to wrong AUTH credentials (RFC 4954 §6).
	ErrAuthFailed = &Error{Code: 535, EnhancedCode: EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	// ErrNoSuchMailbox refuses a recipient that is not a local mailbox.
	ErrNoSuchMailbox = &Error{Code: 550, EnhancedCode: EnhancedCode{5, 1, 1}, Message: "No such mailbox here"}
	// ErrInsufficientStorage is the reply when the store is (nearly) full
	// (RFC 5321 §4.2.2, RFC 3463 §3.4): a Backend returns it from
	// CheckRecipient, or from CheckSender to refuse a transaction at MAIL.
	ErrInsufficientStorage = &Error{Code: 452, EnhancedCode: EnhancedCode{4, 3, 1}, Message: "Insufficient system storage"}
)

// ErrServerClosed is returned by [Server.Serve], [Server.ServeTLS] and the
// ListenAndServe methods after [Server.Shutdown] or [Server.Close]. It is
// sockserver.ErrServerClosed, the one value that every server built on
// package sockserver returns, so that one errors.Is test covers them all.
var ErrServerClosed = sockserver.ErrServerClosed
