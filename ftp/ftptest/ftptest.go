// Package ftptest runs an FTP server in process, for tests, as
// net/http/httptest does for HTTP: [NewServer] serves an [ftp.Backend] on a
// loopback port. [NewBackend] is a Backend over one file tree, with one
// account that may write it and anonymous logins that may read it, and
// [TestBackend] is a conformance suite that every ftp.Backend should pass.
package ftptest

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/internal/testserver"
	"github.com/inetkit/inetkit/lineproto"
)

// A Server is an FTP server listening on a loopback port, for tests. Close
// may be called from any goroutine, but not while a Start method runs.
type Server struct {
	// Addr is the host:port of the control listener. The Start methods
	// set it.
	Addr string
	// Config is the server. It may be changed before a Start method is
	// called.
	Config *ftp.Server

	run testserver.Run
}

// NewServer starts and returns a new Server serving be, in plain FTP. The
// caller should call Close when finished, to shut it down.
func NewServer(be ftp.Backend) *Server {
	s := NewUnstartedServer(be)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server serving be but doesn't start it.
// Its Config has InsecureAuth set (the listener is on loopback),
// AuthFailureDelay and ErrorDelay of 10 ms so that tests of failed logins
// and error replies stay fast, and a Logger that writes errors only, to
// standard error. Passive data connections use any free port.
//
// After changing its configuration, the caller should call Start, StartTLS
// or StartSTARTTLS. The caller should call Close when finished, to shut it
// down.
func NewUnstartedServer(be ftp.Backend) *Server {
	return &Server{Config: &ftp.Server{
		Backend:      be,
		InsecureAuth: true,
		Limits: lineproto.Limits{
			AuthFailureDelay: 10 * time.Millisecond,
			ErrorDelay:       10 * time.Millisecond,
		},
		Logger: testserver.Logger(),
	}}
}

// Start starts a server from NewUnstartedServer, serving plain FTP, with
// AUTH TLS offered if Config.TLSConfig is set. It panics if the server
// cannot listen, or was started or closed before.
func (s *Server) Start() { s.start(testserver.Plain) }

// StartTLS starts a server from NewUnstartedServer serving FTP over
// implicit TLS (FTPS, RFC 4217 §1), as httptest.Server.StartTLS does for
// HTTPS, with Config.TLSConfig, which defaults to a certificate for
// localhost and 127.0.0.1 that Client and ClientTLSConfig trust. It panics
// if the server cannot listen, or was started or closed before.
func (s *Server) StartTLS() { s.start(testserver.ImplicitTLS) }

// StartSTARTTLS starts a server from NewUnstartedServer serving plain FTP
// with AUTH TLS (RFC 4217) offered, with Config.TLSConfig, which defaults
// to the certificate of StartTLS. Client then starts TLS with AUTH TLS
// before it returns. It panics if the server cannot listen, or was started
// or closed before.
func (s *Server) StartSTARTTLS() { s.start(testserver.STARTTLS) }

func (s *Server) start(mode testserver.Mode) {
	s.run.Start("ftptest", s.Config, mode, &s.Config.TLSConfig)
	s.Addr = s.run.Addr
}

// Close shuts down the server with Config.Close, which closes every
// connection, and waits for Serve to return. It panics if Serve returned
// anything but ftp.ErrServerClosed: the server stopped by itself. Closing a
// server that was closed before, or never started, does nothing.
func (s *Server) Close() {
	s.run.Close(s.Config)
}

// Client returns a client connected to the server as it was started, not
// yet logged in: over implicit TLS after StartTLS, over TLS started with
// AUTH TLS after StartSTARTTLS, in plain FTP after Start. A nil opts, or
// one without TLSConfig, trusts the certificate of StartTLS and
// StartSTARTTLS, also for a later StartTLS on the client.
func (s *Server) Client(opts *ftp.ClientOptions) (*ftp.Client, error) {
	var o ftp.ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.TLSConfig == nil {
		o.TLSConfig = s.ClientTLSConfig()
	}
	ctx := context.Background()
	switch s.run.Mode {
	case testserver.ImplicitTLS:
		return ftp.DialTLS(ctx, s.Addr, &o)
	case testserver.STARTTLS:
		return ftp.DialStartTLS(ctx, s.Addr, &o)
	}
	return ftp.Dial(ctx, s.Addr, &o)
}

// ClientTLSConfig returns a new client TLS configuration that trusts the
// certificate of StartTLS and StartSTARTTLS, for clients other than
// Client's.
func (s *Server) ClientTLSConfig() *tls.Config { return testserver.ClientTLSConfig() }
