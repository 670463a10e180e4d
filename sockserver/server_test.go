package sockserver_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/sockserver"
)

// quiet is the logger of every server under test.
var quiet = slog.New(slog.DiscardHandler)

// waitTimeout bounds every wait for something that should happen at once.
const waitTimeout = 5 * time.Second

// serving is a Server or PacketServer whose Serve runs in the background.
type serving struct {
	addr net.Addr
	done chan struct{}
	err  error // Serve's result, once done is closed
}

// wait returns what Serve returned.
func (sv *serving) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-sv.done:
		return sv.err
	case <-time.After(waitTimeout):
		t.Fatalf("Serve did not return within %v", waitTimeout)
		return nil
	}
}

// background runs serve and registers a cleanup that closes the server and
// checks that Serve returned ErrServerClosed.
func background(t testing.TB, addr net.Addr, closer io.Closer, serve func() error) *serving {
	t.Helper()
	sv := &serving{addr: addr, done: make(chan struct{})}
	go func() {
		sv.err = serve()
		close(sv.done)
	}()
	t.Cleanup(func() {
		closer.Close()
		select {
		case <-sv.done:
			if !errors.Is(sv.err, sockserver.ErrServerClosed) {
				t.Errorf("Serve() = %v; want ErrServerClosed", sv.err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Serve did not return within %v of Close", waitTimeout)
		}
	})
	return sv
}

// serve runs s.Serve(l) in the background, with a quiet logger if s has none.
func serve(t testing.TB, s *sockserver.Server, l net.Listener) *serving {
	t.Helper()
	if s.Logger == nil {
		s.Logger = quiet
	}
	return background(t, l.Addr(), s, func() error { return s.Serve(l) })
}

// startServer serves s on a loopback TCP port.
func startServer(t testing.TB, s *sockserver.Server) *serving {
	t.Helper()
	return serve(t, s, listenTCP(t))
}

func listenTCP(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// client is the test's end of a stream connection.
type client struct {
	net.Conn
	r *bufio.Reader
}

func dial(t testing.TB, addr net.Addr) *client {
	t.Helper()
	return dialWith(t, &net.Dialer{}, addr)
}

// dialFrom connects from the loopback address ip, such as 127.0.0.2.
func dialFrom(t testing.TB, ip string, addr net.Addr) *client {
	t.Helper()
	return dialWith(t, &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}, addr)
}

func dialWith(t testing.TB, d *net.Dialer, addr net.Addr) *client {
	t.Helper()
	d.Timeout = waitTimeout
	c, err := d.Dial(addr.Network(), addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(2 * waitTimeout))
	return &client{Conn: c, r: bufio.NewReader(c)}
}

func (c *client) send(t testing.TB, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("writing %q: %v", s, err)
	}
}

func (c *client) line(t testing.TB) string {
	t.Helper()
	s, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a line: %v (after %q)", err, s)
	}
	return s
}

// roundTrip sends the line s and checks that it comes back.
func (c *client) roundTrip(t testing.TB, s string) {
	t.Helper()
	c.send(t, s)
	if got := c.line(t); got != s {
		t.Fatalf("reply = %q; want %q", got, s)
	}
}

// rest reads everything until EOF, failing on any other error.
func (c *client) rest(t testing.TB) string {
	t.Helper()
	b, err := io.ReadAll(c.r)
	if err != nil {
		t.Fatalf("reading to EOF: %v (after %q)", err, b)
	}
	return string(b)
}

// echo answers every line with the same line.
func echo(_ context.Context, conn net.Conn) error {
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if _, err := io.WriteString(conn, line); err != nil {
			return err
		}
	}
}

// recv returns the next value from ch.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// waitFor polls cond until it holds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTimeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitStats waits for s.Stats() to be want: the counters of a write are
// updated just after the peer may have read the data.
func waitStats(t testing.TB, s *sockserver.Server, want sockserver.Stats) {
	t.Helper()
	var got sockserver.Stats
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTimeout)
	for {
		if got = s.Stats(); got == want {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Errorf("Stats() = %+v; want %+v", got, want)
			return
		}
	}
}

// shutdownAsync calls s.Shutdown with a context expiring after d.
func shutdownAsync(s interface{ Shutdown(context.Context) error }, d time.Duration) <-chan error {
	ch := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		ch <- s.Shutdown(ctx)
	}()
	return ch
}

// notifyReader sends on ch after every read that returned data.
type notifyReader struct {
	io.Reader
	ch chan<- struct{}
}

func (r notifyReader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if n > 0 {
		select {
		case r.ch <- struct{}{}:
		default:
		}
	}
	return n, err
}

// busyReply returns a Reject func that writes "busy" and reports err on ch.
func busyReply(ch chan<- error) func(net.Conn, error) {
	return func(c net.Conn, err error) {
		io.WriteString(c, "busy\n")
		ch <- err
	}
}

