package imapd_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
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

// A line without CRLF gets "* BYE [TOOBIG]" at the cap, in every state,
// however much more the client sends (HARDENING I5, G1).
func TestServer_lineTooLong(t *testing.T) {
	for _, state := range []string{"greeting", "authenticated", "authenticate"} {
		t.Run(state, func(t *testing.T) {
			s := newServer(t, func(s *imapd.Server) { s.MaxLineBytes = 8192 })
			c, r := s.greeted(t)
			switch state {
			case "authenticated":
				prototest.Run(t, c, r, `
C: L LOGIN alice secret
S: L OK \[CAPABILITY *\] Logged in`)
			case "authenticate":
				prototest.Run(t, c, r, `
C: A AUTHENTICATE PLAIN
S: + `)
			}
			var wg sync.WaitGroup
			defer wg.Wait()
			wg.Go(func() {
				chunk := []byte("a1 LOGIN " + strings.Repeat("x", 64<<10))
				for range 16 { // 1 MiB, far past the cap; the server closes
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			})
			got := readUntilEOF(t, c, r)
			if !strings.HasPrefix(got, "* BYE [TOOBIG] ") {
				t.Errorf("line too long: %.80q; want * BYE [TOOBIG]", got)
			}
		})
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

// Literals: each within the limits or refused before its octets are
// asked for; the session goes on (HARDENING I1, I2).
func TestServer_literals(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.MaxLineBytes = 8192 })
	c, r := s.greeted(t)
	prototest.Run(t, c, r, `
C: a1 LOGIN {999999999}
S: a1 BAD [TOOBIG] Literal too large
C: n NOOP
S: n OK Noop completed.
C: a3 LOGIN {99999999999999999999999}
S: a3 BAD *
C: n NOOP
S: n OK Noop completed.
C: a5 LOGIN {-1}
S: a5 BAD *
C: a9 LOGIN x y z {5}
S: a9 BAD *
C: n NOOP
S: n OK Noop completed.
C: b1 LOGIN {5}
S: + Ready for literal data
C: alice {6+}
C: secret
S: b1 OK \[CAPABILITY *\] Logged in`)
}

// A huge non-synchronizing literal cannot be skipped: BAD or NO, then BYE
// and the close (HARDENING I2).
func TestServer_hugeNonSyncLiteral(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.greeted(t)
	io.WriteString(c, "a1 LOGIN {999999999+}\r\nxxxx")
	got := readUntilEOF(t, c, r)
	if !strings.Contains(got, "a1 ") || !strings.Contains(got, "* BYE") {
		t.Errorf("huge literal+: %q; want a tagged refusal and * BYE", got)
	}
}

// Error replies past SoftErrorLimit wait ErrorDelay; failed logins count
// as errors (HARDENING G5, I15).
func TestServer_errorFloodDelays(t *testing.T) {
	const delay = 50 * time.Millisecond
	s := newServer(t, func(s *imapd.Server) {
		s.SoftErrorLimit, s.HardErrorLimit, s.ErrorDelay = 1, 4, delay
		s.AuthFailureDelay = delay / 2
		s.MaxAuthFailures = 10
	})
	c, r := s.greeted(t)
	start := time.Now()
	prototest.Run(t, c, r, `
C: XYZZY
S: * BAD *
C: a NOOP
S: a OK Noop completed.
C: b LOGIN alice bad
S: b NO [AUTHENTICATIONFAILED] Authentication failed.
C: c FROB
S: c BAD Error in IMAP command FROB: Unknown command.
C: d FROB`)
	if got, want := readUntilEOF(t, c, r), "* BYE Too many errors\r\n"; got != want {
		t.Errorf("fourth error: %q; want %q", got, want)
	}
	if d := time.Since(start); d < 3*delay {
		t.Errorf("errors answered in %v; want at least %v", d, 3*delay)
	}
}

// An APPEND message has LiteralReadTimeout to arrive, not CommandTimeout,
// and the rest of the command a CommandTimeout of its own.
func TestServer_commandTimeoutAppend(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) {
		s.CommandTimeout = 300 * time.Millisecond
		s.LiteralReadTimeout = 5 * time.Second
	})
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a1 APPEND INBOX {10}
S: + Ready for literal data`)
	for i := range 10 {
		io.WriteString(c, strconv.Itoa(i))
		time.Sleep(70 * time.Millisecond)
	}
	prototest.Run(t, c, r, `
