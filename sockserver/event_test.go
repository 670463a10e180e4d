//go:build linux

package sockserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inetkit/inetkit/sockserver"
	"golang.org/x/sys/unix"
)

// On Linux, a Server serving an EventHandler on TCP serves each connection
// from one of its event loops (one per CPU) through an EventSession, with no
// goroutine per connection. evHandler's sessions answer lines with a prefix,
// so a reply tells which path served it: the session ("ev:" and the line) or
// ServeConn (the line alone, as echo does).

const (
	evPrefix = "ev:"
	evError  = "error\n" // the session answers evBye and returns errEvSession
	evPanic  = "panic\n" // the session panics
	evBye    = "bye\n"
)

var errEvSession = errors.New("evSession: error requested")

// evHandler is an EventHandler whose sessions answer every line with evPrefix
// and the line, and End with "end:", the unterminated rest and a newline.
// ServeConn, the goroutine path, echoes lines unchanged.
type evHandler struct {
	nilSession bool           // NewEventSession returns nil
	amplify    int            // if > 0, Data answers any data with amplify copies of it
	onNew      func(net.Addr) // if non-nil, called first by NewEventSession
	trackLoops bool           // record the goroutines that call Data in loops
	remotes    chan net.Addr  // if non-nil, receives NewEventSession's remote; never blocks
	busy       atomic.Bool    // every session reports Busy

	newCalls atomic.Int64 // NewEventSession calls
	conns    atomic.Int64 // ServeConn calls: the goroutine path
	datas    atomic.Int64 // Data calls
	ends     atomic.Int64 // End calls

	loopsMu sync.Mutex
	loops   map[string]bool // with trackLoops: IDs of the goroutines that called Data
}

var _ sockserver.EventHandler = (*evHandler)(nil)

func (h *evHandler) ServeConn(ctx context.Context, conn net.Conn) error {
	h.conns.Add(1)
	return echo(ctx, conn)
}

func (h *evHandler) NewEventSession(remote net.Addr) sockserver.EventSession {
	h.newCalls.Add(1)
	if h.onNew != nil {
		h.onNew(remote)
	}
	if h.remotes != nil {
		select {
		case h.remotes <- remote:
		default:
		}
	}
	if h.nilSession {
		return nil
	}
	return &evSession{h: h}
}

// evSession is the session of an evHandler. partial holds the start of a line
// not yet complete; the session is Busy while it holds one.
type evSession struct {
	h       *evHandler
	partial []byte
}

func (s *evSession) Data(data, dst []byte) ([]byte, error) {
	s.h.datas.Add(1)
	if s.h.trackLoops {
		id := evGoroutineID()
		s.h.loopsMu.Lock()
		if s.h.loops == nil {
			s.h.loops = make(map[string]bool)
		}
		s.h.loops[id] = true
		s.h.loopsMu.Unlock()
	}
	if s.h.amplify > 0 {
		for range s.h.amplify {
			dst = append(dst, data...)
		}
		return dst, nil
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.partial = append(s.partial, data...) // data is only lent
			break
		}
		line := append(s.partial, data[:i+1]...)
		s.partial = line[:0]
		data = data[i+1:]
		switch string(line) {
		case evPanic:
			panic("evSession: panic requested")
		case evError:
			return append(dst, evBye...), errEvSession
		}
		dst = append(append(dst, evPrefix...), line...)
	}
	return dst, nil
}

func (s *evSession) End(dst []byte) []byte {
	s.h.ends.Add(1)
	dst = append(append(dst, "end:"...), s.partial...)
	s.partial = s.partial[:0]
	return append(dst, '\n')
}

func (s *evSession) Busy() bool { return s.h.busy.Load() || len(s.partial) > 0 }

// evGoroutineID returns the ID of the calling goroutine, from its stack.
func evGoroutineID() string {
	var buf [64]byte
	s := string(buf[:runtime.Stack(buf[:], false)])
	s = strings.TrimPrefix(s, "goroutine ")
	id, _, _ := strings.Cut(s, " ")
	return id
}

// evRoundTrip sends line and checks that the session answers it.
func evRoundTrip(t testing.TB, c *client, line string) {
	t.Helper()
	c.send(t, line)
	if got, want := c.line(t), evPrefix+line; got != want {
		t.Fatalf("reply = %q; want %q", got, want)
	}
}