func TestServerRoundTrip(t *testing.T) {
	t.Parallel()
	remotes := make(chan string, 1)
	s := &sockserver.Server{Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
		remotes <- conn.RemoteAddr().String()
		return echo(ctx, conn)
	})}
	sv := startServer(t, s)
	c := dial(t, sv.addr)
	c.roundTrip(t, "hello\n")
	c.roundTrip(t, "again\n")
	if got, want := recv(t, remotes, "the handler"), c.LocalAddr().String(); got != want {
		t.Errorf("conn.RemoteAddr() = %s; want %s", got, want)
	}
}

func TestServerStats(t *testing.T) {
	t.Parallel()
	s := &sockserver.Server{Handler: sockserver.HandlerFunc(echo)}
	sv := startServer(t, s)
	c := dial(t, sv.addr)
	c.roundTrip(t, "hello\n")
	c.roundTrip(t, "world!\n")
	if got := s.Stats().Active; got != 1 {
		t.Errorf("Stats().Active = %d while connected; want 1", got)
	}
	c.Close()
	waitStats(t, s, sockserver.Stats{Accepted: 1, BytesRead: 13, BytesWritten: 13})
}

func TestServerHandlerResult(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                     string
		result                   func() error
		errs, timeouts, panicked int64
	}{
		{name: "nil", result: func() error { return nil }},
		{name: "EOF", result: func() error { return fmt.Errorf("reading: %w", io.EOF) }},
		{name: "server closed", result: func() error { return sockserver.ErrServerClosed }},
		{name: "conn closed", result: func() error { return net.ErrClosed }},
		{name: "context canceled", result: func() error { return context.Canceled }},
		{name: "deadline", result: func() error { return fmt.Errorf("reading: %w", os.ErrDeadlineExceeded) }, timeouts: 1},
		{name: "error", result: func() error { return errors.New("bad command") }, errs: 1},
		{name: "panic", result: func() error { panic("handler bug") }, panicked: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			first := true
			var mu sync.Mutex
			s := &sockserver.Server{Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
				mu.Lock()
				f := first
				first = false
				mu.Unlock()
				if !f {
					return echo(ctx, conn)
				}
				if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
					return err
				}
				return tc.result()
			})}
			sv := startServer(t, s)
			c := dial(t, sv.addr)
			c.send(t, "go\n")
			if got := c.rest(t); got != "" {
				t.Errorf("client read %q; want EOF", got)
			}
			// The counters are updated before the connection is closed.
			st := s.Stats()
			if st.Errors != tc.errs || st.Timeouts != tc.timeouts || st.Panics != tc.panicked {
				t.Errorf("Stats() Errors, Timeouts, Panics = %d, %d, %d; want %d, %d, %d",
					st.Errors, st.Timeouts, st.Panics, tc.errs, tc.timeouts, tc.panicked)
			}
			// The server keeps serving.
			dial(t, sv.addr).roundTrip(t, "next\n")
		})
	}
}

func TestServerIdleTimeout(t *testing.T) {
	t.Parallel()
	type result struct {
		err    error
		waited time.Duration
	}
	results := make(chan result, 1)
	const idle = 200 * time.Millisecond
	s := &sockserver.Server{IdleTimeout: idle, Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
		start := time.Now()
		_, err := conn.Read(make([]byte, 16))
		results <- result{err, time.Since(start)}
		return err
	})}
	sv := startServer(t, s)
	c := dial(t, sv.addr)
	res := recv(t, results, "the handler's Read")
	if !errors.Is(res.err, os.ErrDeadlineExceeded) {
		t.Errorf("Read() error = %v; want os.ErrDeadlineExceeded", res.err)
	}
	if res.waited < idle || res.waited > 3*time.Second {
		t.Errorf("Read() returned after %v; want %v (and not much more)", res.waited, idle)
	}
	if got := c.rest(t); got != "" {
		t.Errorf("client read %q; want EOF", got)
	}
	if got := s.Stats().Timeouts; got != 1 {
		t.Errorf("Stats().Timeouts = %d; want 1", got)
	}
}

func TestServerWriteTimeout(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 1)
	s := &sockserver.Server{WriteTimeout: 200 * time.Millisecond, Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := conn.Write(chunk); err != nil {
				errs <- err
				return err
			}
		}
	})}
	sv := startServer(t, s)
	dial(t, sv.addr) // and never read
	if err := recv(t, errs, "the handler's Write to fail"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Write() error = %v; want os.ErrDeadlineExceeded", err)
	}
	waitFor(t, "Stats().Timeouts == 1", func() bool { return s.Stats().Timeouts == 1 })
	waitFor(t, "Stats().Active == 0", func() bool { return s.Stats().Active == 0 })
}

func TestServerSilentClientDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 2)
	s := &sockserver.Server{Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
		started <- struct{}{}
		return echo(ctx, conn)
	})}
	sv := startServer(t, s)
	dial(t, sv.addr) // sends nothing
	recv(t, started, "the silent client's handler")
	start := time.Now()
	dial(t, sv.addr).roundTrip(t, "hello\n")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second client answered after %v; want well under a second", d)
	}
	if got := s.Stats().Active; got != 2 {
		t.Errorf("Stats().Active = %d; want 2 (the silent client still connected)", got)
	}
}

func TestServerMaxConns(t *testing.T) {
	t.Parallel()
	for _, withReject := range []bool{true, false} {
		t.Run(fmt.Sprintf("Reject=%v", withReject), func(t *testing.T) {
			t.Parallel()
			rejected := make(chan error, 1)
			s := &sockserver.Server{MaxConns: 2, Handler: sockserver.HandlerFunc(echo)}
			wantReply := ""
			if withReject {
				s.Reject = busyReply(rejected)
				wantReply = "busy\n"
			}
			sv := startServer(t, s)
			c1 := dial(t, sv.addr)
			c1.roundTrip(t, "one\n")
			dial(t, sv.addr).roundTrip(t, "two\n")

			if got := dial(t, sv.addr).rest(t); got != wantReply {
				t.Errorf("third client read %q; want %q", got, wantReply)
			}
			if withReject {
				if err := recv(t, rejected, "Reject"); !errors.Is(err, sockserver.ErrTooManyConns) {
					t.Errorf("Reject called with %v; want ErrTooManyConns", err)
				}
			}
			waitStats(t, s, sockserver.Stats{Accepted: 3, Rejected: 1, Active: 2, BytesRead: 8, BytesWritten: 8})

			// A closed connection frees its slot.
			c1.Close()
			waitFor(t, "Stats().Active == 1", func() bool { return s.Stats().Active == 1 })
			dial(t, sv.addr).roundTrip(t, "four\n")
			if got := s.Stats().Rejected; got != 1 {
				t.Errorf("Stats().Rejected = %d; want 1", got)
			}
		})
	}
}

func TestServerMaxConnsPerIP(t *testing.T) {
	t.Parallel()
	rejected := make(chan error, 4)
	s := &sockserver.Server{MaxConnsPerIP: 2, Handler: sockserver.HandlerFunc(echo), Reject: busyReply(rejected)}
	sv := startServer(t, s)
	a1 := dialFrom(t, "127.0.0.1", sv.addr)
	a1.roundTrip(t, "a1\n")
	a2 := dialFrom(t, "127.0.0.1", sv.addr)
	a2.roundTrip(t, "a2\n")

	if got := dialFrom(t, "127.0.0.1", sv.addr).rest(t); got != "busy\n" {
		t.Errorf("third client from 127.0.0.1 read %q; want %q", got, "busy\n")
	}
	if err := recv(t, rejected, "Reject"); !errors.Is(err, sockserver.ErrTooManyConnsPerIP) {
		t.Errorf("Reject called with %v; want ErrTooManyConnsPerIP", err)
	}
	// Another address is not affected.
	b := dialFrom(t, "127.0.0.2", sv.addr)
	b.roundTrip(t, "b\n")

	// Closing the connections from 127.0.0.1 gives their slots back.
	a1.Close()
	a2.Close()
	waitFor(t, "Stats().Active == 1", func() bool { return s.Stats().Active == 1 })
	dialFrom(t, "127.0.0.1", sv.addr).roundTrip(t, "a3\n")
	dialFrom(t, "127.0.0.1", sv.addr).roundTrip(t, "a4\n")
	b.roundTrip(t, "b again\n")
	if got := s.Stats().Rejected; got != 1 {
		t.Errorf("Stats().Rejected = %d; want 1", got)
	}
}

// HARDENING G11: an address opening connections too fast is refused with
// the busy reply, beyond its burst; other addresses are not affected.
func TestServerMaxConnRatePerIP(t *testing.T) {
	t.Parallel()
	rejected := make(chan error, 8)
	// 0.001 per second: no token comes back during the test.
	s := &sockserver.Server{MaxConnRatePerIP: 0.001, ConnRateBurst: 3, Handler: sockserver.HandlerFunc(echo), Reject: busyReply(rejected)}
	sv := startServer(t, s)
	for i := range 3 {
		c := dialFrom(t, "127.0.0.2", sv.addr)
		c.roundTrip(t, fmt.Sprintf("burst %d\n", i))
		c.Close()
	}
	if got := dialFrom(t, "127.0.0.2", sv.addr).rest(t); got != "busy\n" {
		t.Errorf("fourth connection from 127.0.0.2 read %q; want %q", got, "busy\n")
	}
	if err := recv(t, rejected, "Reject"); !errors.Is(err, sockserver.ErrConnRate) {
		t.Errorf("Reject called with %v; want ErrConnRate", err)
	}
	dialFrom(t, "127.0.0.3", sv.addr).roundTrip(t, "other address\n")
}

