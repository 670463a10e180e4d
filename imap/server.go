package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// Defaults for the zero values of [Server] fields.
const (
	// DefaultIdleTimeout bounds the wait for a command, and IDLE: RFC 3501
	// §5.4 asks for an inactivity autologout timer of at least 30 minutes.
	// (Before authentication go-imap allows 30 seconds.)
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultLiteralReadTimeout bounds the reception of one literal, as
	// go-imap's literalReadTimeout does.
	DefaultLiteralReadTimeout = 5 * time.Minute
	// DefaultMaxLineBytes bounds a command: its lines and the literals other
	// than an APPEND message. It is go-imap's own command size limit
	// (maxCommandSize, 50 KiB), above which its parser drops the connection
	// without a reply; RFC 7162 §4 asks for at least 8192 bytes.
	DefaultMaxLineBytes = 50 * 1024
	// DefaultMaxLiteralBytes bounds an APPEND message.
	DefaultMaxLiteralBytes = 64 << 20
	// DefaultAuthFailureDelay delays each failed LOGIN or AUTHENTICATE
	// (Dovecot waits 2 s, mox and vsftpd 1 s).
	DefaultAuthFailureDelay = time.Second
	// DefaultMaxAuthFailures is the number of failed logins after which the
	// connection is closed.
	DefaultMaxAuthFailures = 3
	// DefaultSoftErrorLimit is the number of error replies (BAD or NO to a
	// command) after which each further one is delayed by ErrorDelay
	// (Postfix smtpd_soft_error_limit).
	DefaultSoftErrorLimit = 10
	// DefaultHardErrorLimit is the number of error replies after which the
	// connection is closed (Postfix smtpd_hard_error_limit).
	DefaultHardErrorLimit = 20
	// DefaultErrorDelay is the delay of each error reply past the soft
	// limit (Postfix smtpd_error_sleep_time).
	DefaultErrorDelay = time.Second

	// maxBufferedLiteral is the largest literal go-imap reads into memory
	// (checkBufferedLiteral), and RFC 7888's limit for LITERAL-.
	maxBufferedLiteral = 4096
	// handshakeTimeout bounds a TLS handshake.
	handshakeTimeout = 30 * time.Second
)

// A Server serves IMAP connections, delegating storage to Backend. Its zero
// value, with Backend set, is ready to use. Fields must not be changed after
// Serve is called. A Server is safe for concurrent use.
//
// Each connection is served by go-imap's imapserver behind a guard that reads
// the client's bytes first: it enforces MaxLineBytes and MaxLiteralBytes
// before go-imap allocates anything, answers ID, performs STARTTLS itself (so
// that the decrypted stream is guarded too) and says "* BYE" before closing
// an idle or misbehaving connection.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":143", or
	// ":993" for ListenAndServeTLS.
	Addr string
	// Backend opens a Session for each connection. It is required.
	Backend Backend
	// TLSConfig enables STARTTLS, ListenAndServeTLS and ServeTLS.
	TLSConfig *tls.Config
	// InsecureAuth allows LOGIN and AUTHENTICATE without TLS. When false and
	// the connection is not TLS, the server advertises LOGINDISABLED and
	// answers LOGIN with "NO [PRIVACYREQUIRED]".
	InsecureAuth bool

	// LiteralReadTimeout bounds the reception of one literal (an APPEND
	// message, say); a client that stalls is sent "* BYE" and nothing is
	// appended. Zero means DefaultLiteralReadTimeout.
	LiteralReadTimeout time.Duration
	// MaxLineBytes bounds one command: the bytes of its lines and of its
	// literals other than the APPEND message. A longer command line gets
	// "* BYE [TOOBIG]" and the connection is closed; a literal that does not
	// fit gets "NO [TOOBIG]". Zero, or a value above DefaultMaxLineBytes,
	// means DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxLiteralBytes bounds an APPEND message; the session's own
	// AppendLimit, if lower, applies. Zero means DefaultMaxLiteralBytes.
	MaxLiteralBytes int64

	// Limits are the timeouts and limits of every connection: zero means
	// the default (lineproto's, and DefaultIdleTimeout, 30 minutes, RFC 3501
	// §5.4, for IdleTimeout), a negative value means none. A client over a
	// limit gets the protocol's reply before the connection is closed.
	lineproto.Limits
	// AuthLimiter counts failed logins per client address and per account
	// across connections, and makes further attempts wait. Nil means one of
	// the server's own, lineproto.NewAuthLimiter(AuthFailureDelay); servers
	// that share one (SMTP, POP3 and IMAP over one store) count together.
	AuthLimiter *lineproto.AuthLimiter

	// Logger receives connection errors and rejected input. Nil means
	// slog.Default().
	Logger *slog.Logger
	// DebugWriter, if non-nil, receives a copy of the decrypted traffic,
	// passwords included.
	DebugWriter io.Writer

	once      sync.Once
	sock      *sockserver.Server
	plain     *imapserver.Server // connections not (yet) in TLS
	secure    *imapserver.Server // TLS connections: auth allowed, no STARTTLS
	plainL    *chanListener
	secureL   *chanListener
	wg        sync.WaitGroup // imapserver.Serve loops
	closeOnce sync.Once
}