// evWithin polls cond for at most d and reports whether it came to hold.
func evWithin(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// evStackHas reports whether some goroutine's stack contains s.
func evStackHas(s string) bool {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Contains(string(buf[:n]), s)
		}
		buf = make([]byte, 2*len(buf))
	}
}

// evLoopRunning is in the stack of every event loop.
const evLoopRunning = "sockserver.(*eventLoop).run("

func TestEventRoundTrip(t *testing.T) {
	t.Parallel()
	h := &evHandler{remotes: make(chan net.Addr, 1)}
	s := &sockserver.Server{Handler: h}
	sv := startServer(t, s)
	c := dial(t, sv.addr)

	evRoundTrip(t, c, "hello\n")
	if got := recv(t, h.remotes, "NewEventSession"); got.String() != c.LocalAddr().String() {
		t.Errorf("NewEventSession got remote %v; want the client's address %v", got, c.LocalAddr())
	} else if _, ok := got.(*net.TCPAddr); !ok {
		t.Errorf("NewEventSession got remote %T; want *net.TCPAddr", got)
	}
	if got := s.Stats().Active; got != 1 {
		t.Errorf("Stats().Active = %d while connected; want 1", got)
	}

	// Pipelined: many lines written before any reply is read, one of them
	// split across writes, are answered in order.
	var sent, want strings.Builder
	for i := range 100 {
		line := fmt.Sprintf("line %d\n", i)
		sent.WriteString(line)
		want.WriteString(evPrefix + line)
		c.send(t, line)
	}
	c.send(t, "split ")
	c.send(t, "line\n")
	sent.WriteString("split line\n")
	want.WriteString(evPrefix + "split line\n")
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(c.r, got); err != nil {
		t.Fatalf("reading the pipelined replies: %v (after %q)", err, got)
	}
	if string(got) != want.String() {
		t.Errorf("pipelined replies = %q; want %q", got, want.String())
	}

	// End: its reply follows the client's CloseWrite, then EOF.
	c.send(t, "tail")
	if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.rest(t), "end:tail\n"; got != want {
		t.Errorf("after CloseWrite, client read %q; want %q then EOF", got, want)
	}
	if got := h.ends.Load(); got != 1 {
		t.Errorf("End called %d times; want 1", got)
	}
	if got := h.conns.Load(); got != 0 {
		t.Errorf("ServeConn called %d times; want 0: the session serves", got)
	}
	if got := h.datas.Load(); got < 3 {
		t.Errorf("Data called %d times; want at least 3", got)
	}
	read := int64(len("hello\n") + sent.Len() + len("tail"))
	written := int64(len(evPrefix+"hello\n") + want.Len() + len("end:tail\n"))
	waitStats(t, s, sockserver.Stats{Accepted: 1, BytesRead: read, BytesWritten: written})
}

// A nil session sends the connection to ServeConn.
func TestEventNilSession(t *testing.T) {
	t.Parallel()
	h := &evHandler{nilSession: true}
	s := &sockserver.Server{Handler: h}
	sv := startServer(t, s)
	c := dial(t, sv.addr)
	c.roundTrip(t, "hello\n") // echo, without the session's prefix
	c.roundTrip(t, "again\n")
	if got := s.Stats().Active; got != 1 {
		t.Errorf("Stats().Active = %d while connected; want 1", got)
	}
	if n, conns, datas := h.newCalls.Load(), h.conns.Load(), h.datas.Load(); n != 1 || conns != 1 || datas != 0 {
		t.Errorf("NewEventSession, ServeConn, Data called %d, %d, %d times; want 1, 1, 0", n, conns, datas)
	}
	c.Close()
	waitStats(t, s, sockserver.Stats{Accepted: 1, BytesRead: 12, BytesWritten: 12})
}

// Verify runs once per connection, whichever path serves it.
func TestEventNilSessionVerifiedOnce(t *testing.T) {
	t.Parallel()
	var verified atomic.Int64
	h := &evHandler{nilSession: true}
	s := &sockserver.Server{Handler: h, Verify: func(net.Addr) error { verified.Add(1); return nil }}
	sv := startServer(t, s)
	dial(t, sv.addr).roundTrip(t, "hello\n")
	if got := verified.Load(); got != 1 {
		t.Errorf("Verify called %d times for one connection; want 1", got)
	}
	if got := h.conns.Load(); got != 1 {
		t.Errorf("ServeConn called %d times; want 1", got)
	}
}

func TestEventIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 300 * time.Millisecond
	h := &evHandler{}
	s := &sockserver.Server{IdleTimeout: idle, Handler: h}
	sv := startServer(t, s)

	// An active client, sending every 100ms for well over the idle timeout.
	activeDone := make(chan error, 1)
	go func() {
		c, err := net.DialTimeout("tcp", sv.addr.String(), waitTimeout)
		if err != nil {
			activeDone <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(waitTimeout))
		tick := time.NewTicker(idle / 3)
		defer tick.Stop()
		buf := make([]byte, 64)
		for i := range 8 {
			line := fmt.Sprintf("ping %d\n", i)
			if _, err := io.WriteString(c, line); err != nil {
				activeDone <- fmt.Errorf("round trip %d: %w", i, err)
				return
			}
			want := evPrefix + line
			if _, err := io.ReadFull(c, buf[:len(want)]); err != nil || string(buf[:len(want)]) != want {
				activeDone <- fmt.Errorf("round trip %d: read %q, %v; want %q", i, buf[:len(want)], err, want)
				return
			}
			<-tick.C
		}
		activeDone <- nil
	}()

	start := time.Now()
	c := dial(t, sv.addr) // and silent
	if got := c.rest(t); got != "" {
		t.Errorf("silent client read %q; want EOF", got)
	}
	if d := time.Since(start); d < idle || d > 2*idle {
		t.Errorf("silent client closed after %v; want %v (and not much more)", d, idle)
	}
	if err := recv(t, activeDone, "the active client"); err != nil {
		t.Errorf("active client: %v; want it served throughout", err)
	}
	waitFor(t, "Stats().Active == 0", func() bool { return s.Stats().Active == 0 })
	if got := s.Stats().Timeouts; got != 1 {
		t.Errorf("Stats().Timeouts = %d; want 1 (the silent client only)", got)
	}
}

// evFlood is what evFloodConn saw.
type evFlood struct {
	written int64
	blocked time.Time // when a write first stalled for 100ms
	failed  time.Time // when a write failed otherwise: the server closed
	err     error
}

// evFloodConn writes to c as fast as the server takes it, never reading, until
// a write fails otherwise than by its 100ms deadline (the server closed the
// connection), max bytes are written, or the writes have been stalled for
// waitTimeout. It closes blocked when a write first stalls.
func evFloodConn(c net.Conn, max int64, blocked chan<- struct{}) evFlood {
	var f evFlood
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	for f.written < max {
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.Write(chunk)
		f.written += int64(n)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			if f.blocked.IsZero() {
				f.blocked = time.Now()
				close(blocked)
			}
		default:
			f.failed, f.err = time.Now(), err
			return f
		}
		if time.Since(f.blocked) > waitTimeout && !f.blocked.IsZero() {
			return f
		}
	}
	return f
}

// A client that sends but never reads stops being read from once its replies
// wait (HARDENING G4): it cannot make the server hold more than about one
// read's worth of reply, and it is closed after WriteTimeout.
func TestEventWriteTimeout(t *testing.T) {
	t.Parallel()
	const wt = 500 * time.Millisecond
	const max = 64 << 20
	h := &evHandler{amplify: 10}
	s := &sockserver.Server{WriteTimeout: wt, Handler: h}
	sv := startServer(t, s)
	c := dial(t, sv.addr)

	start := time.Now()
	blocked := make(chan struct{})
	flooded := make(chan evFlood, 1)
	go func() { flooded <- evFloodConn(c.Conn, max, blocked) }()
	select {
	case <-blocked:
	case f := <-flooded:
		t.Fatalf("client wrote %d bytes without blocking (err %v); want the server to stop reading", f.written, f.err)
	case <-time.After(waitTimeout):
		t.Fatal("client's writes never blocked; want the server to stop reading")
	}
	// The client keeps trying to write: a server that still read now and
	// then, queueing ever more reply, would take some.
	readWhenBlocked := s.Stats().BytesRead
	waitFor(t, "Stats().Timeouts == 1", func() bool { return s.Stats().Timeouts == 1 })
	closed := time.Since(start)
	waitFor(t, "Stats().Active == 0", func() bool { return s.Stats().Active == 0 })
	f := recv(t, flooded, "the client's writes to fail")
	if got := s.Stats().BytesRead; got != readWhenBlocked {
		t.Errorf("server read %d bytes once the client's writes stalled (%d in all); want none until the replies are taken",
			got-readWhenBlocked, got)
	}
	if f.err == nil {
		t.Errorf("client wrote %d bytes and its writes never failed; want the connection closed", f.written)
	}
	if f.written >= max {
		t.Errorf("client wrote %d bytes before blocking; want the server to stop reading well before", f.written)
	}
	if st := s.Stats(); st.BytesRead >= max {
		t.Errorf("Stats().BytesRead = %d; want the server to stop reading well before %d", st.BytesRead, max)
	}
	if closed < wt {
		t.Errorf("connection timed out after %v; want at least WriteTimeout %v", closed, wt)
	}
	t.Logf("client wrote %d bytes, server read %d; closed after %v", f.written, s.Stats().BytesRead, closed)
}

