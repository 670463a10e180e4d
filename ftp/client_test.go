package ftp_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
)

// startMemServer starts a Server of this package on a loopback port over
// a MemFS holding an empty directory "pub", for user alice/secret, with
// implicit TLS if implicitTLS, and closes it when the test ends.
func startMemServer(t *testing.T, implicitTLS bool) (addr string, mem *fileroot.MemFS) {
	t.Helper()
	mem = fileroot.NewMemFS()
	if err := mem.Mkdir("pub"); err != nil {
		t.Fatal(err)
	}
	s := &ftp.Server{
		Backend: ftp.BackendFunc(func(ctx context.Context, user, pass string) (fs.FS, error) {
			if user == "alice" && pass == "secret" {
				return mem, nil
			}
			return nil, ftp.ErrAuthFailed
		}),
		TLSConfig:    testcert.ServerConfig(),
		InsecureAuth: true,
		DataTimeout:  10 * time.Second,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		if implicitTLS {
			served <- s.ServeTLS(l)
		} else {
			served <- s.Serve(l)
		}
	}()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, ftp.ErrServerClosed) {
			t.Errorf("Serve() = %v; want ErrServerClosed", err)
		}
	})
	return l.Addr().String(), mem
}

// memPut returns a function that writes a file of mem.
func memPut(mem *fileroot.MemFS) func(name string, data []byte) error {
	return func(name string, data []byte) error {
		u, err := mem.Create(name)
		if err != nil {
			return err
		}
		if _, err := u.Write(data); err != nil {
			return err
		}
		return u.Close()
	}
}

// TestClient_server runs the client against this package's Server over a
// MemFS, passive and active, in clear and with AUTH TLS.
func TestClient_server(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tls    bool
		active bool
	}{
		{"passive", false, false},
		{"active", false, true},
		{"TLS passive", true, false},
		{"TLS active", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, mem := startMemServer(t, false)
			c := dialClient(t, addr, ftp.ClientOptions{Active: tc.active}, tc.tls, "alice", "secret")
			exerciseClient(t, c, mem, memPut(mem))
		})
	}
}

// TestClient_serverImplicitTLS runs DialTLS against the Server's
// ServeTLS: the control connection is TLS from the start, and the data
// connections are protected without AUTH TLS.
func TestClient_serverImplicitTLS(t *testing.T) {
	t.Parallel()
	addr, mem := startMemServer(t, true)
	var debug prototest.Buffer
	c, err := ftp.DialTLS(t.Context(), addr, &ftp.ClientOptions{TLSConfig: testcert.ClientConfig(), Timeout: 10 * time.Second, DebugWriter: &debug})
	if err != nil {
		t.Fatalf("DialTLS() = %v", err)
	}
	defer c.Close()
	if !c.TLS() {
		t.Errorf("TLS() = false after DialTLS")
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatalf("Login() = %v", err)
	}
	data := clientTestData(100_000)
	if err := c.Store("pub/x", bytes.NewReader(data)); err != nil {
		t.Fatalf("Store() = %v", err)
	}
	clientCheckFile(t, mem, "pub/x", data)
	if got := clientRetrieveAll(t, c, "pub/x", 0); !bytes.Equal(got, data) {
		t.Errorf("Retrieve() read %d bytes; want the %d stored", len(got), len(data))
	}
	if !strings.Contains(debug.String(), "PROT P\r\n200") {
		t.Errorf("no PROT P accepted in the control traffic:\n%s", debug.String())
	}
}

// The tests below play scripted servers: they cover replies that the real
// servers of the other tests never send.

// scriptedServer listens on a loopback port and plays script
// (internal/prototest) on the first connection.
func scriptedServer(t *testing.T, script string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		<-prototest.Server(t, conn, script)
	}()
	t.Cleanup(func() { <-done })
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

func dialScripted(t *testing.T, script string) (*ftp.Client, error) {
	t.Helper()
	addr := scriptedServer(t, script)
	c, err := ftp.Dial(t.Context(), addr, &ftp.ClientOptions{Timeout: 5 * time.Second})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestClient_greeting(t *testing.T) {
	t.Parallel()
	if _, err := dialScripted(t, "S: 120 In 5 minutes\nS: 220-Welcome\nS: hello\nS: 220 Ready"); err != nil {
		t.Errorf("Dial() after 120 and a multi-line 220 = %v", err)
	}
	if _, err := dialScripted(t, "S: 421 Too many users"); clientErrCode(err) != 421 {
		t.Errorf("Dial() with a 421 greeting = %v; want a 421 *ftp.Error", err)
	}
	var pe textproto.ProtocolError
	if _, err := dialScripted(t, "S: SSH-2.0-OpenSSH_9.2"); !errors.As(err, &pe) {
		t.Errorf("Dial() to an SSH server = %v; want a textproto.ProtocolError", err)
	}
}

func TestClient_loginNeedsAccount(t *testing.T) {
	t.Parallel()
	c, err := dialScripted(t, `
		S: 220 Ready
		C: USER bob
		S: 331 Password
		C: PASS pw
		S: 332 Need account for login.`)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("bob", "pw"); clientErrCode(err) != 332 {
		t.Errorf("Login() = %v; want a 332 *ftp.Error", err)
	}
}

// TestClient_timeout checks that a reply that does not come within the
// Timeout fails the command with a timeout.
func TestClient_timeout(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "220 Ready\r\n")
		io.Copy(io.Discard, conn) // and never answer
	}()
	c, err := ftp.Dial(t.Context(), l.Addr().String(), &ftp.ClientOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	err = c.Noop()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Noop() = %v; want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Noop() took %v; want about the 200 ms Timeout", d)
	}
}

