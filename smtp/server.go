package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// A Server accepts mail over SMTP and hands it to Backend. Its zero value,
// with Backend set, is ready to use. Fields must not be changed after
// Serve, ServeTLS or ServeConn is called. A Server is safe for concurrent
// use.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":smtp"
	// (port 25), or ":smtps" (port 465) for ListenAndServeTLS.
	Addr string
	// Domain is the host name in the greeting and in Received fields;
	// "" means os.Hostname().
	Domain string
	// Backend checks logins and recipients and stores messages. It is
	// required.
	Backend Backend
	// TLSConfig, if non-nil, enables STARTTLS (RFC 3207); ServeTLS and
	// ListenAndServeTLS require it.
	TLSConfig *tls.Config
	// InsecureAuth allows AUTH on connections without TLS. Otherwise AUTH
	// is neither advertised nor accepted there (538 5.7.11, RFC 4954 §4).
	InsecureAuth bool
	// StrictLineEndings refuses messages holding a bare CR, a bare LF or a
	// NUL with 550 5.5.2, as RFC 5321 §2.3.8 allows, so that no receiver
	// downstream can read such a message differently. When false they are
	// stored as sent. Either way only CRLF.CRLF ends DATA.
	StrictLineEndings bool

	// MaxMessageBytes limits the size of a message (552 5.3.4, advertised
	// with SIZE, RFC 1870); zero means DefaultMaxMessageBytes and a
	// negative value no limit.
	MaxMessageBytes int64
	// MaxRecipients limits RCPT commands per transaction (452 4.5.3);
	// zero means DefaultMaxRecipients and a negative value no limit.
	MaxRecipients int
	// MaxLineBytes limits a command line, CRLF included: a longer one gets
	// "500 5.5.2 Line too long" and the connection is closed, without
	// waiting for the end of the line. Zero means DefaultMaxLineBytes; it
	// cannot exceed 64 KiB, and a larger or negative value means that.
	// The text lines of a message are not capped one by one: DATA is read
	// as a stream, whatever its lines, and MaxMessageBytes bounds them
	// (RFC 5321 §4.5.3.1.6 sets 1000 octets as the least a server takes,
	// and §4.5.3.1 asks for no limit where possible).
	MaxLineBytes int

	// Limits are the timeouts and limits of every connection: zero means
	// the default (lineproto's, and DefaultIdleTimeout for IdleTimeout), a
	// negative value means none. A client over a limit gets a reply before
	// the connection is closed: "421 4.4.2" after IdleTimeout or
	// CommandTimeout, "421 4.7.0" after HardErrorLimit error replies or
	// MaxAuthFailures failed AUTH commands, and "421 4.7.0" if it connects
	// beyond MaxConns or MaxConnsPerIP. Every 4xx or 5xx reply counts as an
	// error; a failed AUTH waits the longer of AuthFailureDelay and
	// ErrorDelay.
	lineproto.Limits
	// AuthLimiter counts failed logins per client address and per account
	// across connections, and makes further attempts wait. Nil means one of
	// the server's own, lineproto.NewAuthLimiter(AuthFailureDelay); servers
	// that share one (SMTP, POP3 and IMAP over one store) count together.
	AuthLimiter *lineproto.AuthLimiter

	// Logger receives connection errors, refused input (escaped) and
	// backend errors. Nil means slog.Default().
	Logger *slog.Logger
	// DebugWriter, if non-nil, receives a copy of every octet read and
	// written on every connection, after TLS decryption. It includes
	// passwords. Writes to it are serialised.
	DebugWriter io.Writer

	// Faults, if not nil, are faults to inject on demand, from the rules
	// for service "smtp": at "connect" (in place of the greeting), at
	// "login" (a successful AUTH, before its 235), at any command (RCPT
	// rules may name the recipient), and at "DATA": the end of a message,
	// sent by DATA or BDAT, before it is delivered. disk-full is answered
	// with "452 4.3.1", store-error with "451 4.3.0".
	Faults *fault.Set

	setupOnce       sync.Once
	domain          string
	maxLine         int
	maxMessageBytes int64
	maxRecipients   int
	authLimiter     *lineproto.AuthLimiter
	conf            lineproto.Config
	ss              *sockserver.Server
}

