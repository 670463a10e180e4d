package gopher

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// DefaultRequestTimeout is how long a client has, from the moment it
// connects, to send its whole request line: Gopher clients send it at
// once, so 10 seconds is generous, and a connection that sends nothing is
// closed then.
const DefaultRequestTimeout = 10 * time.Second

// maxRequestBytes caps the request line, line ending included: a selector
// of MaxSelectorBytes, a search string and Gopher+ fields. A longer line is
// refused once this much of it has arrived.
const maxRequestBytes = 2048

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close.
var ErrServerClosed = sockserver.ErrServerClosed

// A Server serves Gopher requests with a Handler, one request per
// connection. Its zero value, with Handler set, is ready to use. Fields
// must not be changed after Serve or ServeConn is called. A Server is safe
// for concurrent use.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":70".
	Addr string
	// Handler answers the requests. It is required.
	Handler Handler
	// Host and Port are what menus announce as this server's address
	// (Request.Host and Request.Port). "" and 0 mean the address the
	// client connected to: right on loopback and on a LAN; a server behind
	// NAT or a proxy sets its public name.
	Host string
	Port int

	// Limits are the timeouts and limits of every connection. IdleTimeout
	// is the request timeout: the whole request line must have arrived
	// within it of the connection's start, or the connection is closed
	// (zero means DefaultRequestTimeout). A CommandTimeout shorter than
	// that bounds the request line from its first octet. WriteTimeout
	// bounds every write of the answer. MaxConns, MaxConnsPerIP and
	// MaxConnRatePerIP limit connections; a client over a limit gets an
	// error item. A negative value means none. The error and login limits
	// do not apply: a connection carries one request.
	lineproto.Limits

	// Logger receives refused requests (escaped), handler panics and
	// connection errors. Nil means slog.Default().
	Logger *slog.Logger
	// DebugWriter, if non-nil, receives a copy of every octet read and
	// written on every connection. Writes to it are serialised.
	DebugWriter io.Writer

	// Faults, if not nil, are faults to inject on demand, from the rules
	// for service "gopher": as a connection opens, it may be closed, reset or
	// left unanswered, or what the server sends delayed, paced or cut
	// short.
	Faults *fault.Set

	mu  sync.Mutex
	cfg *lineproto.Config
	ss  *sockserver.Server
}

// setup returns what the connections of s share and the sockserver.Server
// that runs s, made on first use from s's fields.
func (s *Server) setup() (*lineproto.Config, *sockserver.Server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		limits := s.Limits.Resolve(lineproto.Limits{
			IdleTimeout:    DefaultRequestTimeout,
			CommandTimeout: DefaultRequestTimeout,
		})
		var debug io.Writer
		if s.DebugWriter != nil {
			debug = sockserver.SyncWriter(s.DebugWriter)
		}
		s.cfg = &lineproto.Config{
			Limits:          limits,
			Logger:          s.logger(),
			DebugWriter:     debug,
			Goodbye:         func(lineproto.Reason) string { return "" },
			ReadBufferBytes: maxRequestBytes,
		}
		s.ss = limits.SockServer(sockserver.HandlerFunc(s.ServeConn), reject, s.logger())
		s.ss.Faults, s.ss.FaultService = s.Faults, "gopher"
	}
	return s.cfg, s.ss
}

// reject answers a connection refused by a limit with an error item.
func reject(conn net.Conn, err error) {
	msg := "Too many connections, try again later"
	if errors.Is(err, sockserver.ErrServerClosed) {
		msg = "Server shutting down"
	}
	io.WriteString(conn, errorMenu(msg))
}

func (s *Server) sock() *sockserver.Server {
	_, ss := s.setup()
	return ss
}

// ListenAndServe listens on s.Addr and serves Gopher until Shutdown or
// Close. It always returns a non-nil error: ErrServerClosed after Shutdown
// or Close.
func (s *Server) ListenAndServe() error {
	return lineproto.ListenAndServe(s.Addr, ":70", s.Serve)
}

// Serve accepts connections on l and serves Gopher on each in a new
// goroutine, with the limits and timeouts of s. Serve closes l when it
// returns. It always returns a non-nil error: ErrServerClosed after
// Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		l.Close()
		return errors.New("gopher: Server.Handler is nil")
	}
	return s.sock().Serve(l)
}

// Shutdown shuts the server down gracefully: it stops accepting, closes the
// connections that have not sent their request yet, and waits for the
// answers being sent to finish. If ctx expires first, Shutdown closes the
// remaining connections, as Close does, and returns ctx.Err(). The Server
// cannot be reused.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.sock().Shutdown(ctx)
}

// Close closes every listener and connection at once and waits for their
// goroutines to return. For a graceful shutdown use Shutdown.
func (s *Server) Close() error {
	return s.sock().Close()
}

// Stats returns the counters of the connections served by Serve.
func (s *Server) Stats() sockserver.Stats {
	return s.sock().Stats()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