C: 
S: a1 OK \[APPENDUID *\] Append completed.
C: n NOOP
S: n OK Noop completed.`)
}

// A literal other than an APPEND message is part of the command's time.
func TestServer_commandTimeoutLiteral(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.CommandTimeout = 300 * time.Millisecond })
	c, r := s.greeted(t)
	prototest.Run(t, c, r, `
C: a1 LOGIN {5}
S: + Ready for literal data`)
	start := time.Now()
	if got, want := readUntilEOF(t, c, r), "* BYE Timed out waiting for the rest of the command\r\n"; got != want {
		t.Errorf("stalled LOGIN literal: %q; want %q", got, want)
	}
	if d := time.Since(start); d > 800*time.Millisecond {
		t.Errorf("closed after %v; want the rest of the 300ms command timeout", d)
	}
}

func TestServer_maxConnsPerIP(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.MaxConnsPerIP = 1 })
	s.greeted(t)
	c, r := s.dial(t)
	if got := readUntilEOF(t, c, r); !strings.HasPrefix(got, "* BYE [UNAVAILABLE]") {
		t.Errorf("second connection got %q; want * BYE [UNAVAILABLE]", got)
	}
}

func TestServer_Stats(t *testing.T) {
	s := newServer(t, nil)
	s.loggedIn(t)
	if st := s.Stats(); st.Accepted != 1 || st.Active != 1 {
		t.Errorf("Stats() = %+v; want 1 accepted, 1 active", st)
	}
}

// ServeConn serves a connection accepted some other way; it returns nil
// after LOGOUT and the connection is not counted.
func TestServer_ServeConn(t *testing.T) {
	be := imapdtest.NewMemBackend()
	be.AddUser("alice", "secret")
	srv := &imapd.Server{Backend: be, InsecureAuth: true, Logger: slog.New(slog.DiscardHandler)}
	defer srv.Close()
	sc, cc := net.Pipe()
	defer cc.Close()
	served := make(chan error, 1)
	go func() { served <- srv.ServeConn(context.Background(), sc) }()
	r := bufio.NewReader(cc)
	prototest.Run(t, cc, r, `
S: * OK \[CAPABILITY *\] inetkit IMAP server ready
C: a LOGIN alice secret
S: a OK \[CAPABILITY *\] Logged in
C: z LOGOUT
S: * BYE Logging out
S: z OK Logout completed.`)
	if err := <-served; err != nil {
		t.Errorf("ServeConn = %v; want nil after LOGOUT", err)
	}
	if st := srv.Stats(); st.Accepted != 0 {
		t.Errorf("Stats().Accepted = %d; want 0", st.Accepted)
	}
}

// A backend error that is not an *Error is logged and answered NO
// [SERVERBUG]; the session goes on.
func TestServer_backendError(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.Backend = failingBackend{s.Backend} })
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a CREATE x
S: a NO [SERVERBUG] Internal error occurred. Refer to server log for more information.
C: b NOOP
S: b OK Noop completed.`)
	if !strings.Contains(s.log.String(), "disk on fire") {
		t.Errorf("log = %q; want the backend's error", s.log.String())
	}
}

// failingBackend's users fail CreateMailbox with an error of their own.
type failingBackend struct{ imapd.Backend }

func (b failingBackend) Login(ctx context.Context, user, pass string) (imapd.User, error) {
	u, err := b.Backend.Login(ctx, user, pass)
	if err != nil {
		return nil, err
	}
	return failingUser{u}, nil
}

type failingUser struct{ imapd.User }

func (failingUser) CreateMailbox(context.Context, string, []string) error {
	return errors.New("disk on fire")
}