// setup resolves the fields of s into what its connections use, once.
func (s *Server) setup() {
	s.setupOnce.Do(func() {
		s.domain = s.Domain
		if s.domain == "" {
			s.domain, _ = os.Hostname()
			if s.domain == "" {
				s.domain = "localhost"
			}
		}
		s.maxLine = maxLineCap
		if s.MaxLineBytes == 0 {
			s.maxLine = DefaultMaxLineBytes
		} else if s.MaxLineBytes > 0 {
			s.maxLine = min(s.MaxLineBytes, s.maxLine)
		}
		s.maxMessageBytes = limitOr(s.MaxMessageBytes, DefaultMaxMessageBytes)
		s.maxRecipients = int(limitOr(int64(s.MaxRecipients), DefaultMaxRecipients))
		s.conf = *lineproto.Config{
			Limits:      s.Limits,
			TLSConfig:   s.TLSConfig,
			Logger:      s.logger(),
			DebugWriter: s.DebugWriter,
			Goodbye:     s.goodbye,
			AuthLimiter: s.AuthLimiter,
			Faults:      s.Faults,
			Service:     "smtp",
			FaultReply:  faultReply,
			// The buffer holds the longest line: never less than the
			// default, so that DATA is read in good-sized pieces.
			ReadBufferBytes: max(s.maxLine, lineproto.DefaultReadBufferBytes),
		}.Setup(lineproto.Limits{IdleTimeout: DefaultIdleTimeout})
		s.authLimiter = s.conf.AuthLimiter
		s.ss = s.conf.Limits.SockServer(s, lineproto.Busy("421 4.7.0 Too many connections, try again later", "421 4.3.2 Service shutting down"), s.logger())
	})
}

// maxLineCap is the most MaxLineBytes can be: no line protocol here lets a
// client make the server buffer more than 64 KiB of one line.
const maxLineCap = 64 << 10

// limitOr returns n, def if n is zero, or 0 (none) if n is negative.
func limitOr(n, def int64) int64 {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// goodbye is the last reply of a session the server ends for r.
func (s *Server) goodbye(r lineproto.Reason) string {
	switch r {
	case lineproto.ReasonShutdown:
		return "421 4.3.2 " + s.domain + " Service shutting down"
	case lineproto.ReasonIdleTimeout:
		return "421 4.4.2 " + s.domain + " Idle timeout, closing connection"
	case lineproto.ReasonCommandTimeout:
		return "421 4.4.2 " + s.domain + " Command timeout, closing connection"
	case lineproto.ReasonLineTooLong:
		return "500 5.5.2 Line too long"
	case lineproto.ReasonTooManyErrors:
		return "421 4.7.0 " + s.domain + " Too many errors, closing connection"
	case lineproto.ReasonTooManyAuthFailures:
		return "421 4.7.0 " + s.domain + " Too many authentication failures, closing connection"
	case lineproto.ReasonHTTP:
		return "221 2.7.0 Error: this is not an HTTP server, closing connection"
	}
	return ""
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// ListenAndServe listens on s.Addr and serves SMTP until Shutdown or Close.
// It always returns a non-nil error: ErrServerClosed after Shutdown or
// Close.
func (s *Server) ListenAndServe() error {
	return lineproto.ListenAndServe(s.Addr, ":smtp", s.Serve)
}

// ListenAndServeTLS listens on s.Addr and serves SMTP over implicit TLS
// (RFC 8314) with s.TLSConfig, which must be set, until Shutdown or Close.
// It always returns a non-nil error: ErrServerClosed after Shutdown or
// Close.
func (s *Server) ListenAndServeTLS() error {
	if s.TLSConfig == nil {
		return lineproto.ErrNoTLSConfig
	}
	return lineproto.ListenAndServe(s.Addr, ":smtps", s.ServeTLS)
}

// Serve accepts connections on l and serves SMTP on each in a new
// goroutine, with the limits and timeouts of s. Serve closes l when it
// returns. It always returns a non-nil error: ErrServerClosed after
// Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	if s.Backend == nil {
		l.Close()
		return errors.New("smtp: Server.Backend is nil")
	}
	s.setup()
	return s.ss.Serve(l)
}

