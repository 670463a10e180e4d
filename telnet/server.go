package telnet

import (
	"bytes"
	"context"
	"crypto/tls"
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

// Defaults of the zero values of Server fields.
const (
	// DefaultIdleTimeout is how long a session may wait for input. RFC 854
	// sets none; 15 minutes is the autologout of many consoles.
	DefaultIdleTimeout = 15 * time.Minute
	// DefaultMaxLineBytes caps a line read by a LineReader.
	DefaultMaxLineBytes = 4096
	// DefaultNegotiateTimeout bounds the wait for the client's answers to
	// the server's first requests. A client that does not speak Telnet
	// (nc, a browser) never answers.
	DefaultNegotiateTimeout = time.Second
	// DefaultAYTReply is the server's visible answer to AYT.
	DefaultAYTReply = "\r\n[inetkit: yes]\r\n"
)

// Errors of a server session.
var (
	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = sockserver.ErrServerClosed
	// ErrTooManyErrors is returned by Conn.WriteError and
	// Conn.AuthFailure when the connection reached its limit and was told
	// goodbye: the handler returns.
	ErrTooManyErrors = errors.New("telnet: too many errors")
	// ErrHTTPRequest is returned by a LineReader whose first line is an
	// HTTP request: a browser or proxy on the wrong port. The handler
	// returns; the request is never echoed.
	ErrHTTPRequest = errors.New("telnet: HTTP request on a telnet port")
)

// A Handler serves one Telnet session. The connection is closed when
// ServeTelnet returns; ctx is cancelled when the connection ends or the
// server is closed. When ServeTelnet is called the server's first
// negotiation is done (or timed out): c reports the window size and
// terminal type the client sent so far, and whether it lets the server
// echo (c.LocalEnabled(OptionEcho)).
type Handler interface {
	ServeTelnet(ctx context.Context, c *Conn)
}

// HandlerFunc is an adapter to allow the use of an ordinary function as a
// Handler.
type HandlerFunc func(ctx context.Context, c *Conn)

// ServeTelnet calls f(ctx, c).
func (f HandlerFunc) ServeTelnet(ctx context.Context, c *Conn) { f(ctx, c) }

// A Server serves Telnet sessions with a Handler, on sockserver. Its zero
// value, with Handler set, is ready to use. Fields must not be changed
// after Serve, ServeTLS or ServeConn is called. A Server is safe for
// concurrent use.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":telnet"
	// (port 23), or ":telnets" (port 992) for ListenAndServeTLS.
	Addr string
	// Handler serves each session. It is required.
	Handler Handler
	// TLSConfig is used by ServeTLS and ListenAndServeTLS (Telnet over
	// implicit TLS, port 992).
	TLSConfig *tls.Config
	// Config is the negotiation of every session; Server is forced on.
	// Nil means the defaults of Config, with Offer ECHO and
	// SUPPRESS-GO-AHEAD, Request TERMINAL-TYPE, NAWS and NEW-ENVIRON, and
	// AYTReply DefaultAYTReply.
	Config *Config
	// NegotiateTimeout bounds the wait for the client's answers to the
	// first requests, before the Handler is called. Zero means
	// DefaultNegotiateTimeout; negative, no wait.
	NegotiateTimeout time.Duration
	// MaxLineBytes caps the lines of a LineReader on these sessions; zero
	// means DefaultMaxLineBytes.
	MaxLineBytes int

	// Limits are the timeouts and limits of every connection. For each
	// field, zero means the default: DefaultIdleTimeout for IdleTimeout,
	// lineproto's Default constant named after the field for the others; a
	// negative value means none. The idle timeout bounds every wait for
	// input; the error limits apply to Conn.WriteError and the login
	// limits to Conn.AuthFailure.
	lineproto.Limits

	// Logger receives connection errors and refused input (escaped). Nil
	// means slog.Default().
	Logger *slog.Logger
	// DebugWriter, if non-nil, receives a copy of every octet read and
	// written on every connection, as sent on the wire (commands
	// included), after TLS decryption. Writes to it are serialised.
	DebugWriter io.Writer

	// Faults, if not nil, are faults to inject on demand, from the rules
	// for service "telnet": as a connection opens, it may be closed, reset or
	// left unanswered, or what the server sends delayed, paced or cut
	// short.
	Faults *fault.Set

	mu     sync.Mutex
	limits lineproto.Limits
	debug  io.Writer
	ss     *sockserver.Server
}

// A session is what the Server gives each of its connections.
type session struct {
	ctx     context.Context
	log     *slog.Logger
	counter lineproto.Counter
	maxLine int
	tls     bool
}

