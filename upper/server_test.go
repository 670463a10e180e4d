package upper_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/inetkit/inetkit/internal/prototest"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/upper"
	"github.com/inetkit/inetkit/upper/uppertest"
)

// quiet is a logger for servers under test.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// serveConns serves h, a handler wrapped for a test, on a loopback port until
// the test ends and returns its address.
func serveConns(t testing.TB, h sockserver.Handler) string {
	t.Helper()
	srv := &sockserver.Server{Handler: h, Logger: quiet, IdleTimeout: 5 * time.Second}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, sockserver.ErrServerClosed) {
			t.Errorf("Serve() = %v; want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

// readToEOF reads until EOF and fails on any other error, a reset among them.
func readToEOF(t testing.TB, c net.Conn) []byte {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading reply: %v (after %d bytes)", err, len(b))
	}
	return b
}

func TestHandler_oneshot(t *testing.T) {
	s := uppertest.NewServer(nil)
	defer s.Close()
	tests := []struct {
		name string
		send string
		want string
	}{
		{"ascii", "hello", "HELLO"},
		{"special casing", "straße ﬁ ŉ ΐ", "STRASSE FI \u02bcN \u0399\u0308\u0301"},
		{"invalid bytes", "abc\xff\xfedef", "ABC\xff\xfeDEF"},
		{"truncated sequence", "ab\xe4\xb8", "AB\xe4\xb8"},
		{"nul", "\x00nul\x00", "\x00NUL\x00"},
		{"exactly read size", strings.Repeat("a", 1024), strings.Repeat("A", 1024)},
		// One recv(1024), as the tutorial: the rest is never answered.
		{"longer than read size", strings.Repeat("b", 5000), strings.Repeat("B", 1024)},
		// A character cut by the read boundary passes through as bytes.
		{"cut character", strings.Repeat("a", 1023) + "ß", strings.Repeat("A", 1023) + "\xc3"},
		{"ΐ triples", strings.Repeat("ΐ", 512), strings.Repeat("\u0399\u0308\u0301", 512)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s.Addr)
			if _, err := c.Write([]byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			if got := readToEOF(t, c); string(got) != tc.want {
				t.Errorf("reply = %q; want %q", trunc(got), trunc([]byte(tc.want)))
			}
		})
	}
}

func trunc(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// TestHandler_oneshotLargeRequest is HARDENING T3: the client sends far more
// than one read and only then reads; the reply must arrive, not a reset.
func TestHandler_oneshotLargeRequest(t *testing.T) {
	s := uppertest.NewServer(nil)
	defer s.Close()
	for _, size := range []int{5000, 200_000} {
		c := dial(t, s.Addr)
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write(bytes.Repeat([]byte("a"), size))
			errc <- err
		}()
		if err := <-errc; err != nil {
			t.Fatalf("sending %d bytes: %v", size, err)
		}
		got := readToEOF(t, c)
		if want := strings.Repeat("A", 1024); string(got) != want {
			t.Errorf("%d bytes sent: reply of %d bytes %q; want 1024 × A", size, len(got), trunc(got))
		}
	}
}

// TestHandler_oneshotHalfClose is HARDENING T5: a client that shuts down its
// write side without sending gets an empty reply and EOF.
func TestHandler_oneshotHalfClose(t *testing.T) {
	s := uppertest.NewServer(nil)
	defer s.Close()
	c := dial(t, s.Addr)
	c.CloseWrite()
	if got := readToEOF(t, c); len(got) != 0 {
		t.Errorf("reply = %q; want empty", got)
	}
}

