package ftp_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/internal/testserver"
)

// The rows FT1 to FT15 of the hardening catalogue, one test each.

// TestServer_FT1pathTraversal: no path leaves the root; ".." stops at "/".
func TestServer_FT1pathTraversal(t *testing.T) {
	e := srvStart(t)
	e.write(t, "a", "a")
	outside := filepath.Dir(e.dir)
	c := e.login(t)
	c.run(`
C: CWD ../../..
S: 250 *
C: PWD
S: 257 "/" is the current directory.
C: RETR ../../etc/passwd
S: 550 No such file or directory.
C: RETR /etc/passwd
S: 550 No such file or directory.
C: STOR ../../tmp/pwn
S: 550 No such file or directory.
C: RNFR a
S: 350 *
C: RNTO ../../tmp/a
S: 550 No such file or directory.
C: MKD ../x
S: 257 "/x" created.
C: RETR a` + "\x00" + `b
S: 550 Invalid file name.
C: RETR a\b
S: 550 Invalid file name.
`)
	if got := c.retr("NLST /../../*"); got != "a\r\nx\r\n" {
		t.Errorf("NLST /../../* = %q", got)
	}
	if got := c.retr("NLST ../"); got != "a\r\nx\r\n" {
		t.Errorf("NLST ../ = %q", got)
	}
	for _, name := range []string{"x", "pwn", "a"} {
		if _, err := os.Stat(filepath.Join(outside, name)); err == nil {
			t.Errorf("%s created outside the root", name)
		}
	}
	if fi, err := os.Stat(filepath.Join(e.dir, "x")); err != nil || !fi.IsDir() {
		t.Errorf("MKD ../x did not make x inside the root: %v", err)
	}
}

// TestServer_FT2symlinkEscape: links that leave the root are refused.
func TestServer_FT2symlinkEscape(t *testing.T) {
	e := srvStart(t)
	if err := os.Symlink("/etc", filepath.Join(e.dir, "etc")); err != nil {
		skipOrFail(t, "no symlinks:", err)
	}
	os.Symlink("..", filepath.Join(e.dir, "up"))
	e.write(t, "in/f", "inside")
	os.Symlink("in", filepath.Join(e.dir, "inlink"))
	c := e.login(t)
	c.run(`
C: RETR etc/passwd
S: 550 *
C: CWD up
S: 550 *
C: CWD etc
S: 550 *
C: SIZE inlink/f
S: 213 6
`)
	if got := c.retr("RETR inlink/f"); got != "inside" {
		t.Errorf("RETR through a link inside = %q", got)
	}
}

// TestServer_FT3portBounce: PORT and EPRT only to the client's own address
// and an unprivileged port.
func TestServer_FT3portBounce(t *testing.T) {
	victim, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		skipOrFail(t, "cannot listen on 127.0.0.2:", err)
	}
	defer victim.Close()
	port := victim.Addr().(*net.TCPAddr).Port
	e := srvStart(t)
	c := e.login(t)
	c.run(`
C: PORT 127,0,0,2,` + strconv.Itoa(port>>8) + `,` + strconv.Itoa(port&0xff) + `
S: 500 Illegal PORT command.
C: EPRT |1|127.0.0.2|` + strconv.Itoa(port) + `|
S: 500 Illegal PORT command.
C: PORT 127,0,0,1,0,25
S: 500 Illegal PORT command.
C: EPRT |1|127.0.0.1|25|
S: 500 Illegal PORT command.
C: EPRT |2|::1|2525|
S: 522 Network protocol not supported, use (1).
C: LIST
S: 425 Use PORT or PASV first.
`)
	victim.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond))
	if conn, err := victim.Accept(); err == nil {
		conn.Close()
		t.Fatal("the server connected to another address")
	}
}

