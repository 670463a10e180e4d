// Package smtptest runs SMTP servers in process, for tests, as
// net/http/httptest does for HTTP: [NewServer] serves an [smtp.Backend] on a
// loopback port. It also holds [Recorder], a Backend that keeps every
// message in memory, and [TestBackend], a conformance suite that every
// smtp.Backend should pass.
package smtptest

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/inetkit/inetkit/internal/testserver"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/smtp"
)

// A Server is an SMTP server listening on a loopback port, for tests. Close
// may be called from any goroutine, but not while a Start method runs.
type Server struct {
	// Addr is the host:port of the listener. The Start methods set it.
	Addr string
	// Config is the server. It may be changed before the server is started.
	Config *smtp.Server

	run testserver.Run
}

// NewServer starts and returns a new Server serving be, with Start. The
// caller should call Close when finished, to shut it down.
func NewServer(be smtp.Backend) *Server {
	s := NewUnstartedServer(be)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server serving be but doesn't start it.
// Its Config names the server "smtptest.local", has InsecureAuth set (the
// listener is on loopback), an AuthFailureDelay and an ErrorDelay of 10 ms,
// so that tests of failed logins and errors stay fast, and a Logger that
// writes errors only, to standard error.
//
// After changing its configuration, the caller should call Start, StartTLS
// or StartSTARTTLS. The caller should call Close when finished, to shut it
// down.
func NewUnstartedServer(be smtp.Backend) *Server {
	return &Server{Config: &smtp.Server{
		Domain:       "smtptest.local",
		Backend:      be,
		InsecureAuth: true,
		Limits:       lineproto.Limits{AuthFailureDelay: 10 * time.Millisecond, ErrorDelay: 10 * time.Millisecond},
		Logger:       testserver.Logger(),
	}}
}

// Start starts a server from NewUnstartedServer, serving plain SMTP, with
// STARTTLS if Config.TLSConfig is set. It panics if the server cannot
// listen, or was started or closed before.
func (s *Server) Start() { s.start(testserver.Plain) }

// StartTLS starts a server from NewUnstartedServer serving SMTP over
// implicit TLS (RFC 8314, as on port 465), with Config.TLSConfig, which
// defaults to a certificate for localhost and 127.0.0.1 that Client and
// ClientTLSConfig trust. It panics if the server cannot listen, or was
// started or closed before.
func (s *Server) StartTLS() { s.start(testserver.ImplicitTLS) }

// StartSTARTTLS starts a server from NewUnstartedServer serving plain SMTP
// with STARTTLS (RFC 3207), with Config.TLSConfig, which defaults to the
// certificate of StartTLS. It panics if the server cannot listen, or was
// started or closed before.
func (s *Server) StartSTARTTLS() { s.start(testserver.STARTTLS) }

func (s *Server) start(mode testserver.Mode) {
	s.run.Start("smtptest", s.Config, mode, &s.Config.TLSConfig)
	s.Addr = s.run.Addr
}

// Close shuts the server down with Config.Close, which closes every
// connection at once, and waits for Serve to return. It panics if Serve
// returned anything but smtp.ErrServerClosed: the server stopped by itself.
// Closing a server that was closed before does nothing.
func (s *Server) Close() { s.run.Close(s.Config) }

// Client returns a client connected to the server: over implicit TLS if it
// was started with StartTLS, with STARTTLS if Config.TLSConfig is set, and
// in plaintext otherwise. A nil opts, or one without TLSConfig, trusts the
// certificate of StartTLS.
func (s *Server) Client(opts *smtp.ClientOptions) (*smtp.Client, error) {
	var o smtp.ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.TLSConfig == nil {
		o.TLSConfig = s.ClientTLSConfig()
	}
	ctx := context.Background()
	switch {
	case s.run.Mode == testserver.ImplicitTLS:
		return smtp.DialTLS(ctx, s.Addr, &o)
	case s.Config.TLSConfig != nil:
		return smtp.DialStartTLS(ctx, s.Addr, &o)
	}
	return smtp.Dial(ctx, s.Addr, &o)
}

// ClientTLSConfig returns a new client TLS configuration that trusts the
// certificate of StartTLS and StartSTARTTLS.
func (s *Server) ClientTLSConfig() *tls.Config { return testserver.ClientTLSConfig() }
