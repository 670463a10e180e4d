package imap

import "github.com/inetkit/inetkit/sockserver"

// Error is a tagged NO or BAD response, with its response code (RFC 5530)
// when it has one. A Backend returns one to choose the response.
type Error struct {
	Type string // "NO" or "BAD"; "" means "NO"
	Code string // "NONEXISTENT", "ALREADYEXISTS", "TRYCREATE", ... or ""; written as it is, without brackets
	Text string
}

func (e *Error) Error() string {
	t := e.Type
	if t == "" {
		t = "NO"
	}
	if e.Code == "" {
		return "imap: " + t + " " + e.Text
	}
	return "imap: " + t + " [" + e.Code + "] " + e.Text
}

// Errors a Backend returns.
var (
	// ErrAuthFailed is the answer to wrong credentials (RFC 5530 §3).
	ErrAuthFailed = &Error{Code: "AUTHENTICATIONFAILED", Text: "Authentication failed."}
	// ErrNonExistent: the mailbox does not exist (RFC 5530 §3). For
	// APPEND, COPY and MOVE the server answers TRYCREATE instead (RFC 9051
	// §6.3.12).
	ErrNonExistent = &Error{Code: "NONEXISTENT", Text: "Mailbox doesn't exist."}
	// ErrAlreadyExists: the mailbox exists already (RFC 5530 §3).
	ErrAlreadyExists = &Error{Code: "ALREADYEXISTS", Text: "Mailbox already exists."}
	// ErrBadName: the mailbox name is not one the backend accepts.
	ErrBadName = &Error{Code: "CANNOT", Text: "Invalid mailbox name."}
	// ErrTooBig: a message is over the backend's limit (RFC 4469 §5,
	// RFC 7889).
	ErrTooBig = &Error{Code: "TOOBIG", Text: "Message too large."}
	// ErrOverQuota: the user's storage is full (RFC 5530 §3).
	ErrOverQuota = &Error{Code: "OVERQUOTA", Text: "Quota exceeded."}
	// ErrServerClosed is returned by Serve, ServeTLS, ListenAndServe and
	// ListenAndServeTLS after Shutdown or Close: sockserver.ErrServerClosed,
	// as every server of this module returns.
	ErrServerClosed = sockserver.ErrServerClosed
)
