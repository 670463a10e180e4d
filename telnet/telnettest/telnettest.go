// Package telnettest runs a Telnet server in process, for tests, as
// net/http/httptest does for HTTP: [NewServer] serves a [telnet.Handler] on
// a loopback port, and [Server.Client] dials it with telnet.Dial, whose
// Conn has Expect, ReadUntil and Script for scripted exchanges.
package telnettest

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/inetkit/inetkit/internal/testserver"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/telnet"
)

// A Server is a Telnet server listening on a loopback port, for tests.
// Close may be called from any goroutine, but not while a Start method
// runs.
type Server struct {
	// Addr is the host:port of the listener. The Start methods set it.
	Addr string
	// Config is the server. It may be changed before a Start method is
	// called.
	Config *telnet.Server

	run testserver.Run
}

// NewServer starts and returns a new Server serving h. The caller should
// call Close when finished, to shut it down.
func NewServer(h telnet.Handler) *Server {
	s := NewUnstartedServer(h)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server serving h but doesn't start it.
// Its Config has AuthFailureDelay and ErrorDelay of 10 ms, so that tests
// of error floods stay fast, a NegotiateTimeout of 200 ms, and a Logger
// that writes errors only, to standard error. After changing its
// configuration, the caller should call Start or StartTLS, and Close when
// finished.
func NewUnstartedServer(h telnet.Handler) *Server {
	return &Server{Config: &telnet.Server{
		Handler:          h,
		NegotiateTimeout: 200 * time.Millisecond,
		Limits: lineproto.Limits{
			AuthFailureDelay: 10 * time.Millisecond,
			ErrorDelay:       10 * time.Millisecond,
		},
		Logger: testserver.Logger(),
	}}
}

// Start starts a server from NewUnstartedServer, serving plain Telnet. It
// panics if the server cannot listen, or was started or closed before.
func (s *Server) Start() { s.start(testserver.Plain) }

// StartTLS starts a server from NewUnstartedServer serving Telnet over
// implicit TLS (telnets), with Config.TLSConfig, which defaults to a
// certificate for localhost and 127.0.0.1 that Client and
// ClientTLSConfig trust.
func (s *Server) StartTLS() { s.start(testserver.ImplicitTLS) }

func (s *Server) start(mode testserver.Mode) {
	s.run.Start("telnettest", s.Config, mode, &s.Config.TLSConfig)
	s.Addr = s.run.Addr
}

// Close closes the server and every connection, and waits for Serve to
// return. Closing twice, or a server never started, does nothing.
func (s *Server) Close() { s.run.Close(s.Config) }

// Client returns a client connected to the server with telnet.Dial: over
// TLS after StartTLS (trusting the test certificate unless opts has a
// TLSConfig), in plain Telnet after Start. A nil opts gets a Timeout of
// 10 s and a NegotiateTimeout of 1 s.
func (s *Server) Client(opts *telnet.ClientOptions) (*telnet.Conn, error) {
	o := telnet.ClientOptions{Timeout: 10 * time.Second}
	if opts != nil {
		o = *opts
	}
	if s.run.Mode == testserver.ImplicitTLS && o.TLSConfig == nil {
		o.TLSConfig = s.ClientTLSConfig()
	}
	return telnet.Dial(context.Background(), s.Addr, &o)
}

// ClientTLSConfig returns a new client TLS configuration that trusts the
// certificate of StartTLS.
func (s *Server) ClientTLSConfig() *tls.Config { return testserver.ClientTLSConfig() }
