package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// A Server serves POP3 connections, delegating authentication and storage
// to Backend. Its zero value, with Backend set, is ready to use. Fields must
// not be changed after Serve, ServeTLS or ServeConn is called. A Server is
// safe for concurrent use.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":pop3"
	// (port 110), or ":pop3s" (port 995) for ListenAndServeTLS.
	Addr string
	// Backend authenticates users and opens their maildrops. It is
	// required.
	Backend Backend
	// TLSConfig enables STLS (RFC 2595) and is used by ServeTLS and
	// ListenAndServeTLS.
	TLSConfig *tls.Config
	// InsecureAuth allows USER/PASS and AUTH PLAIN on connections that are
	// not encrypted. Without it they are refused with "-ERR [AUTH]" and not
	// advertised in CAPA until STLS (RFC 2595 §4, Dovecot's
	// disable_plaintext_auth). APOP is always allowed: it does not send the
	// password.
	InsecureAuth bool

	// Limits are the timeouts and limits of every connection. For each
	// field, zero means the default: DefaultIdleTimeout (10 minutes, RFC
	// 1939 §3) for IdleTimeout, lineproto's Default constant named after
	// the field for the others. A negative value means none. A client over
	// a limit gets a "-ERR" reply before the connection is closed; a failed
	// login waits AuthFailureDelay for its reply, or ErrorDelay if that is
	// longer, never both.
	lineproto.Limits
	// AuthLimiter counts failed logins per client address and per account
	// across connections, and makes further attempts wait before their
	// credentials are checked. Nil means one of the server's own,
	// lineproto.NewAuthLimiter(AuthFailureDelay); servers that share one
	// (SMTP, POP3 and IMAP over one store) count together.
	AuthLimiter *lineproto.AuthLimiter

	// Logger receives connection errors, refused input (escaped) and
	// backend errors. Nil means slog.Default().
	Logger *slog.Logger
	// DebugWriter, if non-nil, receives a copy of every octet read and
	// written on every connection, after TLS decryption. It includes
	// passwords. Writes to it are serialised.
	DebugWriter io.Writer

	// Faults, if not nil, are faults to inject on demand, from the rules
	// for service "pop3": at "connect" (in place of the greeting), at
	// "login" (a successful login, before its +OK) and at any command.
	Faults *fault.Set

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
			Limits:      s.Limits,
			TLSConfig:   s.TLSConfig,
			Logger:      s.logger(),
			DebugWriter: s.DebugWriter,
			Goodbye:     goodbye,
			AuthLimiter: s.AuthLimiter,
			Faults:      s.Faults,
			Service:     "pop3",
		}.Setup(lineproto.Limits{IdleTimeout: DefaultIdleTimeout})
		s.ss = s.cfg.Limits.SockServer(sockserver.HandlerFunc(s.ServeConn),
			lineproto.Busy("-ERR [SYS/TEMP] too many connections", "-ERR [SYS/TEMP] server shutting down"), s.logger())
	}
	return s.cfg, s.ss
}

func (s *Server) sock() *sockserver.Server {
	_, ss := s.setup()
	return ss
}

// goodbye returns the last line the server sends when it ends a session on
// its own. A server going away or a client too slow is a temporary
// condition of the server (RFC 3206 §4, SYS/TEMP). After a line too long
// or the last failed login allowed, the -ERR reply to the command was the
// last word; an HTTP request gets nothing.
func goodbye(r lineproto.Reason) string {
	switch r {
	case lineproto.ReasonShutdown:
		return "-ERR [SYS/TEMP] server shutting down"
	case lineproto.ReasonIdleTimeout:
		return "-ERR [SYS/TEMP] idle timeout"
	case lineproto.ReasonCommandTimeout:
		return "-ERR [SYS/TEMP] command timeout"
	case lineproto.ReasonTooManyErrors:
		return "-ERR too many errors, closing connection"
	}
	return ""
}

// ListenAndServe listens on s.Addr and serves POP3 until Shutdown or Close.
// It always returns a non-nil error: ErrServerClosed after Shutdown or Close.
func (s *Server) ListenAndServe() error {
	return lineproto.ListenAndServe(s.Addr, ":pop3", s.Serve)
}

// ListenAndServeTLS listens on s.Addr and serves POP3 over implicit TLS
// (POP3S, RFC 8314) until Shutdown or Close, with s.TLSConfig, which must
// be set. It always returns a non-nil error: ErrServerClosed after Shutdown
// or Close.
func (s *Server) ListenAndServeTLS() error {
	if s.TLSConfig == nil {
		return lineproto.ErrNoTLSConfig
	}
	return lineproto.ListenAndServe(s.Addr, ":pop3s", s.ServeTLS)
}

// Serve accepts connections on l and serves POP3 on each in a new
// goroutine, with the limits and timeouts of s. Serve closes l when it
// returns. It always returns a non-nil error: ErrServerClosed after
// Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	if s.Backend == nil {
		l.Close()
		return errors.New("pop3: Server.Backend is nil")
	}
	return s.sock().Serve(l)
}

// ServeTLS is Serve for implicit TLS (POP3S, RFC 8314): each connection
// starts with a TLS handshake, with s.TLSConfig, which must be set. The
// handshake must end within CommandTimeout. STLS is not offered on these
// connections.
func (s *Server) ServeTLS(l net.Listener) error {
	return lineproto.ServeTLS(l, s.TLSConfig, s.Serve)
}

// Shutdown shuts the server down gracefully: it stops accepting, sends
// "-ERR [SYS/TEMP] server shutting down" to every connection waiting for a
// command and closes it, and waits for the connections in the middle of a
// command to finish it. A session ended this way commits no deletion. If
// ctx expires first, Shutdown closes the remaining connections, as Close
// does, and returns ctx.Err(). The Server cannot be reused.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.sock().Shutdown(ctx)
}

// Close closes every listener and connection at once and waits for their
// goroutines to return. For a graceful shutdown use Shutdown.
func (s *Server) Close() error {
	return s.sock().Close()
}

// Stats returns the counters of the connections served by Serve and
// ServeTLS.
func (s *Server) Stats() sockserver.Stats {
	return s.sock().Stats()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
