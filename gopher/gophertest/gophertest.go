// Package gophertest runs a Gopher server in process, for tests, as
// net/http/httptest does for HTTP: [NewServer] serves a [gopher.Handler] on
// a loopback port, and [NewRecorder] records what a handler writes without
// a network.
package gophertest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/inetkit/inetkit/gopher"
	"github.com/inetkit/inetkit/internal/testserver"
	"github.com/inetkit/inetkit/lineproto"
)

// A Server is a Gopher server listening on a loopback port, for tests.
// Close may be called from any goroutine, but not while Start runs.
type Server struct {
	// Addr is the host:port of the listener. Start sets it.
	Addr string
	// URL is the gopher URL of the root menu, "gopher://127.0.0.1:port".
	// Start sets it.
	URL string
	// Config is the server. It may be changed before Start is called.
	Config *gopher.Server

	run testserver.Run
}

// NewServer starts and returns a new Server serving h. The caller should
// call Close when finished, to shut it down.
func NewServer(h gopher.Handler) *Server {
	s := NewUnstartedServer(h)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server serving h but doesn't start it.
// Its Config has a request timeout (IdleTimeout) and WriteTimeout of 10
// seconds and a Logger that writes errors only, to standard error.
//
// After changing its configuration, the caller should call Start. The
// caller should call Close when finished, to shut it down.
func NewUnstartedServer(h gopher.Handler) *Server {
	return &Server{Config: &gopher.Server{
		Handler: h,
		Limits: lineproto.Limits{
			IdleTimeout:  10 * time.Second,
			WriteTimeout: 10 * time.Second,
		},
		Logger: testserver.Logger(),
	}}
}

// Start starts a server from NewUnstartedServer. It panics if the server
// cannot listen, or was started or closed before.
func (s *Server) Start() {
	s.run.Start("gophertest", target{s.Config}, testserver.Plain, new(*tls.Config))
	s.Addr = s.run.Addr
	s.URL = "gopher://" + s.Addr
}

// Close shuts down the server with Config.Close, which closes every
// connection, and waits for Serve to return. It panics if Serve returned
// anything but gopher.ErrServerClosed: the server stopped by itself.
// Closing a server that was closed before, or never started, does nothing.
func (s *Server) Close() {
	s.run.Close(target{s.Config})
}

// Client returns a client for the server, with a timeout of 10 seconds.
func (s *Server) Client() *gopher.Client {
	return &gopher.Client{Timeout: 10 * time.Second}
}

// URLFor returns the gopher URL of the item of type t and selector sel on
// the server.
func (s *Server) URLFor(t gopher.Type, sel string) string {
	return (&gopher.URL{Host: s.Addr, Type: t, Selector: sel}).String()
}

// target adapts a gopher.Server to testserver.Target: Gopher has no TLS
// here, and ServeTLS is never called.
type target struct{ *gopher.Server }

func (t target) ServeTLS(l net.Listener) error {
	l.Close()
	return errors.New("gophertest: no TLS")
}

// A ResponseRecorder is a gopher.ResponseWriter that records what a handler
// writes, for tests of handlers without a network.
type ResponseRecorder struct {
	// Body is what the handler wrote.
	Body bytes.Buffer
	// Flushed reports whether the handler called Flush.
	Flushed bool
}

// NewRecorder returns a new ResponseRecorder.
func NewRecorder() *ResponseRecorder { return new(ResponseRecorder) }

// Write implements gopher.ResponseWriter.
func (r *ResponseRecorder) Write(p []byte) (int, error) { return r.Body.Write(p) }

// WriteString implements gopher.ResponseWriter.
func (r *ResponseRecorder) WriteString(s string) (int, error) { return r.Body.WriteString(s) }

// Flush implements gopher.ResponseWriter.
func (r *ResponseRecorder) Flush() error {
	r.Flushed = true
	return nil
}

// NewRequest returns a request for selector (a TAB separates a search
// string), as a client connected to 127.0.0.1:70 sends it, for handler
// tests with a ResponseRecorder.
func NewRequest(selector string) *gopher.Request {
	return gopher.NewRequest(selector, "127.0.0.1", gopher.DefaultPort)
}
