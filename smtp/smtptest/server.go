// Package smtptest runs SMTP servers in-process for tests, as
// net/http/httptest does for HTTP, and provides Recorder, a Backend that
// keeps every message in memory.
package smtptest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/smtp"
)

// A Server is an SMTP server listening on a loopback port.
type Server struct {
	// Addr is the host:port of the listener, set by Start.
	Addr string
	// Config is the server; it may be changed before Start.
	Config *smtp.Server

	implicitTLS bool
	l           net.Listener
	done        chan struct{}
	closeOnce   sync.Once
}

// NewServer starts and returns a new Server for be on a loopback port.
// The caller should call Close when finished, to shut it down.
func NewServer(be smtp.Backend) *Server {
	s := NewUnstartedServer(be)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server for be that is not started yet:
// change Config, then call Start, StartTLS or StartImplicitTLS. Config
// allows AUTH without TLS, as the listener is on loopback, names itself
// "smtptest.local", and logs only errors, to stderr.
func NewUnstartedServer(be smtp.Backend) *Server {
	return &Server{Config: &smtp.Server{
		Backend:      be,
		Domain:       "smtptest.local",
		InsecureAuth: true,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	}}
}

// Start starts the server in plaintext (with STARTTLS if Config.TLSConfig
// is set).
func (s *Server) Start() { s.start(false) }

// StartTLS starts the server offering STARTTLS with the test certificate
// of internal/testcert (for localhost and 127.0.0.1) unless
// Config.TLSConfig is already set.
func (s *Server) StartTLS() {
	if s.Config.TLSConfig == nil {
		s.Config.TLSConfig = testcert.ServerConfig()
	}
	s.start(false)
}

// StartImplicitTLS starts the server with implicit TLS (smtps, RFC 8314)
// and the test certificate unless Config.TLSConfig is already set.
func (s *Server) StartImplicitTLS() {
	if s.Config.TLSConfig == nil {
		s.Config.TLSConfig = testcert.ServerConfig()
	}
	s.start(true)
}

func (s *Server) start(implicitTLS bool) {
	if s.l != nil {
		panic("smtptest: Server already started")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("smtptest: failed to listen on a port: %v", err))
	}
	s.l, s.Addr, s.implicitTLS = l, l.Addr().String(), implicitTLS
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		var err error
		if implicitTLS {
			err = s.Config.ServeTLS(l)
		} else {
			err = s.Config.Serve(l)
		}
		if err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "smtptest: Serve: %v\n", err)
		}
	}()
}

// Close shuts the server down and blocks until all its connections have
// ended.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.Config.Close()
		if s.done != nil {
			<-s.done
		}
	})
}

// Client returns a Client connected to the server. It trusts the test
// certificate and uses implicit TLS, STARTTLS or plaintext as the server
// was started. A nil opts is equivalent to a zero one.
func (s *Server) Client(opts *smtp.ClientOptions) (*smtp.Client, error) {
	o := smtp.ClientOptions{}
	if opts != nil {
		o = *opts
	}
	if o.TLSConfig == nil {
		o.TLSConfig = s.ClientTLSConfig()
	}
	ctx := context.Background()
	switch {
	case s.implicitTLS:
		return smtp.DialTLS(ctx, s.Addr, &o)
	case s.Config.TLSConfig != nil:
		return smtp.DialStartTLS(ctx, s.Addr, &o)
	}
	return smtp.Dial(ctx, s.Addr, &o)
}

// ClientTLSConfig returns a client TLS configuration that trusts the test
// certificate.
func (s *Server) ClientTLSConfig() *tls.Config { return testcert.ClientConfig() }
