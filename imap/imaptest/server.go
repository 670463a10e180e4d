// Package imaptest runs the IMAP server of package imap in process, for
// tests, as net/http/httptest does for HTTP: [NewServer] serves an
// [imap.Backend] on a loopback port. It also holds [MemBackend], an
// in-memory Backend; [TestBackend], a conformance suite that every Backend
// should pass; and [Imaptest], which runs Dovecot's imaptest, its
// compliance scripts and its stress mode, against a server over a Backend.
package imaptest

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/testserver"
	"github.com/inetkit/inetkit/lineproto"
)

// A Server is an IMAP server listening on a loopback port, for tests. Close
// may be called from any goroutine, but not while a Start method runs.
type Server struct {
	// Addr is the host:port of the listener. The Start methods set it.
	Addr string
	// Config is the server. It may be changed before a Start method is
	// called.
	Config *imap.Server

	run testserver.Run
}

// NewServer starts and returns a new Server serving be, in plaintext. The
// caller should call Close when finished, to shut it down.
func NewServer(be imap.Backend) *Server {
	s := NewUnstartedServer(be)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server serving be but doesn't start it.
// Its Config has InsecureAuth set (the listener is on loopback), an
// AuthFailureDelay and an ErrorDelay of 10 ms so that tests of failed logins
// and errors stay fast, and a Logger that writes errors only, to stderr. It
// has no TLSConfig: StartTLS and StartSTARTTLS set the test certificate's.
//
// After changing its configuration, the caller should call Start, StartTLS
// or StartSTARTTLS. The caller should call Close when finished, to shut it
// down.
func NewUnstartedServer(be imap.Backend) *Server {
	return &Server{Config: &imap.Server{
		Backend:      be,
		InsecureAuth: true,
		Limits:       lineproto.Limits{AuthFailureDelay: 10 * time.Millisecond, ErrorDelay: 10 * time.Millisecond},
		Logger:       testserver.Logger(),
	}}
}

// Start starts a server from NewUnstartedServer, serving plain IMAP, with
// STARTTLS if Config.TLSConfig is set. It panics if the server cannot
// listen, or was started or closed before.
func (s *Server) Start() { s.start(testserver.Plain) }

// StartTLS starts a server from NewUnstartedServer serving IMAP over
// implicit TLS (IMAPS, RFC 8314), with Config.TLSConfig, which defaults to a
// certificate for localhost and 127.0.0.1 that Client trusts. It panics as
// Start does.
func (s *Server) StartTLS() { s.start(testserver.ImplicitTLS) }

// StartSTARTTLS starts a server from NewUnstartedServer serving plain IMAP
// with STARTTLS (RFC 9051 §6.2.1), with Config.TLSConfig, which defaults to
// the certificate of StartTLS. It panics as Start does.
func (s *Server) StartSTARTTLS() { s.start(testserver.STARTTLS) }

func (s *Server) start(mode testserver.Mode) {
	s.run.Start("imaptest", s.Config, mode, &s.Config.TLSConfig)
	s.Addr = s.run.Addr
}

// Close shuts down the server with Config.Close, which closes every
// connection, and waits for Serve to return. It panics if Serve returned
// anything but imap.ErrServerClosed: the server stopped by itself.
// Closing a server that was closed, or never started, does nothing.
func (s *Server) Close() {
	s.run.Close(s.Config)
}

// Client returns a client connected to the server, its greeting received,
// not logged in: over implicit TLS for a server started with StartTLS, with
// STARTTLS for one started with StartSTARTTLS, and in plaintext otherwise. A
// nil opts, or one without TLSConfig, trusts the certificate of StartTLS
// and StartSTARTTLS.
func (s *Server) Client(opts *imap.ClientOptions) (*imapclient.Client, error) {
	var o imap.ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.TLSConfig == nil {
		o.TLSConfig = s.ClientTLSConfig()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch s.run.Mode {
	case testserver.ImplicitTLS:
		return imap.DialTLS(ctx, s.Addr, &o)
	case testserver.STARTTLS:
		return imap.DialStartTLS(ctx, s.Addr, &o)
	}
	return imap.Dial(ctx, s.Addr, &o)
}

// ClientTLSConfig returns a new client TLS configuration that trusts the
// certificate of StartTLS and StartSTARTTLS, for a client of the test's own.
func (s *Server) ClientTLSConfig() *tls.Config { return testserver.ClientTLSConfig() }