func TestServerVerify(t *testing.T) {
	t.Parallel()
	errDenied := errors.New("denied")
	rejected := make(chan error, 1)
	var served atomic.Int64
	s := &sockserver.Server{
		Verify: func(remote net.Addr) error {
			if a, ok := remote.(*net.TCPAddr); ok && a.IP.Equal(net.ParseIP("127.0.0.2")) {
				return errDenied
			}
			return nil
		},
		Reject: busyReply(rejected),
		Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
			served.Add(1)
			return echo(ctx, conn)
		}),
	}
	sv := startServer(t, s)
	if got := dialFrom(t, "127.0.0.2", sv.addr).rest(t); got != "busy\n" {
		t.Errorf("client from 127.0.0.2 read %q; want %q", got, "busy\n")
	}
	if err := recv(t, rejected, "Reject"); err != errDenied {
		t.Errorf("Reject called with %v; want Verify's error", err)
	}
	dialFrom(t, "127.0.0.1", sv.addr).roundTrip(t, "hello\n")
	if got := served.Load(); got != 1 {
		t.Errorf("handler called %d times; want 1", got)
	}
	if st := s.Stats(); st.Accepted != 2 || st.Rejected != 1 {
		t.Errorf("Stats() Accepted, Rejected = %d, %d; want 2, 1", st.Accepted, st.Rejected)
	}
}

func TestServerPanic(t *testing.T) {
	t.Parallel()
	s := &sockserver.Server{Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
		r := bufio.NewReader(conn)
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "panic\n" {
			panic("handler bug")
		}
		_, err = io.WriteString(conn, line)
		return err
	})}
	sv := startServer(t, s)
	c := dial(t, sv.addr)
	c.send(t, "panic\n")
	if got := c.rest(t); got != "" {
		t.Errorf("panicking handler's client read %q; want EOF", got)
	}
	if got := s.Stats().Panics; got != 1 {
		t.Errorf("Stats().Panics = %d; want 1", got)
	}
	dial(t, sv.addr).roundTrip(t, "still there?\n")
	waitFor(t, "Stats().Active == 0", func() bool { return s.Stats().Active == 0 })
}

// flakyListener fails Accept with err while failing is set.
type flakyListener struct {
	net.Listener
	err     error
	failing atomic.Bool
	calls   atomic.Int64
	failed  atomic.Int64
	closed  atomic.Bool
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.calls.Add(1)
	if l.failing.Load() {
		l.failed.Add(1)
		return nil, l.err
	}
	return l.Listener.Accept()
}

func (l *flakyListener) Close() error {
	l.closed.Store(true)
	return l.Listener.Close()
}

type temporaryError struct{}

func (temporaryError) Error() string   { return "try again" }
func (temporaryError) Temporary() bool { return true }

func acceptError(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

func TestServeAcceptBackoff(t *testing.T) {
	t.Parallel()
	fl := &flakyListener{Listener: listenTCP(t), err: acceptError(syscall.EMFILE)}
	fl.failing.Store(true)
	s := &sockserver.Server{Handler: sockserver.HandlerFunc(echo)}
	sv := serve(t, s, fl)

	const window = 300 * time.Millisecond
	<-time.After(window)
	// 5 ms doubling: 6 calls in 300 ms; a spin would make millions.
	if calls := fl.calls.Load(); calls < 2 || calls >= 20 {
		t.Errorf("Accept called %d times in %v; want 2 to 19", calls, window)
	}
	fl.failing.Store(false)
	dial(t, sv.addr).roundTrip(t, "served after the errors\n")
	if got, want := s.Stats().AcceptErrors, fl.failed.Load(); got != want {
		t.Errorf("Stats().AcceptErrors = %d; want %d", got, want)
	}
}

func TestServeTemporaryAcceptError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
	}{
		{"ENFILE", acceptError(syscall.ENFILE)},
		{"ECONNABORTED", acceptError(syscall.ECONNABORTED)},
		{"ENOBUFS", acceptError(syscall.ENOBUFS)},
		{"ENOMEM", acceptError(syscall.ENOMEM)},
		{"wrapped EMFILE", fmt.Errorf("accept: %w", syscall.EMFILE)},
		{"Temporary", temporaryError{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fl := &flakyListener{Listener: listenTCP(t), err: tc.err}
			fl.failing.Store(true)
			s := &sockserver.Server{Handler: sockserver.HandlerFunc(echo)}
			sv := serve(t, s, fl)
			waitFor(t, "two accept errors", func() bool { return fl.failed.Load() >= 2 })
			fl.failing.Store(false)
			dial(t, sv.addr).roundTrip(t, "served after the errors\n")
			if got, want := s.Stats().AcceptErrors, fl.failed.Load(); got != want {
				t.Errorf("Stats().AcceptErrors = %d; want %d", got, want)
			}
		})
	}
}

