package sockserver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inetkit/inetkit/sockserver"
)

// served is how upperHandler served one connection.
type served struct {
	inline  bool // by ServeInline, not ServeConn
	request string
	remote  net.Addr
	err     error     // ServeConn: the error of its read
	start   time.Time // when the handler was called
	end     time.Time // ServeConn: when its read returned
}

// upperHandler is an InlineHandler for a one-read protocol like the
// tutorial's: it answers one read with "UP:" and the bytes read, ASCII letters
// uppercased, and the connection ends. It counts and reports which path
// served each connection.
type upperHandler struct {
	size int // InlineReadBytes
	// reply, if non-nil, computes the reply instead (and may panic).
	reply func(request []byte) []byte
	// started, if non-nil, is sent to when ServeConn is called, before it
	// reads.
	started chan time.Time
	// events, if non-nil, receives one value per connection; the handler
	// never blocks on it.
	events chan served

	inline, conns atomic.Int64 // connections served by ServeInline, ServeConn
}

var _ sockserver.InlineHandler = (*upperHandler)(nil)

func newUpperHandler(size int) *upperHandler {
	return &upperHandler{size: size, events: make(chan served, 16)}
}

func (h *upperHandler) report(ev served) {
	if h.events != nil {
		select {
		case h.events <- ev:
		default:
		}
	}
}

// answer appends the reply to request to dst.
func (h *upperHandler) answer(request, dst []byte) []byte {
	if h.reply != nil {
		return append(dst, h.reply(request)...)
	}
	return append(append(dst, "UP:"...), upperASCII(request)...)
}

func upperASCII(b []byte) []byte {
	return bytes.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, b)
}

// upperReply is the reply to request: the default reply of upperHandler.
func upperReply(request string) string { return "UP:" + string(upperASCII([]byte(request))) }

func (h *upperHandler) InlineReadBytes() int { return h.size }

func (h *upperHandler) ServeInline(ctx context.Context, request []byte, remote net.Addr, dst []byte) []byte {
	h.inline.Add(1)
	h.report(served{inline: true, request: string(request), remote: remote, start: time.Now()})
	return h.answer(request, dst)
}

func (h *upperHandler) ServeConn(ctx context.Context, conn net.Conn) error {
	h.conns.Add(1)
	ev := served{remote: conn.RemoteAddr(), start: time.Now()}
	if h.started != nil {
		h.started <- ev.start
	}
	buf := make([]byte, max(h.size, 1024))
	n, err := conn.Read(buf)
	ev.end, ev.err, ev.request = time.Now(), err, string(buf[:n])
	h.report(ev)
	if n == 0 && err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if _, err := conn.Write(h.answer(buf[:n], nil)); err != nil {
		return err
	}
	if n == len(buf) {
		sockserver.Linger(conn, buf)
	}
	return nil
}

// paths returns how many connections ServeInline and ServeConn served.
func (h *upperHandler) paths() (inline, conns int64) { return h.inline.Load(), h.conns.Load() }

// oneShot connects to addr, sends request (if not empty), and returns
// everything the server sent until EOF, failing on a reset.
func oneShot(t testing.TB, addr net.Addr, request string) string {
	t.Helper()
	c := dial(t, addr)
	if request != "" {
		c.send(t, request)
	}
	return c.rest(t)
}

// A handler that does not serve inline (InlineReadBytes 0) is served through
// ServeConn alone, on every system.
func TestInlineReadBytesZero(t *testing.T) {
	t.Parallel()
	h := newUpperHandler(0)
	s := &sockserver.Server{Handler: h}
	sv := startServer(t, s)
	for _, req := range []string{"hello", "again"} {
		if got := oneShot(t, sv.addr, req); got != upperReply(req) {
			t.Errorf("reply to %q = %q; want %q then EOF", req, got, upperReply(req))
		}
	}
	if in, conns := h.paths(); in != 0 || conns != 2 {
		t.Errorf("served %d inline, %d by ServeConn; want 0, 2", in, conns)
	}
	waitStats(t, s, sockserver.Stats{Accepted: 2, BytesRead: 10, BytesWritten: 16})
}

// An InlineHandler is answered correctly whichever path serves it, here with
// a client that pauses before sending.
func TestInlineSlowClient(t *testing.T) {
	t.Parallel()
	h := newUpperHandler(64)
	s := &sockserver.Server{IdleTimeout: 5 * time.Second, Handler: h}
	sv := startServer(t, s)
	c := dial(t, sv.addr)
	<-time.After(200 * time.Millisecond) // the client's pause
	c.send(t, "slow client")
	if got := c.rest(t); got != upperReply("slow client") {
		t.Errorf("reply = %q; want %q then EOF", got, upperReply("slow client"))
	}
	if in, conns := h.paths(); in+conns != 1 {
		t.Errorf("served %d inline, %d by ServeConn; want one in all", in, conns)
	}
	waitStats(t, s, sockserver.Stats{Accepted: 1, BytesRead: 11, BytesWritten: 14})
}

func TestLinger(t *testing.T) {
	t.Parallel()

	// The server replies without reading all the client sent: Linger lets
	// the reply arrive, with EOF after it, where a plain close would reset.
	t.Run("unread input", func(t *testing.T) {
		t.Parallel()
		l := listenTCP(t)
		done := make(chan time.Duration, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 4)
			io.ReadFull(c, buf)
			io.WriteString(c, "reply\n")
			start := time.Now()
			sockserver.Linger(c, nil)
			done <- time.Since(start)
		}()
		c := dial(t, l.Addr())
		c.send(t, string(bytes.Repeat([]byte("x"), 256<<10)))
		if got := c.rest(t); got != "reply\n" {
			t.Errorf("client read %q; want %q then EOF", got, "reply\n")
		}
		c.Close()
		if d := recv(t, done, "Linger to return"); d >= sockserver.LingerTimeout {
			t.Errorf("Linger returned after %v, although the client closed; want at once", d)
		}
	})

	// A client that never closes holds Linger for LingerTimeout at most.
	t.Run("client stays", func(t *testing.T) {
		t.Parallel()
		l := listenTCP(t)
		done := make(chan time.Duration, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			start := time.Now()
			sockserver.Linger(c, make([]byte, 16))
			done <- time.Since(start)
		}()
		c := dial(t, l.Addr())
		if got := c.rest(t); got != "" {
			t.Errorf("client read %q; want EOF", got)
		}
		d := recv(t, done, "Linger to return")
		if d < sockserver.LingerTimeout-50*time.Millisecond || d > sockserver.LingerTimeout+time.Second {
			t.Errorf("Linger returned after %v; want about LingerTimeout (%v)", d, sockserver.LingerTimeout)
		}
	})

	t.Run("no CloseWrite", func(t *testing.T) {
		t.Parallel()
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		sockserver.Linger(a, nil) // returns at once: net.Pipe has no CloseWrite
	})
}