// The write timeout is enforced about when it expires, as the idle timeout
// is, not at the next once-a-second sweep.
func TestEventWriteTimeoutPrompt(t *testing.T) {
	t.Parallel()
	const wt = 200 * time.Millisecond
	s := &sockserver.Server{WriteTimeout: wt, Handler: &evHandler{amplify: 10}}
	sv := startServer(t, s)
	c := dial(t, sv.addr)
	start := time.Now()
	blocked := make(chan struct{})
	flooded := make(chan evFlood, 1)
	go func() { flooded <- evFloodConn(c.Conn, 64<<20, blocked) }()
	waitFor(t, "Stats().Timeouts == 1", func() bool { return s.Stats().Timeouts == 1 })
	if d := time.Since(start); d > 2*wt+100*time.Millisecond {
		t.Errorf("connection timed out after %v; want WriteTimeout %v (and not much more)", d, wt)
	}
	c.Close()
	recv(t, flooded, "the client's writes to end")
}

// A session error ends the connection gracefully: the reply written before
// it arrives, then EOF, with no reset even though the client sent more, and
// the server lingers until the client closes or LingerTimeout passes.
func TestEventSessionError(t *testing.T) {
	t.Parallel()

	t.Run("client closes", func(t *testing.T) {
		t.Parallel()
		s := &sockserver.Server{Handler: &evHandler{}}
		sv := startServer(t, s)
		c := dial(t, sv.addr)
		c.send(t, "hi\n"+evError)
		if got, want := c.line(t)+c.line(t), evPrefix+"hi\n"+evBye; got != want {
			t.Errorf("client read %q; want %q", got, want)
		}
		c.send(t, "more after the error\n") // discarded, not reset
		if got := c.rest(t); got != "" {
			t.Errorf("client read %q after the reply; want EOF", got)
		}
		if got := s.Stats().Errors; got != 1 {
			t.Errorf("Stats().Errors = %d; want 1", got)
		}
		// The server lingers, reading, until the client closes.
		if got := s.Stats().Active; got != 1 {
			t.Errorf("Stats().Active = %d before the client closed; want 1 (lingering)", got)
		}
		c.Close()
		start := time.Now()
		waitFor(t, "Stats().Active == 0", func() bool { return s.Stats().Active == 0 })
		if d := time.Since(start); d > sockserver.LingerTimeout/2 {
			t.Errorf("connection closed %v after the client; want at once", d)
		}
	})

	t.Run("LingerTimeout", func(t *testing.T) {
		t.Parallel()
		s := &sockserver.Server{Handler: &evHandler{}}
		sv := startServer(t, s)
		c := dial(t, sv.addr)
		start := time.Now()
		c.send(t, evError+"right behind the error\n")
		c.send(t, strings.Repeat("and more\n", 1000))
		if got := c.rest(t); got != evBye {
			t.Errorf("client read %q; want %q then EOF", got, evBye)
		}
		c.send(t, "after EOF\n")
		if got := s.Stats().Active; got != 1 {
			t.Errorf("Stats().Active = %d right after the error; want 1 (lingering)", got)
		}
		waitFor(t, "Stats().Active == 0", func() bool { return s.Stats().Active == 0 })
		if d := time.Since(start); d < sockserver.LingerTimeout || d > sockserver.LingerTimeout+1500*time.Millisecond {
			t.Errorf("lingering connection closed after %v; want LingerTimeout %v (and not much more)", d, sockserver.LingerTimeout)
		}
		if st := s.Stats(); st.Errors != 1 || st.Timeouts != 0 {
			t.Errorf("Stats() Errors, Timeouts = %d, %d; want 1, 0", st.Errors, st.Timeouts)
		}
	})
}

