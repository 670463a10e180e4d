package sockserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/inetkit/inetkit/fault"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close, and by reads on a connection that Shutdown interrupted while it was
// waiting for a new request.
var ErrServerClosed = errors.New("sockserver: server closed")

// Defaults for the zero values of [Server] fields.
const (
	// DefaultIdleTimeout bounds every read: RFC 5321 §4.5.3.2 asks SMTP
	// servers for 5 minutes, the shortest of the session protocols here.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultWriteTimeout bounds every write, so a client that never reads
	// cannot hold a connection and its buffers.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMaxConns is the limit on connections open at once.
	DefaultMaxConns = 10000
)

// A Handler serves one stream connection. The connection is closed when
// ServeConn returns; ctx is cancelled when the connection ends or the server is
// closed. An error returned by ServeConn is logged and counted.
type Handler interface {
	ServeConn(ctx context.Context, conn net.Conn) error
}

// HandlerFunc is an adapter to allow the use of an ordinary function as a
// [Handler].
type HandlerFunc func(ctx context.Context, conn net.Conn) error

// ServeConn calls f(ctx, conn).
func (f HandlerFunc) ServeConn(ctx context.Context, conn net.Conn) error { return f(ctx, conn) }

var _ Handler = HandlerFunc(nil)

// A Server serves stream connections with a Handler, one goroutine per
// connection. Its zero value, with Handler set, is ready to use. Fields must
// not be changed after Serve or WrapListener is called. A Server is safe for
// concurrent use.
type Server struct {
	// Addr is the address ListenAndServe listens on.
	Addr string
	// Network is "tcp" (the default), "tcp4", "tcp6" or "unix".
	Network string
	// Handler serves each connection. It is required.
	Handler Handler
	// Logger receives accept errors, handler errors and panics.
	// Nil means slog.Default().
	Logger *slog.Logger

	// IdleTimeout is the longest a read may wait for data. Zero means
	// DefaultIdleTimeout; a negative value means no limit.
	IdleTimeout time.Duration
	// WriteTimeout is the longest a write may take. Zero means
	// DefaultWriteTimeout; a negative value means no limit.
	WriteTimeout time.Duration

	// MaxConns limits the connections open at once. Zero means
	// DefaultMaxConns; a negative value means no limit.
	MaxConns int
	// MaxConnsPerIP limits the connections open at once from one IP address.
	// Zero or a negative value means no limit.
	MaxConnsPerIP int

	// MaxConnRatePerIP limits how many new connections one IP address may
	// open per second, on average, with bursts of ConnRateBurst (mox allows
	// 300 a minute, 5 a second). Zero means no limit.
	MaxConnRatePerIP float64
	// ConnRateBurst is the burst MaxConnRatePerIP allows; zero means 10
	// seconds' worth.
	ConnRateBurst int

	// Verify, if non-nil, is called for every new connection before the
	// limits are counted; a non-nil error rejects the connection, as
	// socketserver's verify_request does.
	Verify func(remote net.Addr) error
	// Reject, if non-nil, is called with every connection refused by a limit
	// or by Verify, before it is closed, so a protocol can send its busy reply
	// (SMTP "421 4.7.0", POP3 "-ERR [SYS/TEMP]"). The write deadline is
	// already set. err is one of ErrTooManyConns, ErrTooManyConnsPerIP,
	// ErrServerClosed (a connection accepted as the server shuts down), or
	// what Verify returned.
	Reject func(conn net.Conn, err error)

	// BaseContext, if non-nil, returns the context every connection's context
	// derives from. Close cancels the contexts whatever it returns.
	BaseContext func(net.Listener) context.Context

	// Faults, if not nil, are consulted as each connection opens (package
	// fault, moment "connect"), before the handler has it: a fault may
	// reset, close or hang the connection, or delay, pace or cut what the
	// handler writes. FaultService names the server in the rules; "" means
	// "tcp". Servers of line protocols consult their faults themselves,
	// after TLS, and leave Faults nil. With Faults set, every connection is
	// served by ServeConn, never inline or from an event loop.
	Faults       *fault.Set
	FaultService string

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wrapped   map[*listener]struct{} // from WrapListener, until closed
	loops     []*eventLoop
	perIP     map[netip.Addr]int
	connRate  *rateLimiter // nil without MaxConnRatePerIP
	closing   atomic.Bool
	wg        sync.WaitGroup
	baseCtx   context.Context
	cancel    context.CancelFunc
	stats     counters
	doneOnce  sync.Once
	doneCh    chan struct{}
	onceSetup sync.Once
}

