package lineproto

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/inetkit/inetkit/sockserver"
)

// A Reason is why a server ends a session on its own: each protocol says
// its own goodbye for each (SMTP "421 4.4.2", POP3 "-ERR [SYS/TEMP]", IMAP
// "* BYE").
type Reason int

// The reasons to end a session.
const (
	// ReasonNone: the session goes on.
	ReasonNone Reason = iota
	// ReasonClosed: the client closed the connection or it failed; there
	// is no one to say goodbye to.
	ReasonClosed
	// ReasonShutdown: the server is shutting down (sockserver's Shutdown
	// interrupted a read between commands).
	ReasonShutdown
	// ReasonIdleTimeout: no command came within the idle timeout.
	ReasonIdleTimeout
	// ReasonCommandTimeout: a command started but did not end within the
	// command timeout.
	ReasonCommandTimeout
	// ReasonLineTooLong: a line went past its cap and its end did not come
	// within MaxDiscardBytes, or the protocol does not go on after one.
	ReasonLineTooLong
	// ReasonTooManyErrors: the connection reached HardErrorLimit.
	ReasonTooManyErrors
	// ReasonTooManyAuthFailures: the connection reached MaxAuthFailures.
	ReasonTooManyAuthFailures
	// ReasonHTTP: the client sent an HTTP request: a browser or proxy on
	// the wrong port.
	ReasonHTTP
)

var reasonNames = [...]string{
	ReasonNone:                "none",
	ReasonClosed:              "closed",
	ReasonShutdown:            "shutdown",
	ReasonIdleTimeout:         "idle timeout",
	ReasonCommandTimeout:      "command timeout",
	ReasonLineTooLong:         "line too long",
	ReasonTooManyErrors:       "too many errors",
	ReasonTooManyAuthFailures: "too many authentication failures",
	ReasonHTTP:                "HTTP request",
}

// String returns the reason in words, for logs: "idle timeout".
func (r Reason) String() string {
	if r >= 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Linger reports whether the client may still be sending when the server
// says this goodbye, so that closing at once could reset the connection
// before the goodbye arrives: the server should read and discard for a
// moment first (sockserver.Linger).
func (r Reason) Linger() bool {
	switch r {
	case ReasonLineTooLong, ReasonTooManyErrors, ReasonTooManyAuthFailures, ReasonHTTP:
		return true
	}
	return false
}

// Classify returns the reason a read error ends a session: a deadline
// (an idle or, if inCommand, a command timeout), sockserver's shutdown,
// ErrLineTooLong, or the client going away. It returns ReasonNone for nil.
func Classify(err error, inCommand bool) Reason {
	var ne net.Error
	switch {
	case err == nil:
		return ReasonNone
	case errors.Is(err, ErrLineTooLong):
		return ReasonLineTooLong
	case errors.Is(err, sockserver.ErrServerClosed):
		return ReasonShutdown
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		if inCommand {
			return ReasonCommandTimeout
		}
		return ReasonIdleTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return ReasonClosed
	}
	return ReasonClosed
}