// TestHandler_oneshotSplitSegments is HARDENING T4: the reply covers what the
// one read returned, as the tutorial's server does ("HEL"), not a coalesced
// "HELLO". The request looked whole, so the server closed at once: the late
// "lo" meets a closed socket, and the connection ends with EOF or a reset,
// after the reply.
func TestHandler_oneshotSplitSegments(t *testing.T) {
	s := uppertest.NewServer(nil)
	defer s.Close()
	c := dial(t, s.Addr)
	c.Write([]byte("hel"))
	got := make([]byte, 16)
	n, err := io.ReadAtLeast(c, got, 3)
	if err != nil {
		t.Fatal(err)
	}
	if string(got[:n]) != "HEL" {
		t.Errorf("reply = %q; want %q", got[:n], "HEL")
	}
	c.Write([]byte("lo")) // the server no longer reads; this must not hang anything
	rest, err := io.ReadAll(c)
	if len(rest) != 0 {
		t.Errorf("more reply after HEL: %q", rest)
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("after the reply: %v; want EOF or a reset", err)
	}
}

func TestHandler_readSize(t *testing.T) {
	s := uppertest.NewServer(&upper.Handler{ReadSize: 4})
	defer s.Close()
	c := dial(t, s.Addr)
	c.Write([]byte("abcdefgh"))
	if got := readToEOF(t, c); string(got) != "ABCD" {
		t.Errorf("reply = %q; want %q", got, "ABCD")
	}
}

func TestHandler_stream(t *testing.T) {
	s := uppertest.NewServer(&upper.Handler{Mode: upper.ModeStream})
	defer s.Close()
	c := dial(t, s.Addr)
	// Characters split across writes (and so, most likely, across reads).
	pieces := []string{"stra\xc3", "\x9fe ", "\xce", "\x90", " a\xe4\xb8", "\xadb", "\xff", "end"}
	var got []byte
	buf := make([]byte, 64)
	for i, p := range pieces {
		if _, err := c.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if i == 0 { // the reply to the first piece comes before the client closes
			n, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:n]...)
			if string(got) != "STRA" {
				t.Errorf("first reply = %q; want %q (the cut ß held back)", got, "STRA")
			}
		}
	}
	c.CloseWrite()
	got = append(got, readToEOF(t, c)...)
	if want := "STRASSE \u0399\u0308\u0301 A中B\xffEND"; string(got) != want {
		t.Errorf("stream reply = %q; want %q", got, want)
	}
}

// TestHandler_streamTrailingPartial: bytes of a character that never completes
// are returned unchanged when the client closes.
func TestHandler_streamTrailingPartial(t *testing.T) {
	s := uppertest.NewServer(&upper.Handler{Mode: upper.ModeStream})
	defer s.Close()
	c := dial(t, s.Addr)
	c.Write([]byte("ok\xe4\xb8"))
	c.CloseWrite()
	if got := readToEOF(t, c); string(got) != "OK\xe4\xb8" {
		t.Errorf("reply = %q; want %q", got, "OK\xe4\xb8")
	}
}

func TestHandler_line(t *testing.T) {
	s := uppertest.NewServer(&upper.Handler{Mode: upper.ModeLine})
	defer s.Close()
	c := dial(t, s.Addr)
	// Pipelined lines, answered in order.
	c.Write([]byte("one\ntwo\nstraße\n"))
	want := "ONE\nTWO\nSTRASSE\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("replies = %q; want %q", got, want)
	}
	// A line in pieces is answered once it is complete.
	c.Write([]byte("par"))
	c.Write([]byte("tial\nlast"))
	c.CloseWrite()
	if got := readToEOF(t, c); string(got) != "PARTIAL\nLAST" {
		t.Errorf("replies = %q; want %q", got, "PARTIAL\nLAST")
	}
}

func TestHandler_lineTooLong(t *testing.T) {
	done := make(chan error, 1)
	h := &upper.Handler{Mode: upper.ModeLine, MaxLineBytes: 16, Logger: quiet}
	addr := serveConns(t, sockserver.HandlerFunc(func(ctx context.Context, conn net.Conn) error {
		err := h.ServeConn(ctx, conn)
		done <- err
		return err
	}))
	c := dial(t, addr)
	c.Write([]byte("short\n" + strings.Repeat("x", 100)))
	got := readToEOF(t, c)
	if string(got) != "SHORT\n" {
		t.Errorf("replies = %q; want %q then close", got, "SHORT\n")
	}
	if err := <-done; !errors.Is(err, upper.ErrLineTooLong) {
		t.Errorf("ServeConn() = %v; want ErrLineTooLong", err)
	}
	// A line of exactly MaxLineBytes, LF included, is fine.
	c2 := dial(t, addr)
	line := strings.Repeat("y", 15) + "\n"
	c2.Write([]byte(line))
	c2.CloseWrite()
	if got := readToEOF(t, c2); string(got) != strings.ToUpper(line) {
		t.Errorf("reply = %q; want %q", got, strings.ToUpper(line))
	}
}