// caps is what the server advertises; imapserver adds STARTTLS, AUTH=PLAIN or
// LOGINDISABLED, SASL-IR, LITERAL-, IDLE, UNSELECT and ENABLE itself, and
// the guard adds ID.
var caps = imap.CapSet{
	imap.CapIMAP4rev1:   {},
	imap.CapIMAP4rev2:   {},
	imap.CapUIDPlus:     {},
	imap.CapMove:        {},
	imap.CapNamespace:   {},
	imap.CapLiteralPlus: {},
	imap.CapSpecialUse:  {},
	imap.CapChildren:    {},
}

type tlsContextKey struct{}

// tlsListener marks a listener whose connections start with a TLS handshake.
type tlsListener struct{ net.Listener }

func (s *Server) init() {
	s.once.Do(func() {
		s.sock = &sockserver.Server{
			Addr:             s.Addr,
			Handler:          sockserver.HandlerFunc(s.serveConn),
			Logger:           s.logger(),
			IdleTimeout:      s.IdleTimeout,
			WriteTimeout:     s.WriteTimeout,
			MaxConns:         s.MaxConns,
			MaxConnsPerIP:    s.MaxConnsPerIP,
			MaxConnRatePerIP: s.MaxConnRatePerIP,
			Reject:           reject,
			BaseContext: func(l net.Listener) context.Context {
				if _, ok := l.(tlsListener); ok {
					return context.WithValue(context.Background(), tlsContextKey{}, true)
				}
				return context.Background()
			},
		}
		if s.IdleTimeout == 0 {
			s.sock.IdleTimeout = DefaultIdleTimeout
		}
		logger := imapLogger{s.logger()}
		s.plain = imapserver.New(&imapserver.Options{
			NewSession:   s.newSession,
			Caps:         caps,
			Logger:       logger,
			TLSConfig:    s.TLSConfig,
			InsecureAuth: s.InsecureAuth,
			DebugWriter:  s.DebugWriter,
		})
		s.secure = imapserver.New(&imapserver.Options{
			NewSession:   s.newSession,
			Caps:         caps,
			Logger:       logger,
			InsecureAuth: true, // the guard did the TLS
			DebugWriter:  s.DebugWriter,
		})
		s.plainL = newChanListener()
		s.secureL = newChanListener()
		s.wg.Go(func() { s.plain.Serve(s.plainL) })
		s.wg.Go(func() { s.secure.Serve(s.secureL) })
	})
}

func reject(c net.Conn, err error) {
	if errors.Is(err, sockserver.ErrServerClosed) {
		io.WriteString(c, "* BYE [UNAVAILABLE] Server shutting down\r\n")
		return
	}
	io.WriteString(c, "* BYE [UNAVAILABLE] Too many connections\r\n")
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) maxLineBytes() int {
	if s.MaxLineBytes <= 0 || s.MaxLineBytes > DefaultMaxLineBytes {
		return DefaultMaxLineBytes
	}
	return s.MaxLineBytes
}

func (s *Server) maxLiteralBytes() int64 {
	if s.MaxLiteralBytes <= 0 {
		return DefaultMaxLiteralBytes
	}
	return s.MaxLiteralBytes
}

func (s *Server) literalReadTimeout() time.Duration {
	if s.LiteralReadTimeout <= 0 {
		return DefaultLiteralReadTimeout
	}
	return s.LiteralReadTimeout
}

func (s *Server) authFailureDelay() time.Duration {
	switch {
	case s.AuthFailureDelay == 0:
		return DefaultAuthFailureDelay
	case s.AuthFailureDelay < 0:
		return 0
	}
	return s.AuthFailureDelay
}

func (s *Server) maxAuthFailures() int {
	if s.MaxAuthFailures == 0 {
		return DefaultMaxAuthFailures
	}
	return s.MaxAuthFailures
}

func (s *Server) softErrorLimit() int { return limitOr(s.SoftErrorLimit, DefaultSoftErrorLimit) }
func (s *Server) hardErrorLimit() int { return limitOr(s.HardErrorLimit, DefaultHardErrorLimit) }