// ErrTooManyConns is passed to [Server.Reject] when [Server.MaxConns] is reached.
var ErrTooManyConns = errors.New("sockserver: too many connections")

// ErrConnRate is passed to [Server.Reject] when an address opens
// connections faster than [Server.MaxConnRatePerIP] allows.
var ErrConnRate = errors.New("sockserver: connections opened too fast from one address")

// ErrTooManyConnsPerIP is passed to [Server.Reject] when
// [Server.MaxConnsPerIP] is reached.
var ErrTooManyConnsPerIP = errors.New("sockserver: too many connections from one address")

func (s *Server) setup() {
	s.onceSetup.Do(func() {
		s.baseCtx, s.cancel = context.WithCancel(context.Background())
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
		s.wrapped = make(map[*listener]struct{})
		s.perIP = make(map[netip.Addr]int)
		if s.MaxConnRatePerIP > 0 {
			burst := float64(s.ConnRateBurst)
			if burst <= 0 {
				burst = max(1, 10*s.MaxConnRatePerIP)
			}
			s.connRate = newRateLimiter(s.MaxConnRatePerIP, burst, DefaultMaxSources)
		}
	})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) network() string {
	if s.Network == "" {
		return "tcp"
	}
	return s.Network
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

func (s *Server) idleTimeout() time.Duration  { return durationOr(s.IdleTimeout, DefaultIdleTimeout) }
func (s *Server) writeTimeout() time.Duration { return durationOr(s.WriteTimeout, DefaultWriteTimeout) }

// Listen opens the listener for s.Addr on s.Network, as ListenAndServe does,
// without serving it. For "unix", a stale socket file that nothing answers on
// is removed first.
func (s *Server) Listen(ctx context.Context) (net.Listener, error) {
	return listenStream(ctx, s.network(), s.Addr)
}

func listenStream(ctx context.Context, network, addr string) (net.Listener, error) {
	// No TCP keep-alives: idle timeouts end dead connections, and keep-alives
	// cost four setsockopt calls on every accepted connection.
	lc := net.ListenConfig{KeepAlive: -1}
	l, err := lc.Listen(ctx, network, addr)
	if err != nil && network == "unix" && errors.Is(err, syscall.EADDRINUSE) && isStaleSocket(addr) {
		if rerr := os.Remove(addr); rerr == nil {
			l, err = lc.Listen(ctx, network, addr)
		}
	}
	return l, err
}

// isStaleSocket reports whether path is a Unix socket file that refuses
// connections, as one left by a crashed server does. A live server whose
// backlog is full fails the probe with EAGAIN instead, and a file that is not
// a socket is not the server's to remove.
func isStaleSocket(path string) bool {
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSocket {
		return false
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// ListenAndServe listens on s.Addr and serves connections until Shutdown or
// Close. It always returns a non-nil error: ErrServerClosed after Shutdown or
// Close.
func (s *Server) ListenAndServe() error {
	if s.closing.Load() {
		return ErrServerClosed
	}
	l, err := s.Listen(context.Background())
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve accepts connections on l and serves each in a new goroutine. Accept
// errors that are temporary (EMFILE, ENFILE, ECONNABORTED, ...) are retried
// after a delay growing from 5 ms to 1 s. Serve closes l when it returns. It
// always returns a non-nil error: ErrServerClosed after Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		return errors.New("sockserver: Server.Handler is nil")
	}
	s.setup()
	wl := s.wrap(l)
	if !s.trackListener(l, true) {
		l.Close()
		return ErrServerClosed
	}
	defer s.wg.Done()
	defer s.trackListener(l, false)
	defer l.Close()

	ctx := s.baseCtx
	if s.BaseContext != nil {
		ctx = s.BaseContext(l)
		if ctx == nil {
			panic("sockserver: BaseContext returned a nil context")
		}
	}
	if ih, ok := s.Handler.(InlineHandler); ok && s.Faults == nil {
		if ok, err := s.serveInline(ctx, l, ih); ok {
			return err
		}
	}
	if eh, ok := s.Handler.(EventHandler); ok && s.Faults == nil {
		if ok, err := s.serveEvents(ctx, l, eh); ok {
			return err
		}
	}
	var delay time.Duration
	for {
		c, err := wl.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if isTemporary(err) {
				delay = s.acceptBackoff(l, err, delay)
				continue
			}
			return err
		}
		delay = 0
		s.wg.Go(func() { s.serveConn(ctx, c.(*conn)) })
	}
}

// acceptBackoff logs a temporary accept error and waits before the next
// accept, 5 ms doubling to 1 s, or until the server closes.
func (s *Server) acceptBackoff(l net.Listener, err error, delay time.Duration) time.Duration {
	delay = nextDelay(delay)
	s.stats.acceptErrors.Add(1)
	s.logger().Warn("accept error; retrying", "addr", l.Addr().String(), "err", err, "delay", delay)
	t := time.NewTimer(delay)
	select {
	case <-t.C:
	case <-s.done():
		t.Stop()
	}
	return delay
}

func nextDelay(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	return min(2*d, time.Second)
}

func isTemporary(err error) bool {
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) done() chan struct{} {
	s.doneOnce.Do(func() { s.doneCh = make(chan struct{}) })
	return s.doneCh
}

func (s *Server) trackListener(l net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		s.listeners[l] = struct{}{}
		s.wg.Add(1) // the Serve loop; so that conns it adds never race with Wait
	} else {
		delete(s.listeners, l)
	}
	return true
}