func (s *Server) sock() *sockserver.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ss == nil {
		s.limits = s.Limits.Resolve(lineproto.Limits{IdleTimeout: DefaultIdleTimeout})
		if s.DebugWriter != nil {
			s.debug = sockserver.SyncWriter(s.DebugWriter)
		}
		s.ss = s.limits.SockServer(sockserver.HandlerFunc(s.ServeConn),
			lineproto.Busy("[inetkit: too many connections]", "[inetkit: server shutting down]"), s.logger())
		s.ss.Faults, s.ss.FaultService = s.Faults, "telnet"
	}
	return s.ss
}

// goodbye returns what the server sends, on a line of its own, before it
// closes a session for r; "" sends nothing.
func goodbye(r lineproto.Reason) string {
	switch r {
	case lineproto.ReasonShutdown:
		return "\r\n[inetkit: server shutting down]\r\n"
	case lineproto.ReasonIdleTimeout:
		return "\r\n[inetkit: idle timeout]\r\n"
	case lineproto.ReasonLineTooLong:
		return "\r\n[inetkit: line too long]\r\n"
	case lineproto.ReasonTooManyErrors:
		return "\r\n[inetkit: too many errors]\r\n"
	case lineproto.ReasonTooManyAuthFailures:
		return "\r\n[inetkit: too many login failures]\r\n"
	}
	return ""
}

// ListenAndServe listens on s.Addr and serves Telnet until Shutdown or
// Close. It always returns a non-nil error: ErrServerClosed after Shutdown
// or Close.
func (s *Server) ListenAndServe() error {
	return lineproto.ListenAndServe(s.Addr, ":telnet", s.Serve)
}

// ListenAndServeTLS listens on s.Addr and serves Telnet over implicit TLS
// (telnets, port 992) until Shutdown or Close, with s.TLSConfig, which must
// be set.
func (s *Server) ListenAndServeTLS() error {
	if s.TLSConfig == nil {
		return lineproto.ErrNoTLSConfig
	}
	return lineproto.ListenAndServe(s.Addr, ":telnets", s.ServeTLS)
}

// Serve accepts connections on l and serves Telnet on each in a new
// goroutine. Serve closes l when it returns. It always returns a non-nil
// error: ErrServerClosed after Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		l.Close()
		return errors.New("telnet: Server.Handler is nil")
	}
	return s.sock().Serve(l)
}

// ServeTLS is Serve for implicit TLS: each connection starts with a TLS
// handshake, with s.TLSConfig, which must be set, within CommandTimeout.
func (s *Server) ServeTLS(l net.Listener) error {
	return lineproto.ServeTLS(l, s.TLSConfig, s.Serve)
}

// Shutdown shuts the server down gracefully: it stops accepting, tells
// every session waiting for input "[inetkit: server shutting down]" and
// closes it, and waits for the sessions busy with output to finish. If
// ctx expires first, it closes the remaining connections, as Close does,
// and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error { return s.sock().Shutdown(ctx) }

// Close closes every listener and connection at once and waits for their
// goroutines to return.
func (s *Server) Close() error { return s.sock().Close() }

// Stats returns the counters of the connections served.
func (s *Server) Stats() sockserver.Stats { return s.sock().Stats() }

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// config returns the negotiation of a new session.
func (s *Server) config() *Config {
	var cfg Config
	if s.Config != nil {
		cfg = *s.Config
	} else {
		cfg.Offer = []Option{OptionEcho, OptionSGA}
		cfg.Request = []Option{OptionTerminalType, OptionNAWS, OptionNewEnviron}
		cfg.AYTReply = DefaultAYTReply
	}
	cfg.Server = true
	return &cfg
}

