package imapd_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/imapd"
	"github.com/inetkit/inetkit/internal/imapd/imapdtest"
	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/lineproto"
)

// testServer is a server on 127.0.0.1 with its backend.
type testServer struct {
	*imapd.Server
	be   *imapdtest.MemBackend
	addr string
	log  *prototest.Buffer
	done chan error // Serve's result
}

// newServer starts a Server over a MemBackend with user alice, password
// secret, on 127.0.0.1:0; edit, if not nil, changes its fields first. It
// allows plaintext logins unless edit says otherwise. The server is closed
// at the end of the test.
func newServer(t testing.TB, edit func(*imapd.Server)) *testServer {
	t.Helper()
	be := imapdtest.NewMemBackend()
	be.AddUser("alice", "secret")
	log := &prototest.Buffer{}
	srv := &imapd.Server{
		Backend:      be,
		InsecureAuth: true,
		Logger:       slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Limits:       lineproto.Limits{AuthFailureDelay: -1, ErrorDelay: -1},
	}
	if edit != nil {
		edit(srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{Server: srv, be: be, addr: l.Addr().String(), log: log, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-s.done; !errors.Is(err, imapd.ErrServerClosed) {
			t.Errorf("Serve() = %v; want ErrServerClosed", err)
		}
	})
	return s
}

// dial connects to s and returns the connection and a reader of it; the
// connection is closed at the end of the test.
func (s *testServer) dial(t testing.TB) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(prototest.Timeout))
	return c, bufio.NewReader(c)
}

// greeted connects to s and reads the greeting.
func (s *testServer) greeted(t testing.TB) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, r := s.dial(t)
	prototest.Run(t, c, r, `S: * OK \[CAPABILITY *\] inetkit IMAP server ready`)
	return c, r
}

// loggedIn connects to s and logs in as alice.
func (s *testServer) loggedIn(t testing.TB) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, r := s.greeted(t)
	prototest.Run(t, c, r, `
C: L1 LOGIN alice secret
S: L1 OK \[CAPABILITY *\] Logged in`)
	return c, r
}

// readUntilEOF reads what is left of the connection, and fails the test if
// it does not end within the prototest timeout.
func readUntilEOF(t testing.TB, c net.Conn, r *bufio.Reader) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(prototest.Timeout))
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading to EOF: %v (got %q)", err, b)
	}
	return string(b)
}

func TestServer_greetingAndCapability(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.dial(t)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "AUTH=PLAIN", "APPENDLIMIT=67108864", "LIST-STATUS", "MULTIAPPEND", "CATENATE"} {
		if !strings.Contains(line, " "+want) {
			t.Errorf("greeting %q lacks %s", line, want)
		}
	}
	if strings.Contains(line, "STARTTLS") || strings.Contains(line, "LOGINDISABLED") {
		t.Errorf("greeting %q: STARTTLS or LOGINDISABLED without TLSConfig and with InsecureAuth", line)
	}
	prototest.Run(t, c, r, `
C: a CAPABILITY
S: * CAPABILITY IMAP4rev1 IMAP4rev2 *AUTH=PLAIN
S: a OK Capability completed.
C: b NOOP
S: b OK Noop completed.
C: c FOO
S: c BAD Error in IMAP command FOO: Unknown command.
C: d STATUS INBOX (MESSAGES)
S: d BAD Error in IMAP command STATUS: Not logged in.
C: e LIST "" *
S: e BAD Error in IMAP command LIST: Not logged in.
C: +++
S: * BAD *
C: f LOGOUT
S: * BYE Logging out
S: f OK Logout completed.`)
	if rest := readUntilEOF(t, c, r); rest != "" {
		t.Errorf("after LOGOUT: %q; want EOF", rest)
	}
}

func TestServer_loginDisabledWithoutTLS(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) {
		s.InsecureAuth = false
		s.TLSConfig = testcert.ServerConfig()
	})
	c, r := s.dial(t)
	prototest.Run(t, c, r, `
S: * OK \[CAPABILITY * STARTTLS LOGINDISABLED\] inetkit IMAP server ready
C: a LOGIN alice secret
S: a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.
C: b AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==
S: b NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.
# Plaintext sent after STARTTLS, in the same segment, is dropped.
C: c STARTTLS
S: c OK Begin TLS negotiation now.`)
	tc := tls.Client(c, testcert.ClientConfig())
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	tr := bufio.NewReader(tc)
	prototest.Run(t, tc, tr, `
C: d CAPABILITY
S: * CAPABILITY *AUTH=PLAIN
S: d OK Capability completed.
C: e STARTTLS
S: e BAD TLS is already active.
C: f LOGIN alice secret
S: f OK \[CAPABILITY *\] Logged in`)
}