// TestServer_activeMode: PORT and EPRT to the client's own address work.
func TestServer_activeMode(t *testing.T) {
	e := srvStart(t)
	e.write(t, "f", "active data")
	c := e.login(t)
	for _, cmd := range []string{"PORT", "EPRT"} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		p := l.Addr().(*net.TCPAddr).Port
		if cmd == "PORT" {
			c.cmd("PORT 127,0,0,1,"+strconv.Itoa(p>>8)+","+strconv.Itoa(p&0xff), 200)
		} else {
			c.cmd("EPRT |1|127.0.0.1|"+strconv.Itoa(p)+"|", 200)
		}
		c.cmd("RETR f", 150)
		l.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
		d, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(d)
		d.Close()
		c.cmd("NOOP", 226) // the transfer's reply comes first
		c.run(`S: 200 NOOP ok.`)
		if string(b) != "active data" {
			t.Errorf("%s: RETR = %q", cmd, b)
		}
	}
}

// TestServer_FT4pasvTheft: a connection to the passive port from another
// address is closed without data; the client still gets the file.
func TestServer_FT4pasvTheft(t *testing.T) {
	e := srvStart(t)
	e.write(t, "secret.txt", "the secret")
	c := e.login(t)
	text := c.cmd("EPSV", 229)
	port := text[strings.Index(text, "|||")+3 : strings.LastIndex(text, "|")]
	thiefDialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	thief, err := thiefDialer.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		skipOrFail(t, "cannot dial from 127.0.0.2:", err)
	}
	defer thief.Close()
	d, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c.cmd("RETR secret.txt", 150)
	thief.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(thief); len(b) != 0 {
		t.Errorf("thief read %q", b)
	}
	b, _ := io.ReadAll(d)
	c.run(`S: 226 Transfer complete.`)
	if string(b) != "the secret" {
		t.Errorf("client read %q", b)
	}
}

// TestServer_FT5pasvHoarding: each PASV closes the listener before, and a
// listener nobody connects to expires.
func TestServer_FT5pasvHoarding(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) {
		s.DataTimeout = 300 * time.Millisecond
		s.PassivePorts = ftp.PortRange{Min: 41000, Max: 41999}
	})
	c := e.login(t)
	base := openFDs(t)
	w := bufio.NewWriter(c.c)
	for range 1000 {
		w.WriteString("PASV\r\nEPSV\r\n")
	}
	w.Flush()
	for range 2000 {
		if code, lines := c.reply(); code != 227 && code != 229 {
			t.Fatalf("reply %q", lines)
		}
	}
	if n := openFDs(t); n > base+3 {
		t.Errorf("open fds after 2000 PASV/EPSV: %d; baseline %d", n, base)
	}
	text := c.cmd("EPSV", 229)
	port := text[strings.Index(text, "|||")+3 : strings.LastIndex(text, "|")]
	if p, _ := strconv.Atoi(port); p < 41000 || p > 41999 {
		t.Errorf("passive port %d outside PassivePorts", p)
	}
	time.Sleep(500 * time.Millisecond)
	if d, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
		d.Close()
		t.Error("passive listener still open after DataTimeout")
	}
	c.cmd("LIST", 425)
}

// fullFS is a tree whose uploads fail with ENOSPC past limit octets.
type fullFS struct {
	*fileroot.MemFS
	limit int
}

func (f fullFS) Create(name string) (fileroot.Upload, error) {
	u, err := f.MemFS.Create(name)
	if err != nil {
		return nil, err
	}
	return &fullUpload{Upload: u, left: f.limit, name: name}, nil
}

type fullUpload struct {
	fileroot.Upload
	left int
	name string
}

func (u *fullUpload) Write(p []byte) (int, error) {
	if len(p) > u.left {
		u.Upload.Abort()
		return 0, &fs.PathError{Op: "write", Path: u.name, Err: syscall.ENOSPC}
	}
	u.left -= len(p)
	return u.Upload.Write(p)
}

