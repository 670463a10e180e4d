package nntp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// A Server serves NNTP connections, delegating authentication and storage
// to Backend. Its zero value, with Backend set, is ready to use. Fields must
// not be changed after Serve, ServeTLS or ServeConn is called. A Server is
// safe for concurrent use.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":nntp"
	// (port 119), or ":nntps" (port 563) for ListenAndServeTLS.
	Addr string
	// Backend authenticates users and keeps the groups and articles. It is
	// required.
	Backend Backend
	// TLSConfig enables STARTTLS (RFC 4642) and is used by ServeTLS and
	// ListenAndServeTLS.
	TLSConfig *tls.Config
	// InsecureAuth allows AUTHINFO on connections that are not encrypted.
	// Without it AUTHINFO is refused with 483 (RFC 4643 §2.2) and not
	// advertised until STARTTLS. A server listening on loopback only may
	// set it, as it would for the mail protocols.
	InsecureAuth bool
	// AllowAnonymousPost lets clients that have not logged in use POST and
	// IHAVE; the greeting is then 200 (posting allowed). Without it the
	// greeting is 201 and posting needs AUTHINFO first (480 until then).
	// A server listening on loopback only may set it, as mail servers
	// accept mail from anyone there.
	AllowAnonymousPost bool
	// Hostname is the name of the server in the Path and Xref fields and
	// in the message-ids it makes. "" means the host name of the system,
	// or "localhost" if it has none that fits.
	Hostname string
	// MaxArticleBytes is the largest article POST and IHAVE accept,
	// measured on the wire (dot-stuffed, without the terminating line).
	// Zero means DefaultMaxArticleBytes; a larger article is read to its
	// end and refused with 441 (437 for IHAVE).
	MaxArticleBytes int64

	// Limits are the timeouts and limits of every connection. For each
	// field, zero means the default: DefaultIdleTimeout (30 minutes) for
	// IdleTimeout, lineproto's Default constant named after the field for
	// the others. A negative value means none. CommandTimeout also bounds
	// each pause of a client sending an article. A client over a limit gets
	// a 400 reply before the connection is closed.
	lineproto.Limits
	// AuthLimiter counts failed logins per client address and per account
	// across connections, and makes further attempts wait. Nil means one
	// of the server's own, lineproto.NewAuthLimiter(AuthFailureDelay);
	// servers that share one count together.
	AuthLimiter *lineproto.AuthLimiter

	// Logger receives connection errors, refused input (escaped) and
	// backend errors. Nil means slog.Default().
	Logger *slog.Logger
	// DebugWriter, if non-nil, receives a copy of every octet read and
	// written on every connection, after TLS decryption. It includes
	// passwords. Writes to it are serialised.
	DebugWriter io.Writer

	// Faults, if not nil, are faults to inject on demand, from the rules
	// for service "nntp": at "connect" (in place of the greeting: a refusal
	// is "502"), at "login" (a successful AUTHINFO, before its 281), at any
	// command, and for POST and IHAVE at the end of the article, before it
	// is stored (disk-full and store-error: "441" to POST, "436" to IHAVE).
	Faults *fault.Set

	mu   sync.Mutex
	cfg  *lineproto.Config
	ss   *sockserver.Server
	host string
}

// setup returns what the connections of s share and the sockserver.Server
// that runs s, made on first use from s's fields.
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
			Service:     "nntp",
		}.Setup(lineproto.Limits{IdleTimeout: DefaultIdleTimeout})
		s.ss = s.cfg.Limits.SockServer(sockserver.HandlerFunc(s.ServeConn),
			lineproto.Busy("400 too many connections, try again later", "400 server shutting down"), s.logger())
		s.host = s.Hostname
		if s.host == "" {
			s.host = systemHost()
		}
	}
	return s.cfg, s.ss
}

// systemHost returns the host name for Path and Xref: the system's, if it
// is a plain name, else "localhost".
func systemHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsFunc(h, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.')
	}) {
		return "localhost"
	}
	return h
}

func (s *Server) sock() *sockserver.Server {
	_, ss := s.setup()
	return ss
}

// goodbye returns the last line the server sends when it ends a session on
// its own (RFC 3977 §3.2.1: 400 when the service is being discontinued).
func goodbye(r lineproto.Reason) string {
	switch r {
	case lineproto.ReasonShutdown:
		return "400 server shutting down"
	case lineproto.ReasonIdleTimeout:
		return "400 idle timeout, closing connection"
	case lineproto.ReasonCommandTimeout:
		return "400 command timeout, closing connection"
	case lineproto.ReasonTooManyErrors:
		return "400 too many errors, closing connection"
	case lineproto.ReasonTooManyAuthFailures:
		return "400 too many failed logins, closing connection"
	}
	return ""
}

// ListenAndServe listens on s.Addr and serves NNTP until Shutdown or Close.
// It always returns a non-nil error: ErrServerClosed after Shutdown or Close.
func (s *Server) ListenAndServe() error {
	return lineproto.ListenAndServe(s.Addr, ":nntp", s.Serve)
}

// ListenAndServeTLS listens on s.Addr and serves NNTP over implicit TLS
// (NNTPS, port 563, RFC 8143) until Shutdown or Close, with s.TLSConfig,
// which must be set. It always returns a non-nil error: ErrServerClosed
// after Shutdown or Close.
func (s *Server) ListenAndServeTLS() error {
	if s.TLSConfig == nil {
		return lineproto.ErrNoTLSConfig
	}
	return lineproto.ListenAndServe(s.Addr, ":nntps", s.ServeTLS)
}

// Serve accepts connections on l and serves NNTP on each in a new
// goroutine, with the limits and timeouts of s. Serve closes l when it
// returns. It always returns a non-nil error: ErrServerClosed after
// Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	if s.Backend == nil {
		l.Close()
		return errors.New("nntp: Server.Backend is nil")
	}
	return s.sock().Serve(l)
}

// ServeTLS is Serve for implicit TLS (NNTPS, RFC 8143): each connection
// starts with a TLS handshake, with s.TLSConfig, which must be set. The
// handshake must end within CommandTimeout. STARTTLS is not offered on
// these connections.
func (s *Server) ServeTLS(l net.Listener) error {
	return lineproto.ServeTLS(l, s.TLSConfig, s.Serve)
}

// Shutdown shuts the server down gracefully: it stops accepting, sends
// "400 server shutting down" to every connection waiting for a command and
// closes it, and waits for the connections in the middle of a command (an
// article being posted) to finish it. If ctx expires first, Shutdown
// closes the remaining connections, as Close does, and returns ctx.Err().
// The Server cannot be reused.
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
