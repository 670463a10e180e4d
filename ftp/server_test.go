package ftp_test

import (
	"context"
	"io"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/internal/testserver"
)

func TestServer_beforeLogin(t *testing.T) {
	e := srvStart(t)
	c := e.dial(t)
	c.run(`
C: SYST
S: 215 UNIX Type: L8
C: NOOP
S: 200 NOOP ok.
C: FEAT
S: 211-Features:
S:  EPRT
S:  EPSV
S:  MDTM
S:  MLST type*;size*;modify*;perm*;unique*;unix.mode;
S:  PASV
S:  REST STREAM
S:  SIZE
S:  TVFS
S:  UTF8
S: 211 End
C: OPTS UTF8 ON
S: 200 Always in UTF8 mode.
C: PWD
S: 530 Please login with USER and PASS.
C: CWD /
S: 530 Please login with USER and PASS.
C: LIST
S: 530 Please login with USER and PASS.
C: RETR x
S: 530 Please login with USER and PASS.
C: STOR x
S: 530 Please login with USER and PASS.
C: PASV
S: 530 Please login with USER and PASS.
C: PORT 127,0,0,1,200,10
S: 530 Please login with USER and PASS.
C: TYPE I
S: 530 Please login with USER and PASS.
C: STAT /
S: 530 Please login with USER and PASS.
C: XYZZY
S: 500 Unknown command.
C: PASS secret
S: 503 Login with USER first.
C: ACCT x
S: 202 ACCT command superfluous.
C: AUTH TLS
S: 504 AUTH TLS not available.
C: PBSZ 0
S: 503 PBSZ not allowed on an insecure control connection.
C: PROT P
S: 503 PROT needs PBSZ after AUTH TLS.
C: CCC
S: 534 Request denied for policy reasons.
C: ABOR
S: 225 No transfer to ABOR.
C: USER
S: 501 Syntax error in parameters or arguments.
C: USER alice
S: 331 Please specify the password.
C: PASS wrong
S: 530 Login incorrect.
C: USER anonymous
S: 331 Guest login ok, send your e-mail address as password.
C: PASS guest@example.com
S: 230 Login successful.
C: QUIT
S: 221 Goodbye.
`)
	c.eof(time.Second)
}

func TestServer_stat(t *testing.T) {
	e := srvStart(t)
	c := e.dial(t)
	c.run(`
C: STAT
S: 211-FTP server status:
S:  Connected to 127.0.0.1
S:  Not logged in
S:  TYPE: ASCII, STRU: File, MODE: Stream
S:  Session timeout in seconds is 10
S: 211 End of status
`)
	e.write(t, "a.txt", "hello")
	c.run(`
C: USER alice
S: 331 *
C: PASS secret
S: 230 *
C: STAT a.txt
S: 213-Status follows:
S: -rw-r--r-- 1 ftp ftp            5 * a.txt
S: 213 End of status
C: STAT nope
S: 550 No such file or directory.
`)
}

