package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/internal/imapwire"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// Defaults for the zero values of [Server] fields. The defaults of the
// other limits are lineproto's.
const (
	// DefaultIdleTimeout bounds the wait for a command, and IDLE: RFC 9051
	// §5.4 asks for an inactivity autologout timer of at least 30 minutes.
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultLiteralReadTimeout bounds the reception of one APPEND message
	// or CATENATE part, whatever its size.
	DefaultLiteralReadTimeout = 5 * time.Minute
	// DefaultMaxLineBytes bounds each line of a command (the text between
	// two literals), as Dovecot's imap_max_line_length does; RFC 7162 §4
	// asks for at least 8192 octets.
	DefaultMaxLineBytes = imapwire.DefaultMaxLineBytes
	// DefaultMaxLiteralBytes bounds an APPEND message (APPENDLIMIT, RFC
	// 7889).
	DefaultMaxLiteralBytes = imapwire.DefaultMaxMessageBytes
)

// A Server serves IMAP connections, delegating storage to Backend. Its zero
// value, with Backend set, is ready to use. Fields must not be changed after
// Serve, ServeTLS or ServeConn is called. A Server is safe for concurrent
// use.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":143", or
	// ":993" for ListenAndServeTLS.
	Addr string
	// Backend authenticates users and holds their mailboxes. It is
	// required.
	Backend Backend
	// TLSConfig enables STARTTLS (RFC 9051 §6.2.1) and is used by ServeTLS
	// and ListenAndServeTLS.
	TLSConfig *tls.Config
	// InsecureAuth allows LOGIN and AUTHENTICATE without TLS. When false and
	// the connection is not TLS, the server advertises LOGINDISABLED and
	// answers LOGIN and AUTHENTICATE with "NO [PRIVACYREQUIRED]" (RFC 9051
	// §6.2.3, RFC 5530 §3).
	InsecureAuth bool

	// LiteralReadTimeout bounds the reception of one APPEND message or
	// CATENATE part; a client that stalls is sent "* BYE" and nothing is
	// appended. Zero or a negative value means DefaultLiteralReadTimeout.
	LiteralReadTimeout time.Duration
	// MaxLineBytes bounds each line of a command, CRLF included; a longer
	// line gets "* BYE [TOOBIG]" and the connection is closed, since what
	// follows cannot be told apart from commands. Zero or a negative value
	// means DefaultMaxLineBytes. The read buffer of a connection grows to
	// this size only while a line needs it.
	MaxLineBytes int
	// MaxLiteralBytes bounds an APPEND message (advertised as APPENDLIMIT,
	// RFC 7889): a larger one gets "NO [TOOBIG]". Zero or a negative value
	// means DefaultMaxLiteralBytes.
	MaxLiteralBytes int64

	// Limits are the timeouts and limits of every connection: zero means
	// the default (lineproto's, and DefaultIdleTimeout, 30 minutes, RFC 9051
	// §5.4, for IdleTimeout), a negative value means none. CommandTimeout
	// bounds each command from its first octet to its last line (an APPEND
	// message has LiteralReadTimeout instead), and the TLS handshake. A
	// client over a limit gets "* BYE" before the connection is closed.
	lineproto.Limits
	// AuthLimiter counts failed logins per client address and per account
	// across connections, and makes further attempts wait before their
	// credentials are checked. Nil means one of the server's own,
	// lineproto.NewAuthLimiter(AuthFailureDelay); servers that share one
	// (SMTP, POP3 and IMAP over one store) count together.
	AuthLimiter *lineproto.AuthLimiter

	// Logger receives connection errors, rejected input and backend
	// errors. Nil means slog.Default().
	Logger *slog.Logger
	// DebugWriter, if non-nil, receives a copy of every octet read and
	// written on every connection, after TLS decryption (and before
	// COMPRESS), passwords included. Writes to it are serialised.
	DebugWriter io.Writer

	// Faults, if not nil, are faults to inject on demand, from the rules
	// for service "imap": at "connect" (in place of the greeting: a
	// refusal is "* BYE"), at "login" (a successful LOGIN or AUTHENTICATE,
	// before its OK: "NO [UNAVAILABLE] ..." refuses it), and at any
	// command, named without UID ("FETCH" is also UID FETCH): a tagged
	// reply ("NO [UNAVAILABLE] try later"; the server adds the tag), an
	// untagged "* BYE" and the close, a close, reset, hang or delay;
	// disk-full ("NO [OVERQUOTA]") and store-error ("NO [UNAVAILABLE]")
	// at APPEND.
	Faults *fault.Set

	// Compress offers COMPRESS=DEFLATE (RFC 4978). It is off by default:
	// Go's compress/flate returns what it decoded only at an empty stored
	// block (a sync flush) or when its window fills, so a client that ends
	// each command with a partial flush, as zlib-based clients such as
	// mbsync do, would wait for a reply forever.
	Compress bool

	mu  sync.Mutex
	cfg *lineproto.Config
	ss  *sockserver.Server
}