func TestServeAcceptBackoffClose(t *testing.T) {
	t.Parallel()
	fl := &flakyListener{Listener: listenTCP(t), err: acceptError(syscall.EMFILE)}
	fl.failing.Store(true)
	s := &sockserver.Server{Handler: sockserver.HandlerFunc(echo)}
	sv := serve(t, s, fl)
	waitFor(t, "a few accept errors", func() bool { return s.Stats().AcceptErrors >= 3 })
	s.Close()
	if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("Serve() = %v; want ErrServerClosed", err)
	}
}

func TestServeAcceptError(t *testing.T) {
	t.Parallel()
	errBroken := errors.New("listener broken")
	tests := []struct {
		name string
		err  error
	}{
		{"custom", fmt.Errorf("accept: %w", errBroken)},
		{"EINVAL", acceptError(syscall.EINVAL)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fl := &flakyListener{Listener: listenTCP(t), err: tc.err}
			fl.failing.Store(true)
			s := &sockserver.Server{Logger: quiet, Handler: sockserver.HandlerFunc(echo)}
			done := make(chan error, 1)
			go func() { done <- s.Serve(fl) }()
			if err := recv(t, done, "Serve to return"); !errors.Is(err, tc.err) {
				t.Errorf("Serve() = %v; want %v", err, tc.err)
			}
			if !fl.closed.Load() {
				t.Error("Serve returned without closing the listener")
			}
			if got := s.Stats().AcceptErrors; got != 0 {
				t.Errorf("Stats().AcceptErrors = %d; want 0", got)
			}
		})
	}
}

func TestServeNilHandler(t *testing.T) {
	t.Parallel()
	s := &sockserver.Server{Logger: quiet}
	if err := s.Serve(listenTCP(t)); err == nil || errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("Serve() with a nil Handler = %v; want an error", err)
	}
	ps := &sockserver.PacketServer{Logger: quiet}
	if err := ps.Serve(listenUDP(t)); err == nil || errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("PacketServer.Serve() with a nil Handler = %v; want an error", err)
	}
}

