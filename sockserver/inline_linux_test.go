package sockserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/sockserver"
	"golang.org/x/sys/unix"
)

// On Linux, a Server serving an InlineHandler on TCP defers accepting a
// connection until its first data (TCP_DEFER_ACCEPT, when the idle timeout
// allows it) and answers it with ServeInline on the accepting goroutine. A
// client that sends at once is therefore always answered inline, once Serve
// has set TCP_DEFER_ACCEPT.

// startInline serves s on a loopback TCP port and waits until Serve has set
// TCP_DEFER_ACCEPT on the listener: a connection completed earlier would be
// accepted at once, without its data.
func startInline(t testing.TB, s *sockserver.Server) *serving {
	t.Helper()
	l := listenTCP(t)
	sv := serve(t, s, l)
	waitDeferAccept(t, l)
	return sv
}

// waitDeferAccept waits until TCP_DEFER_ACCEPT is set on l.
func waitDeferAccept(t testing.TB, l net.Listener) {
	t.Helper()
	waitFor(t, "Serve to set TCP_DEFER_ACCEPT", func() bool { return deferAccept(t, l) > 0 })
}

// deferAccept returns the TCP_DEFER_ACCEPT option of l, in seconds.
func deferAccept(t testing.TB, l net.Listener) int {
	t.Helper()
	rc, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	v, gerr := 0, error(nil)
	if err := rc.Control(func(fd uintptr) {
		v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT)
	}); err != nil || gerr != nil {
		t.Fatalf("getsockopt TCP_DEFER_ACCEPT: %v, %v", err, gerr)
	}
	return v
}

func TestInlineRoundTrip(t *testing.T) {
	t.Parallel()
	h := newUpperHandler(64)
	s := &sockserver.Server{Handler: h}
	sv := startInline(t, s)
	c := dial(t, sv.addr)
	c.send(t, "hello, world")
	// rest fails on a reset: the server's close is a plain one.
	if got := c.rest(t); got != upperReply("hello, world") {
		t.Errorf("client read %q; want %q then EOF", got, upperReply("hello, world"))
	}
	ev := recv(t, h.events, "the handler")
	if !ev.inline {
		t.Error("served by ServeConn; want ServeInline")
	}
	if ev.request != "hello, world" {
		t.Errorf("ServeInline got request %q; want %q", ev.request, "hello, world")
	}
	if a, ok := ev.remote.(*net.TCPAddr); !ok || a.String() != c.LocalAddr().String() {
		t.Errorf("ServeInline got remote %#v; want the client's address %s", ev.remote, c.LocalAddr())
	}
	waitStats(t, s, sockserver.Stats{Accepted: 1, BytesRead: 12, BytesWritten: 15})

	// Again, with a second and a third client, on the same buffers.
	for _, req := range []string{"second, longer request", "3rd"} {
		if got := oneShot(t, sv.addr, req); got != upperReply(req) {
			t.Errorf("reply to %q = %q; want %q then EOF", req, got, upperReply(req))
		}
	}
	if in, conns := h.paths(); in != 3 || conns != 0 {
		t.Errorf("served %d inline, %d by ServeConn; want 3, 0", in, conns)
	}
	waitStats(t, s, sockserver.Stats{Accepted: 3, BytesRead: 12 + 22 + 3, BytesWritten: 15 + 25 + 6})
}

// A client that shuts down its side without sending gets the reply to an
// empty request.
func TestInlineHalfClose(t *testing.T) {
	t.Parallel()
	h := newUpperHandler(64)
	s := &sockserver.Server{Handler: h}
	sv := startInline(t, s)
	c := dial(t, sv.addr)
	if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := c.rest(t); got != upperReply("") {
		t.Errorf("client read %q; want %q then EOF", got, upperReply(""))
	}
	ev := recv(t, h.events, "the handler")
	if !ev.inline || ev.request != "" {
		t.Errorf("served inline=%v with request %q; want inline with an empty request", ev.inline, ev.request)
	}
	waitStats(t, s, sockserver.Stats{Accepted: 1, BytesWritten: 3})
}

// A request that fills the one read may be followed by more: the reply is
// written, then the connection lingers, so the client sees the reply and EOF
// rather than a reset.
func TestInlineFullRead(t *testing.T) {
	t.Parallel()
	const size = 64
	for _, n := range []int{4 * size, 200 << 10} {
		t.Run(fmt.Sprintf("%d bytes", n), func(t *testing.T) {
			t.Parallel()
			h := newUpperHandler(size)
			s := &sockserver.Server{Handler: h}
			sv := startInline(t, s)
			req := pattern(n)
			c := dial(t, sv.addr)
			c.send(t, req)
			if got, want := c.rest(t), upperReply(req[:size]); got != want {
				t.Errorf("client read %q; want %q then EOF", got, want)
			}
			if in, conns := h.paths(); in != 1 || conns != 0 {
				t.Errorf("served %d inline, %d by ServeConn; want 1, 0", in, conns)
			}
			// What the linger discards may or may not count as read.
			c.Close()
			wantWritten := int64(len(upperReply(req[:size])))
			waitFor(t, "the counters", func() bool {
				st := s.Stats()
				return st.Accepted == 1 && st.Active == 0 && st.BytesRead >= size && st.BytesWritten == wantWritten
			})
		})
	}
}