// setup returns what the connections of s share and the sockserver.Server
// that runs s, made on first use from s's fields, with the limits resolved
// once.
func (s *Server) setup() (*lineproto.Config, *sockserver.Server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		s.cfg = lineproto.Config{
			Limits:          s.Limits,
			TLSConfig:       s.TLSConfig,
			Logger:          s.logger(),
			DebugWriter:     s.DebugWriter,
			Goodbye:         goodbye,
			AuthLimiter:     s.AuthLimiter,
			ReadBufferBytes: s.maxLineBytes(),
			Faults:          s.Faults,
			Service:         "imap",
			FaultReply:      faultReply,
		}.Setup(lineproto.Limits{IdleTimeout: DefaultIdleTimeout})
		s.ss = s.cfg.Limits.SockServer(sockserver.HandlerFunc(s.ServeConn),
			lineproto.Busy("* BYE [UNAVAILABLE] Too many connections", "* BYE "+byeText(lineproto.ReasonShutdown)), s.logger())
	}
	return s.cfg, s.ss
}

func (s *Server) sock() *sockserver.Server {
	_, ss := s.setup()
	return ss
}

// goodbye returns the "* BYE" with which the server ends a session on its
// own for r (RFC 9051 §7.1.5), or "" to close it without one.
func goodbye(r lineproto.Reason) string {
	if t := byeText(r); t != "" {
		return "* BYE " + t
	}
	return ""
}

// byeText returns the text of the "* BYE" for r, or "".
func byeText(r lineproto.Reason) string {
	switch r {
	case lineproto.ReasonShutdown:
		return "[UNAVAILABLE] Server shutting down"
	case lineproto.ReasonIdleTimeout:
		return "Autologout; idle for too long"
	case lineproto.ReasonCommandTimeout:
		return "Timed out waiting for the rest of the command"
	case lineproto.ReasonLineTooLong:
		return "[TOOBIG] Command too long"
	case lineproto.ReasonTooManyErrors:
		return "Too many errors"
	case lineproto.ReasonTooManyAuthFailures:
		return "Too many authentication failures"
	}
	return ""
}

// faultReply is the reply, without its tag, to an APPEND that a fault fails.
func faultReply(k fault.Kind) string {
	if k == fault.KindDiskFull {
		return "NO [OVERQUOTA] Insufficient storage"
	}
	return "NO [UNAVAILABLE] Try again later"
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) maxLineBytes() int {
	if s.MaxLineBytes <= 0 {
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
// implicit-TLS connections (RFC 8314) with s.TLSConfig, which must be set,
// until Shutdown or Close. It always returns a non-nil error.
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
	return s.sock().Serve(l)
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
	return s.sock().Shutdown(ctx)
}

// Close closes the listeners and every connection immediately, and waits for
// their goroutines to return. For a graceful shutdown use Shutdown.
func (s *Server) Close() error {
	return s.sock().Close()
}

// Stats returns the counters of the connections served by Serve and
// ServeTLS.
func (s *Server) Stats() sockserver.Stats {
	return s.sock().Stats()
}

// authLimiter returns the AuthLimiter the connections of s share.
func (s *Server) authLimiter() *lineproto.AuthLimiter {
	cfg, _ := s.setup()
	return cfg.AuthLimiter
}
