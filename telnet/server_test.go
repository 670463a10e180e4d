package telnet_test

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/telnet"
	"github.com/inetkit/inetkit/telnet/telnettest"
)

func TestServer_upperWithDial(t *testing.T) {
	s := newUpperServer(t, nil)
	c, err := s.Client(&telnet.ClientOptions{Timeout: 5 * time.Second, TerminalType: "XTERM", WindowSize: func() (int, int) { return 100, 30 }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ReadUntil("> ", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !c.RemoteEnabled(telnet.OptionEcho) || !c.RemoteEnabled(telnet.OptionSGA) {
		t.Errorf("server ECHO %v, SGA %v; want both on", c.RemoteState(telnet.OptionEcho), c.RemoteState(telnet.OptionSGA))
	}
	c.Write([]byte("hello world\r\n"))
	i, text, err := c.Expect(5*time.Second, regexp.MustCompile(`HELLO WORLD\r\n> `))
	if err != nil || i != 0 {
		t.Fatalf("Expect = %d, %q, %v", i, text, err)
	}
	// The server echoed what was typed.
	if !strings.Contains(string(text), "hello world") {
		t.Errorf("no echo in %q", text)
	}
}

func TestServer_terminalInfo(t *testing.T) {
	got := make(chan string, 1)
	s := newUpperServer(t, func(srv *telnet.Server) {
		srv.Handler = telnet.HandlerFunc(func(ctx context.Context, c *telnet.Conn) {
			w, h, ok := c.WindowSize()
			got <- strings.Join([]string{c.TerminalType(), itoa(w), itoa(h), boolStr(ok), boolStr(c.TLS())}, " ")
		})
	})
	c, err := s.Client(&telnet.ClientOptions{TerminalType: "VT100", WindowSize: func() (int, int) { return 132, 43 }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Negotiation is answered while the client reads.
	go c.ReadUntil("never", 2*time.Second)
	if g := <-got; g != "VT100 132 43 true false" {
		t.Errorf("handler saw %q; want %q", g, "VT100 132 43 true false")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestServer_idleTimeout (B0 G3): a silent session is told goodbye after
// the idle timeout.
func TestServer_idleTimeout(t *testing.T) {
	s := newUpperServer(t, func(srv *telnet.Server) {
		srv.NegotiateTimeout = 20 * time.Millisecond
		srv.IdleTimeout = 300 * time.Millisecond
	})
	rc := dialRaw(t, s.Addr)
	start := time.Now()
	got, _ := rc.readFor(3 * time.Second)
	if !strings.HasSuffix(got, "> \r\n[inetkit: idle timeout]\r\n") {
		t.Errorf("got %q; want the idle goodbye", got)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed after %v; want about 300ms", d)
	}
}

// TestServer_lineTooLong (B0 G1): a line past the cap ends the session
// with a goodbye, and memory does not follow the input.
func TestServer_lineTooLong(t *testing.T) {
	s := newUpperServer(t, func(srv *telnet.Server) {
		srv.NegotiateTimeout = 20 * time.Millisecond
		srv.MaxLineBytes = 100
	})
	rc := dialRaw(t, s.Addr)
	rc.readUntil("> ")
	go rc.Write([]byte(strings.Repeat("A", 1<<20)))
	got, _ := rc.readFor(3 * time.Second)
	if got != "\r\n[inetkit: line too long]\r\n" {
		t.Errorf("got %q; want the line-too-long goodbye", got)
	}
}

// TestServer_errorFlood (B0 G5): error replies slow down past the soft
// limit and the session ends at the hard one.
func TestServer_errorFlood(t *testing.T) {
	s := newUpperServer(t, func(srv *telnet.Server) {
		srv.NegotiateTimeout = 20 * time.Millisecond
		srv.SoftErrorLimit = 2
		srv.HardErrorLimit = 5
		srv.ErrorDelay = 100 * time.Millisecond
		srv.Handler = telnet.HandlerFunc(func(ctx context.Context, c *telnet.Conn) {
			for {
				if _, err := c.ReadLine("> "); err != nil {
					return
				}
				if err := c.WriteError("unknown command"); err != nil {
					return
				}
			}
		})
	})
	rc := dialRaw(t, s.Addr)
	rc.readUntil("> ")
	start := time.Now()
	rc.send(strings.Repeat("XYZZY\r\n", 100))
	got, eof := rc.readFor(5 * time.Second)
	if !eof {
		t.Fatal("the session did not end")
	}
	if n := strings.Count(got, "unknown command"); n != 5 {
		t.Errorf("%d error replies; want 5", n)
	}
	if !strings.HasSuffix(got, "[inetkit: too many errors]\r\n") {
		t.Errorf("got %q; want the too-many-errors goodbye", got)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("flood answered in %v; want the replies past the soft limit delayed", d)
	}
}

// TestServer_httpRequest (B0 G6): an HTTP request is closed at once and
// never echoed.
func TestServer_httpRequest(t *testing.T) {
	for _, req := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "POST / HTTP/1.1\r\n", "CONNECT x:25 HTTP/1.1\r\n"} {
		s := newUpperServer(t, func(srv *telnet.Server) { srv.NegotiateTimeout = 200 * time.Millisecond })
		rc := dialRaw(t, s.Addr)
		rc.send(req)
		start := time.Now()
		got, eof := rc.readFor(3 * time.Second)
		if !eof || time.Since(start) > time.Second {
			t.Errorf("%q: not closed within 1 s", req)
		}
		if strings.Contains(got, "GET") || strings.Contains(got, "Host") || strings.Contains(got, "HTTP") {
			t.Errorf("%q: reply %q echoes the request", req, got)
		}
	}
}

// TestServer_shutdown: Shutdown tells an idle session goodbye.
func TestServer_shutdown(t *testing.T) {
	s := newUpperServer(t, func(srv *telnet.Server) { srv.NegotiateTimeout = 20 * time.Millisecond })
	rc := dialRaw(t, s.Addr)
	rc.readUntil("> ")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Config.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got, eof := rc.readFor(2 * time.Second)
	if !eof || got != "\r\n[inetkit: server shutting down]\r\n" {
		t.Errorf("got %q, EOF %v; want the shutdown goodbye", got, eof)
	}
	if st := s.Config.Stats(); st.Accepted != 1 {
		t.Errorf("Stats().Accepted = %d; want 1", st.Accepted)
	}
}

// TestServer_TLS: implicit TLS, reported to the handler.
func TestServer_TLS(t *testing.T) {
	s := telnettest.NewUnstartedServer(upperHandler)
	s.StartTLS()
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ReadUntil("> ", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("secure\r\n"))
	if _, err := c.ReadUntil("SECURE\r\n", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestLineReader_editing drives the server's line editor in character
// mode: the client lets the server echo.
func TestLineReader_editing(t *testing.T) {
	s := newUpperServer(t, func(srv *telnet.Server) { srv.NegotiateTimeout = 2 * time.Second })
	rc := dialRaw(t, s.Addr)
	rc.readUntil(serverHello)
	rc.send("\xff\xfd\x01\xff\xfd\x03\xff\xfc\x18\xff\xfc\x1f\xff\xfc\x27") // DO ECHO, DO SGA, refuse the rest
	rc.readUntil("hello\r\n> ")
	tests := []struct{ name, keys, reply string }{
		{"typing", "abc\r\n", "ABC"},
		{"backspace and DEL", "abx\x7fc\x08d\r\n", "ABD"},
		{"Ctrl-U", "junk\x15ok\r\n", "OK"},
		{"Ctrl-W", "one two\x17three\r\n", "ONE THREE"},
		{"left arrow insert", "ac\x1b[Db\r\n", "ABC"},
		{"home and end", "bc\x1b[Ha\x1b[Fd\r\n", "ABCD"},
		{"right arrow", "ab\x1b[D\x1b[D\x1b[Cx\r\n", "AXB"},
		{"history up", "\x1b[A\r\n", "AXB"},
		{"history up twice and down", "\x1b[A\x1b[A\x1b[B\r\n", "AXB"},
		{"delete key", "abc\x1b[D\x1b[D\x1b[3~\r\n", "AC"},
		{"utf-8", "é\r\n", "é"},
	}
	for _, tc := range tests {
		rc.send(tc.keys)
		got := rc.readUntil("\r\n> ")
		lines := strings.Split(strings.TrimSuffix(got, "\r\n> "), "\r\n")
		if last := lines[len(lines)-1]; last != tc.reply {
			t.Errorf("%s: reply %q (all %q); want %q", tc.name, last, got, tc.reply)
		}
	}
	rc.send("ab\x03")
	if got := rc.readUntil("> "); got != "ab^C\r\n> " {
		t.Errorf("Ctrl-C: %q", got)
	}
	rc.send("\x04")
	if _, eof := rc.readFor(2 * time.Second); !eof {
		t.Errorf("Ctrl-D on an empty line did not end the session")
	}
}

// A client that sends its input and half-closes before the server's first
// negotiation is over (a pipe into a client) is still served: the handler
// reads the data, then EOF.
func TestServer_halfCloseDuringNegotiation(t *testing.T) {
	s := newUpperServer(t, nil)
	rc := dialRaw(t, s.Addr)
	rc.send("hello\r\nquit\r\n")
	rc.Conn.(*net.TCPConn).CloseWrite()
	out, eof := rc.readFor(5 * time.Second)
	if !strings.Contains(out, "HELLO\r\n") || !strings.HasSuffix(out, "bye\r\n") || !eof {
		t.Errorf("after the client's half-close the server sent %q (EOF %v); want HELLO, bye and the end", out, eof)
	}
}

// TestLineReader_password: in character mode ReadPassword echoes nothing of
// the line but its end, keeps the line out of the history, and the arrows
// do not recall earlier lines into it.
func TestLineReader_password(t *testing.T) {
	got := make(chan string, 2)
	s := telnettest.NewUnstartedServer(telnet.HandlerFunc(func(ctx context.Context, c *telnet.Conn) {
		c.ReadLine("> ")
		for range 2 {
			p, err := c.ReadPassword("Password: ")
			if err != nil {
				return
			}
			got <- p
		}
		c.Write([]byte("done\r\n"))
		c.ReadLine("> ")
	}))
	s.Config.NegotiateTimeout = 2 * time.Second
	s.Start()
	defer s.Close()
	rc := dialRaw(t, s.Addr)
	rc.readUntil("\xff\xfb\x01") // WILL ECHO
	rc.send("\xff\xfd\x01\xff\xfd\x03\xff\xfc\x18\xff\xfc\x1f\xff\xfc\x27")
	rc.readUntil("> ")
	rc.send("first\r\n")
	rc.readUntil("Password: ")
	rc.send("s3cr\x7fet\r\n")
	if echo := rc.readUntil("Password: "); echo != "\r\nPassword: " {
		t.Errorf("echo of a password: %q; want only the line end", echo)
	}
	if p := <-got; p != "s3cet" {
		t.Errorf("ReadPassword = %q; want s3cet (edited)", p)
	}
	rc.send("\x1b[Ax\r\n")
	if echo := rc.readUntil("done\r\n"); strings.Contains(echo, "first") || strings.Contains(echo, "x") {
		t.Errorf("echo after an up arrow in a password: %q", echo)
	}
	if p := <-got; p != "x" {
		t.Errorf("ReadPassword after an up arrow = %q; want x, not a line from the history", p)
	}
	rc.readUntil("> ")
	rc.send("\x1b[A")
	if echo := rc.readUntil("first"); strings.Contains(echo, "s3cet") {
		t.Errorf("the history recalls a password: %q", echo)
	}
}