// pattern returns n lowercase letters that do not repeat with a short period.
func pattern(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%23+i/23%3)%26
	}
	return string(b)
}

// A reply larger than the socket's send buffer cannot be written at once: the
// rest is written on a goroutine, and all of it arrives.
func TestInlineLargeReply(t *testing.T) {
	t.Parallel()
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(i % 251)
	}
	h := newUpperHandler(64)
	h.reply = func([]byte) []byte { return big }
	s := &sockserver.Server{Handler: h}
	sv := startInline(t, s)
	c := dial(t, sv.addr)
	c.send(t, "big")
	// The client reads nothing until the server has filled the socket.
	waitFor(t, "the first write", func() bool { return s.Stats().BytesWritten > 0 })
	if n := s.Stats().BytesWritten; n >= int64(len(big)) {
		t.Fatalf("the first write wrote %d bytes; the test needs a reply larger than the socket buffers", n)
	}
	<-time.After(50 * time.Millisecond)
	got, err := io.ReadAll(c.r)
	if err != nil {
		t.Fatalf("reading the reply: %v after %d bytes", err, len(got))
	}
	if !bytes.Equal(got, big) {
		t.Errorf("client read %d bytes; want the %d of the reply", len(got), len(big))
	}
	if in, conns := h.paths(); in != 1 || conns != 0 {
		t.Errorf("served %d inline, %d by ServeConn; want 1, 0", in, conns)
	}
	c.Close()
	waitStats(t, s, sockserver.Stats{Accepted: 1, BytesRead: 3, BytesWritten: int64(len(big))})
}

func TestInlinePanic(t *testing.T) {
	t.Parallel()
	h := newUpperHandler(64)
	h.reply = func(req []byte) []byte {
		if string(req) == "panic" {
			panic("handler bug")
		}
		return []byte(upperReply(string(req)))
	}
	s := &sockserver.Server{Handler: h}
	sv := startInline(t, s)
	if got := oneShot(t, sv.addr, "panic"); got != "" {
		t.Errorf("panicking handler's client read %q; want EOF", got)
	}
	if got := s.Stats().Panics; got != 1 {
		t.Errorf("Stats().Panics = %d; want 1", got)
	}
	// The server keeps serving, inline.
	if got := oneShot(t, sv.addr, "next"); got != upperReply("next") {
		t.Errorf("next client read %q; want %q then EOF", got, upperReply("next"))
	}
	if in, conns := h.paths(); in != 2 || conns != 0 {
		t.Errorf("served %d inline, %d by ServeConn; want 2, 0", in, conns)
	}
	waitStats(t, s, sockserver.Stats{Accepted: 2, BytesRead: 9, BytesWritten: 7, Panics: 1})
}

// A client that sends nothing is accepted once the deferral (one second) is
// over, and handed to ServeConn; its first read ends at the idle timeout
// counted from the connect, not from the hand-off.
func TestInlineSilentClientDeferred(t *testing.T) {
	t.Parallel()
	const idle = 3 * time.Second // long enough for TCP_DEFER_ACCEPT
	h := newUpperHandler(64)
	s := &sockserver.Server{IdleTimeout: idle, Handler: h}
	sv := startInline(t, s)
	connected := time.Now()
	c := dial(t, sv.addr)
	ev := recv(t, h.events, "the handler's read")
	if ev.inline {
		t.Fatal("silent client served by ServeInline; want ServeConn")
	}
	if d := ev.start.Sub(connected); d < 800*time.Millisecond || d > 2500*time.Millisecond {
		t.Errorf("ServeConn called %v after the connect; want about 1s (a deferred accept)", d)
	}
	if !errors.Is(ev.err, os.ErrDeadlineExceeded) {
		t.Errorf("Read() error = %v; want os.ErrDeadlineExceeded", ev.err)
	}
	// Counted from the hand-off instead, the read would fail a second later.
	if d := ev.end.Sub(connected); d < idle-300*time.Millisecond || d > idle+500*time.Millisecond {
		t.Errorf("Read() failed %v after the connect; want about the idle timeout, %v", d, idle)
	}
	if got := c.rest(t); got != "" {
		t.Errorf("client read %q; want EOF", got)
	}
	waitStats(t, s, sockserver.Stats{Accepted: 1, Timeouts: 1})
}

