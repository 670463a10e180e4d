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
	"sync/atomic"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// A Server accepts mail over SMTP and hands it to Backend. Its zero value,
// with Backend set, is ready to use. Fields must not be changed after Serve
// is called. A Server is safe for concurrent use.
type Server struct {
	// Addr is the address ListenAndServe listens on; "" means ":smtp"
	// (":smtps" for ListenAndServeTLS).
	Addr string
	// Domain is the host name in the greeting and in Received fields;
	// "" means os.Hostname().
	Domain string
	// Backend checks logins and recipients and stores messages. It is
	// required.
	Backend Backend
	// TLSConfig, if non-nil, enables STARTTLS; ServeTLS and
	// ListenAndServeTLS require it.
	TLSConfig *tls.Config
	// InsecureAuth allows AUTH on connections without TLS. Otherwise AUTH
	// is neither advertised nor accepted there (538 5.7.11, RFC 4954 §4).
	InsecureAuth bool
	// StrictLineEndings refuses messages holding a bare CR, a bare LF or
	// a NUL with 550 5.5.2 (HARDENING S1 option (a)). When false they are stored as
	// sent; either way only CRLF.CRLF ends DATA.
	StrictLineEndings bool

	// MaxMessageBytes limits the size of a message; zero means
	// DefaultMaxMessageBytes and a negative value no limit.
	MaxMessageBytes int64
	// MaxRecipients limits RCPT commands per transaction (452 4.5.3);
	// zero means DefaultMaxRecipients and a negative value no limit.
	MaxRecipients int
	// MaxLineBytes limits a command line, CRLF included (500 5.5.2 and
	// close); zero means DefaultMaxLineBytes.
	MaxLineBytes int

	// Limits are the timeouts and limits of every connection: zero means
	// the default (lineproto's, and DefaultIdleTimeout (5 minutes, RFC 5321 §4.5.3.2) for
	// IdleTimeout), a negative value means none. A client over a limit gets
	// the protocol's reply before the connection is closed.
	lineproto.Limits
	// AuthLimiter counts failed logins per client address and per account
	// across connections, and makes further attempts wait. Nil means one of
	// the server's own, lineproto.NewAuthLimiter(AuthFailureDelay); servers
	// that share one (SMTP, POP3 and IMAP over one store) count together.
	AuthLimiter *lineproto.AuthLimiter

	// Logger receives connection errors, bad input (escaped) and backend
	// failures. Nil means slog.Default().
	Logger *slog.Logger
	// DebugWriter, if non-nil, receives a copy of all plaintext traffic of
	// every connection (it may include passwords).
	DebugWriter io.Writer

	setupOnce sync.Once
	domain    string
	ss        *sockserver.Server
	gs        *gosmtp.Server
	debug     io.Writer
	baseCtx   context.Context
	cancel    context.CancelFunc

	mu      sync.Mutex
	closing atomic.Bool
	serveWG sync.WaitGroup
}

func (s *Server) setup() {
	s.setupOnce.Do(func() {
		s.domain = s.Domain
		if s.domain == "" {
			s.domain, _ = os.Hostname()
			if s.domain == "" {
				s.domain = "localhost"
			}
		}
		s.baseCtx, s.cancel = context.WithCancel(context.Background())
		if s.DebugWriter != nil {
			s.debug = sockserver.SyncWriter(s.DebugWriter)
		}
		s.ss = &sockserver.Server{
			Handler:          sockserver.HandlerFunc(func(context.Context, net.Conn) error { return nil }),
			Logger:           s.logger(),
			IdleTimeout:      durationOr(s.IdleTimeout, DefaultIdleTimeout),
			WriteTimeout:     durationOr(s.WriteTimeout, DefaultWriteTimeout),
			MaxConns:         s.MaxConns,
			MaxConnsPerIP:    s.MaxConnsPerIP,
			MaxConnRatePerIP: s.MaxConnRatePerIP,
			Reject: func(c net.Conn, err error) {
				io.WriteString(c, "421 4.7.0 Too many connections, try again later\r\n")
			},
		}
		gs := gosmtp.NewServer(gosmtp.BackendFunc(s.newSession))
		gs.Domain = s.domain
		gs.MaxLineLength = 0 // the guard in conn.go caps lines
		gs.MaxMessageBytes = max(0, int64Or(s.MaxMessageBytes, DefaultMaxMessageBytes))
		gs.MaxRecipients = max(0, intOr(s.MaxRecipients, DefaultMaxRecipients))
		gs.AllowInsecureAuth = true // the guard decides where AUTH is allowed
		gs.EnableSMTPUTF8 = true
		gs.ErrorLog = slogLogger{s.logger()}
		s.gs = gs
	})
}

