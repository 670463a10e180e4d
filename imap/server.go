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

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// Defaults for the zero values of [Server] fields. The defaults of the
// other limits are lineproto's.
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

	// maxBufferedLiteral is the largest literal go-imap reads into memory
	// (checkBufferedLiteral), and RFC 7888's limit for LITERAL-.
	maxBufferedLiteral = 4096
)

// A Server serves IMAP connections, delegating storage to Backend. Its zero
// value, with Backend set, is ready to use. Fields must not be changed after
// Serve, ServeTLS or ServeConn is called. A Server is safe for concurrent
// use.
//
// Each connection is served by go-imap's imapserver behind a guard that reads
// the client's bytes first: it enforces MaxLineBytes and MaxLiteralBytes
// before go-imap allocates anything, bounds every command by CommandTimeout
// and every literal by LiteralReadTimeout, answers ID, performs STARTTLS
// itself (so that the decrypted stream is guarded too) and says "* BYE"
// before closing an idle or misbehaving connection.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":143", or
	// ":993" for ListenAndServeTLS.
	Addr string
	// Backend opens a Session for each connection. It is required.
	Backend Backend
	// TLSConfig enables STARTTLS (RFC 3501 §6.2.1) and is used by ServeTLS
	// and ListenAndServeTLS.
	TLSConfig *tls.Config
	// InsecureAuth allows LOGIN and AUTHENTICATE without TLS. When false and
	// the connection is not TLS, the server advertises LOGINDISABLED and
	// answers LOGIN with "NO [PRIVACYREQUIRED]" (RFC 3501 §6.2.3, RFC 5530
	// §3).
	InsecureAuth bool

	// LiteralReadTimeout bounds the reception of one literal (an APPEND
	// message, say); a client that stalls is sent "* BYE" and nothing is
	// appended. A literal other than an APPEND message is bounded by the
	// command's CommandTimeout too. Zero or a negative value means
	// DefaultLiteralReadTimeout; go-imap allows an APPEND message no more
	// than that either.
	LiteralReadTimeout time.Duration
	// MaxLineBytes bounds one command: the bytes of its lines and of its
	// literals other than the APPEND message. A longer command line gets
	// "* BYE [TOOBIG]" and the connection is closed; a literal that does not
	// fit gets "NO [TOOBIG]". Zero, a negative value or a value above
	// DefaultMaxLineBytes means DefaultMaxLineBytes. Each connection has a
	// buffer of this size.
	MaxLineBytes int
	// MaxLiteralBytes bounds an APPEND message; the session's own
	// AppendLimit, if lower, applies. Zero or a negative value means
	// DefaultMaxLiteralBytes.
	MaxLiteralBytes int64

	// Limits are the timeouts and limits of every connection: zero means
	// the default (lineproto's, and DefaultIdleTimeout, 30 minutes, RFC 3501
	// §5.4, for IdleTimeout), a negative value means none. CommandTimeout
	// bounds each command from its first octet to its last line, before and
	// after login, and the TLS handshake; the DONE that ends IDLE is waited
	// for IdleTimeout. A client over a limit gets the protocol's reply
	// before the connection is closed.
	lineproto.Limits
	// AuthLimiter counts failed logins per client address and per account
	// across connections, and makes further attempts wait before their
	// credentials are checked. Nil means one of the server's own,
	// lineproto.NewAuthLimiter(AuthFailureDelay); servers that share one
	// (SMTP, POP3 and IMAP over one store) count together.
	AuthLimiter *lineproto.AuthLimiter

	// Logger receives connection errors and rejected input. Nil means
	// slog.Default().
	Logger *slog.Logger
	// DebugWriter, if non-nil, receives a copy of the decrypted traffic,
	// passwords included.
	DebugWriter io.Writer

	// Faults, if not nil, are faults to inject on demand, from the rules
	// for service "imap": at "connect" (in place of the greeting: a
	// refusal is "* BYE"), at "login" (a successful LOGIN or AUTHENTICATE,
	// before its OK: "NO [UNAVAILABLE] ..." refuses it), and at any
	// command, named without UID ("FETCH" is also UID FETCH): a tagged
	// reply ("NO [UNAVAILABLE] try later"; the guard adds the tag), an
	// untagged "* BYE" and the close, a close, reset, hang or delay;
	// disk-full ("NO [OVERQUOTA]") and store-error ("NO [UNAVAILABLE]")
	// at APPEND.
	Faults *fault.Set

	once        sync.Once
	limits      lineproto.Limits // Limits, resolved
	authLimiter *lineproto.AuthLimiter
	sock        *sockserver.Server
	plain       *imapserver.Server // connections not (yet) in TLS
	secure      *imapserver.Server // TLS connections: auth allowed, no STARTTLS
	plainL      *chanListener
	secureL     *chanListener
	wg          sync.WaitGroup // imapserver.Serve loops
	closeOnce   sync.Once
}