// TestServer_FT6diskFull: an upload that fills the disk gets 452, leaves
// nothing, and the server goes on serving.
func TestServer_FT6diskFull(t *testing.T) {
	mem := fileroot.NewMemFS()
	u, _ := mem.Create("old.txt")
	io.WriteString(u, "old")
	u.Close()
	e := srvStart(t, func(s *ftp.Server) {
		s.Backend = ftp.BackendFunc(func(ctx context.Context, user, pass string) (fs.FS, error) {
			return fullFS{mem, 1 << 20}, nil
		})
	})
	c := e.login(t)
	c.cmd("TYPE I", 200)
	if code := c.stor("STOR big.bin", srvBigData(2<<20)); code != 452 {
		t.Fatalf("STOR of 2 MiB on a 1 MiB disk: %d; want 452", code)
	}
	if got := c.retr("NLST"); got != "old.txt\r\n" {
		t.Errorf("NLST after a failed upload = %q", got)
	}
	if got := c.retr("RETR old.txt"); got != "old" {
		t.Errorf("RETR old.txt = %q", got)
	}
	c.cmd("APPE old.txt", 425) // no PASV: the upload is discarded
	if got := c.retr("RETR old.txt"); got != "old" {
		t.Errorf("RETR old.txt = %q", got)
	}
}

// srvRetrStalled starts RETR of a big file (made first unless there is
// one) without reading the data, so that the transfer is still running;
// it returns the data connection.
func srvRetrStalled(t *testing.T, e *srvEnv, c *ctl, size int) net.Conn {
	t.Helper()
	if _, err := os.Stat(filepath.Join(e.dir, "big.bin")); err != nil {
		e.write(t, "big.bin", srvBigData(size))
	}
	c.cmd("TYPE I", 200)
	d := c.pasv()
	c.cmd("RETR big.bin", 150)
	return d
}

// TestServer_FT7clientVanishes: a data connection closed mid-RETR gets
// 426; nothing is left running.
func TestServer_FT7clientVanishes(t *testing.T) {
	e := srvStart(t)
	base := 0
	c := e.login(t)
	d := srvRetrStalled(t, e, c, 32<<20)
	if _, err := io.ReadFull(d, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	base = openFDs(t)
	d.(*net.TCPConn).SetLinger(0)
	d.Close()
	c.run(`S: 426 Connection closed; transfer aborted.`)
	c.cmd("NOOP", 200)
	if n := openFDs(t); n > base {
		t.Errorf("open fds %d; want ≤ %d", n, base)
	}
	// The client vanishes mid-RETR, control connection too.
	g := countGoroutines()
	d = srvRetrStalled(t, e, c, 32<<20)
	io.ReadFull(d, make([]byte, 1<<20))
	d.Close()
	c.c.Close()
	goroutinesBack(t, g-1)
}

// TestServer_FT8listingDoS: globs only in the last element, no recursion.
func TestServer_FT8listingDoS(t *testing.T) {
	e := srvStart(t)
	e.write(t, "a/b/c/d/e/f", "deep")
	e.write(t, "top.txt", "t")
	c := e.login(t)
	c.pasv()
	start := time.Now()
	c.cmd("LIST */*/*/*/*/*/*/*/*/*", 550)
	c.cmd("NLST */x", 550)
	if d := time.Since(start); d > time.Second {
		t.Errorf("glob refusal took %v", d)
	}
	if got := c.retr("NLST -R"); got != "a\r\ntop.txt\r\n" {
		t.Errorf("NLST -R = %q; want the top directory only", got)
	}
	if got := c.retr("LIST -R a"); strings.Count(got, "\n") != 1 {
		t.Errorf("LIST -R a = %q; want one entry", got)
	}
	c.pasv()
	c.cmd("LIST [", 550)
}

// TestServer_FT8bigDirectory: a directory of many files is streamed.
func TestServer_FT8bigDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 20000 files")
	}
	e := srvStart(t)
	for i := range 20000 {
		if err := os.WriteFile(filepath.Join(e.dir, "f"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := e.login(t)
	if got := strings.Count(c.retr("NLST"), "\n"); got != 20000 {
		t.Errorf("NLST listed %d files; want 20000", got)
	}
}

// TestServer_FT9authInjection: a command pipelined after AUTH TLS is
// discarded, not answered inside TLS.
func TestServer_FT9authInjection(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) { s.TLSConfig = testserver.ServerTLSConfig() })
	c := e.dial(t)
	c.send("AUTH TLS\r\nUSER x")
	c.run(`S: 234 Proceed with negotiation.`)
	tc := tls.Client(c.c, testserver.ClientTLSConfig())
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.c, c.r = tc, bufio.NewReader(tc)
	c.run(`
C: NOOP
S: 200 NOOP ok.
`)
}

