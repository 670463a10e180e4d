package ftp_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testserver"
)

// srvEnv is a server under test on a loopback port, over a temporary
// directory: alice/secret gets it writable, anonymous read-only.
type srvEnv struct {
	srv  *ftp.Server
	addr string
	dir  string
	root *fileroot.Root
	done chan error
}

// srvBackend is the backend of srvStart over root.
func srvBackend(root fileroot.FS) ftp.Backend {
	return ftp.BackendFunc(func(ctx context.Context, user, pass string) (fs.FS, error) {
		switch {
		case ftp.IsAnonymous(user):
			return fileroot.ReadOnly(root), nil
		case user == "alice" && pass == "secret":
			return root, nil
		}
		return nil, ftp.ErrAuthFailed
	})
}

// srvStart starts a server with short timeouts and small limits, changed
// by configure, and closes it at the end of the test.
func srvStart(t testing.TB, configure ...func(*ftp.Server)) *srvEnv {
	t.Helper()
	dir := t.TempDir()
	root, err := fileroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	s := &ftp.Server{
		Backend:      srvBackend(root),
		InsecureAuth: true,
		DataTimeout:  5 * time.Second,
		Logger:       testserver.Logger(),
	}
	s.IdleTimeout = 10 * time.Second
	s.CommandTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.AuthFailureDelay = time.Millisecond
	s.ErrorDelay = time.Millisecond
	s.SoftErrorLimit = 50
	s.HardErrorLimit = 100
	for _, f := range configure {
		f(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &srvEnv{srv: s, addr: l.Addr().String(), dir: dir, root: root, done: make(chan error, 1)}
	go func() { e.done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-e.done; !errors.Is(err, ftp.ErrServerClosed) {
			t.Errorf("Serve() = %v; want ErrServerClosed", err)
		}
	})
	return e
}

// listen serves the server on one more listener, on network and addr, with
// serve (e.srv.Serve or e.srv.ServeTLS), and returns a copy of e whose
// addr is that listener's.
func (e *srvEnv) listen(t testing.TB, network, addr string, serve func(net.Listener) error) *srvEnv {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		skipOrFail(t, "cannot listen:", err)
	}
	served := make(chan error, 1)
	go func() { served <- serve(l) }()
	t.Cleanup(func() {
		e.srv.Close()
		<-served
	})
	e2 := *e
	e2.addr = l.Addr().String()
	return &e2
}

// write creates the file name with data in the server's directory.
func (e *srvEnv) write(t testing.TB, name, data string) {
	t.Helper()
	p := filepath.Join(e.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// read returns the contents of name in the server's directory, or "" and
// false.
func (e *srvEnv) read(t testing.TB, name string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, filepath.FromSlash(name)))
	if err != nil {
		return "", false
	}
	return string(b), true
}

// ctl is a test client's control connection.
type ctl struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

// dial connects to the server and reads its greeting.
func (e *srvEnv) dial(t testing.TB) *ctl {
	t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cc := &ctl{t: t, c: c, r: prototest.Client(t, c, `S: 220 inetkit FTP server ready.`)}
	return cc
}

// login dials and logs in as alice.
func (e *srvEnv) login(t testing.TB) *ctl {
	t.Helper()
	c := e.dial(t)
	c.run(`
C: USER alice
S: 331 *
C: PASS secret
S: 230 Login successful.
`)
	return c
}

// run plays a C:/S: transcript.
func (c *ctl) run(script string) {
	c.t.Helper()
	prototest.Run(c.t, c.c, c.r, script)
}