// With an idle timeout too short for a deferred accept, a silent client is
// handed to ServeConn at once and closed after the idle timeout.
func TestInlineSilentClientShortIdle(t *testing.T) {
	t.Parallel()
	const idle = 500 * time.Millisecond
	h := newUpperHandler(64)
	s := &sockserver.Server{IdleTimeout: idle, Handler: h}
	l := listenTCP(t)
	sv := serve(t, s, l)
	connected := time.Now()
	c := dial(t, sv.addr)
	if got := c.rest(t); got != "" {
		t.Errorf("client read %q; want EOF", got)
	}
	if d := time.Since(connected); d < idle || d > idle+time.Second {
		t.Errorf("connection closed %v after the connect; want about the idle timeout, %v", d, idle)
	}
	ev := recv(t, h.events, "the handler's read")
	if ev.inline {
		t.Fatal("silent client served by ServeInline; want ServeConn")
	}
	if d := ev.start.Sub(connected); d > 300*time.Millisecond {
		t.Errorf("ServeConn called %v after the connect; want at once (no deferred accept)", d)
	}
	if !errors.Is(ev.err, os.ErrDeadlineExceeded) {
		t.Errorf("Read() error = %v; want os.ErrDeadlineExceeded", ev.err)
	}
	waitStats(t, s, sockserver.Stats{Accepted: 1, Timeouts: 1})
	if v := deferAccept(t, l); v != 0 {
		t.Errorf("TCP_DEFER_ACCEPT = %d with an idle timeout of %v; want 0 (off)", v, idle)
	}
}

// Verify and MaxConnsPerIP are applied by admission, on the usual path: with
// either set, connections skip the inline path.
func TestInlineLimits(t *testing.T) {
	t.Parallel()

	t.Run("MaxConnsPerIP", func(t *testing.T) {
		t.Parallel()
		h := newUpperHandler(64)
		s := &sockserver.Server{MaxConnsPerIP: 2, Handler: h}
		sv := startInline(t, s)
		if got := oneShot(t, sv.addr, "hello"); got != upperReply("hello") {
			t.Errorf("client read %q; want %q then EOF", got, upperReply("hello"))
		}
		if in, conns := h.paths(); in != 1 || conns != 0 {
			t.Errorf("served %d inline, %d by ServeConn; want 1, 0", in, conns)
		}
		waitStats(t, s, sockserver.Stats{Accepted: 1, BytesRead: 5, BytesWritten: 8})
	})

	t.Run("Verify", func(t *testing.T) {
		t.Parallel()
		errDenied := errors.New("denied")
		rejected := make(chan error, 1)
		h := newUpperHandler(64)
		s := &sockserver.Server{
			Handler: h,
			Reject:  busyReply(rejected),
			Verify: func(remote net.Addr) error {
				if a, ok := remote.(*net.TCPAddr); ok && a.IP.Equal(net.ParseIP("127.0.0.2")) {
					return errDenied
				}
				return nil
			},
		}
		sv := startInline(t, s)
		// The refused client sends at once, as a client of the inline path
		// does: its connection is accepted with the request unread.
		denied := dialFrom(t, "127.0.0.2", sv.addr)
		denied.send(t, "let me in")
		if got := denied.line(t); got != "busy\n" {
			t.Errorf("client from 127.0.0.2 read %q; want %q", got, "busy\n")
		}
		if err := recv(t, rejected, "Reject"); err != errDenied {
			t.Errorf("Reject called with %v; want Verify's error", err)
		}
		if got := oneShot(t, sv.addr, "hello"); got != upperReply("hello") {
			t.Errorf("client from 127.0.0.1 read %q; want %q then EOF", got, upperReply("hello"))
		}
		if in, conns := h.paths(); in != 1 || conns != 0 {
			t.Errorf("served %d inline, %d by ServeConn; want 1, 0", in, conns)
		}
		waitStats(t, s, sockserver.Stats{Accepted: 2, Rejected: 1, BytesRead: 5, BytesWritten: 8})
	})
}