// TestHandler_idle is HARDENING T2: a client that sends nothing does not block
// another, and is closed after the idle timeout.
func TestHandler_idle(t *testing.T) {
	s := uppertest.NewUnstartedServer(nil)
	s.Config.IdleTimeout = 300 * time.Millisecond
	s.Start()
	defer s.Close()
	idle := dial(t, s.Addr)
	start := time.Now()

	c := dial(t, s.Addr)
	c.Write([]byte("hi"))
	if got := readToEOF(t, c); string(got) != "HI" {
		t.Errorf("second client's reply = %q; want HI", got)
	}
	if got := readToEOF(t, idle); len(got) != 0 {
		t.Errorf("idle client got %q", got)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("idle client closed after %v; want the idle timeout, 300ms", d)
	}
}

func TestHandler_concurrent(t *testing.T) {
	s := uppertest.NewServer(nil)
	defer s.Close()
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			msg := strings.Repeat("ß", i%50) + "x"
			c.Write([]byte(msg))
			got, err := io.ReadAll(c)
			if err != nil {
				errs <- err
				return
			}
			if want := upper.String(msg); string(got) != want {
				errs <- errors.New("wrong reply " + string(got))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestPacketHandler(t *testing.T) {
	s := uppertest.NewPacketServer(nil)
	defer s.Close()
	c, err := net.Dial("udp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tests := []struct{ name, send, want string }{
		{"ascii", "hello", "HELLO"},
		{"invalid bytes pass through", strings.Repeat("\xff", 1000), strings.Repeat("\xff", 1000)},
		{"special casing", "straße", "STRASSE"},
		{"3x expansion within budget", strings.Repeat("ΐ", 512), strings.Repeat("\u0399\u0308\u0301", 512)},
		{"empty", "", ""},
		{"largest datagram read whole", strings.Repeat("q", 65507), strings.Repeat("Q", 65507)},
	}
	buf := make([]byte, 1<<17)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			n, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if string(buf[:n]) != tc.want {
				t.Errorf("reply = %q (%d bytes); want %q (%d bytes)", trunc(buf[:n]), n, trunc([]byte(tc.want)), len(tc.want))
			}
		})
	}
}

// TestPacketHandler_overLargest: a reply that would exceed the largest UDP
// datagram is dropped, never truncated.
func TestPacketHandler_overLargest(t *testing.T) {
	s := uppertest.NewPacketServer(nil)
	defer s.Close()
	c, err := net.Dial("udp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(strings.Repeat("ΐ", 30000))) // 60000 bytes in, 180000 out
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 1<<17)
	if n, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read() = %d, %v; want no reply", n, err)
	}
}

func TestMode(t *testing.T) {
	for _, m := range []upper.Mode{upper.ModeOneshot, upper.ModeStream, upper.ModeLine} {
		got, err := upper.ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
	if _, err := upper.ParseMode("fast"); err == nil {
		t.Error(`ParseMode("fast") succeeded; want an error`)
	}
	if s := upper.Mode(7).String(); s != "Mode(7)" {
		t.Errorf("Mode(7).String() = %q", s)
	}
}

func TestHandler_logsReceived(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	s := uppertest.NewServer(&upper.Handler{Logger: log})
	defer s.Close()
	c := dial(t, s.Addr)
	c.Write([]byte("a\xffb" + strings.Repeat("z", 100)))
	readToEOF(t, c)
	out := buf.String()
	for _, want := range []string{"msg=received", `data="a\xffb`, "bytes=103", "truncated=true"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q does not contain %q", out, want)
		}
	}
}

// syncBuffer collects log output for assertions.
type syncBuffer = prototest.Buffer