// TestClient_argumentCRLF checks that no command holding CR or LF is sent
// (the next line the server reads is NOOP): it would be a second command.
func TestClient_argumentCRLF(t *testing.T) {
	t.Parallel()
	c, err := dialScripted(t, "S: 220 Ready\nC: NOOP\nS: 200 OK")
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"Login":     func() error { return c.Login("a\r\nDELE x", "p") },
		"Delete":    func() error { return c.Delete("x\r\nRMD /") },
		"MakeDir":   func() error { return c.MakeDir("a\nb") },
		"ChangeDir": func() error { return c.ChangeDir("a\rb") },
		"Rename":    func() error { return c.Rename("a", "b\r\nDELE c") },
		"Retrieve":  func() error { _, err := c.Retrieve("a\nb", 0); return err },
		"Store":     func() error { return c.Store("a\nb", strings.NewReader("x")) },
		"List":      func() error { _, err := c.NameList("a\nb"); return err },
		"Cmd":       func() error { _, _, err := c.Cmd("NOOP\r\nQUIT"); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s with CR or LF in an argument = nil; want an error", name)
		}
	}
	if err := c.Noop(); err != nil {
		t.Errorf("Noop() = %v", err)
	}
}

// TestClient_startTLSInjection checks that a reply sent with the 234 of
// AUTH TLS, before the handshake, is refused: it would be read as if it
// came inside TLS.
func TestClient_startTLSInjection(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, "220 Ready\r\n")
		bufio.NewReader(conn).ReadString('\n')
		io.WriteString(conn, "234 Go ahead\r\n230 Logged in (injected)\r\n")
		io.Copy(io.Discard, conn)
	}()
	c, err := ftp.Dial(t.Context(), l.Addr().String(), &ftp.ClientOptions{Timeout: 5 * time.Second, TLSConfig: testcert.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(nil); err == nil || c.TLS() {
		t.Errorf("StartTLS() = %v, TLS() = %v; want an error", err, c.TLS())
	}
}

// TestClient_retrieveFailed checks that Close of a Retrieve read to EOF
// returns the negative reply that ends the transfer.
func TestClient_retrieveFailed(t *testing.T) {
	t.Parallel()
	dl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	go func() {
		conn, err := dl.Accept()
		if err != nil {
			return
		}
		io.WriteString(conn, "partial")
		conn.Close()
	}()
	port := dl.Addr().(*net.TCPAddr).Port
	c, err := dialScripted(t, fmt.Sprintf(`
		S: 220 Ready
		C: EPSV
		S: 229 Entering Extended Passive Mode (|||%d|)
		C: REST 3
		S: 350 Restarting at 3.
		C: RETR f
		S: 150 Opening BINARY mode data connection
		S: 451 Local error: disk read failed`, port))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Retrieve("f", 3)
	if err != nil {
		t.Fatalf("Retrieve() = %v", err)
	}
	data, err := io.ReadAll(r)
	if err != nil || string(data) != "partial" {
		t.Errorf("read %q, %v; want partial", data, err)
	}
	if err := r.Close(); clientErrCode(err) != 451 {
		t.Errorf("Close() = %v; want a 451 *ftp.Error", err)
	}
}

// TestClient_activeAcceptsOnlyPeer checks that in active mode a data
// connection from another address than the server's is closed, and the
// server's accepted (RFC 2577 §3).
func TestClient_activeAcceptsOnlyPeer(t *testing.T) {
	t.Parallel()
	other, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 to connect from: %v", err)
	}
	other.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	intruder := make(chan string, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(conn)
		io.WriteString(conn, "220 Ready\r\n")
		line, _ := r.ReadString('\n')
		var proto int
		var ip string
		var port int
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "EPRT |%d|%s", &proto, &ip); err != nil {
			intruder <- "bad EPRT " + line
			return
		}
		fields := strings.Split(strings.TrimSpace(line), "|")
		fmt.Sscan(fields[3], &port)
		io.WriteString(conn, "200 EPRT OK\r\n")
		r.ReadString('\n') // RETR
		io.WriteString(conn, "150 Here it comes\r\n")
		target := net.JoinHostPort(fields[2], fmt.Sprint(port))
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
		if ic, err := d.Dial("tcp", target); err == nil {
			ic.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(ic, "evil")
			_, err := ic.Read(make([]byte, 1))
			intruder <- fmt.Sprint(err)
			ic.Close()
		} else {
			intruder <- "dial: " + err.Error()
		}
		dc, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		io.WriteString(dc, "good")
		dc.Close()
		io.WriteString(conn, "226 Done\r\n")
		io.Copy(io.Discard, r)
	}()
	c, err := ftp.Dial(t.Context(), l.Addr().String(), &ftp.ClientOptions{Timeout: 5 * time.Second, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Retrieve("f", 0)
	if err != nil {
		t.Fatalf("Retrieve() = %v", err)
	}
	data, err := io.ReadAll(r)
	if err != nil || string(data) != "good" {
		t.Errorf("read %q, %v; want good, from the server's address", data, err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if got := <-intruder; got != "EOF" && !strings.Contains(got, "reset") {
		t.Errorf("the connection from 127.0.0.2 read %s; want it closed", got)
	}
}

// Dial's context bounds the wait for the greeting, not only the connect: a
// server that accepts and says nothing does not hold the caller for the
// whole Timeout once the context is done.
func TestDial_contextBoundsGreeting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent until the test ends
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = ftp.Dial(ctx, l.Addr().String(), &ftp.ClientOptions{Timeout: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial to a silent server = %v; want context.DeadlineExceeded", err)
	}
}
