package ftp_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/ftp"
)

// The cross-cutting rows of the hardening catalogue (G1 to G6, G9) and
// graceful shutdown, on the control connection.

// TestServer_G1lineTooLong: a line past MaxLineBytes gets 500 and the
// connection is closed.
func TestServer_G1lineTooLong(t *testing.T) {
	e := srvStart(t)
	for _, loggedIn := range []bool{false, true} {
		c := e.dial(t)
		if loggedIn {
			c = e.login(t)
		}
		c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		go c.c.Write([]byte(strings.Repeat("A", 1<<20)))
		c.run(`S: 500 Command line too long.`)
		c.eof(5 * time.Second)
	}
}

// TestServer_G2commandTimeout: a command trickled in is cut at the command
// deadline.
func TestServer_G2commandTimeout(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) { s.CommandTimeout = 300 * time.Millisecond })
	c := e.dial(t)
	start := time.Now()
	io.WriteString(c.c, "NO")
	time.Sleep(100 * time.Millisecond)
	io.WriteString(c.c, "O")
	c.run(`S: 421 Command timeout.`)
	c.eof(time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v", d)
	}
}

// TestServer_G2commandTimeoutDuringTransfer: the command deadline holds
// while a transfer runs, though the idle timeout does not.
func TestServer_G2commandTimeoutDuringTransfer(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) {
		s.CommandTimeout = 300 * time.Millisecond
		s.IdleTimeout = time.Second
	})
	e.write(t, "big.bin", srvBigData(32<<20))
	c := e.login(t)
	d := srvRetrStalled(t, e, c, 32<<20)
	defer d.Close()
	time.Sleep(1500 * time.Millisecond) // past the idle timeout
	io.WriteString(c.c, "NO")
	c.run(`S: 421 Command timeout.`)
	c.eof(2 * time.Second)
}

// TestServer_G3idle: an idle session gets 421 after IdleTimeout.
func TestServer_G3idle(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) { s.IdleTimeout = 300 * time.Millisecond })
	c := e.login(t)
	start := time.Now()
	c.run(`S: 421 Timeout.`)
	c.eof(time.Second)
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Errorf("idle close after %v; want about 300ms", d)
	}
}

// TestServer_G5errorFlood: errors past the hard limit close the
// connection with 421.
func TestServer_G5errorFlood(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) {
		s.SoftErrorLimit = 2
		s.HardErrorLimit = 5
		s.ErrorDelay = 20 * time.Millisecond
	})
	c := e.dial(t)
	start := time.Now()
	c.send(strings.Repeat("XYZZY\r\n", 99) + "XYZZY")
	for range 4 {
		c.run(`S: 500 Unknown command.`)
	}
	c.run(`S: 421 Too many errors, closing control connection.`)
	c.eof(5 * time.Second)
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("5 errors took %v; want ≥ 3 × ErrorDelay", d)
	}
}

// TestServer_G6http: an HTTP request closes the connection without echo.
func TestServer_G6http(t *testing.T) {
	e := srvStart(t)
	for _, req := range []string{"GET / HTTP/1.1\r\nHost: x\r\n", "POST / HTTP/1.1\r\n", "CONNECT x:21 HTTP/1.1\r\n"} {
		c := e.dial(t)
		io.WriteString(c.c, req+"\r\n")
		if rest := c.eof(5 * time.Second); strings.Contains(rest, "GET") || strings.Contains(rest, "Host") || rest != "" {
			t.Errorf("reply to %q: %q", req, rest)
		}
	}
}

// TestServer_G7nul: NUL and invalid UTF-8 in a command do no harm.
func TestServer_G7nul(t *testing.T) {
	e := srvStart(t)
	c := e.login(t)
	c.run("C: NOOP\x00\nS: 500 Unknown command.\nC: CWD \xc3\x28\nS: 550 *\nC: NOOP\nS: 200 NOOP ok.\n")
	io.WriteString(c.c, "NOOP\n")
	c.run(`S: 200 NOOP ok.`)
}

// TestServer_G9reset: a connection reset mid-command leaves nothing.
func TestServer_G9reset(t *testing.T) {
	e := srvStart(t)
	c := e.login(t)
	c.cmd("EPSV", 229)
	g := countGoroutines()
	io.WriteString(c.c, "RETR fo")
	c.c.(*net.TCPConn).SetLinger(0)
	c.c.Close()
	goroutinesBack(t, g-1)
}

// TestServer_shutdown: a transfer in flight finishes while an idle session
// gets 421; then the transfer's session gets 421 too.
func TestServer_shutdown(t *testing.T) {
	e := srvStart(t)
	idle := e.login(t)
	busy := e.login(t)
	const size = 32 << 20
	d := srvRetrStalled(t, e, busy, size)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	idle.run(`S: 421 Service not available, closing control connection.`)
	idle.eof(time.Second)
	time.Sleep(200 * time.Millisecond)
	n, err := io.Copy(io.Discard, d)
	if err != nil || n != size {
		t.Errorf("transfer during Shutdown: %d, %v; want %d", n, err, size)
	}
	busy.run(`
S: 226 Transfer complete.
S: 421 Service not available, closing control connection.
`)
	busy.eof(time.Second)
	if err := <-done; err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
}

// TestServer_serveConnPipe: ServeConn over net.Pipe works, with no data
// connections possible.
func TestServer_serveConnPipe(t *testing.T) {
	e := srvStart(t)
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- e.srv.ServeConn(context.Background(), server) }()
	c := &ctl{t: t, c: client}
	c.r = newReader(client)
	c.run(`
S: 220 *
C: USER alice
S: 331 *
C: PASS secret
S: 230 *
C: PASV
S: 500 PASV is IPv4 only; use EPSV.
C: EPSV
S: 425 Can't open passive connection.
C: QUIT
S: 221 Goodbye.
`)
	if err := <-done; err != nil {
		t.Errorf("ServeConn() = %v", err)
	}
}