// With MaxConns connections open, a client that would be served inline is
// rejected instead.
func TestInlineMaxConns(t *testing.T) {
	t.Parallel()
	rejected := make(chan error, 1)
	h := newUpperHandler(64)
	h.started = make(chan time.Time, 1)
	s := &sockserver.Server{MaxConns: 1, Handler: h, Reject: busyReply(rejected)}
	sv := startInline(t, s)
	// A silent client, accepted after the deferral, holds the one slot in
	// ServeConn.
	held := dial(t, sv.addr)
	recv(t, h.started, "the silent client's handler")
	if got := s.Stats().Active; got != 1 {
		t.Fatalf("Stats().Active = %d; want 1", got)
	}

	c := dial(t, sv.addr)
	c.send(t, "hello")
	if got := c.line(t); got != "busy\n" {
		t.Errorf("client over MaxConns read %q; want %q", got, "busy\n")
	}
	if err := recv(t, rejected, "Reject"); !errors.Is(err, sockserver.ErrTooManyConns) {
		t.Errorf("Reject called with %v; want ErrTooManyConns", err)
	}
	if in, _ := h.paths(); in != 0 {
		t.Errorf("served %d inline; want 0", in)
	}

	// The slot, once free, serves inline again.
	held.send(t, "held")
	if got := held.rest(t); got != upperReply("held") {
		t.Errorf("held client read %q; want %q then EOF", got, upperReply("held"))
	}
	waitFor(t, "Stats().Active == 0", func() bool { return s.Stats().Active == 0 })
	if got := oneShot(t, sv.addr, "next"); got != upperReply("next") {
		t.Errorf("next client read %q; want %q then EOF", got, upperReply("next"))
	}
	if in, conns := h.paths(); in != 1 || conns != 1 {
		t.Errorf("served %d inline, %d by ServeConn; want 1, 1", in, conns)
	}
	waitStats(t, s, sockserver.Stats{Accepted: 3, Rejected: 1, BytesRead: 8, BytesWritten: 14})
}

// Shutdown and Close close the listener and its duplicate that the inline
// path accepts on: Serve returns and new connections are refused.
func TestInlineStopped(t *testing.T) {
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
			h := newUpperHandler(64)
			s := &sockserver.Server{Handler: h}
			sv := startInline(t, s)
			if got := oneShot(t, sv.addr, "hello"); got != upperReply("hello") {
				t.Errorf("client read %q; want %q then EOF", got, upperReply("hello"))
			}
			if in, _ := h.paths(); in != 1 {
				t.Fatalf("served %d inline; want 1", in)
			}
			stopped := make(chan error, 1)
			go func() { stopped <- tc.stop(s) }()
			if err := recv(t, stopped, tc.name); err != nil {
				t.Errorf("%s() = %v; want nil", tc.name, err)
			}
			if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
				t.Errorf("Serve() = %v; want ErrServerClosed", err)
			}
			if c, err := net.DialTimeout("tcp", sv.addr.String(), time.Second); err == nil {
				c.Close()
				t.Errorf("Dial after %s succeeded; want it refused (is the duplicate listening socket still open?)", tc.name)
			} else if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("Dial after %s: %v; want ECONNREFUSED", tc.name, err)
			}
		})
	}
}

// A silent client, handed to ServeConn after the deferral, is waiting for its
// request: Shutdown interrupts its read.
func TestInlineShutdownSilentClient(t *testing.T) {
	t.Parallel()
	h := newUpperHandler(64)
	h.started = make(chan time.Time, 1)
	s := &sockserver.Server{Handler: h}
	sv := startInline(t, s)
	c := dial(t, sv.addr)
	recv(t, h.started, "the silent client's handler")

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown() = %v; want nil", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Shutdown took %v; want the 100ms grace and not much more", d)
	}
	ev := recv(t, h.events, "the handler's read")
	if !errors.Is(ev.err, sockserver.ErrServerClosed) {
		t.Errorf("Read() error = %v; want ErrServerClosed", ev.err)
	}
	if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("Serve() = %v; want ErrServerClosed", err)
	}
	if got := c.rest(t); got != "" {
		t.Errorf("client read %q; want EOF", got)
	}
}

func TestInlineIPv6(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	h := newUpperHandler(64)
	s := &sockserver.Server{Handler: h}
	sv := serve(t, s, l)
	waitDeferAccept(t, l)
	c := dial(t, sv.addr)
	c.send(t, "over v6")
	if got := c.rest(t); got != upperReply("over v6") {
		t.Errorf("client read %q; want %q then EOF", got, upperReply("over v6"))
	}
	ev := recv(t, h.events, "the handler")
	if !ev.inline {
		t.Error("served by ServeConn; want ServeInline")
	}
	a, ok := ev.remote.(*net.TCPAddr)
	if !ok {
		t.Fatalf("ServeInline got remote %#v; want a *net.TCPAddr", ev.remote)
	}
	if !a.IP.Equal(net.IPv6loopback) || a.IP.To4() != nil || a.Port != c.LocalAddr().(*net.TCPAddr).Port {
		t.Errorf("ServeInline got remote %v; want the client's address %v", a, c.LocalAddr())
	}
}