func (s *Server) serveConn(ctx context.Context, c *conn) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.baseCtx, cancel)
	defer func() {
		stop()
		cancel()
		if r := recover(); r != nil {
			s.stats.panics.Add(1)
			s.logger().Error("panic serving connection", "remote", remoteString(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
		c.Close()
	}()
	if s.Faults != nil && s.injectConnect(c, func(f func()) { f() }) {
		return
	}
	err := s.Handler.ServeConn(ctx, c)
	s.logConnErr(c, err)
}

func (s *Server) logConnErr(c *conn, err error) {
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, ErrServerClosed),
		errors.Is(err, net.ErrClosed), errors.Is(err, context.Canceled),
		errors.Is(err, fault.ErrInjected):
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.stats.timeouts.Add(1)
		s.logger().Info("connection timed out", "remote", remoteString(c))
	default:
		s.stats.errors.Add(1)
		s.logger().Warn("connection error", "remote", remoteString(c), "err", err)
	}
}

func remoteString(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// Shutdown shuts the server down gracefully: it closes every listener at once,
// interrupts connections that are waiting for a new request (after a grace of
// 100 ms for a request already on its way, their pending read returns
// ErrServerClosed, so a protocol handler can send its goodbye), and
// then waits for the connections still in an exchange to end. If ctx expires
// first, Shutdown closes the remaining connections, as Close does, and
// returns ctx.Err(). The Server cannot be reused.
func (s *Server) Shutdown(ctx context.Context) error {
	s.setup()
	s.closeListeners()
	s.mu.Lock()
	by := time.Now().Add(drainGrace)
	for c := range s.conns {
		c.drain(by)
	}
	for _, el := range s.loops {
		el.shutdown(by)
	}
	s.mu.Unlock()

	wait := make(chan struct{})
	go func() { s.wg.Wait(); close(wait) }()
	select {
	case <-wait:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes every listener and every connection immediately, cancels the
// connections' contexts, and waits for their handlers to return. It must not
// be called from a handler. For a graceful shutdown use Shutdown.
func (s *Server) Close() error {
	s.setup()
	s.closeListeners()
	s.cancel()
	s.mu.Lock()
	for c := range s.conns {
		c.Conn.Close()
	}
	for _, el := range s.loops {
		el.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	if !s.closing.Swap(true) {
		close(s.done())
	}
	ls := make([]net.Listener, 0, len(s.listeners)+len(s.wrapped))
	for l := range s.listeners {
		ls = append(ls, l)
	}
	for l := range s.wrapped {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	for _, l := range ls {
		l.Close() // a wrapped listener's Close takes s.mu
	}
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	st := s.stats.snapshot()
	s.eventStats(&st)
	return st
}