func TestServer_startTLSInjection(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.TLSConfig = testcert.ServerConfig() })
	c, r := s.greeted(t)
	if _, err := io.WriteString(c, "a STARTTLS\r\nXYZAB NOOP\r\n"); err != nil {
		t.Fatal(err)
	}
	prototest.Run(t, c, r, "S: a OK Begin TLS negotiation now.")
	tc := tls.Client(c, testcert.ClientConfig())
	if err := tc.Handshake(); err != nil {
		// The injected line may have broken the handshake: fine too.
		return
	}
	tr := bufio.NewReader(tc)
	prototest.Run(t, tc, tr, `
C: b NOOP
S: b OK Noop completed.`)
}

func TestServer_implicitTLS(t *testing.T) {
	be := imapdtest.NewMemBackend()
	be.AddUser("alice", "secret")
	srv := &imapd.Server{Backend: be, TLSConfig: testcert.ServerConfig()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(l) }()
	defer func() {
		srv.Close()
		<-done
	}()
	c, err := tls.Dial("tcp", l.Addr().String(), testcert.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(prototest.Timeout))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(line, "STARTTLS") || strings.Contains(line, "LOGINDISABLED") || !strings.Contains(line, "AUTH=PLAIN") {
		t.Errorf("greeting over TLS = %q; want AUTH=PLAIN, no STARTTLS, no LOGINDISABLED", line)
	}
	prototest.Run(t, c, r, `
C: a LOGIN alice secret
S: a OK \[CAPABILITY *\] Logged in`)
}

func TestServer_shutdownSaysBye(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	if got, want := readUntilEOF(t, c, r), "* BYE [UNAVAILABLE] Server shutting down\r\n"; got != want {
		t.Errorf("after Shutdown: %q; want %q", got, want)
	}
}

func TestServer_shutdownBeforeFirstCommand(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.greeted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	if got, want := readUntilEOF(t, c, r), "* BYE [UNAVAILABLE] Server shutting down\r\n"; got != want {
		t.Errorf("after Shutdown: %q; want %q", got, want)
	}
}

func TestServer_idleTimeoutBeforeFirstCommand(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.IdleTimeout = 300 * time.Millisecond })
	c, r := s.greeted(t)
	start := time.Now()
	if got, want := readUntilEOF(t, c, r), "* BYE Autologout; idle for too long\r\n"; got != want {
		t.Errorf("idle: %q; want %q", got, want)
	}
	if d := time.Since(start); d > 550*time.Millisecond {
		t.Errorf("closed after %v; want one idle timeout, 300ms", d)
	}
}

func TestServer_idleTimeout(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.IdleTimeout = 200 * time.Millisecond })
	c, r := s.loggedIn(t)
	if got, want := readUntilEOF(t, c, r), "* BYE Autologout; idle for too long\r\n"; got != want {
		t.Errorf("idle: %q; want %q", got, want)
	}
}

func TestServer_commandTimeout(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.CommandTimeout = 300 * time.Millisecond })
	c, r := s.loggedIn(t)
	start := time.Now()
	// A command that never ends: a slowloris.
	for range 3 {
		io.WriteString(c, "a")
		time.Sleep(50 * time.Millisecond)
	}
	if got, want := readUntilEOF(t, c, r), "* BYE Timed out waiting for the rest of the command\r\n"; got != want {
		t.Errorf("slow command: %q; want %q", got, want)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v; want about 300ms", d)
	}
}

func TestServer_lineTooLong(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.MaxLineBytes = 8192 })
	c, r := s.greeted(t)
	go io.WriteString(c, "a LOGIN "+strings.Repeat("x", 20000)+"\r\n")
	got := readUntilEOF(t, c, r)
	if !strings.HasPrefix(got, "* BYE [TOOBIG] ") {
		t.Errorf("line too long: %q; want * BYE [TOOBIG]", got)
	}
}

func TestServer_tooManyErrors(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.HardErrorLimit = 3 })
	c, r := s.greeted(t)
	prototest.Run(t, c, r, `
C: a FOO
S: a BAD *
C: b FOO
S: b BAD *
C: c FOO`)
	if got, want := readUntilEOF(t, c, r), "* BYE Too many errors\r\n"; got != want {
		t.Errorf("third error: %q; want %q", got, want)
	}
}

func TestServer_httpRequest(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.greeted(t)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if got := readUntilEOF(t, c, r); got != "" {
		t.Errorf("after an HTTP request: %q; want EOF", got)
	}
}

func TestServer_pipelining(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.greeted(t)
	io.WriteString(c, "a NOOP\r\nb LOGIN alice secret\r\nc NAMESPACE\r\nd ID NIL\r\n")
	prototest.Run(t, c, r, `
S: a OK Noop completed.
S: b OK \[CAPABILITY *\] Logged in
S: * NAMESPACE (("" "/")) NIL NIL
S: c OK Namespace completed.
S: * ID ("name" "inetkit")
S: d OK ID completed.`)
}

func TestServer_serveConnNoBackend(t *testing.T) {
	srv := &imapd.Server{}
	a, b := net.Pipe()
	defer b.Close()
	if err := srv.ServeConn(context.Background(), a); err == nil {
		t.Error("ServeConn without Backend = nil; want an error")
	}
}