// send writes a command line.
func (c *ctl) send(line string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(prototest.Timeout))
	if _, err := io.WriteString(c.c, line+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

// reply reads a whole reply, multi-line or not, and returns its code and
// its lines.
func (c *ctl) reply() (int, []string) {
	c.t.Helper()
	var lines []string
	for {
		c.c.SetReadDeadline(time.Now().Add(prototest.Timeout))
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading reply: %v (after %q)", err, lines)
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(lines[0]) < 4 {
			c.t.Fatalf("bad reply line %q", l)
		}
		if lines[0][3] != '-' || (len(l) >= 4 && l[:3] == lines[0][:3] && l[3] == ' ') {
			code, _ := strconv.Atoi(lines[0][:3])
			return code, lines
		}
	}
}

// cmd sends line and checks that the reply has code want; it returns the
// text of the reply's last line.
func (c *ctl) cmd(line string, want int) string {
	c.t.Helper()
	c.send(line)
	code, lines := c.reply()
	if code != want {
		c.t.Fatalf("%s: got %q; want %d", line, lines, want)
	}
	return lines[len(lines)-1][4:]
}

// eof checks that the server closes the connection within d, and returns
// what it sent before.
func (c *ctl) eof(d time.Duration) string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c.r)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		c.t.Fatalf("waiting for EOF: %v (got %q)", err, b)
	}
	return string(b)
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset by peer"))
}

// pasv sends EPSV and connects to the port announced.
func (c *ctl) pasv() net.Conn {
	c.t.Helper()
	text := c.cmd("EPSV", 229)
	i := strings.Index(text, "(|||")
	j := strings.LastIndex(text, "|)")
	port, err := strconv.Atoi(text[i+4 : j])
	if err != nil {
		c.t.Fatalf("EPSV reply %q", text)
	}
	host, _, _ := net.SplitHostPort(c.c.RemoteAddr().String())
	d, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), prototest.Timeout)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { d.Close() })
	return d
}

// retr runs cmd (RETR name, LIST, ...) on a passive data connection and
// returns the data; the replies must be 150 and 226.
func (c *ctl) retr(cmd string) string {
	c.t.Helper()
	d := c.pasv()
	c.cmd(cmd, 150)
	d.SetReadDeadline(time.Now().Add(prototest.Timeout))
	b, err := io.ReadAll(d)
	if err != nil {
		c.t.Fatalf("%s: reading data: %v", cmd, err)
	}
	code, lines := c.reply()
	if code != 226 {
		c.t.Fatalf("%s: final reply %q; want 226", cmd, lines)
	}
	return string(b)
}

// stor runs cmd (STOR name, APPE name) with data on a passive data
// connection and returns the final reply code.
func (c *ctl) stor(cmd, data string) int {
	c.t.Helper()
	d := c.pasv()
	c.cmd(cmd, 150)
	d.SetWriteDeadline(time.Now().Add(prototest.Timeout))
	if _, err := io.WriteString(d, data); err != nil {
		c.t.Fatalf("%s: writing data: %v", cmd, err)
	}
	d.Close()
	code, _ := c.reply()
	return code
}

// startTLS sends AUTH TLS and starts the client side of TLS on c.
func (c *ctl) startTLS() {
	c.t.Helper()
	c.cmd("AUTH TLS", 234)
	tc := tls.Client(c.c, testserver.ClientTLSConfig())
	tc.SetDeadline(time.Now().Add(prototest.Timeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	tc.SetDeadline(time.Time{})
	c.c = tc
	c.r = bufio.NewReader(tc)
}

// goroutinesBack waits until the goroutine count falls to at most n.
func goroutinesBack(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d; want ≤ %d\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		skipOrFail(t, "no /proc/self/fd:", err)
	}
	return len(es)
}

// srvBigData returns n octets of a pattern that shows misplaced data: a
// block of 251 octets (a prime, so it never lines up with a buffer)
// repeated.
func srvBigData(n int) string {
	block := make([]byte, 251)
	for i := range block {
		block[i] = byte('a' + i%26)
	}
	block[250] = '\n'
	return strings.Repeat(string(block), n/251+1)[:n]
}

func countGoroutines() int { return runtime.NumGoroutine() }

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// skipOrFail skips a test whose setup the system cannot give (a second
// loopback address, /proc, symbolic links) on systems other than Linux,
// where it may be missing; on Linux, where the defences are tested in CI,
// that setup must work, so the test fails instead of passing unseen.
func skipOrFail(t testing.TB, args ...any) {
	t.Helper()
	if runtime.GOOS == "linux" {
		t.Fatal(args...)
	}
	t.Skip(args...)
}
