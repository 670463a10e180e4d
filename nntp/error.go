package nntp

import (
	"strconv"

	"github.com/inetkit/inetkit/sockserver"
)

// Error is a negative NNTP reply (a 4xx or 5xx code, RFC 3977 §3.2). A
// Backend returns one to choose the reply; the client returns one for every
// negative reply.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string {
	return "nntp: " + strconv.Itoa(e.Code) + " " + e.Message
}

// Temporary reports whether the condition is transient: a 4xx code. Note
// that NNTP uses 4xx also for outcomes that will not change on retry, such
// as 411 (no such newsgroup).
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

var (
	// ErrAuthFailed is the reply to wrong credentials (RFC 4643 §2.3.2).
	ErrAuthFailed = &Error{Code: 481, Message: "Authentication failed"}
	// ErrNoSuchGroup is returned by a Backend for an unknown newsgroup.
	ErrNoSuchGroup = &Error{Code: 411, Message: "No such newsgroup"}
	// ErrNoSuchArticle is returned by a Backend for an article it does not
	// have. The server answers 423 for a number, 430 for a message-id.
	ErrNoSuchArticle = &Error{Code: 430, Message: "No such article"}
	// ErrDuplicate is returned by Backend.Post for a message-id it already
	// has. The server answers 441 to POST and 437 to IHAVE.
	ErrDuplicate = &Error{Code: 441, Message: "Duplicate message-id"}
	// ErrServerClosed is returned by Serve, ServeTLS, ListenAndServe and
	// ListenAndServeTLS after Shutdown or Close. It is
	// sockserver.ErrServerClosed: every server of this module returns the
	// same value.
	ErrServerClosed = sockserver.ErrServerClosed
)