func TestServer_afterLogin(t *testing.T) {
	e := srvStart(t)
	e.write(t, "dir/f.txt", "12345")
	c := e.login(t)
	c.cmd("HELP", 214)
	c.run(`
C: PWD
S: 257 "/" is the current directory.
C: CWD dir
S: 250 Directory successfully changed.
C: XPWD
S: 257 "/dir" is the current directory.
C: CDUP
S: 250 Directory successfully changed.
C: CWD dir/f.txt
S: 550 Not a directory.
C: CWD nope
S: 550 No such file or directory.
C: CWD
S: 501 Syntax error in parameters or arguments.
C: TYPE I
S: 200 Switching to Binary mode.
C: TYPE L 8
S: 200 Switching to Binary mode.
C: TYPE A
S: 200 Switching to ASCII mode.
C: TYPE E
S: 504 Command not implemented for that parameter.
C: MODE S
S: 200 Mode set to S.
C: MODE B
S: 504 Only stream mode is supported.
C: STRU F
S: 200 Structure set to F.
C: STRU R
S: 504 Only file structure is supported.
C: ALLO 100
S: 202 ALLO command ignored.
C: SIZE dir/f.txt
S: 213 5
C: SIZE dir
S: 550 Could not get file size.
C: MDTM dir/f.txt
S: 213 ??????????????
C: MKD new
S: 257 "/new" created.
C: MKD new
S: 550 File exists.
C: RMD new
S: 250 Remove directory operation successful.
C: RMD dir/f.txt
S: 550 Not a directory.
C: RNFR dir/f.txt
S: 350 Ready for RNTO.
C: RNTO dir/g.txt
S: 250 Rename successful.
C: RNTO x
S: 503 RNFR required first.
C: RNFR nope
S: 550 No such file or directory.
C: DELE dir
S: 550 Is a directory.
C: DELE dir/g.txt
S: 250 Delete operation successful.
C: DELE dir/g.txt
S: 550 No such file or directory.
C: REST 10
S: 350 Restarting at 10. *
C: REST -1
S: 501 Syntax error in parameters or arguments.
C: REST x
S: 501 Syntax error in parameters or arguments.
C: RETR nope
S: 550 No such file or directory.
C: RETR dir
S: 550 Not a regular file.
C: RETR dir/x
S: 550 No such file or directory.
C: LIST nope
S: 550 No such file or directory.
C: SITE HELP
S: 214 SITE commands recognized: HELP
C: SITE CHMOD 777 x
S: 500 Unknown SITE command.
C: OPTS MLST type;size;
S: 200 MLST OPTS type;size;
C: OPTS MLST type;size;unix.mode;bogus;
S: 200 MLST OPTS type;size;unix.mode;
C: OPTS FOO
S: 501 Option not understood.
C: RETR
S: 501 Syntax error in parameters or arguments.
C: LIST
S: 425 Use PORT or PASV first.
C: EPSV 2
S: 522 Network protocol not supported, use (1).
C: EPRT |2|::1|2525|
S: 522 Network protocol not supported, use (1).
C: EPRT |3|x|2525|
S: 522 Network protocol not supported, use (1).
C: EPRT garbage
S: 501 Syntax error in parameters or arguments.
C: PORT 1,2,3
S: 501 Syntax error in parameters or arguments.
C: EPSV ALL
S: 200 EPSV ALL ok.
C: PASV
S: 503 Only EPSV is allowed after EPSV ALL.
C: PORT 127,0,0,1,200,10
S: 503 Only EPSV is allowed after EPSV ALL.
C: EPRT |1|127.0.0.1|2000|
S: 503 Only EPSV is allowed after EPSV ALL.
C: EPSV
S: 229 Entering Extended Passive Mode (|||*|).
C: REIN
S: 220 Service ready for new user.
C: PWD
S: 530 Please login with USER and PASS.
`)
}

func TestServer_retrStor(t *testing.T) {
	e := srvStart(t)
	c := e.login(t)
	c.cmd("TYPE I", 200)
	body := srvBigData(3<<20 + 17)
	if code := c.stor("STOR big.bin", body); code != 226 {
		t.Fatalf("STOR: %d", code)
	}
	if got, _ := e.read(t, "big.bin"); got != body {
		t.Fatalf("stored %d octets; want %d", len(got), len(body))
	}
	if got := c.retr("RETR big.bin"); got != body {
		t.Fatalf("RETR: %d octets; want %d", len(got), len(body))
	}
	c.cmd("REST 9", 350)
	if got := c.retr("RETR big.bin"); got != body[9:] {
		t.Fatalf("REST 9 + RETR: %d octets; want %d", len(got), len(body)-9)
	}
	c.cmd("REST 99999999999999", 350)
	if got := c.retr("RETR big.bin"); got != "" {
		t.Fatalf("RETR past EOF: %d octets; want 0", len(got))
	}
	// APPE copies the old file into the new upload.
	if code := c.stor("APPE big.bin", "tail"); code != 226 {
		t.Fatalf("APPE: %d", code)
	}
	if got, _ := e.read(t, "big.bin"); got != body+"tail" {
		t.Fatalf("after APPE: %d octets; want %d", len(got), len(body)+4)
	}
	if code := c.stor("APPE fresh.txt", "new"); code != 226 {
		t.Fatalf("APPE of a new file: %d", code)
	}
	// STOR after REST n keeps the first n octets.
	c.cmd("REST 3", 350)
	if code := c.stor("STOR fresh.txt", "XYZ"); code != 226 {
		t.Fatalf("REST+STOR: %d", code)
	}
	if got, _ := e.read(t, "fresh.txt"); got != "newXYZ" {
		t.Fatalf("REST+STOR: %q; want %q", got, "newXYZ")
	}
	c.cmd("REST 100", 350)
	c.pasv()
	c.cmd("STOR fresh.txt", 554)
	// STOU replies with the name.
	d := c.pasv()
	text := c.cmd("STOU", 150)
	name, ok := strings.CutPrefix(text, "FILE: ")
	if !ok {
		t.Fatalf("STOU 150 %q", text)
	}
	io.WriteString(d, "unique")
	d.Close()
	c.run(`S: 226 Transfer complete.`)
	if got, _ := e.read(t, name); got != "unique" {
		t.Fatalf("STOU file %q holds %q", name, got)
	}
}