// A panic in Data is recovered: it closes that connection only.
func TestEventPanic(t *testing.T) {
	t.Parallel()
	s := &sockserver.Server{Handler: &evHandler{}}
	sv := startServer(t, s)
	other := dial(t, sv.addr)
	evRoundTrip(t, other, "before\n")

	c := dial(t, sv.addr)
	evRoundTrip(t, c, "first\n")
	c.send(t, evPanic)
	if got := c.rest(t); got != "" {
		t.Errorf("panicking session's client read %q; want EOF", got)
	}
	if st := s.Stats(); st.Panics != 1 || st.Errors != 0 {
		t.Errorf("Stats() Panics, Errors = %d, %d; want 1, 0", st.Panics, st.Errors)
	}
	evRoundTrip(t, other, "after\n")
	evRoundTrip(t, dial(t, sv.addr), "new\n")
	waitFor(t, "Stats().Active == 2", func() bool { return s.Stats().Active == 2 })
	other.Close()
	waitFor(t, "Stats().Active == 1", func() bool { return s.Stats().Active == 1 })
}

func TestEventLimits(t *testing.T) {
	t.Parallel()

	t.Run("MaxConns", func(t *testing.T) {
		t.Parallel()
		rejected := make(chan error, 1)
		h := &evHandler{}
		s := &sockserver.Server{MaxConns: 2, Handler: h, Reject: busyReply(rejected)}
		sv := startServer(t, s)
		c1 := dial(t, sv.addr)
		evRoundTrip(t, c1, "one\n")
		c2 := dial(t, sv.addr)
		evRoundTrip(t, c2, "two\n")
		if got := dial(t, sv.addr).rest(t); got != "busy\n" {
			t.Errorf("third client read %q; want %q", got, "busy\n")
		}
		if err := recv(t, rejected, "Reject"); !errors.Is(err, sockserver.ErrTooManyConns) {
			t.Errorf("Reject called with %v; want ErrTooManyConns", err)
		}
		if got := h.newCalls.Load(); got != 2 {
			t.Errorf("NewEventSession called %d times; want 2 (not for the rejected client)", got)
		}
		waitStats(t, s, sockserver.Stats{Accepted: 3, Rejected: 1, Active: 2, BytesRead: 8, BytesWritten: 14})

		c1.Close()
		waitFor(t, "Stats().Active == 1", func() bool { return s.Stats().Active == 1 })
		evRoundTrip(t, dial(t, sv.addr), "three\n")
		c2.Close()
		waitFor(t, "Stats().Active == 1", func() bool { return s.Stats().Active == 1 })
		if got := s.Stats().Rejected; got != 1 {
			t.Errorf("Stats().Rejected = %d; want 1", got)
		}
	})

	t.Run("MaxConnsPerIP", func(t *testing.T) {
		t.Parallel()
		rejected := make(chan error, 1)
		s := &sockserver.Server{MaxConnsPerIP: 1, Handler: &evHandler{}, Reject: busyReply(rejected)}
		sv := startServer(t, s)
		a := dialFrom(t, "127.0.0.1", sv.addr)
		evRoundTrip(t, a, "a\n")
		if got := dialFrom(t, "127.0.0.1", sv.addr).rest(t); got != "busy\n" {
			t.Errorf("second client from 127.0.0.1 read %q; want %q", got, "busy\n")
		}
		if err := recv(t, rejected, "Reject"); !errors.Is(err, sockserver.ErrTooManyConnsPerIP) {
			t.Errorf("Reject called with %v; want ErrTooManyConnsPerIP", err)
		}
		b := dialFrom(t, "127.0.0.2", sv.addr) // another address is not affected
		evRoundTrip(t, b, "b\n")

		a.Close()
		waitFor(t, "Stats().Active == 1", func() bool { return s.Stats().Active == 1 })
		a2 := dialFrom(t, "127.0.0.1", sv.addr)
		evRoundTrip(t, a2, "a again\n")
		if got := s.Stats().Rejected; got != 1 {
			t.Errorf("Stats().Rejected = %d; want 1", got)
		}
		a2.Close()
		b.Close()
		waitFor(t, "Stats().Active == 0", func() bool { return s.Stats().Active == 0 })
	})

	t.Run("Verify", func(t *testing.T) {
		t.Parallel()
		errDenied := errors.New("denied")
		rejected := make(chan error, 1)
		h := &evHandler{}
		s := &sockserver.Server{
			Verify: func(remote net.Addr) error {
				if a, ok := remote.(*net.TCPAddr); ok && a.IP.Equal(net.ParseIP("127.0.0.2")) {
					return errDenied
				}
				return nil
			},
			Reject:  busyReply(rejected),
			Handler: h,
		}
		sv := startServer(t, s)
		if got := dialFrom(t, "127.0.0.2", sv.addr).rest(t); got != "busy\n" {
			t.Errorf("client from 127.0.0.2 read %q; want %q", got, "busy\n")
		}
		if err := recv(t, rejected, "Reject"); err != errDenied {
			t.Errorf("Reject called with %v; want Verify's error", err)
		}
		c := dialFrom(t, "127.0.0.1", sv.addr)
		evRoundTrip(t, c, "hello\n")
		if got := h.newCalls.Load(); got != 1 {
			t.Errorf("NewEventSession called %d times; want 1 (not for the refused client)", got)
		}
		c.Close() // the session's End answers "end:\n", which the socket still takes
		waitStats(t, s, sockserver.Stats{Accepted: 2, Rejected: 1, BytesRead: 6, BytesWritten: 9 + 5})
	})
}