// ServeTLS is Serve for implicit TLS (RFC 8314, port 465): every
// connection starts with a TLS handshake with s.TLSConfig, which must be
// set, and which must end within CommandTimeout. STARTTLS is not offered on
// these connections.
func (s *Server) ServeTLS(l net.Listener) error {
	return lineproto.ServeTLS(l, s.TLSConfig, s.Serve)
}

// ServeConn serves SMTP on conn until the client quits or the connection
// fails, and closes conn. It implements sockserver.Handler: Serve calls it
// for every connection it accepts. Call it directly only for a connection
// accepted some other way (from inetd, or a net.Pipe in a test); such a
// connection gets the timeouts of s but is not counted against the
// connection limits, nor closed by Shutdown or Close. A connection that is
// a *tls.Conn (or wraps one, through a NetConn method) counts as
// encrypted; one from a listener made by lineproto.ImplicitTLS starts with
// a TLS handshake.
//
// ctx is passed to the Backend; when it is cancelled the connection ends.
// ServeConn returns an error only if s has no Backend: what goes wrong
// with the client is logged.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn) error {
	if s.Backend == nil {
		conn.Close()
		return errors.New("smtp: Server.Backend is nil")
	}
	s.setup()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	lc, err := lineproto.NewConn(ctx, conn, &s.conf)
	if err != nil {
		return nil // a failed TLS handshake, logged
	}
	if lc.Inject(fault.MomentConnect) == lineproto.InjectedEnd {
		return nil
	}
	c := newConn(s, ctx, conn, lc)
	// go-smtp serves connections only from its accept loop: it gets a
	// listener that yields c and then waits for c to be closed. Each
	// connection has its own gosmtp.Server, which keeps every listener
	// it has served.
	gs := s.goSMTP()
	gs.Serve(&oneConnListener{c: c})
	gs.Shutdown(context.Background()) // waits for go-smtp's goroutine
	return nil
}

// goSMTP returns the go-smtp server of one connection.
func (s *Server) goSMTP() *gosmtp.Server {
	gs := gosmtp.NewServer(gosmtp.BackendFunc(s.newSession))
	gs.Domain = s.domain
	gs.MaxLineLength = 0 // the guard in conn.go caps lines
	gs.MaxMessageBytes = s.maxMessageBytes
	gs.MaxRecipients = s.maxRecipients
	gs.AllowInsecureAuth = true // the guard decides where AUTH is allowed
	gs.EnableSMTPUTF8 = true
	gs.ErrorLog = slogLogger{s.logger()}
	return gs
}

// oneConnListener yields one connection, then waits for it to be closed.
// Its methods are called from the goroutine of go-smtp's accept loop.
type oneConnListener struct {
	c    *conn
	sent bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if !l.sent {
		l.sent = true
		return l.c, nil
	}
	<-l.c.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.c.LocalAddr() }

// Shutdown shuts the server down gracefully: it stops accepting, sends
// "421 4.3.2" to every session waiting for a command and closes it, and
// lets a command in progress (a DATA transfer, say) finish before closing
// that session. If ctx expires first, Shutdown closes the remaining
// connections, as Close does, and returns ctx.Err(). The Server cannot be
// reused.
func (s *Server) Shutdown(ctx context.Context) error {
	s.setup()
	return s.ss.Shutdown(ctx)
}

// Close closes the listeners and every connection immediately, cancels the
// contexts passed to Backend, and waits for the sessions to end. A message
// in transfer is not delivered. For a graceful shutdown use Shutdown.
func (s *Server) Close() error {
	s.setup()
	return s.ss.Close()
}

// Stats returns the counters of the connections served by Serve and
// ServeTLS.
func (s *Server) Stats() sockserver.Stats {
	s.setup()
	return s.ss.Stats()
}

// slogLogger adapts slog to go-smtp's Logger.
type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Printf(format string, v ...any) {
	l.l.Error("smtp: " + fmt.Sprintf(format, v...))
}

func (l slogLogger) Println(v ...any) { l.l.Error("smtp: " + fmt.Sprint(v...)) }
