// Package testserver is the skeleton that the <proto>test packages share:
// a server on a loopback port, started plain, with implicit TLS or with
// STARTTLS, and closed once, with the same rules and the same defaults in
// every package.
package testserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/sockserver"
)

// A Target is a protocol server as the <proto>test packages run it.
type Target interface {
	Serve(l net.Listener) error
	ServeTLS(l net.Listener) error
	Close() error
}

// Mode is how a test server was started.
type Mode int

// The modes of a test server.
const (
	// Plain: no TLS, unless the protocol's STARTTLS is configured.
	Plain Mode = iota
	// ImplicitTLS: every connection starts with a TLS handshake (StartTLS,
	// as in net/http/httptest).
	ImplicitTLS
	// STARTTLS: plain, with the protocol's STARTTLS command offered
	// (StartSTARTTLS).
	STARTTLS
)

// Run is the state of one test server: embed it unexported.
type Run struct {
	// Addr is the host:port of the listener once started.
	Addr string
	// Mode is how the server was started.
	Mode Mode

	name   string // the package, for panics: "pop3test"
	done   chan struct{}
	err    error
	once   sync.Once
	closed bool
}

// Logger is the logger of every test server unless the test sets another:
// errors only, to stderr. A test server sees refused input on purpose; what
// is worth a line there is a failure of the server.
func Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// ServerTLSConfig returns the test certificate's server configuration, for
// Config.TLSConfig when the test has not set one.
func ServerTLSConfig() *tls.Config { return testcert.ServerConfig() }

// ClientTLSConfig returns a client configuration that trusts the test
// certificate.
func ClientTLSConfig() *tls.Config { return testcert.ClientConfig() }

// Start listens on a loopback port and serves t there in mode, in a new
// goroutine. In a mode with TLS, a nil *tlsConfig (t's TLSConfig field) is
// set to the test certificate first. It panics if the server cannot listen,
// or was started or closed before: a test server is started once.
func (r *Run) Start(name string, t Target, mode Mode, tlsConfig **tls.Config) {
	r.name = name
	if r.done != nil {
		panic(name + ": server already started")
	}
	if r.closed {
		panic(name + ": server already closed")
	}
	if mode != Plain && *tlsConfig == nil {
		*tlsConfig = ServerTLSConfig()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if l, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic(fmt.Sprintf("%s: failed to listen on a loopback port: %v", name, err))
		}
	}
	r.Addr, r.Mode = l.Addr().String(), mode
	r.done = make(chan struct{})
	serve := t.Serve
	if mode == ImplicitTLS {
		serve = t.ServeTLS
	}
	go func() {
		defer close(r.done)
		r.err = serve(l)
	}()
}

// Close closes t, which closes every connection at once, and waits for Serve
// to return. It panics if Serve returned anything but
// sockserver.ErrServerClosed: the server stopped by itself, which is a bug
// the test should see. Closing twice does nothing.
func (r *Run) Close(t Target) {
	r.once.Do(func() {
		r.closed = true
		if r.done == nil {
			return
		}
		t.Close()
		<-r.done
		if !errors.Is(r.err, sockserver.ErrServerClosed) {
			panic(r.name + ": Serve returned before Close: " + r.err.Error())
		}
	})
}