func TestEventShutdown(t *testing.T) {
	t.Parallel()
	const grace = 100 * time.Millisecond // drainGrace

	t.Run("quiet connection is closed", func(t *testing.T) {
		t.Parallel()
		s := &sockserver.Server{Handler: &evHandler{}}
		sv := startServer(t, s)
		c := dial(t, sv.addr)
		evRoundTrip(t, c, "hello\n")

		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown() = %v; want nil", err)
		}
		if d := time.Since(start); d < grace || d > grace+500*time.Millisecond {
			t.Errorf("Shutdown took %v; want the %v grace and not much more", d, grace)
		}
		if got := c.rest(t); got != "" {
			t.Errorf("client read %q; want EOF", got)
		}
		if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
			t.Errorf("Serve() = %v; want ErrServerClosed", err)
		}
		if c, err := net.DialTimeout("tcp", sv.addr.String(), time.Second); err == nil {
			c.Close()
			t.Error("Dial after Shutdown succeeded; want it refused")
		}
		if got := s.Stats().Active; got != 0 {
			t.Errorf("Stats().Active = %d after Shutdown; want 0", got)
		}
	})

	t.Run("busy session finishes", func(t *testing.T) {
		t.Parallel()
		h := &evHandler{}
		s := &sockserver.Server{Handler: h}
		sv := startServer(t, s)
		c := dial(t, sv.addr)
		evRoundTrip(t, c, "hello\n")
		c.send(t, "partial") // Busy until the line is complete
		waitFor(t, "the session to get the partial line", func() bool { return h.datas.Load() == 2 })

		shut := shutdownAsync(s, waitTimeout)
		c.SetReadDeadline(time.Now().Add(grace + 200*time.Millisecond))
		if b, err := c.r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("busy connection read %q, %v during Shutdown; want it left open", b, err)
		}
		select {
		case err := <-shut:
			t.Fatalf("Shutdown() = %v while a session is busy", err)
		default:
		}
		c.SetReadDeadline(time.Now().Add(waitTimeout))
		c.send(t, " rest\n")
		if got, want := c.line(t), evPrefix+"partial rest\n"; got != want {
			t.Errorf("reply = %q; want %q", got, want)
		}
		if got := c.rest(t); got != "" {
			t.Errorf("client read %q after the reply; want EOF", got)
		}
		if err := recv(t, shut, "Shutdown"); err != nil {
			t.Errorf("Shutdown() = %v; want nil", err)
		}
		if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
			t.Errorf("Serve() = %v; want ErrServerClosed", err)
		}
		if got := s.Stats().Active; got != 0 {
			t.Errorf("Stats().Active = %d after Shutdown; want 0", got)
		}
	})

	t.Run("context expires", func(t *testing.T) {
		t.Parallel()
		h := &evHandler{}
		s := &sockserver.Server{Handler: h}
		sv := startServer(t, s)
		c := dial(t, sv.addr)
		evRoundTrip(t, c, "hello\n")
		h.busy.Store(true)

		const timeout = 200 * time.Millisecond
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err := s.Shutdown(ctx)
		if d := time.Since(start); d < timeout {
			t.Errorf("Shutdown returned after %v; want at least %v", d, timeout)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown() = %v; want context.DeadlineExceeded", err)
		}
		if got := c.rest(t); got != "" {
			t.Errorf("client read %q; want EOF", got)
		}
		if got := s.Stats().Active; got != 0 {
			t.Errorf("Stats().Active = %d after Shutdown; want 0", got)
		}
		if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
			t.Errorf("Serve() = %v; want ErrServerClosed", err)
		}
	})
}