func (s *Server) errorDelay() time.Duration {
	switch {
	case s.ErrorDelay == 0:
		return DefaultErrorDelay
	case s.ErrorDelay < 0:
		return 0
	}
	return s.ErrorDelay
}

// limitOr returns n, def if n is zero, or 0 (none) if n is negative.
func limitOr(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// ListenAndServe listens on s.Addr (":143" if empty) and serves
// connections until Shutdown or Close. It always returns a non-nil error:
// ErrServerClosed after Shutdown or Close.
func (s *Server) ListenAndServe() error {
	l, err := listen(s.Addr, ":143")
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// ListenAndServeTLS listens on s.Addr (":993" if empty) and serves
// implicit-TLS connections with s.TLSConfig until Shutdown or Close. It
// always returns a non-nil error.
func (s *Server) ListenAndServeTLS() error {
	if s.TLSConfig == nil {
		return errors.New("imap: ListenAndServeTLS needs Server.TLSConfig")
	}
	l, err := listen(s.Addr, ":993")
	if err != nil {
		return err
	}
	return s.ServeTLS(l)
}

func listen(addr, def string) (net.Listener, error) {
	if addr == "" {
		addr = def
	}
	lc := net.ListenConfig{KeepAlive: -1} // idle timeouts end dead connections
	return lc.Listen(context.Background(), "tcp", addr)
}

// Serve accepts connections on l and serves each in a new goroutine. Serve
// closes l when it returns. It always returns a non-nil error:
// ErrServerClosed after Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	if s.Backend == nil {
		return errors.New("imap: Server.Backend is nil")
	}
	s.init()
	return s.sock.Serve(l)
}

// ServeTLS is like Serve, but each connection starts with a TLS handshake
// using s.TLSConfig (implicit TLS, port 993).
func (s *Server) ServeTLS(l net.Listener) error {
	if s.TLSConfig == nil {
		return errors.New("imap: ServeTLS needs Server.TLSConfig")
	}
	if s.Backend == nil {
		return errors.New("imap: Server.Backend is nil")
	}
	s.init()
	return s.sock.Serve(tlsListener{l})
}

// Shutdown shuts the server down gracefully: it closes the listeners, sends
// "* BYE" to every connection waiting for a command (or in IDLE) and closes
// it, and waits for the connections in the middle of a command to finish it.
// If ctx expires first, Shutdown closes the remaining connections, as Close
// does, and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	err := s.sock.Shutdown(ctx)
	s.stop()
	return err
}

// Close closes the listeners and every connection immediately, and waits for
// their sessions to be closed.
func (s *Server) Close() error {
	s.init()
	err := s.sock.Close()
	s.stop()
	return err
}

// stop ends the imapserver accept loops once every connection has ended.
func (s *Server) stop() {
	s.closeOnce.Do(func() {
		s.plainL.Close()
		s.secureL.Close()
		s.wg.Wait()
		s.plain.Close()
		s.secure.Close()
	})
}

// serveConn is the sockserver handler: it hands the connection, behind its
// guard, to the imapserver for plaintext or for TLS connections, and waits
// until imapserver is done with it (and with its STARTTLS successor).
func (s *Server) serveConn(ctx context.Context, nc net.Conn) error {
	inner := nc
	isTLS := ctx.Value(tlsContextKey{}) != nil
	if isTLS {
		tc := tls.Server(nc, s.TLSConfig)
		hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return fmt.Errorf("imap: TLS handshake: %w", err)
		}
		inner = tc
	}
	g := newConn(ctx, s, nc, inner, isTLS, false)
	l := s.plainL
	if isTLS {
		l = s.secureL
	}
	if !l.deliver(ctx, g) {
		return ErrServerClosed
	}
	for c := g; c != nil; c = c.next {
		<-c.done
	}
	return nil
}

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	g, ok := c.NetConn().(*conn)
	if !ok {
		return nil, nil, errors.New("imap: connection without guard")
	}
	inner, err := s.Backend.NewSession(c)
	if err != nil {
		return nil, nil, err
	}
	sess := &session{Session: inner, g: g}
	g.sess = sess
	return sess, nil, nil
}

// imapLogger adapts go-imap's Printf logging to slog.
type imapLogger struct{ l *slog.Logger }

func (l imapLogger) Printf(format string, args ...any) {
	l.l.Info("imapserver: "+fmt.Sprintf(format, args...), "source", "imapserver")
}

// chanListener is a net.Listener whose connections are handed to it by
// serveConn: imapserver's accept loop serves them, sockserver's accepted
// them.
type chanListener struct {
	ch        chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) deliver(ctx context.Context, c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	case <-ctx.Done():
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return chanAddr{} }

type chanAddr struct{}

func (chanAddr) Network() string { return "imap" }
func (chanAddr) String() string  { return "imap" }
