// Package nntptest runs an NNTP server in process, for tests, as
// net/http/httptest does for HTTP: [NewServer] serves an [nntp.Backend] on
// a loopback port. It also holds [Spool], an in-memory Backend, and
// [TestBackend], a conformance suite that every nntp.Backend should pass.
package nntptest

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/inetkit/inetkit/internal/testserver"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/nntp"
)

// A Server is an NNTP server listening on a loopback port, for tests.
// Close may be called from any goroutine, but not while a Start method
// runs.
type Server struct {
	// Addr is the host:port of the listener. The Start methods set it.
	Addr string
	// Config is the server. It may be changed before a Start method is
	// called.
	Config *nntp.Server

	run testserver.Run
}

// NewServer starts and returns a new Server serving be, in plain NNTP. The
// caller should call Close when finished, to shut it down.
func NewServer(be nntp.Backend) *Server {
	s := NewUnstartedServer(be)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server serving be but doesn't start it.
// Its Config has InsecureAuth and AllowAnonymousPost set (the listener is
// on loopback), Hostname "news.test", AuthFailureDelay and ErrorDelay of
// 10 ms so that tests of failed logins and error replies stay fast, and a
// Logger that writes errors only, to standard error.
//
// After changing its configuration, the caller should call Start, StartTLS
// or StartSTARTTLS. The caller should call Close when finished.
func NewUnstartedServer(be nntp.Backend) *Server {
	return &Server{Config: &nntp.Server{
		Backend:            be,
		InsecureAuth:       true,
		AllowAnonymousPost: true,
		Hostname:           "news.test",
		Limits: lineproto.Limits{
			AuthFailureDelay: 10 * time.Millisecond,
			ErrorDelay:       10 * time.Millisecond,
		},
		Logger: testserver.Logger(),
	}}
}

// Start starts a server from NewUnstartedServer, serving plain NNTP, with
// STARTTLS offered if Config.TLSConfig is set. It panics if the server
// cannot listen, or was started or closed before.
func (s *Server) Start() { s.start(testserver.Plain) }

// StartTLS starts a server from NewUnstartedServer serving NNTP over
// implicit TLS (NNTPS), as httptest.Server.StartTLS does for HTTPS, with
// Config.TLSConfig, which defaults to a certificate for localhost and
// 127.0.0.1 that Client and ClientTLSConfig trust.
func (s *Server) StartTLS() { s.start(testserver.ImplicitTLS) }

// StartSTARTTLS starts a server from NewUnstartedServer serving plain NNTP
// with STARTTLS (RFC 4642) offered, with Config.TLSConfig, which defaults
// to the certificate of StartTLS. Client then starts TLS with STARTTLS
// before it returns.
func (s *Server) StartSTARTTLS() { s.start(testserver.STARTTLS) }

func (s *Server) start(mode testserver.Mode) {
	s.run.Start("nntptest", s.Config, mode, &s.Config.TLSConfig)
	s.Addr = s.run.Addr
}

// Close shuts down the server with Config.Close, which closes every
// connection, and waits for Serve to return. It panics if Serve returned
// anything but nntp.ErrServerClosed. Closing a server that was closed
// before, or never started, does nothing.
func (s *Server) Close() { s.run.Close(s.Config) }

// Client returns a client connected to the server as it was started: over
// implicit TLS after StartTLS, over TLS started with STARTTLS after
// StartSTARTTLS, in plain NNTP after Start. A nil opts, or one without
// TLSConfig, trusts the certificate of StartTLS and StartSTARTTLS.
func (s *Server) Client(opts *nntp.ClientOptions) (*nntp.Client, error) {
	var o nntp.ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.TLSConfig == nil {
		o.TLSConfig = s.ClientTLSConfig()
	}
	ctx := context.Background()
	switch s.run.Mode {
	case testserver.ImplicitTLS:
		return nntp.DialTLS(ctx, s.Addr, &o)
	case testserver.STARTTLS:
		return nntp.DialStartTLS(ctx, s.Addr, &o)
	}
	return nntp.Dial(ctx, s.Addr, &o)
}

// ClientTLSConfig returns a new client TLS configuration that trusts the
// certificate of StartTLS and StartSTARTTLS.
func (s *Server) ClientTLSConfig() *tls.Config { return testserver.ClientTLSConfig() }