// Close closes every event connection at once and leaves no goroutine
// behind. Not parallel: it counts the process's goroutines.
func TestEventClose(t *testing.T) {
	before := runtime.NumGoroutine()
	h := &evHandler{}
	s := &sockserver.Server{Handler: h}
	sv := startServer(t, s)
	var cs []*client
	for i := range 2 * runtime.GOMAXPROCS(0) { // on every loop
		c := dial(t, sv.addr)
		evRoundTrip(t, c, fmt.Sprintf("client %d\n", i))
		cs = append(cs, c)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v; want nil", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Close took %v; want it prompt", d)
	}
	for i, c := range cs {
		if got := c.rest(t); got != "" {
			t.Errorf("client %d read %q; want EOF", i, got)
		}
	}
	if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("Serve() = %v; want ErrServerClosed", err)
	}
	if got := s.Stats().Active; got != 0 {
		t.Errorf("Stats().Active = %d after Close; want 0", got)
	}
	if evStackHas(evLoopRunning) {
		t.Error("an event loop is still running after Close")
	}
	if !evWithin(waitTimeout, func() bool { return runtime.NumGoroutine() <= before }) {
		t.Errorf("%d goroutines after Close; want at most %d, as before", runtime.NumGoroutine(), before)
	}
}

// Many clients at once, spread over the loops, each get their own replies.
func TestEventManyClients(t *testing.T) {
	t.Parallel()
	const clients, rounds = 200, 10
	h := &evHandler{trackLoops: true}
	s := &sockserver.Server{Handler: h}
	sv := startServer(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	var read, written atomic.Int64
	for i := range clients {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", sv.addr.String(), waitTimeout)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(waitTimeout))
			buf := make([]byte, 64)
			for j := range rounds {
				line := "client " + strconv.Itoa(i) + " round " + strconv.Itoa(j) + "\n"
				if _, err := io.WriteString(c, line); err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					return
				}
				want := evPrefix + line
				if _, err := io.ReadFull(c, buf[:len(want)]); err != nil || string(buf[:len(want)]) != want {
					errs <- fmt.Errorf("client %d: read %q, %v; want %q", i, buf[:len(want)], err, want)
					return
				}
				read.Add(int64(len(line)))
				written.Add(int64(len(want)))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Each client's close is answered by End with "end:\n", which the socket
	// still takes: the client sent no reset, having read everything.
	written.Add(clients * int64(len("end:\n")))
	waitStats(t, s, sockserver.Stats{Accepted: clients, BytesRead: read.Load(), BytesWritten: written.Load()})
	if got := h.ends.Load(); got != clients {
		t.Errorf("End called %d times; want %d", got, clients)
	}
	h.loopsMu.Lock()
	loops := len(h.loops)
	h.loopsMu.Unlock()
	if want := runtime.GOMAXPROCS(0); loops != want {
		t.Errorf("sessions were served from %d goroutines; want %d, one per event loop", loops, want)
	}
}

// A connection accepted just as Close begins, handed to a loop that has
// already ended, is closed too and its slot released, not left open for
// good. Not parallel: it waits for every event loop of the process to end.
func TestEventCloseRacesAccept(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	h := &evHandler{onNew: func(net.Addr) {
		once.Do(func() {
			close(entered)
			<-release
		})
	}}
	s := &sockserver.Server{Handler: h}
	sv := startServer(t, s)
	c := dial(t, sv.addr)
	recv(t, entered, "NewEventSession")

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	if !evWithin(waitTimeout, func() bool { return !evStackHas(evLoopRunning) }) {
		t.Fatal("event loops still running after Close")
	}
	close(release) // the accept loop now hands the connection to a loop
	if err := recv(t, closed, "Close"); err != nil {
		t.Errorf("Close() = %v; want nil", err)
	}
	sv.wait(t)
	if !evWithin(time.Second, func() bool { return s.Stats().Active == 0 }) {
		t.Errorf("Stats().Active = %d after Close; want 0", s.Stats().Active)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	if b, err := io.ReadAll(c.r); err != nil || len(b) != 0 {
		t.Errorf("client read %q, %v after Close; want EOF", b, err)
	}
}

// Shutdown called while Serve is starting, before its event loops exist,
// still stops them. Not parallel: it looks for Shutdown in every goroutine.
func TestEventShutdownRacesServe(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	s := &sockserver.Server{
		Handler: &evHandler{},
		BaseContext: func(net.Listener) context.Context {
			close(started)
			<-release
			return context.Background()
		},
	}
	sv := startServer(t, s)
	recv(t, started, "BaseContext")
	shut := shutdownAsync(s, time.Second)
	// Shutdown waits (in a goroutine of its own) once it has told every
	// connection and loop to stop.
	if !evWithin(waitTimeout, func() bool { return evStackHas("sockserver.(*Server).Shutdown.func") }) {
		t.Fatal("Shutdown never started waiting")
	}
	close(release)
	if err := recv(t, shut, "Shutdown"); err != nil {
		t.Errorf("Shutdown() = %v; want nil: the event loops started after it never stopped", err)
	}
	if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("Serve() = %v; want ErrServerClosed", err)
	}
}

// evEventFDs returns the eventfds open in the process.
func evEventFDs(t testing.TB) map[int]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	fds := make(map[int]bool)
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && target == "anon_inode:[eventfd]" {
			fds[fd] = true
		}
	}
	return fds
}