func TestServer_typeA(t *testing.T) {
	e := srvStart(t)
	e.write(t, "text.txt", "one\ntwo\r\nthree\n")
	c := e.login(t)
	c.cmd("TYPE A", 200)
	if got, want := c.retr("RETR text.txt"), "one\r\ntwo\r\nthree\r\n"; got != want {
		t.Errorf("RETR in TYPE A = %q; want %q", got, want)
	}
	if code := c.stor("STOR up.txt", "a\r\nb\r\nc\rd\r"); code != 226 {
		t.Fatalf("STOR: %d", code)
	}
	if got, _ := e.read(t, "up.txt"); got != "a\nb\nc\rd\r" {
		t.Errorf("STOR in TYPE A stored %q", got)
	}
	c.cmd("TYPE I", 200)
	if got, want := c.retr("RETR text.txt"), "one\ntwo\r\nthree\n"; got != want {
		t.Errorf("RETR in TYPE I = %q; want %q", got, want)
	}
}

func TestServer_listings(t *testing.T) {
	e := srvStart(t)
	e.write(t, "b.txt", "bb")
	e.write(t, "a.txt", "a")
	e.write(t, "sub/c.dat", "ccc")
	c := e.login(t)
	list := c.retr("LIST")
	lines := strings.Split(strings.TrimSuffix(list, "\r\n"), "\r\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "-rw-r--r-- 1 ftp ftp            1 ") ||
		!strings.HasSuffix(lines[0], " a.txt") || !strings.HasPrefix(lines[2], "drwxr-xr-x") {
		t.Errorf("LIST = %q", list)
	}
	if got := c.retr("LIST -la"); got != list {
		t.Errorf("LIST -la = %q; want %q", got, list)
	}
	if got := c.retr("NLST"); got != "a.txt\r\nb.txt\r\nsub\r\n" {
		t.Errorf("NLST = %q", got)
	}
	if got := c.retr("NLST *.txt"); got != "a.txt\r\nb.txt\r\n" {
		t.Errorf("NLST *.txt = %q", got)
	}
	if got := c.retr("NLST sub/*.dat"); got != "c.dat\r\n" {
		t.Errorf("NLST sub/*.dat = %q", got)
	}
	if got := c.retr("LIST a.txt"); !strings.HasSuffix(got, " a.txt\r\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("LIST a.txt = %q", got)
	}
	mlsd := c.retr("MLSD")
	if !strings.Contains(mlsd, "type=cdir;") || !strings.Contains(mlsd, "type=file;size=2;modify=") ||
		!strings.Contains(mlsd, "perm=radfw;") || !strings.Contains(mlsd, " b.txt\r\n") ||
		!strings.Contains(mlsd, "type=dir;") {
		t.Errorf("MLSD = %q", mlsd)
	}
	c.pasv()
	c.cmd("MLSD a.txt", 501)
	c.run(`
C: MLST a.txt
S: 250-Listing /a.txt
S:  type=file;size=1;modify=*;perm=radfw;unique=*; /a.txt
S: 250 End
`)
}

func TestServer_anonymousReadOnly(t *testing.T) {
	e := srvStart(t)
	e.write(t, "pub.txt", "public")
	c := e.dial(t)
	c.run(`
C: USER ftp
S: 331 Guest login ok, send your e-mail address as password.
C: PASS
S: 230 Login successful.
C: STOR x
S: 550 Permission denied.
C: APPE x
S: 550 Permission denied.
C: STOU
S: 550 Permission denied.
C: DELE pub.txt
S: 550 Permission denied.
C: MKD d
S: 550 Permission denied.
C: RMD d
S: 550 Permission denied.
C: RNFR pub.txt
S: 550 Permission denied.
C: MLST pub.txt
S: 250-Listing /pub.txt
S:  type=file;size=6;modify=*;perm=r;unique=*; /pub.txt
S: 250 End
`)
	if got := c.retr("RETR pub.txt"); got != "public" {
		t.Errorf("RETR = %q", got)
	}
}

// TestServer_plaintextRefused is FT10: without TLS and InsecureAuth, a
// non-anonymous login is refused before the password is sent; after AUTH
// TLS it works.
func TestServer_plaintextRefused(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) {
		s.InsecureAuth = false
		s.TLSConfig = testserver.ServerTLSConfig()
	})
	c := e.dial(t)
	c.run(`
C: USER alice
S: 530 Non-anonymous sessions must use encryption.
C: PASS secret
S: 503 Login with USER first.
C: USER anonymous
S: 331 *
`)
	c.startTLS()
	c.run(`
C: USER alice
S: 331 Please specify the password.
C: PASS secret
S: 230 Login successful.
C: AUTH TLS
S: 503 Already using TLS.
C: PROT P
S: 503 PROT needs PBSZ after AUTH TLS.
C: PBSZ 0
S: 200 PBSZ=0
C: PROT S
S: 536 PROT level not supported.
C: PROT X
S: 504 Unknown PROT level.
C: PROT C
S: 200 PROT now Clear.
C: CCC
S: 534 Request denied for policy reasons.
`)
}

