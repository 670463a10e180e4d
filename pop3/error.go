package pop3

import "github.com/inetkit/inetkit/sockserver"

// Error is a negative POP3 reply ("-ERR"), with its RFC 2449 response code
// (without brackets) when it has one. A Backend returns one to choose the
// reply; the client returns one for every -ERR.
type Error struct {
	Code    string // "AUTH", "IN-USE", "SYS/TEMP", "SYS/PERM", "LOGIN-DELAY" or ""
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return "pop3: -ERR " + e.Message
	}
	return "pop3: -ERR [" + e.Code + "] " + e.Message
}

// Temporary reports whether the condition is transient (RFC 3206 SYS/TEMP,
// IN-USE or LOGIN-DELAY).
func (e *Error) Temporary() bool {
	return e.Code == "SYS/TEMP" || e.Code == "IN-USE" || e.Code == "LOGIN-DELAY"
}

var (
	// ErrAuthFailed is the reply to wrong credentials (RFC 3206 §4).
	ErrAuthFailed = &Error{Code: "AUTH", Message: "authentication failed"}
	// ErrInUse is the reply when the maildrop is locked by another session
	// (RFC 2449 §8.1.1).
	ErrInUse = &Error{Code: "IN-USE", Message: "maildrop already locked"}
	// ErrServerClosed is returned by Serve, ServeTLS, ListenAndServe and
	// ListenAndServeTLS after Shutdown or Close. It is
	// sockserver.ErrServerClosed: every server of this module returns the
	// same value, so one errors.Is test serves them all.
	ErrServerClosed = sockserver.ErrServerClosed
)