func TestServerShutdown(t *testing.T) {
	t.Parallel()
	const grace = 100 * time.Millisecond // drainGrace

	t.Run("idle connection is interrupted", func(t *testing.T) {
		t.Parallel()
		ready := make(chan struct{}, 1)
		errs := make(chan error, 1)
		s := &sockserver.Server{Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
			ready <- struct{}{}
			_, err := bufio.NewReader(conn).ReadString('\n')
			errs <- err
			if errors.Is(err, sockserver.ErrServerClosed) {
				io.WriteString(conn, "bye\n")
			}
			return err
		})}
		sv := startServer(t, s)
		c := dial(t, sv.addr)
		recv(t, ready, "the handler")

		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		err := s.Shutdown(ctx)
		elapsed := time.Since(start)
		if err != nil {
			t.Errorf("Shutdown() = %v; want nil", err)
		}
		if err := recv(t, errs, "the handler's Read"); !errors.Is(err, sockserver.ErrServerClosed) {
			t.Errorf("Read() error = %v; want ErrServerClosed", err)
		}
		if elapsed < grace || elapsed > grace+time.Second {
			t.Errorf("Shutdown took %v; want the %v grace and not much more", elapsed, grace)
		}
		if got := c.rest(t); got != "bye\n" {
			t.Errorf("client read %q; want the handler's goodbye", got)
		}
		if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
			t.Errorf("Serve() = %v; want ErrServerClosed", err)
		}
		if c, err := net.DialTimeout("tcp", sv.addr.String(), time.Second); err == nil {
			c.Close()
			t.Error("Dial after Shutdown succeeded; want it refused")
		}
	})

	t.Run("exchange in progress finishes", func(t *testing.T) {
		t.Parallel()
		gotData := make(chan struct{}, 1)
		errs := make(chan error, 1)
		s := &sockserver.Server{Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
			r := bufio.NewReader(notifyReader{conn, gotData})
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					errs <- err
					return err
				}
				io.WriteString(conn, "got "+line)
			}
		})}
		sv := startServer(t, s)
		c := dial(t, sv.addr)
		c.send(t, "partial")
		recv(t, gotData, "the handler to read the first bytes")

		shut := shutdownAsync(s, waitTimeout)
		select {
		case err := <-errs:
			t.Fatalf("handler's read interrupted mid-request: %v", err)
		case err := <-shut:
			t.Fatalf("Shutdown() = %v before the exchange ended", err)
		case <-time.After(grace + 150*time.Millisecond):
		}
		c.send(t, " rest\n")
		if got, want := c.line(t), "got partial rest\n"; got != want {
			t.Errorf("reply = %q; want %q", got, want)
		}
		if err := recv(t, shut, "Shutdown"); err != nil {
			t.Errorf("Shutdown() = %v; want nil", err)
		}
		if err := recv(t, errs, "the handler's next read"); !errors.Is(err, sockserver.ErrServerClosed) {
			t.Errorf("next Read() error = %v; want ErrServerClosed", err)
		}
		if got := c.rest(t); got != "" {
			t.Errorf("client read %q after the reply; want EOF", got)
		}
	})

	t.Run("request within the grace is answered", func(t *testing.T) {
		t.Parallel()
		started := make(chan struct{}, 1)
		gate := make(chan struct{})
		s := &sockserver.Server{Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
			started <- struct{}{}
			<-gate
			r := bufio.NewReader(conn)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return err
				}
				io.WriteString(conn, "got "+line)
			}
		})}
		sv := startServer(t, s)
		c := dial(t, sv.addr)
		recv(t, started, "the handler")
		// The request is on its way (in the socket, unread) when Shutdown
		// starts; the handler reads it only once the listener is closed.
		c.send(t, "req\n")
		shut := shutdownAsync(s, waitTimeout)
		sv.wait(t)
		close(gate)
		if got, want := c.line(t), "got req\n"; got != want {
			t.Errorf("reply = %q; want %q", got, want)
		}
		if err := recv(t, shut, "Shutdown"); err != nil {
			t.Errorf("Shutdown() = %v; want nil", err)
		}
		if got := c.rest(t); got != "" {
			t.Errorf("client read %q after the reply; want EOF", got)
		}
	})

	t.Run("context expires", func(t *testing.T) {
		t.Parallel()
		gotData := make(chan struct{}, 1)
		errs := make(chan error, 1)
		s := &sockserver.Server{Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
			_, err := bufio.NewReader(notifyReader{conn, gotData}).ReadString('\n')
			errs <- err
			return err
		})}
		sv := startServer(t, s)
		c := dial(t, sv.addr)
		c.send(t, "never finished")
		recv(t, gotData, "the handler to read the first bytes")

		const timeout = 200 * time.Millisecond
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err := s.Shutdown(ctx)
		if elapsed := time.Since(start); elapsed < timeout {
			t.Errorf("Shutdown returned after %v; want at least %v", elapsed, timeout)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown() = %v; want context.DeadlineExceeded", err)
		}
		if err := recv(t, errs, "the handler's Read"); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read() error = %v; want net.ErrClosed", err)
		}
		if got := c.rest(t); got != "" {
			t.Errorf("client read %q; want EOF", got)
		}
		if got := s.Stats().Active; got != 0 {
			t.Errorf("Stats().Active = %d after Shutdown; want 0", got)
		}
	})
}

func TestMarkBusy(t *testing.T) {
	t.Parallel()
	for _, marked := range []bool{true, false} {
		t.Run(fmt.Sprintf("marked=%v", marked), func(t *testing.T) {
			t.Parallel()
			inData := make(chan struct{}, 1)
			errs := make(chan error, 1)
			s := &sockserver.Server{Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
				r := bufio.NewReader(conn)
				if _, err := r.ReadString('\n'); err != nil { // DATA
					return err
				}
				io.WriteString(conn, "354\n")
				if marked {
					sockserver.MarkBusy(conn)
				}
				inData <- struct{}{}
				body, err := r.ReadString('\n')
				errs <- err
				if err != nil {
					return err
				}
				io.WriteString(conn, "250 "+body)
				_, err = r.ReadString('\n')
				return err
			})}
			sv := startServer(t, s)
			c := dial(t, sv.addr)
			c.send(t, "DATA\n")
			if got := c.line(t); got != "354\n" {
				t.Fatalf("reply = %q; want %q", got, "354\n")
			}
			recv(t, inData, "the handler")
			shut := shutdownAsync(s, waitTimeout)

			if !marked {
				if err := recv(t, errs, "the handler's Read"); !errors.Is(err, sockserver.ErrServerClosed) {
					t.Errorf("Read() error = %v; want ErrServerClosed", err)
				}
				if err := recv(t, shut, "Shutdown"); err != nil {
					t.Errorf("Shutdown() = %v; want nil", err)
				}
				return
			}
			select {
			case err := <-errs:
				t.Fatalf("Read() of a busy connection interrupted: %v", err)
			case <-time.After(250 * time.Millisecond):
			}
			c.send(t, "body\n")
			if got := c.line(t); got != "250 body\n" {
				t.Errorf("reply = %q; want %q", got, "250 body\n")
			}
			if err := recv(t, errs, "the handler's Read"); err != nil {
				t.Errorf("Read() error = %v; want nil", err)
			}
			if err := recv(t, shut, "Shutdown"); err != nil {
				t.Errorf("Shutdown() = %v; want nil", err)
			}
		})
	}

	t.Run("other conn", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		sockserver.MarkBusy(a) // ignored, and no panic
	})
}

