package lineproto_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// echoServer serves a toy line protocol on lineproto.Conn: each line comes
// back upper-cased after "+", "STARTTLS" upgrades, "ERR" is an error reply,
// "QUIT" ends.
type echoServer struct {
	cfg *lineproto.Config
}

func (s *echoServer) ServeConn(ctx context.Context, nc net.Conn) error {
	c, err := lineproto.NewConn(ctx, nc, s.cfg)
	if err != nil {
		return nil
	}
	w := c.Writer()
	if c.TLS() {
		w.WriteString("+ hello tls\r\n")
	} else {
		w.WriteString("+ hello\r\n")
	}
	for {
		line, err := c.ReadLine(32)
		if errors.Is(err, lineproto.ErrLineTooLong) {
			w.WriteString("- line too long\r\n")
			if c.Reader().DiscardLine(lineproto.MaxDiscardBytes) == nil {
				continue
			}
		}
		if err != nil {
			c.ReadFailed(err)
			return nil
		}
		switch cmd := string(line); cmd {
		case "QUIT":
			w.WriteString("+ bye\r\n")
			return c.Flush()
		case "STARTTLS":
			w.WriteString("+ go ahead\r\n")
			if err := c.StartTLS(); err != nil {
				return nil
			}
		case "ERR":
			v := c.Counter.Error()
			if err := c.Delay(v); err != nil {
				return nil
			}
			w.WriteString("- error\r\n")
			if v.Close != lineproto.ReasonNone {
				c.Goodbye(v.Close)
				return nil
			}
		default:
			w.WriteString("+ " + strings.ToUpper(cmd) + "\r\n")
		}
	}
}

func goodbye(r lineproto.Reason) string { return "- goodbye: " + r.String() }

func startEcho(t *testing.T, limits lineproto.Limits, implicit bool) (addr string, ss *sockserver.Server) {
	t.Helper()
	limits = limits.Resolve(lineproto.Limits{})
	cfg := &lineproto.Config{Limits: limits, TLSConfig: testcert.ServerConfig(), Goodbye: goodbye, Logger: slog.New(slog.DiscardHandler)}
	ss = limits.SockServer(&echoServer{cfg}, nil, cfg.Logger)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		l = lineproto.ImplicitTLS(l)
	}
	done := make(chan struct{})
	go func() { ss.Serve(l); close(done) }()
	t.Cleanup(func() { ss.Close(); <-done })
	return l.Addr().String(), ss
}

type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string, useTLS bool) *client {
	t.Helper()
	var nc net.Conn
	var err error
	if useTLS {
		nc, err = tls.Dial("tcp", addr, testcert.ClientConfig())
	} else {
		nc, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *client) send(s string) { io.WriteString(c.nc, s) }

func (c *client) expect(want string) {
	c.t.Helper()
	line, err := c.br.ReadString('\n')
	if got := strings.TrimRight(line, "\r\n"); got != want || err != nil {
		c.t.Fatalf("read %q, %v; want %q", got, err, want)
	}
}

func TestConn_echo(t *testing.T) {
	addr, _ := startEcho(t, lineproto.Limits{}, false)
	c := dial(t, addr, false)
	c.expect("+ hello")
	c.send("abc\r\ndef\n" + strings.Repeat("x", 40) + "\r\nQUIT\r\n")
	c.expect("+ ABC")
	c.expect("+ DEF")
	c.expect("- line too long")
	c.expect("+ bye")
}

func TestConn_implicitTLS(t *testing.T) {
	addr, _ := startEcho(t, lineproto.Limits{}, true)
	c := dial(t, addr, true)
	c.expect("+ hello tls")
	c.send("QUIT\r\n")
	c.expect("+ bye")
}

// Plaintext pipelined behind STARTTLS is discarded, never read as a command
// inside TLS (CVE-2011-0411).
func TestConn_startTLSDiscardsPipelined(t *testing.T) {
	addr, _ := startEcho(t, lineproto.Limits{}, false)
	c := dial(t, addr, false)
	c.expect("+ hello")
	c.send("STARTTLS\r\nINJECTED\r\n")
	c.expect("+ go ahead")
	tc := tls.Client(c.nc, testcert.ClientConfig())
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c2 := &client{t: t, nc: tc, br: bufio.NewReader(tc)}
	c2.send("after\r\n")
	c2.expect("+ AFTER")
}

// A client that never starts the handshake after STARTTLS is cut off by the
// command timeout.
func TestConn_startTLSHandshakeBounded(t *testing.T) {
	addr, _ := startEcho(t, lineproto.Limits{CommandTimeout: 200 * time.Millisecond}, false)
	c := dial(t, addr, false)
	c.expect("+ hello")
	c.send("STARTTLS\r\n")
	c.expect("+ go ahead")
	_, err := c.br.ReadByte()
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("after a stalled handshake: err = %v; want the server to close the connection", err)
	}
}

func TestConn_goodbyes(t *testing.T) {
	addr, ss := startEcho(t, lineproto.Limits{IdleTimeout: 200 * time.Millisecond, CommandTimeout: 300 * time.Millisecond, HardErrorLimit: 2, ErrorDelay: -1}, false)
	c := dial(t, addr, false)
	c.expect("+ hello")
	c.expect("- goodbye: idle timeout")

	c = dial(t, addr, false)
	c.expect("+ hello")
	c.send("half a line")
	c.expect("- goodbye: command timeout")

	c = dial(t, addr, false)
	c.expect("+ hello")
	c.send("ERR\r\nERR\r\nNOT READ\r\n")
	c.expect("- error")
	c.expect("- error")
	c.expect("- goodbye: too many errors")

	c = dial(t, addr, false)
	c.expect("+ hello")
	c.send("x\r\n")
	c.expect("+ X")
	go ss.Shutdown(context.Background())
	c.expect("- goodbye: shutdown")
}

