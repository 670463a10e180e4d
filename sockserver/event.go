package sockserver

import "net"

// An EventHandler is a Handler that can also serve connections from event
// loops. On Linux, a Server serving TCP runs one loop per CPU and gives each
// connection a session instead of a goroutine: an idle connection then costs
// a few hundred bytes, not a goroutine stack and buffers, and each request
// costs a read and a write, with no goroutine to wake. It suits protocols
// whose reply to data can be computed at once, without blocking.
type EventHandler interface {
	Handler
	// NewEventSession returns the session for a new connection from remote,
	// or nil to serve the connection with ServeConn instead.
	NewEventSession(remote net.Addr) EventSession
}

// An EventSession is the state of one connection served by an event loop. Its
// methods are called from one goroutine at a time and must not block. The
// slices they are given are valid only during the call.
type EventSession interface {
	// Data appends to dst the reply to data, which the client sent, and
	// returns it. A non-nil error ends the connection after the reply is
	// written; it is logged.
	Data(data, dst []byte) ([]byte, error)
	// End is called when the client has shut down its side; it appends the
	// last of the reply to dst. The connection is closed once it is written.
	End(dst []byte) []byte
	// Busy reports whether the session holds part of a request, so that
	// Shutdown lets the client finish it.
	Busy() bool
}
