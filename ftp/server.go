package ftp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

const (
	// DefaultIdleTimeout is how long the server waits for a command before
	// it sends "421 Timeout." and closes the control connection: 5 minutes,
	// as vsftpd's idle_session_timeout (RFC 959 §5.4 leaves it to the
	// server).
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultDataTimeout is how long a data connection may move nothing
	// before it is closed with "426", and how long a passive listener waits
	// for its connection: 5 minutes, as vsftpd's data_connection_timeout.
	DefaultDataTimeout = 5 * time.Minute
	// MaxLineBytes is the longest command line the server accepts, CRLF
	// included. RFC 959 sets no limit; UTF-8 path names (RFC 2640) can be
	// long, so it is larger than the 512 octets of most servers.
	MaxLineBytes = 4096
)

// A Server serves FTP: the control connection (RFC 959) and its data
// connections, with a file tree per login from Backend. Its zero value,
// with Backend set, is ready to use. Fields must not be changed after
// Serve, ServeTLS or ServeConn is called. A Server is safe for concurrent
// use.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":ftp"
	// (port 21), or ":ftps" (port 990) for ListenAndServeTLS.
	Addr string
	// Backend authenticates users and gives their file trees. It is
	// required.
	Backend Backend
	// TLSConfig enables AUTH TLS, PBSZ and PROT (RFC 4217) and is used by
	// ServeTLS and ListenAndServeTLS (implicit FTPS). With PROT P, data
	// connections are TLS too, as the server, with the same configuration.
	TLSConfig *tls.Config
	// InsecureAuth allows non-anonymous USER/PASS on a control connection
	// that is not encrypted. Without it such a USER is refused with "530"
	// until AUTH TLS (RFC 4217 §9, vsftpd's force_local_logins_ssl).
	// Anonymous logins (RFC 1635) are always allowed: they send no secret.
	InsecureAuth bool
	// PassivePorts are the ports PASV and EPSV listen on, chosen at random
	// within the range. The zero value means any port the kernel chooses.
	PassivePorts PortRange
	// PublicHost is the IPv4 address, or a host name resolved when the
	// server starts, that PASV announces (a server behind NAT). "" means
	// the local address of the control connection. EPSV (RFC 2428 §3)
	// announces no address and needs none.
	PublicHost string
	// DataTimeout is how long a data connection may move nothing before
	// it is closed and the transfer answered "426", and how long a passive
	// listener waits for the client to connect before it is closed. Zero
	// means DefaultDataTimeout; negative means none.
	DataTimeout time.Duration

	// Limits are the timeouts and limits of every control connection. For
	// each field, zero means the default: DefaultIdleTimeout for
	// IdleTimeout, lineproto's Default constant named after the field for
	// the others. A negative value means none. Over a limit the client gets
	// a "421" reply and the connection is closed; a failed login waits
	// AuthFailureDelay for its "530" and the connection is closed after
	// MaxAuthFailures of them. The idle timeout does not run while a
	// transfer does.
	lineproto.Limits
	// AuthLimiter counts failed logins per client address and per account
	// across connections, and makes further attempts wait before their
	// credentials are checked. Nil means one of the server's own,
	// lineproto.NewAuthLimiter(AuthFailureDelay).
	AuthLimiter *lineproto.AuthLimiter

	// Logger receives connection errors, refused input (escaped), refused
	// data connections and backend errors. Nil means slog.Default().
	Logger *slog.Logger
	// DebugWriter, if non-nil, receives a copy of every octet read and
	// written on every control connection, after TLS decryption. It
	// includes passwords. Writes to it are serialised.
	DebugWriter io.Writer

	// Faults, if not nil, are faults to inject on demand, from the rules
	// for service "ftp": at "connect" (in place of the greeting: a refusal
	// is "421"), at "login" (a successful PASS, before its 230), at any
	// command (disk-full and store-error at STOR, APPE and STOU: "452" and
	// "451"), and at "data", the opening of a data connection: a reply
	// ("425") in place of it, a delay, or the data connection reset or
	// closed after the "150" (then "426").
	Faults *fault.Set

	mu          sync.Mutex
	cfg         *lineproto.Config
	ss          *sockserver.Server
	dataTimeout time.Duration
	publicIP    netip.Addr
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
			ReadBufferBytes: MaxLineBytes,
			Faults:          s.Faults,
			Service:         "ftp",
			FaultReply:      faultReply,
		}.Setup(lineproto.Limits{IdleTimeout: DefaultIdleTimeout})
		s.ss = s.cfg.Limits.SockServer(sockserver.HandlerFunc(s.ServeConn),
			lineproto.Busy("421 Too many connections, try again later.", replyShutdown), s.logger())
		switch {
		case s.DataTimeout == 0:
			s.dataTimeout = DefaultDataTimeout
		case s.DataTimeout > 0:
			s.dataTimeout = s.DataTimeout
		}
		s.publicIP = s.resolvePublicHost()
	}
	return s.cfg, s.ss
}