// Config.Setup resolves the limits, makes an AuthLimiter only when there
// is none, and leaves the caller's Config as it was.
func TestConfigSetup(t *testing.T) {
	shared := lineproto.NewAuthLimiter(time.Second)
	in := lineproto.Config{Limits: lineproto.Limits{MaxAuthFailures: -1}, AuthLimiter: shared}
	got := in.Setup(lineproto.Limits{IdleTimeout: time.Minute})
	if got.Limits.IdleTimeout != time.Minute || got.Limits.MaxAuthFailures != 0 || got.Limits.WriteTimeout != lineproto.DefaultWriteTimeout {
		t.Errorf("Setup limits = %+v; want the protocol's idle timeout, none for a negative field, defaults elsewhere", got.Limits)
	}
	if got.AuthLimiter != shared {
		t.Error("Setup replaced the AuthLimiter given")
	}
	if in.Limits.IdleTimeout != 0 {
		t.Error("Setup changed its receiver")
	}
	own := lineproto.Config{Limits: lineproto.Limits{AuthFailureDelay: 3 * time.Second}}.Setup(lineproto.Limits{})
	if own.AuthLimiter == nil || own.AuthLimiter.Base != 3*time.Second {
		t.Errorf("Setup's own AuthLimiter = %+v; want one with Base 3s", own.AuthLimiter)
	}
}

// lineServer answers each line of up to 64 KiB with "+ n", its length.
type lineServer struct{ cfg *lineproto.Config }

func (s *lineServer) ServeConn(ctx context.Context, nc net.Conn) error {
	c, err := lineproto.NewConn(ctx, nc, s.cfg)
	if err != nil {
		return nil
	}
	for {
		line, err := c.ReadLine(64 << 10)
		if err != nil {
			return nil
		}
		c.Writer().WriteString("+ " + strconv.Itoa(len(line)) + "\r\n")
	}
}

// idleHeap returns the heap that n connections to a lineServer hold, in
// all, once each answered a line of size octets and waits for the next.
func idleHeap(t *testing.T, n, size int) uint64 {
	t.Helper()
	limits := lineproto.Limits{MaxConnsPerIP: -1}.Resolve(lineproto.Limits{})
	cfg := &lineproto.Config{Limits: limits, ReadBufferBytes: 64 << 10, Logger: slog.New(slog.DiscardHandler)}
	ss := limits.SockServer(&lineServer{cfg}, nil, cfg.Logger)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { ss.Serve(l); close(done) }()
	defer func() { ss.Close(); <-done }()
	line := strings.Repeat("x", size) + "\r\n"
	want := "+ " + strconv.Itoa(size)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	for range n {
		c := dial(t, l.Addr().String(), false)
		c.br = bufio.NewReaderSize(c.nc, 16) // the client's side counts little
		c.send(line)
		c.expect(want)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc - before
}

// TestConn_idleMemory checks that a connection waiting for its next
// command holds no more after a long line than after a short one: the
// read buffer grown for the line is let go (an idle connection holds
// DefaultReadBufferBytes), as is the write buffer (Rest).
func TestConn_idleMemory(t *testing.T) {
	const n = 20
	short := idleHeap(t, n, 1)
	long := idleHeap(t, n, 40000)
	t.Logf("idle connection: %d B after a 1-octet line, %d B after a 40000-octet line", short/n, long/n)
	if long > short+n*(16<<10) {
		t.Errorf("an idle connection holds %d B after a 40000-octet line, %d B after a 1-octet line; want the grown buffer let go", long/n, short/n)
	}
	if max := uint64(n * 7 << 10); short > max {
		t.Errorf("an idle connection (server and client sides) holds %d B; want at most 7 KiB", short/n)
	}
}

// TestConn_restWake checks that Rest lets go of the write buffer, that a
// write after Rest still arrives, and that Wake gives the buffer back.
func TestConn_restWake(t *testing.T) {
	sizes := make(chan [2]int, 1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		cfg := (&lineproto.Config{Logger: slog.New(slog.DiscardHandler)}).Setup(lineproto.Limits{})
		c, err := lineproto.NewConn(context.Background(), nc, cfg)
		if err != nil {
			return
		}
		c.Rest()
		rest := c.Writer().Size()
		c.Writer().WriteString("+ written at rest\r\n")
		c.Flush()
		c.Wake()
		sizes <- [2]int{rest, c.Writer().Size()}
		c.Writer().WriteString("+ awake\r\n")
		c.Flush()
	}()
	c := dial(t, l.Addr().String(), false)
	c.expect("+ written at rest")
	c.expect("+ awake")
	got := <-sizes
	if got[0] >= lineproto.DefaultReadBufferBytes || got[1] != lineproto.DefaultReadBufferBytes {
		t.Errorf("write buffer: %d octets at rest, %d awake; want less than %d, then %d", got[0], got[1], lineproto.DefaultReadBufferBytes, lineproto.DefaultReadBufferBytes)
	}
}