// TestServer_FT11bruteForce: failed logins are delayed and the connection
// closed after MaxAuthFailures.
func TestServer_FT11bruteForce(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) {
		s.AuthFailureDelay = 50 * time.Millisecond
		s.MaxAuthFailures = 3
	})
	c := e.dial(t)
	start := time.Now()
	c.send(strings.Repeat("USER alice\r\nPASS bad\r\n", 10)[:len("USER alice\r\nPASS bad\r\n")*10-2])
	for range 3 {
		c.run(`
S: 331 *
S: 530 Login incorrect.
`)
	}
	if rest := c.eof(5 * time.Second); rest != "" {
		t.Errorf("after the third failure: %q", rest)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("3 failed logins took %v; want ≥ 150ms", d)
	}
}

// TestServer_FT12asciiSize: SIZE in TYPE A answers at once for a huge file.
func TestServer_FT12asciiSize(t *testing.T) {
	e := srvStart(t)
	f, err := os.Create(filepath.Join(e.dir, "huge.bin"))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(1 << 30)
	f.Close()
	c := e.login(t)
	c.cmd("TYPE A", 200)
	start := time.Now()
	if got := c.cmd("SIZE huge.bin", 213); got != "1073741824" {
		t.Errorf("SIZE = %s", got)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("SIZE took %v", d)
	}
}

// TestServer_FT13restAbuse: REST -1 and non-numbers are refused; REST past
// the end gives an empty transfer.
func TestServer_FT13restAbuse(t *testing.T) {
	e := srvStart(t)
	e.write(t, "f", "data")
	c := e.login(t)
	c.run(`
C: REST -1
S: 501 Syntax error in parameters or arguments.
C: REST 1e9
S: 501 Syntax error in parameters or arguments.
C: REST 99999999999999999999
S: 501 Syntax error in parameters or arguments.
C: REST 99999999999999
S: 350 *
`)
	if got := c.retr("RETR f"); got != "" {
		t.Errorf("RETR past EOF = %q", got)
	}
}

// TestServer_FT14telnet: IAC sequences are stripped from commands, and
// 0xFF is doubled in replies.
func TestServer_FT14telnet(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) {
		be := s.Backend
		s.Backend = ftp.BackendFunc(func(ctx context.Context, user, pass string) (fs.FS, error) {
			if user == "iac" {
				return nil, &ftp.Error{Code: 550, Message: "no \xff here"}
			}
			return be.Login(ctx, user, pass)
		})
	})
	c := e.dial(t)
	c.run("C: USER iac\nS: 331 *\nC: PASS x\nS: 550 no \xff\xff here\n")
	c.run(`
C: USER alice
S: 331 *
C: PASS secret
S: 230 *
`)
	c.run("C: \xff\xf4\xff\xf2ABOR\nS: 225 No transfer to ABOR.\n" +
		"C: \xff\xfb\x01NO\xff\xfe\x03OP\nS: 200 NOOP ok.\n" +
		// IAC IAC is 0xFF, which no UTF-8 name holds (RFC 2640).
		"C: MKD a\xff\xffb\nS: 550 Invalid file name.\n")
	// ABOR during a transfer, after IAC IP IAC DM.
	d := srvRetrStalled(t, e, c, 32<<20)
	defer d.Close()
	c.send("\xff\xf4\xff\xf2ABOR")
	c.run(`
S: 426 Connection closed; transfer aborted.
S: 226 ABOR successful.
C: NOOP
S: 200 NOOP ok.
`)
}

