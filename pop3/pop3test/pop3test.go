// Package pop3test runs a POP3 server in process, for tests, as
// net/http/httptest does for HTTP: [NewServer] serves a [pop3.Backend] on a
// loopback port. It also holds [Maildrop], an in-memory Backend, and
// [TestBackend], a conformance suite that every pop3.Backend should pass.
package pop3test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/pop3"
)

// A Server is a POP3 server listening on a loopback port, for tests. Close
// may be called from any goroutine, but not while Start or StartTLS runs.
type Server struct {
	// Addr is the host:port of the listener. Start and StartTLS set it.
	Addr string
	// Config is the server. It may be changed before Start or StartTLS.
	Config *pop3.Server

	tls    bool
	done   chan struct{} // closed when Serve has returned
	err    error         // what Serve returned, once done is closed
	once   sync.Once
	closed bool
}

// NewServer starts and returns a new Server serving be. The caller should
// call Close when finished, to shut it down.
func NewServer(be pop3.Backend) *Server {
	s := NewUnstartedServer(be)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server serving be but doesn't start it.
// Its Config has InsecureAuth set (the listener is on loopback),
// AuthFailureDelay 10 ms so that tests of failed logins stay fast, and a
// Logger that discards.
//
// After changing its configuration, the caller should call Start or
// StartTLS. The caller should call Close when finished, to shut it down.
func NewUnstartedServer(be pop3.Backend) *Server {
	return &Server{Config: &pop3.Server{
		Backend:      be,
		InsecureAuth: true,
		Limits:       lineproto.Limits{AuthFailureDelay: 10 * time.Millisecond},
		Logger:       slog.New(slog.DiscardHandler),
	}}
}

// Start starts a server from NewUnstartedServer, serving plain POP3 (with
// STLS if Config.TLSConfig is set). It panics if the server cannot listen,
// or was started or closed before.
func (s *Server) Start() {
	s.start(false)
}

// StartTLS starts a server from NewUnstartedServer serving POP3 over
// implicit TLS (POP3S), with Config.TLSConfig, which defaults to a
// certificate for localhost and 127.0.0.1 that Client trusts. It panics if
// the server cannot listen, or was started or closed before.
func (s *Server) StartTLS() {
	if s.Config.TLSConfig == nil {
		s.Config.TLSConfig = testcert.ServerConfig()
	}
	s.start(true)
}

func (s *Server) start(tls bool) {
	if s.done != nil {
		panic("pop3test: server already started")
	}
	if s.closed {
		panic("pop3test: server already closed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if l, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic(fmt.Sprintf("pop3test: failed to listen on a loopback port: %v", err))
		}
	}
	s.Addr, s.tls = l.Addr().String(), tls
	s.done = make(chan struct{})
	serve := s.Config.Serve
	if tls {
		serve = s.Config.ServeTLS
	}
	go func() {
		defer close(s.done)
		s.err = serve(l)
	}()
}

// Close shuts down the server with Config.Close, which closes every
// connection, and waits for Serve to return. It panics if Serve returned
// anything but pop3.ErrServerClosed: the server stopped by itself. Closing a
// server that was closed before does nothing.
func (s *Server) Close() {
	s.once.Do(func() {
		s.closed = true
		if s.done == nil {
			return
		}
		s.Config.Close()
		<-s.done
		if !errors.Is(s.err, pop3.ErrServerClosed) {
			panic("pop3test: Serve returned before Close: " + s.err.Error())
		}
	})
}

// Client returns a client connected to the server, over TLS if it was
// started with StartTLS. A nil opts, or one without TLSConfig, trusts the
// certificate of StartTLS, also for a later StartTLS on the client.
func (s *Server) Client(opts *pop3.ClientOptions) (*pop3.Client, error) {
	var o pop3.ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.TLSConfig == nil {
		o.TLSConfig = testcert.ClientConfig()
	}
	ctx := context.Background()
	if s.tls {
		return pop3.DialTLS(ctx, s.Addr, &o)
	}
	return pop3.Dial(ctx, s.Addr, &o)
}