// ServeConn serves one Telnet session on nc, an accepted connection: the
// TLS handshake first if nc came from ServeTLS's listener, then the first
// negotiation, then the Handler. It closes nothing: the caller closes nc.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) error {
	s.sock()
	log := s.logger().With("remote", lineproto.RemoteString(nc))
	if lineproto.IsImplicitTLS(nc) {
		tc, err := lineproto.Handshake(ctx, nc, s.TLSConfig, s.limits.CommandTimeout)
		if err != nil {
			log.Debug("telnet: TLS handshake failed", "err", err)
			return nil
		}
		nc = tc
	}
	if s.debug != nil {
		nc = &teeConn{Conn: nc, w: s.debug}
	}
	c := NewConn(nc, s.config())
	maxLine := s.MaxLineBytes
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	c.sess = &session{ctx: ctx, log: log, counter: lineproto.NewCounter(s.limits), maxLine: maxLine, tls: lineproto.IsTLS(nc)}

	wait := s.NegotiateTimeout
	if wait == 0 {
		wait = DefaultNegotiateTimeout
	}
	if wait > 0 {
		nctx, cancel := context.WithTimeout(ctx, wait)
		err := c.Negotiate(nctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, io.EOF) { // after EOF, the data read is still served
			s.end(c, err)
			return nil
		}
	}
	if isHTTP(c.Buffered()) {
		log.Info("telnet: HTTP request on a telnet port, closing", "line", lineproto.Quote(firstLine(c.Buffered())))
		return nil
	}
	s.Handler.ServeTelnet(ctx, c)
	s.end(c, nil)
	return nil
}

// end says the goodbye a session calls for, if any.
func (s *Server) end(c *Conn, err error) {
	c.mu.Lock()
	if err == nil {
		err = c.readFailed
	}
	said := c.saidGoodbye
	c.mu.Unlock()
	if err == nil || said {
		return
	}
	r := lineproto.Classify(err, false)
	if errors.Is(err, lineproto.ErrLineTooLong) {
		r = lineproto.ReasonLineTooLong
	}
	if text := goodbye(r); text != "" {
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		c.Write([]byte(text))
		c.sess.log.Debug("telnet: goodbye", "reason", r.String())
	}
	if r.Linger() {
		sockserver.Linger(c.nc, make([]byte, 4096))
	}
}

// isHTTP reports whether the first line of p is an HTTP request line.
func isHTTP(p []byte) bool {
	return len(p) > 0 && lineproto.IsHTTPRequest(firstLine(p))
}

func firstLine(p []byte) []byte {
	if i := bytes.IndexAny(p, "\r\n"); i >= 0 {
		return p[:i]
	}
	return p
}

// WriteError writes line, an error reply of the handler's console (an
// unknown command), and counts it against the server's error limits: past
// SoftErrorLimit it is sent after ErrorDelay; at HardErrorLimit the server
// says goodbye and WriteError returns ErrTooManyErrors, after which the
// handler returns. On a Conn not served by a Server it only writes line.
func (c *Conn) WriteError(line string) error {
	if _, err := c.Write([]byte(line + "\r\n")); err != nil {
		return err
	}
	if c.sess == nil {
		return nil
	}
	return c.verdict(c.sess.counter.Error())
}

// AuthFailure is WriteError for a failed login: the reply waits
// AuthFailureDelay, and at MaxAuthFailures the server says goodbye and it
// returns ErrTooManyErrors.
func (c *Conn) AuthFailure(line string) error {
	if c.sess == nil {
		_, err := c.Write([]byte(line + "\r\n"))
		return err
	}
	v := c.sess.counter.AuthFailure()
	if err := lineproto.Sleep(c.sess.ctx, v.Delay); err != nil {
		return err
	}
	if _, err := c.Write([]byte(line + "\r\n")); err != nil {
		return err
	}
	return c.verdict(lineproto.Verdict{Close: v.Close})
}

func (c *Conn) verdict(v lineproto.Verdict) error {
	if v.Delay > 0 {
		if err := lineproto.Sleep(c.sess.ctx, v.Delay); err != nil {
			return err
		}
	}
	if v.Close == lineproto.ReasonNone {
		return nil
	}
	c.Write([]byte(goodbye(v.Close)))
	c.mu.Lock()
	c.saidGoodbye = true
	c.mu.Unlock()
	c.sess.log.Info("telnet: closing", "reason", v.Close.String())
	return ErrTooManyErrors
}

// TLS reports whether the connection is encrypted.
func (c *Conn) TLS() bool {
	if c.sess != nil {
		return c.sess.tls
	}
	return lineproto.IsTLS(c.nc)
}

// Width returns the peer's window width, or 80 if it sent none.
func (c *Conn) Width() int {
	w, _, _ := c.WindowSize()
	if w <= 0 {
		return 80
	}
	return w
}

// teeConn copies what is read and written to w.
type teeConn struct {
	net.Conn
	w io.Writer
}

func (t *teeConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 {
		t.w.Write(p[:n])
	}
	return n, err
}

func (t *teeConn) Write(p []byte) (int, error) {
	n, err := t.Conn.Write(p)
	if n > 0 {
		t.w.Write(p[:n])
	}
	return n, err
}

func (t *teeConn) NetConn() net.Conn { return t.Conn }