// TestServer_FT15quoteInPath: quotes in a 257 reply are doubled.
func TestServer_FT15quoteInPath(t *testing.T) {
	e := srvStart(t)
	c := e.login(t)
	c.run(`
C: MKD a"b
S: 257 "/a""b" created.
C: CWD a"b
S: 250 *
C: PWD
S: 257 "/a""b" is the current directory.
`)
}

// TestServer_duringTransfer: STAT shows progress, other commands wait for
// the transfer's end, QUIT waits for it and ends the session.
func TestServer_duringTransfer(t *testing.T) {
	e := srvStart(t)
	c := e.login(t)
	const size = 32 << 20
	d := srvRetrStalled(t, e, c, size)
	c.send("STAT")
	code, lines := c.reply()
	if code != 213 || !strings.HasPrefix(lines[0], "213 Status: ") {
		t.Errorf("STAT during a transfer: %q", lines)
	}
	c.send("PWD")
	c.send("QUIT")
	n, err := io.Copy(io.Discard, d)
	if err != nil || n+0 != size {
		t.Errorf("read %d, %v; want %d", n, err, size)
	}
	c.run(`
S: 226 Transfer complete.
S: 257 "/" is the current directory.
S: 221 Goodbye.
`)
	c.eof(time.Second)
}

// TestServer_idleDuringTransfer: the idle timeout does not end a session
// while a transfer runs.
func TestServer_idleDuringTransfer(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) { s.IdleTimeout = time.Second })
	e.write(t, "big.bin", srvBigData(16<<20))
	c := e.login(t)
	d := srvRetrStalled(t, e, c, 16<<20)
	time.Sleep(2500 * time.Millisecond)
	io.Copy(io.Discard, d)
	c.run(`
S: 226 Transfer complete.
S: 421 Timeout.
`)
}

// TestServer_dataTimeout: a client that stops reading is cut after
// DataTimeout with 426.
func TestServer_dataTimeout(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) { s.DataTimeout = 300 * time.Millisecond })
	c := e.login(t)
	d := srvRetrStalled(t, e, c, 32<<20)
	defer d.Close()
	c.run(`S: 426 Connection closed; transfer aborted.`)
}

// TestServer_protP: with PROT P, data connections are TLS.
func TestServer_protP(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) { s.TLSConfig = testserver.ServerTLSConfig() })
	e.write(t, "f", "encrypted data")
	c := e.dial(t)
	c.startTLS()
	c.run(`
C: USER alice
S: 331 *
C: PASS secret
S: 230 *
C: PBSZ 0
S: 200 PBSZ=0
C: PROT P
S: 200 PROT now Private.
`)
	for _, up := range []bool{false, true} {
		d := c.pasv()
		if up {
			c.cmd("STOR g", 150)
		} else {
			c.cmd("RETR f", 150)
		}
		tc := tls.Client(d, testserver.ClientTLSConfig())
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if up {
			io.WriteString(tc, "uploaded")
			tc.Close()
		} else {
			b, err := io.ReadAll(tc)
			if err != nil || string(b) != "encrypted data" {
				t.Errorf("RETR over TLS = %q, %v", b, err)
			}
		}
		c.run(`S: 226 Transfer complete.`)
	}
	if got, _ := e.read(t, "g"); got != "uploaded" {
		t.Errorf("STOR over TLS stored %q", got)
	}
}

// TestServer_implicitTLS: ServeTLS starts with TLS.
func TestServer_implicitTLS(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) { s.TLSConfig = testserver.ServerTLSConfig() })
	e = e.listen(t, "tcp", "127.0.0.1:0", e.srv.ServeTLS)
	conn, err := tls.Dial("tcp", e.addr, testserver.ClientTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &ctl{t: t, c: conn, r: bufio.NewReader(conn)}
	c.run(`
S: 220 inetkit FTP server ready.
C: AUTH TLS
S: 503 Already using TLS.
C: PBSZ 0
S: 200 PBSZ=0
C: USER alice
S: 331 *
`)
}