// Close after Shutdown (a deferred Close, or Shutdown's context expiring
// after the loops ended) must not write to the loops' wake-up descriptors:
// they are closed, and their numbers may belong to something else by then.
// Not parallel: it watches the process's file descriptors.
func TestEventCloseAfterShutdown(t *testing.T) {
	before := evEventFDs(t)
	s := &sockserver.Server{Handler: &evHandler{}}
	sv := startServer(t, s)
	evRoundTrip(t, dial(t, sv.addr), "hello\n")
	var wakefds []int
	for fd := range evEventFDs(t) {
		if !before[fd] {
			wakefds = append(wakefds, fd)
		}
	}
	if len(wakefds) == 0 {
		t.Fatal("no eventfd opened by Serve; are the event loops running?")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown() = %v; want nil", err)
	}
	sv.wait(t)

	// Put sockets where the wake-up descriptors were.
	type reused struct{ fd, peer int }
	var taken []reused
	for _, fd := range wakefds {
		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		nfd, err := unix.FcntlInt(uintptr(pair[0]), unix.F_DUPFD_CLOEXEC, fd)
		unix.Close(pair[0])
		if err != nil || nfd != fd { // fd is in use by something else
			if err == nil {
				unix.Close(nfd)
			}
			unix.Close(pair[1])
			continue
		}
		taken = append(taken, reused{fd, pair[1]})
	}
	t.Cleanup(func() {
		for _, r := range taken {
			unix.Close(r.fd)
			unix.Close(r.peer)
		}
	})
	if len(taken) == 0 {
		// Without a reused descriptor the test could not see a stray write.
		t.Fatalf("none of the loops' wake descriptors %v could be reused: something else took them", wakefds)
	}

	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v; want nil", err)
	}
	for _, r := range taken {
		buf := make([]byte, 64)
		if n, err := unix.Read(r.peer, buf); n > 0 {
			t.Errorf("Close wrote %x to descriptor %d, which an event loop had closed and the test reused", buf[:n], r.fd)
		} else if err != unix.EAGAIN {
			t.Errorf("reading the reused descriptor's peer: %d, %v", n, err)
		}
	}
}