func TestServerStopped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		stop func(*sockserver.Server) error
	}{
		{"Shutdown", func(s *sockserver.Server) error { return s.Shutdown(context.Background()) }},
		{"Close", func(s *sockserver.Server) error { return s.Close() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &sockserver.Server{Addr: "127.0.0.1:0", Handler: sockserver.HandlerFunc(echo)}
			sv := startServer(t, s)
			c := dial(t, sv.addr)
			c.roundTrip(t, "hello\n")

			if err := tc.stop(s); err != nil {
				t.Errorf("%s() = %v; want nil", tc.name, err)
			}
			if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
				t.Errorf("Serve() = %v; want ErrServerClosed", err)
			}
			if got := c.rest(t); got != "" {
				t.Errorf("client read %q; want EOF", got)
			}
			if c, err := net.DialTimeout("tcp", sv.addr.String(), time.Second); err == nil {
				c.Close()
				t.Errorf("Dial after %s succeeded; want it refused", tc.name)
			}
			l := listenTCP(t)
			if err := s.Serve(l); !errors.Is(err, sockserver.ErrServerClosed) {
				t.Errorf("Serve() after %s = %v; want ErrServerClosed", tc.name, err)
			}
			if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Accept() on the listener given to Serve after %s = %v; want net.ErrClosed", tc.name, err)
			}
			if err := s.ListenAndServe(); !errors.Is(err, sockserver.ErrServerClosed) {
				t.Errorf("ListenAndServe() after %s = %v; want ErrServerClosed", tc.name, err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close() = %v; want nil", err)
			}
			if got := s.Stats().Active; got != 0 {
				t.Errorf("Stats().Active = %d; want 0", got)
			}
		})
	}
}

func TestServerClose(t *testing.T) {
	t.Parallel()
	type ctxKey struct{}
	type ctxResult struct {
		err   error
		value any
	}
	ctxDone := make(chan ctxResult, 1)
	readErr := make(chan error, 1)
	started := make(chan struct{}, 2)
	s := &sockserver.Server{
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), ctxKey{}, "base")
		},
		Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
			r := bufio.NewReader(conn)
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			started <- struct{}{}
			if line == "ctx\n" {
				<-ctx.Done()
				ctxDone <- ctxResult{ctx.Err(), ctx.Value(ctxKey{})}
				return ctx.Err()
			}
			_, err = r.ReadString('\n')
			readErr <- err
			return err
		}),
	}
	sv := startServer(t, s)
	c1 := dial(t, sv.addr)
	c1.send(t, "ctx\n")
	c2 := dial(t, sv.addr)
	c2.send(t, "read\n")
	recv(t, started, "the first handler")
	recv(t, started, "the second handler")

	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v; want nil", err)
	}
	// Close waits for the handlers, so their results are already there.
	select {
	case res := <-ctxDone:
		if res.err != context.Canceled {
			t.Errorf("ctx.Err() = %v; want context.Canceled", res.err)
		}
		if res.value != "base" {
			t.Errorf("ctx.Value() = %v; want the BaseContext's value", res.value)
		}
	default:
		t.Error("Close returned before the handler waiting on ctx")
	}
	select {
	case err := <-readErr:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read() error = %v; want net.ErrClosed", err)
		}
	default:
		t.Error("Close returned before the handler blocked in Read")
	}
	for i, c := range []*client{c1, c2} {
		if got := c.rest(t); got != "" {
			t.Errorf("client %d read %q; want EOF", i+1, got)
		}
	}
	if got := s.Stats().Active; got != 0 {
		t.Errorf("Stats().Active = %d after Close; want 0", got)
	}
	if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("Serve() = %v; want ErrServerClosed", err)
	}
}