// resolvePublicHost returns the IPv4 address of PublicHost, or the zero
// Addr (with the failure logged) if there is none.
func (s *Server) resolvePublicHost() netip.Addr {
	if s.PublicHost == "" {
		return netip.Addr{}
	}
	if ip, err := netip.ParseAddr(s.PublicHost); err == nil {
		return ip.Unmap()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", s.PublicHost)
	if err != nil || len(ips) == 0 {
		s.logger().Error("ftp: cannot resolve PublicHost; PASV announces the local address", "host", s.PublicHost, "err", err)
		return netip.Addr{}
	}
	return ips[0].Unmap()
}

func (s *Server) sock() *sockserver.Server {
	_, ss := s.setup()
	return ss
}

const replyShutdown = "421 Service not available, closing control connection."

// goodbye returns the last reply the server sends when it ends a session
// on its own (RFC 959 §4.2: 421 when the service is shutting down). After
// the last failed login allowed the "530" was the last word; an HTTP
// request gets nothing.
func goodbye(r lineproto.Reason) string {
	switch r {
	case lineproto.ReasonShutdown:
		return replyShutdown
	case lineproto.ReasonIdleTimeout:
		return "421 Timeout."
	case lineproto.ReasonCommandTimeout:
		return "421 Command timeout."
	case lineproto.ReasonTooManyErrors:
		return "421 Too many errors, closing control connection."
	case lineproto.ReasonLineTooLong:
		return "500 Command line too long."
	}
	return ""
}

// ListenAndServe listens on s.Addr and serves FTP until Shutdown or Close.
// It always returns a non-nil error: ErrServerClosed after Shutdown or
// Close.
func (s *Server) ListenAndServe() error {
	return lineproto.ListenAndServe(s.Addr, ":ftp", s.Serve)
}

// ListenAndServeTLS listens on s.Addr and serves FTP over implicit TLS
// (FTPS, port 990) until Shutdown or Close, with s.TLSConfig, which must be
// set. It always returns a non-nil error: ErrServerClosed after Shutdown or
// Close.
func (s *Server) ListenAndServeTLS() error {
	if s.TLSConfig == nil {
		return lineproto.ErrNoTLSConfig
	}
	return lineproto.ListenAndServe(s.Addr, ":ftps", s.ServeTLS)
}

// Serve accepts control connections on l and serves FTP on each in a new
// goroutine. Serve closes l when it returns. It always returns a non-nil
// error: ErrServerClosed after Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	if s.Backend == nil {
		l.Close()
		return errors.New("ftp: Server.Backend is nil")
	}
	return s.sock().Serve(l)
}

// ServeTLS is Serve for implicit FTPS: each control connection starts with
// a TLS handshake, with s.TLSConfig, which must be set. The handshake must
// end within CommandTimeout. AUTH TLS is refused on these connections; PBSZ
// and PROT work as after AUTH TLS.
func (s *Server) ServeTLS(l net.Listener) error {
	return lineproto.ServeTLS(l, s.TLSConfig, s.Serve)
}

// Shutdown shuts the server down gracefully: it stops accepting, sends
// "421 Service not available, closing control connection." to every
// connection waiting for a command and closes it, and lets the transfers
// in progress finish (each session is then closed the same way). If ctx
// expires first, Shutdown closes the remaining connections, as Close does,
// and returns ctx.Err(). The Server cannot be reused.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.sock().Shutdown(ctx)
}

// Close closes every listener and control connection at once, with the
// data connections and passive listeners of their sessions, and waits for
// their goroutines to return. For a graceful shutdown use Shutdown.
func (s *Server) Close() error {
	return s.sock().Close()
}

// Stats returns the counters of the control connections served by Serve
// and ServeTLS.
func (s *Server) Stats() sockserver.Stats {
	return s.sock().Stats()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// A PortRange is an inclusive range of TCP ports, Min to Max. Its zero
// value means any port.
type PortRange struct{ Min, Max int }

// ParsePortRange parses "MIN-MAX" (such as "50000-50100") or a single port.
// The empty string gives the zero PortRange. This function doesn't perform
// I/O.
func ParsePortRange(s string) (PortRange, error) {
	if s == "" {
		return PortRange{}, nil
	}
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		hi = lo
	}
	min, err1 := strconv.Atoi(strings.TrimSpace(lo))
	max, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil || min < 1 || max > 65535 || min > max {
		return PortRange{}, fmt.Errorf("ftp: invalid port range %q", s)
	}
	return PortRange{Min: min, Max: max}, nil
}

// String returns the range as ParsePortRange reads it: "MIN-MAX", "PORT"
// for a range of one, or "" for the zero value.
func (r PortRange) String() string {
	switch {
	case r == (PortRange{}):
		return ""
	case r.Min == r.Max:
		return strconv.Itoa(r.Min)
	}
	return strconv.Itoa(r.Min) + "-" + strconv.Itoa(r.Max)
}