func durationOr(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func intOr(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

func int64Or(n, def int64) int64 {
	if n == 0 {
		return def
	}
	return n
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
	addr := s.Addr
	if addr == "" {
		addr = ":smtp"
	}
	return s.listenAndServe(addr, false)
}

// ListenAndServeTLS listens on s.Addr and serves SMTP over implicit TLS
// (RFC 8314) with s.TLSConfig until Shutdown or Close. It always returns a
// non-nil error: ErrServerClosed after Shutdown or Close.
func (s *Server) ListenAndServeTLS() error {
	addr := s.Addr
	if addr == "" {
		addr = ":smtps"
	}
	return s.listenAndServe(addr, true)
}

func (s *Server) listenAndServe(addr string, implicitTLS bool) error {
	if s.closing.Load() {
		return ErrServerClosed
	}
	lc := net.ListenConfig{KeepAlive: -1}
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return err
	}
	return s.serve(l, implicitTLS)
}

// Serve accepts connections on l and serves SMTP on each. It closes l when
// it returns, and always returns a non-nil error: ErrServerClosed after
// Shutdown or Close.
func (s *Server) Serve(l net.Listener) error { return s.serve(l, false) }

// ServeTLS is Serve for implicit TLS (RFC 8314, port 465): every
// connection starts with a TLS handshake using s.TLSConfig.
func (s *Server) ServeTLS(l net.Listener) error { return s.serve(l, true) }

func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	if s.Backend == nil {
		l.Close()
		return errors.New("smtp: Server.Backend is nil")
	}
	if implicitTLS && s.TLSConfig == nil {
		l.Close()
		return errors.New("smtp: ServeTLS needs Server.TLSConfig")
	}
	s.setup()
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.serveWG.Add(1)
	s.mu.Unlock()
	defer s.serveWG.Done()

	gl := &listener{Listener: s.ss.WrapListener(l), srv: s, implicitTLS: implicitTLS}
	err := s.gs.Serve(gl)
	gl.Close()
	if s.closing.Load() {
		return ErrServerClosed
	}
	if err == nil {
		err = ErrServerClosed
	}
	return err
}

// Shutdown shuts the server down gracefully (STYLE §3.6): it stops
// accepting, sends "421 4.3.2" to every session waiting for a command and
// closes it, and lets a command in progress (a DATA transfer, say) finish
// before closing that session. If ctx expires first, Shutdown closes the
// remaining connections, as Close does, and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.setup()
	s.beginClose()
	ssErr := s.ss.Shutdown(ctx) // closes listeners, interrupts idle sessions
	s.serveWG.Wait()
	done := make(chan struct{})
	go func() {
		s.gs.Shutdown(context.Background()) // waits for go-smtp's sessions
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.ss.Close()
		<-done
		err = ctx.Err()
	}
	s.cancel()
	if err == nil && ssErr != nil {
		err = ssErr
	}
	return err
}

// Close closes the listeners and every connection immediately, cancels the
// contexts passed to Backend, and waits for the sessions to end. A message
// in transfer is not delivered.
func (s *Server) Close() error {
	s.setup()
	s.beginClose()
	s.cancel()
	s.ss.Close()
	s.serveWG.Wait()
	s.gs.Shutdown(context.Background())
	return nil
}

func (s *Server) beginClose() {
	s.mu.Lock()
	s.closing.Store(true)
	s.mu.Unlock()
}

// listener turns the connections accepted through sockserver into guarded
// connections for go-smtp.
type listener struct {
	net.Listener
	srv         *Server
	implicitTLS bool
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newConn(l.srv, c, l.implicitTLS), nil
}

// slogLogger adapts slog to go-smtp's Logger.
type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Printf(format string, v ...any) {
	l.l.Error("smtp: " + fmt.Sprintf(format, v...))
}

func (l slogLogger) Println(v ...any) { l.l.Error("smtp: " + fmt.Sprint(v...)) }