func TestWrapListener(t *testing.T) {
	t.Parallel()
	rejected := make(chan error, 2)
	s := &sockserver.Server{Logger: quiet, MaxConns: 1, Reject: busyReply(rejected)}
	l := listenTCP(t)
	wl := s.WrapListener(l)
	var wg sync.WaitGroup
	wg.Go(func() { // another library's accept loop
		for {
			c, err := wl.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				echo(context.Background(), c)
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		s.Close()
		wg.Wait()
	})

	c1 := dial(t, l.Addr())
	c1.roundTrip(t, "hello\n")
	if got := dial(t, l.Addr()).rest(t); got != "busy\n" {
		t.Errorf("client over MaxConns read %q; want %q", got, "busy\n")
	}
	if err := recv(t, rejected, "Reject"); !errors.Is(err, sockserver.ErrTooManyConns) {
		t.Errorf("Reject called with %v; want ErrTooManyConns", err)
	}
	waitStats(t, s, sockserver.Stats{Accepted: 2, Rejected: 1, Active: 1, BytesRead: 6, BytesWritten: 6})

	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v; want nil", err)
	}
	if got := c1.rest(t); got != "" {
		t.Errorf("client read %q after Close; want EOF", got)
	}
	waitFor(t, "Stats().Active == 0", func() bool { return s.Stats().Active == 0 })

	// Close closed the wrapped listener too: the other library's accept loop
	// ends and new connections are refused.
	waitFor(t, "accept loop to end", func() bool {
		c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second)
		if err == nil {
			c.Close()
			return false
		}
		return true
	})
	if _, err := wl.Accept(); err == nil {
		t.Error("Accept() after Close succeeded; want an error")
	}
}

func TestServerCloseWrite(t *testing.T) {
	t.Parallel()
	type result struct {
		ok      bool
		netConn bool
		err     error
		line    string
	}
	results := make(chan result, 1)
	s := &sockserver.Server{Handler: sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
		var res result
		defer func() { results <- res }()
		if _, err := io.WriteString(conn, "bye\n"); err != nil {
			return err
		}
		cw, ok := conn.(interface{ CloseWrite() error })
		res.ok = ok
		if !ok {
			return nil
		}
		nc, ok := conn.(interface{ NetConn() net.Conn })
		if ok {
			_, res.netConn = nc.NetConn().(*net.TCPConn)
		}
		if res.err = cw.CloseWrite(); res.err != nil {
			return res.err
		}
		res.line, res.err = bufio.NewReader(conn).ReadString('\n')
		return res.err
	})}
	sv := startServer(t, s)
	c := dial(t, sv.addr)
	if got := c.rest(t); got != "bye\n" {
		t.Errorf("client read %q; want %q then EOF", got, "bye\n")
	}
	c.send(t, "after\n") // the other direction is still open
	res := recv(t, results, "the handler")
	if !res.ok {
		t.Fatal("conn does not implement CloseWrite")
	}
	if !res.netConn {
		t.Error("NetConn() is not the *net.TCPConn")
	}
	if res.err != nil || res.line != "after\n" {
		t.Errorf("after CloseWrite, ReadString() = %q, %v; want %q, nil", res.line, res.err, "after\n")
	}
}

func TestServerUnixSocket(t *testing.T) {
	t.Parallel()
	listenUnix := func(t testing.TB, path string) *net.UnixListener {
		t.Helper()
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	tests := []struct {
		name    string
		prepare func(t testing.TB, path string)
		wantErr bool
	}{
		{name: "no file", prepare: func(testing.TB, string) {}},
		{name: "stale socket file", prepare: func(t testing.TB, path string) {
			l := listenUnix(t, path)
			l.SetUnlinkOnClose(false)
			l.Close()
			if _, err := os.Lstat(path); err != nil {
				t.Fatalf("stale socket file: %v", err)
			}
		}},
		{name: "live socket", wantErr: true, prepare: func(t testing.TB, path string) {
			l := listenUnix(t, path)
			go func() { // answer the probe
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}},
		{name: "regular file", wantErr: true, prepare: func(t testing.TB, path string) {
			if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "s.sock")
			tc.prepare(t, path)
			before, _ := os.Lstat(path)
			s := &sockserver.Server{Network: "unix", Addr: path, Handler: sockserver.HandlerFunc(echo)}
			l, err := s.Listen(context.Background())
			if tc.wantErr {
				if err == nil {
					l.Close()
					t.Fatal("Listen() = nil error; want an error")
				}
				after, err := os.Lstat(path)
				if err != nil {
					t.Fatalf("Listen removed the file: %v", err)
				}
				if !os.SameFile(before, after) {
					t.Error("Listen replaced the file")
				}
				return
			}
			if err != nil {
				t.Fatalf("Listen() = %v; want nil", err)
			}
			sv := serve(t, s, l)
			dial(t, sv.addr).roundTrip(t, "over unix\n")
		})
	}

	t.Run("ListenAndServe", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "s.sock")
		s := &sockserver.Server{Network: "unix", Addr: path, Logger: quiet, Handler: sockserver.HandlerFunc(echo)}
		addr := &net.UnixAddr{Name: path, Net: "unix"}
		sv := background(t, addr, s, s.ListenAndServe)
		waitFor(t, "the socket file", func() bool {
			c, err := net.Dial("unix", path)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		dial(t, addr).roundTrip(t, "hello\n")
		s.Close()
		if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
			t.Errorf("ListenAndServe() = %v; want ErrServerClosed", err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket file after Close: %v; want it removed", err)
		}
	})
}