// TestServer_backendError checks the Backend's errors: a *Error is sent as
// it is, anything else is "421" and the connection closes.
func TestServer_backendError(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) {
		s.Backend = ftp.BackendFunc(func(ctx context.Context, user, pass string) (fs.FS, error) {
			if user == "busy" {
				return nil, &ftp.Error{Code: 421, Message: "Try later."}
			}
			return nil, io.ErrUnexpectedEOF
		})
	})
	c := e.dial(t)
	c.run(`
C: USER busy
S: 331 *
C: PASS x
S: 421 Try later.
C: USER bob
S: 331 *
C: PASS x
S: 421 Service not available, closing control connection.
`)
	c.eof(time.Second)
}

func TestServer_memFS(t *testing.T) {
	mem := fileroot.NewMemFS()
	e := srvStart(t, func(s *ftp.Server) {
		s.Backend = ftp.BackendFunc(func(ctx context.Context, user, pass string) (fs.FS, error) { return mem, nil })
	})
	c := e.login(t)
	c.cmd("TYPE I", 200)
	if code := c.stor("STOR m.bin", "memory"); code != 226 {
		t.Fatalf("STOR: %d", code)
	}
	if got := c.retr("RETR m.bin"); got != "memory" {
		t.Errorf("RETR = %q", got)
	}
	c.cmd("REST 2", 350)
	if got := c.retr("RETR m.bin"); got != "mory" {
		t.Errorf("REST 2 + RETR = %q", got)
	}
	if got := c.retr("NLST"); got != "m.bin\r\n" {
		t.Errorf("NLST = %q", got)
	}
}

func TestParsePortRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ftp.PortRange
		ok   bool
	}{
		{"", ftp.PortRange{}, true},
		{"50000-50100", ftp.PortRange{Min: 50000, Max: 50100}, true},
		{"2121", ftp.PortRange{Min: 2121, Max: 2121}, true},
		{"0-10", ftp.PortRange{}, false},
		{"10-5", ftp.PortRange{}, false},
		{"1-70000", ftp.PortRange{}, false},
		{"a-b", ftp.PortRange{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ftp.ParsePortRange(tc.in)
			if got != tc.want || (err == nil) != tc.ok {
				t.Fatalf("ParsePortRange(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
			if tc.ok && got.String() != tc.in {
				t.Errorf("String() = %q; want %q", got.String(), tc.in)
			}
		})
	}
}

func TestServer_publicHost(t *testing.T) {
	e := srvStart(t, func(s *ftp.Server) { s.PublicHost = "192.0.2.7" })
	c := e.login(t)
	c.run(`
C: PASV
S: 227 Entering Passive Mode (192,0,2,7,*).
C: EPSV
S: 229 Entering Extended Passive Mode (|||*|).
`)
}

// TestServer_ipv6 serves a control connection over IPv6: PASV is refused
// with a hint, EPSV and EPRT work, and EPRT of IPv4 is refused.
func TestServer_ipv6(t *testing.T) {
	e := srvStart(t)
	e6 := e.listen(t, "tcp6", "[::1]:0", e.srv.Serve)
	e.write(t, "f", "six")
	c := e6.login(t)
	c.run(`
C: PASV
S: 500 PASV is IPv4 only; use EPSV.
C: EPSV 1
S: 522 Network protocol not supported, use (2).
C: EPRT |1|127.0.0.1|2000|
S: 522 Network protocol not supported, use (2).
C: PORT 127,0,0,1,200,10
S: 522 Network protocol not supported, use (2).
`)
	if got := c.retr("RETR f"); got != "six" {
		t.Errorf("RETR over EPSV on IPv6 = %q", got)
	}
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c.cmd("EPRT |2|::1|"+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)+"|", 200)
	c.cmd("RETR f", 150)
	d, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(d)
	d.Close()
	c.run(`S: 226 Transfer complete.`)
	if string(b) != "six" {
		t.Errorf("RETR over EPRT on IPv6 = %q", b)
	}
}

// TestServer_debugWriterStats: DebugWriter sees the control traffic, and
// Stats counts the connection.
func TestServer_debugWriterStats(t *testing.T) {
	var buf syncBuffer
	e := srvStart(t, func(s *ftp.Server) { s.DebugWriter = &buf })
	c := e.login(t)
	c.cmd("QUIT", 221)
	c.eof(time.Second)
	if got := buf.String(); !strings.Contains(got, "USER alice\r\n") || !strings.Contains(got, "221 Goodbye.\r\n") {
		t.Errorf("DebugWriter got %q", got)
	}
	if st := e.srv.Stats(); st.Accepted != 1 {
		t.Errorf("Stats().Accepted = %d; want 1", st.Accepted)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