// caps is what the server advertises; imapserver adds STARTTLS, AUTH=PLAIN or
// LOGINDISABLED, SASL-IR, LITERAL-, IDLE, UNSELECT, ENABLE and APPENDLIMIT
// itself, and the guard adds ID and makes LITERAL+ the one literal
// capability in every state (rewriteCaps).
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

func (s *Server) init() {
	s.once.Do(func() {
		s.limits = s.Limits.Resolve(lineproto.Limits{IdleTimeout: DefaultIdleTimeout})
		s.authLimiter = s.AuthLimiter
		if s.authLimiter == nil {
			s.authLimiter = lineproto.NewAuthLimiter(s.limits.AuthFailureDelay)
		}
		s.sock = s.limits.SockServer(sockserver.HandlerFunc(s.ServeConn),
			lineproto.Busy("* BYE [UNAVAILABLE] Too many connections", "* BYE "+byeText(lineproto.ReasonShutdown)), s.logger())
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

// ListenAndServe listens on s.Addr (":143" if empty) and serves
// connections until Shutdown or Close. It always returns a non-nil error:
// ErrServerClosed after Shutdown or Close.
func (s *Server) ListenAndServe() error {
	return lineproto.ListenAndServe(s.Addr, ":143", s.Serve)
}

// ListenAndServeTLS listens on s.Addr (":993" if empty) and serves
// implicit-TLS connections with s.TLSConfig until Shutdown or Close. It
// always returns a non-nil error.
func (s *Server) ListenAndServeTLS() error {
	if s.TLSConfig == nil {
		return lineproto.ErrNoTLSConfig
	}
	return lineproto.ListenAndServe(s.Addr, ":993", s.ServeTLS)
}

// Serve accepts connections on l and serves each in a new goroutine. Serve
// closes l when it returns. It always returns a non-nil error:
// ErrServerClosed after Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	if s.Backend == nil {
		l.Close()
		return errors.New("imap: Server.Backend is nil")
	}
	s.init()
	return s.sock.Serve(l)
}

// ServeTLS is like Serve, but each connection starts with a TLS handshake
// using s.TLSConfig (implicit TLS, port 993, RFC 8314), which must end within
// CommandTimeout. STARTTLS is not offered on these connections.
func (s *Server) ServeTLS(l net.Listener) error {
	return lineproto.ServeTLS(l, s.TLSConfig, s.Serve)
}

// Shutdown shuts the server down gracefully: it closes the listeners, sends
// "* BYE" to every connection waiting for a command (or in IDLE) and closes
// it, and waits for the connections in the middle of a command to finish it.
// If ctx expires first, Shutdown closes the remaining connections, as Close
// does, and returns ctx.Err(). The Server cannot be reused.
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

// Stats returns the counters of the connections served by Serve and
// ServeTLS.
func (s *Server) Stats() sockserver.Stats {
	s.init()
	return s.sock.Stats()
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

// ServeConn serves IMAP on conn until the client logs out or the connection
// fails, and closes conn. It implements sockserver.Handler: Serve calls it
// for every connection it accepts. Call it directly only for a connection
// accepted some other way (from inetd, or a net.Pipe in a test); such a
// connection gets the timeouts of s but is not counted against the
// connection limits, nor sent "* BYE" by Shutdown (Shutdown and Close close
// it once the connections of Serve have ended). A connection that is a
// *tls.Conn (or wraps one, through a NetConn method) counts as encrypted;
// one from a lineproto.ImplicitTLS listener starts with a TLS handshake,
// with s.TLSConfig. Either handshake must end within CommandTimeout.
//
// When ctx is cancelled the connection is closed. After Shutdown or Close,
// ServeConn closes conn and returns ErrServerClosed.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn) error {
	defer conn.Close()
	if s.Backend == nil {
		return errors.New("imap: Server.Backend is nil")
	}
	s.init()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	inner := conn
	if lineproto.IsImplicitTLS(conn) {
		tc, err := lineproto.Handshake(ctx, conn, s.TLSConfig, s.limits.CommandTimeout)
		if err != nil {
			return err
		}
		inner = tc
	} else if tc := lineproto.TLSConn(conn); tc != nil {
		if d := s.limits.CommandTimeout; d > 0 {
			tc.SetDeadline(time.Now().Add(d))
		}
		err := tc.HandshakeContext(ctx)
		tc.SetDeadline(time.Time{})
		if err != nil {
			return fmt.Errorf("imap: TLS handshake: %w", err)
		}
	}
	if s.injectConnect(ctx, conn, inner) {
		return nil
	}
	g := newConn(ctx, s, conn, inner, nil)
	l := s.plainL
	if g.isTLS {
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
