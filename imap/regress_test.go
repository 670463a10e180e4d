package imap_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/imap/imaptest"
	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/lineproto"
)

const testMsg = "From: Bob <bob@example.org>\r\nSubject: Hello\r\n\r\nHi Alice\r\n"

// newServer starts a server with user alice/secret and one message, offering
// STARTTLS; configure may change the server before it starts.
func newRegressServer(t *testing.T, configure func(*imap.Server)) (*imaptest.Server, *imaptest.MemBackend) {
	t.Helper()
	be := imaptest.NewMemBackend()
	be.AddUser("alice", "secret")
	if err := be.Deliver("alice", []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	s := imaptest.NewUnstartedServer(be)
	if configure != nil {
		configure(s.Config)
	}
	s.StartSTARTTLS()
	t.Cleanup(s.Close)
	return s, be
}

// session is a raw client connection.
type session struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *session {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &session{t: t, conn: c, r: bufio.NewReader(c)}
	if g := s.line(); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting = %q", g)
	}
	return s
}

func (s *session) write(data string) {
	s.t.Helper()
	s.conn.SetWriteDeadline(time.Now().Add(prototest.Timeout))
	if _, err := io.WriteString(s.conn, data); err != nil {
		s.t.Fatalf("write %q: %v", data, err)
	}
}

func (s *session) line() string {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(prototest.Timeout))
	l, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// cmd sends line and returns the lines up to and including the reply tagged
// with its first word.
func (s *session) cmd(line string) []string {
	s.t.Helper()
	tag, _, _ := strings.Cut(line, " ")
	s.write(line + "\r\n")
	return s.until(tag)
}

func (s *session) until(tag string) []string {
	s.t.Helper()
	var lines []string
	for {
		l := s.line()
		lines = append(lines, l)
		if strings.HasPrefix(l, tag+" ") {
			return lines
		}
	}
}

// eof reads until the server closes the connection and returns what it sent.
func (s *session) eof() string {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(prototest.Timeout))
	b, err := io.ReadAll(s.r)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		s.t.Fatalf("waiting for EOF: %v (got %q)", err, b)
	}
	return string(b)
}

func (s *session) login() {
	s.t.Helper()
	if l := s.cmd("L1 LOGIN alice secret"); !strings.HasPrefix(l[len(l)-1], "L1 OK ") {
		s.t.Fatalf("LOGIN = %q", l)
	}
}

func last(lines []string) string { return lines[len(lines)-1] }

// wantTooBig checks that got ends with a tagged [TOOBIG] refusal: RFC 3501
// §7.5 lets a server refuse a literal with NO or BAD.
func wantTooBig(t *testing.T, what string, got []string, tag string) {
	t.Helper()
	if l := last(got); !strings.HasPrefix(l, tag+" NO [TOOBIG]") && !strings.HasPrefix(l, tag+" BAD [TOOBIG]") {
		t.Errorf("%s = %q; want %s NO [TOOBIG] or BAD [TOOBIG]", what, got, tag)
	}
}

func wantPrefix(t *testing.T, what string, got []string, prefix string) {
	t.Helper()
	if !strings.HasPrefix(last(got), prefix) {
		t.Errorf("%s = %q; want a reply starting %q", what, got, prefix)
	}
}

func TestRegress_capabilities(t *testing.T) {
	s, _ := newRegressServer(t, nil)
	c := dial(t, s.Addr)
	caps := c.cmd("a CAPABILITY")[0]
	for _, want := range []string{"IMAP4rev1", "IMAP4rev2", "STARTTLS", "AUTH=PLAIN", "SASL-IR", "ID"} {
		if !strings.Contains(caps+" ", " "+want+" ") {
			t.Errorf("CAPABILITY = %q; want %s", caps, want)
		}
	}
	login := last(c.cmd("b LOGIN alice secret"))
	for _, want := range []string{"IDLE", "UIDPLUS", "MOVE", "UNSELECT", "NAMESPACE", "ENABLE", "LITERAL+", "SPECIAL-USE", "CHILDREN", "ID", "APPENDLIMIT=67108864"} {
		if !strings.Contains(login, " "+want+" ") && !strings.Contains(login, " "+want+"]") {
			t.Errorf("LOGIN reply = %q; want %s", login, want)
		}
	}
}

// HARDENING I7: no login in plaintext unless InsecureAuth; after STARTTLS it
// works, STARTTLS is no longer offered, and no second greeting is sent.
func TestRegress_loginDisabled(t *testing.T) {
	s, _ := newRegressServer(t, func(s *imap.Server) { s.InsecureAuth = false })
	c := dial(t, s.Addr)
	caps := c.cmd("a CAPABILITY")[0]
	if !strings.Contains(caps, " LOGINDISABLED") || strings.Contains(caps, "AUTH=PLAIN") || !strings.Contains(caps, " STARTTLS") {
		t.Errorf("plaintext CAPABILITY = %q; want LOGINDISABLED and STARTTLS, no AUTH=PLAIN", caps)
	}
	wantPrefix(t, "plaintext LOGIN", c.cmd("b LOGIN alice secret"), "b NO [PRIVACYREQUIRED]")
	wantPrefix(t, "plaintext AUTHENTICATE", c.cmd("c AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA=="), "c NO [PRIVACYREQUIRED]")
	wantPrefix(t, "STARTTLS", c.cmd("d STARTTLS"), "d OK")
	tc := tls.Client(c.conn, testcert.ClientConfig())
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	c = &session{t: t, conn: tc, r: bufio.NewReader(tc)}
	lines := c.cmd("e CAPABILITY")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "* CAPABILITY ") {
		t.Fatalf("CAPABILITY after STARTTLS = %q; want one CAPABILITY line and OK (no greeting)", lines)
	}
	if caps := lines[0]; strings.Contains(caps, "LOGINDISABLED") || strings.Contains(caps, "STARTTLS") || !strings.Contains(caps, "AUTH=PLAIN") {
		t.Errorf("CAPABILITY after STARTTLS = %q; want AUTH=PLAIN, no STARTTLS or LOGINDISABLED", caps)
	}
	// RFC 9051 §6.2.1: STARTTLS is not valid once TLS is active; Dovecot
	// answers BAD.
	wantPrefix(t, "STARTTLS again", c.cmd("f STARTTLS"), "f BAD")
	wantPrefix(t, "LOGIN in TLS", c.cmd("g LOGIN alice secret"), "g OK")
	wantPrefix(t, "SELECT in TLS", c.cmd("h SELECT INBOX"), "h OK")
}

// HARDENING I6: commands pipelined after STARTTLS are not run inside TLS.
func TestRegress_startTLSInjection(t *testing.T) {
	s, _ := newRegressServer(t, nil)
	c := dial(t, s.Addr)
	c.write("A STARTTLS\r\nXYZAB NOOP\r\n")
	if l := c.line(); !strings.HasPrefix(l, "A OK") {
		t.Fatalf("STARTTLS = %q", l)
	}
	tc := tls.Client(c.conn, testcert.ClientConfig())
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	c = &session{t: t, conn: tc, r: bufio.NewReader(tc)}
	for _, l := range c.cmd("B NOOP") {
		if strings.HasPrefix(l, "XYZAB") {
			t.Errorf("injected command answered inside TLS: %q", l)
		}
	}
}

func TestRegress_implicitTLS(t *testing.T) {
	be := imaptest.NewMemBackend()
	be.AddUser("alice", "secret")
	s := imaptest.NewUnstartedServer(be)
	s.Config.InsecureAuth = false
	s.StartTLS()
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "secret").Wait(); err != nil {
		t.Fatalf("LOGIN over implicit TLS = %v", err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
}

// HARDENING I1, I3: oversized and malformed literals get a tagged reply, no
// continuation, and the session goes on.
func TestRegress_literals(t *testing.T) {
	s, _ := newRegressServer(t, nil)
	c := dial(t, s.Addr)
	for _, tc := range []struct{ line, want string }{
		{"a1 LOGIN {999999999}", "a1 [TOOBIG]"},
		{"a2 LOGIN {70000}", "a2 [TOOBIG]"}, // over the 64 KiB of a buffered literal
		{"a3 LOGIN {9999999999}", "a3 [TOOBIG]"},
		{"a4 LOGIN {99999999999999999999999}", "a4 BAD"}, // not a number64 (RFC 9051 §9)
		{"a5 LOGIN {-1}", "a5 BAD"},
		{"a6 LOGIN {}", "a6 BAD"},
		{"a7 LOGIN {1a}", "a7 BAD"},
		{"a8 LOGIN {+}", "a8 BAD"},
		{"a9 LOGIN x y z {5}", "a9 BAD"}, // refused before the literal: the next line is a command
	} {
		lines := c.cmd(tc.line)
		if tag, ok := strings.CutSuffix(tc.want, " [TOOBIG]"); ok {
			wantTooBig(t, tc.line, lines, tag)
		} else {
			wantPrefix(t, tc.line, lines, tc.want)
		}
		for _, l := range lines {
			if strings.HasPrefix(l, "+") {
				t.Errorf("%s: got continuation %q", tc.line, l)
			}
		}
		wantPrefix(t, "NOOP after "+tc.line, c.cmd("n NOOP"), "n OK")
	}
	// A literal within the limits works, synchronising or not.
	c.write("b1 LOGIN {5}\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("LOGIN {5} = %q; want a continuation", l)
	}
	c.write("alice {6+}\r\nsecret\r\n")
	wantPrefix(t, "LOGIN {5} alice", c.until("b1"), "b1 OK")
}

// HARDENING I2: a huge non-synchronising literal cannot be skipped: BAD, BYE,
// close.
func TestRegress_hugeNonSyncLiteral(t *testing.T) {
	s, _ := newRegressServer(t, nil)
	c := dial(t, s.Addr)
	c.write("a1 LOGIN {999999999+}\r\nxxxx")
	if l := c.line(); !strings.HasPrefix(l, "a1 BAD [TOOBIG]") {
		t.Errorf("reply = %q; want a1 BAD [TOOBIG]", l)
	}
	if rest := c.eof(); !strings.HasPrefix(rest, "* BYE") {
		t.Errorf("then = %q; want * BYE and EOF", rest)
	}
}

// MaxLiteralBytes bounds APPEND; within it APPEND works and reports
// APPENDUID.
func TestRegress_appendLimit(t *testing.T) {
	s, _ := newRegressServer(t, func(s *imap.Server) { s.MaxLiteralBytes = 1000 })
	c := dial(t, s.Addr)
	c.login()
	wantPrefix(t, "APPEND {2000}", c.cmd("a1 APPEND INBOX {2000}"), "a1 NO [TOOBIG]")
	c.write("a2 APPEND INBOX (\\Seen) {500}\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("APPEND {500} = %q; want a continuation", l)
	}
	c.write(strings.Repeat("x", 500) + "\r\n")
	wantPrefix(t, "APPEND {500}", c.until("a2"), "a2 OK [APPENDUID ")
	// A mailbox-name literal is a buffered literal, not the message.
	wantTooBig(t, "APPEND {70000} mailbox", c.cmd("a3 APPEND {70000}"), "a3")
	c.write("a4 APPEND {5}\r\n")
	c.line()
	c.write("INBOX {3+}\r\nabc\r\n")
	wantPrefix(t, "APPEND {5} mailbox", c.until("a4"), "a4 OK")
	lines := c.cmd("a5 STATUS INBOX (MESSAGES)")
	if !strings.Contains(lines[0], "MESSAGES 3") {
		t.Errorf("STATUS = %q; want 3 messages", lines)
	}
}

// HARDENING I4: a stalled literal times out; nothing is appended.
func TestRegress_literalStall(t *testing.T) {
	s, _ := newRegressServer(t, func(s *imap.Server) { s.LiteralReadTimeout = time.Second })
	c := dial(t, s.Addr)
	c.login()
	c.write("a1 APPEND INBOX {1000}\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("APPEND = %q", l)
	}
	c.write("0123456789")
	start := time.Now()
	if rest := c.eof(); !strings.Contains(rest, "* BYE") {
		t.Errorf("after the stall = %q; want * BYE", rest)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("closed after %v; want the literal timeout of 1s", d)
	}
	c = dial(t, s.Addr)
	c.login()
	if l := c.cmd("b STATUS INBOX (MESSAGES)"); !strings.Contains(l[0], "MESSAGES 1") {
		t.Errorf("STATUS = %q; want the 1 message delivered before", l)
	}
}

// HARDENING I5, G1: a line without CRLF gets BYE at the cap, in every state.
func TestRegress_longLine(t *testing.T) {
	for _, state := range []string{"greeting", "authenticated", "authenticate"} {
		t.Run(state, func(t *testing.T) {
			s, _ := newRegressServer(t, func(s *imap.Server) { s.MaxLineBytes = 1024 })
			c := dial(t, s.Addr)
			switch state {
			case "authenticated":
				c.login()
			case "authenticate":
				c.write("a AUTHENTICATE PLAIN\r\n")
				if l := c.line(); !strings.HasPrefix(l, "+") {
					t.Fatalf("AUTHENTICATE = %q", l)
				}
			}
			var wg sync.WaitGroup
			defer wg.Wait()
			wg.Go(func() {
				chunk := []byte("a1 LOGIN " + strings.Repeat("x", 64*1024))
				for range 16 { // 1 MiB, far past the cap; the server closes
					c.conn.SetWriteDeadline(time.Now().Add(prototest.Timeout))
					if _, err := c.conn.Write(chunk); err != nil {
						return
					}
				}
			})
			if rest := c.eof(); !strings.HasPrefix(rest, "* BYE [TOOBIG]") {
				t.Errorf("reply to a long line = %.80q; want * BYE [TOOBIG]", rest)
			}
		})
	}
}

// HARDENING I8: quoted strings with escapes; unterminated quotes and NUL
// are refused (G7: no NUL reaches the log).
func TestRegress_quoted(t *testing.T) {
	var logBuf syncBuffer
	s, be := newRegressServer(t, func(s *imap.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	})
	be.AddUser(`al"ice`, `p\w`)
	c := dial(t, s.Addr)
	wantPrefix(t, "unterminated quote", c.cmd(`a1 LOGIN "user`), "a1 BAD")
	wantPrefix(t, "NUL", c.cmd("a2 NOOP\x00"), "a2 BAD")
	wantPrefix(t, "bare LF", c.cmd("a3 NOOP\n"), "a3 OK")
	wantPrefix(t, "escaped quotes", c.cmd(`a4 LOGIN "al\"ice" "p\\w"`), "a4 OK")
	wantPrefix(t, "NUL in a quoted mailbox", c.cmd("a5 SELECT \"INBOX\x00\""), "a5 BAD")
	wantPrefix(t, "then", c.cmd("a6 SELECT INBOX"), "a6 OK")
	if log := logBuf.String(); !strings.Contains(log, "NUL") || strings.Contains(log, "\x00") {
		t.Errorf("log = %q; want the refusal logged, and no NUL", log)
	}
}

// HARDENING I9, I10: deep nesting and long sequence sets are refused or
// answered, and the session goes on.
func TestRegress_nestingAndSeqSets(t *testing.T) {
	s, _ := newRegressServer(t, nil)
	c := dial(t, s.Addr)
	c.login()
	c.cmd("s SELECT INBOX")
	deep := "a1 SEARCH " + strings.Repeat("(", 20000) + "ALL" + strings.Repeat(")", 20000)
	if r := last(c.cmd(deep)); !strings.HasPrefix(r, "a1 BAD") && !strings.HasPrefix(r, "a1 NO") {
		t.Errorf("deep SEARCH = %q; want BAD or NO", r)
	}
	wantPrefix(t, "NOOP", c.cmd("n NOOP"), "n OK")
	for _, tc := range []struct{ cmd, set string }{
		{"a2 FETCH", "1:*"},
		{"a3 UID FETCH", "1:4294967295"},
	} {
		set := strings.TrimSuffix(strings.Repeat(tc.set+",", 3000), ",")
		lines := c.cmd(tc.cmd + " " + set + " (FLAGS)")
		wantPrefix(t, tc.cmd+" of 3000 ranges", lines, tc.cmd[:2]+" OK")
		if len(lines) != 2 {
			t.Errorf("%s of 3000 ranges over 1 message = %d lines; want 2", tc.cmd, len(lines))
		}
	}
	// A sequence number beyond the mailbox is a client error (RFC 9051 §9,
	// seq-number).
	set := strings.TrimSuffix(strings.Repeat("1:4294967295,", 3000), ",")
	wantPrefix(t, "FETCH of 3000 ranges beyond the mailbox", c.cmd("a4 FETCH "+set+" (FLAGS)"), "a4 BAD")
	wantPrefix(t, "NOOP after it", c.cmd("n NOOP"), "n OK")
}

// HARDENING I13, G3: an idle connection, before login or in IDLE, gets BYE.
func TestRegress_idleTimeout(t *testing.T) {
	s, _ := newRegressServer(t, func(s *imap.Server) { s.IdleTimeout = time.Second })
	c := dial(t, s.Addr)
	if rest := c.eof(); !strings.HasPrefix(rest, "* BYE") {
		t.Errorf("idle after greeting: %q; want * BYE", rest)
	}
	c = dial(t, s.Addr)
	c.login()
	c.cmd("s SELECT INBOX")
	c.write("i IDLE\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE = %q", l)
	}
	start := time.Now()
	// Keepalives ("* OK Still here", as Dovecot sends) may come first.
	rest := c.eof()
	for strings.HasPrefix(rest, "* OK ") {
		_, rest, _ = strings.Cut(rest, "\r\n")
	}
	if !strings.HasPrefix(rest, "* BYE") {
		t.Errorf("idle in IDLE: %q; want * BYE", rest)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("IDLE ended after %v; want the idle timeout of 1s", d)
	}
}

// HARDENING I15: failed logins are delayed, and the connection ends after
// MaxAuthFailures.
func TestRegress_authFailures(t *testing.T) {
	const delay = 200 * time.Millisecond
	s, _ := newRegressServer(t, func(s *imap.Server) { s.AuthFailureDelay = delay; s.MaxAuthFailures = 3 })
	c := dial(t, s.Addr)
	for i, line := range []string{"a1 LOGIN alice bad", "a2 AUTHENTICATE PLAIN AGFsaWNlAGJhZA==", "a3 LOGIN mallory x"} {
		start := time.Now()
		r := last(c.cmd(line))
		if !strings.HasPrefix(r, line[:3]+"NO [AUTHENTICATIONFAILED]") {
			t.Errorf("%s = %q; want NO [AUTHENTICATIONFAILED]", line, r)
		}
		if d := time.Since(start); d < delay {
			t.Errorf("failure %d answered after %v; want >= %v", i+1, d, delay)
		}
	}
	if rest := c.eof(); !strings.HasPrefix(rest, "* BYE") {
		t.Errorf("after 3 failures: %q; want * BYE", rest)
	}
	c = dial(t, s.Addr)
	lines := c.cmd("b1 AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "+") || !strings.HasPrefix(lines[1], "b1 OK") {
		t.Errorf("AUTHENTICATE PLAIN with a continuation = %q; want + and OK", lines)
	}
}

// HARDENING G6: an HTTP request is not answered, nor echoed.
func TestRegress_httpRequest(t *testing.T) {
	s, _ := newRegressServer(t, nil)
	for _, req := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "POST / HTTP/1.1\r\n", "CONNECT x:25 HTTP/1.1\r\n"} {
		c := dial(t, s.Addr)
		c.write(req)
		if rest := c.eof(); strings.Contains(rest, "GET") || strings.Contains(rest, "Host") || strings.Contains(rest, "POST") || strings.Contains(rest, "CONNECT") {
			t.Errorf("reply to %q = %q", req, rest)
		}
	}
	// After login an HTTP client cannot be talking: a mailbox may be named
	// like a request target.
	c := dial(t, s.Addr)
	c.login()
	wantPrefix(t, "DELETE HTTP/old", c.cmd("a1 DELETE HTTP/old"), "a1 NO")
}

// ID (RFC 2971) is answered, with literals too.
func TestRegress_ID(t *testing.T) {
	s, _ := newRegressServer(t, nil)
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := prototest.Client(t, c, `
S: \* OK \[CAPABILITY *\] *IMAP server ready
C: a1 ID NIL
S: * ID ("name" "inetkit")
S: a1 OK *
C: a2 ID ("name" {3}
S: + *
C: foo "version" {1+}
C: 1)
S: * ID ("name" "inetkit")
S: a2 OK *
C: a3 ID foo
S: a3 BAD *
C: a4 NOOP
S: a4 OK *
`)
	_ = r
}

func TestRegress_maxConnsPerIP(t *testing.T) {
	s, _ := newRegressServer(t, func(s *imap.Server) { s.MaxConnsPerIP = 1 })
	dial(t, s.Addr)
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(prototest.Timeout))
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "* BYE [UNAVAILABLE]") {
		t.Errorf("second connection got %q; want * BYE [UNAVAILABLE]", b)
	}
}

// Shutdown says BYE to idle sessions and Serve returns ErrServerClosed.
func TestRegress_Shutdown(t *testing.T) {
	be := imaptest.NewMemBackend()
	be.AddUser("alice", "secret")
	srv := &imap.Server{Backend: be, InsecureAuth: true}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	c := dial(t, l.Addr().String())
	c.login()
	c.cmd("s SELECT INBOX")
	c.write("i IDLE\r\n")
	c.line()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if rest := c.eof(); !strings.HasPrefix(rest, "* BYE") {
		t.Errorf("idle session at Shutdown got %q; want * BYE", rest)
	}
	if err := <-served; !errors.Is(err, imap.ErrServerClosed) {
		t.Errorf("Serve = %v; want ErrServerClosed", err)
	}
	if err := srv.Serve(l); !errors.Is(err, imap.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v; want ErrServerClosed", err)
	}
}

// syncBuffer collects log output for assertions.
type syncBuffer = prototest.Buffer

// errorLimits sets small HARDENING G5 limits.
func errorLimits(soft, hard int, delay time.Duration) func(*imap.Server) {
	return func(s *imap.Server) {
		s.SoftErrorLimit, s.HardErrorLimit, s.ErrorDelay = soft, hard, delay
	}
}

// HARDENING G5: a flood of invalid commands is answered BAD, more slowly past
// the soft limit, and ends with "* BYE" at the hard limit.
func TestRegress_errorFlood(t *testing.T) {
	const soft, hard, delay = 2, 4, 20 * time.Millisecond
	s, _ := newRegressServer(t, errorLimits(soft, hard, delay))
	c := dial(t, s.Addr)
	start := time.Now()
	bad := 0
	for i := 0; i < 100; i++ {
		c.write("XYZZY\r\n")
		l := c.line()
		if strings.HasPrefix(l, "* BYE") {
			if l != "* BYE Too many errors" {
				t.Errorf("BYE = %q", l)
			}
			break
		}
		// The word is the tag of a command with no name (RFC 9051 §2.2.1).
		if !strings.HasPrefix(l, "XYZZY BAD ") && !strings.HasPrefix(l, "* BAD ") {
			t.Fatalf("reply %d = %q; want BAD", i+1, l)
		}
		bad++
	}
	// The error that reaches the hard limit is answered by the BYE.
	if bad != hard-1 {
		t.Errorf("%d BAD replies before BYE; want %d", bad, hard-1)
	}
	if rest := c.eof(); rest != "" {
		t.Errorf("after BYE: %q; want EOF", rest)
	}
	if d := time.Since(start); d < (hard-soft)*delay {
		t.Errorf("flood ended after %v; want >= %v", d, (hard-soft)*delay)
	}
}

// HARDENING G5: imapserver's tagged BAD replies count too, after login; OK
// replies do not, and neither do NO answers to ordinary commands (a client
// that SELECTs missing mailboxes is not flooding).
func TestRegress_errorFloodTagged(t *testing.T) {
	const soft, hard, delay = 2, 4, 20 * time.Millisecond
	s, _ := newRegressServer(t, errorLimits(soft, hard, delay))
	c := dial(t, s.Addr)
	c.login()
	start := time.Now()
	wantPrefix(t, "XYZZY", c.cmd("a1 XYZZY"), "a1 BAD")
	for i := 0; i < 2*hard; i++ {
		wantPrefix(t, "NOOP", c.cmd("n NOOP"), "n OK")
		wantPrefix(t, "SELECT", c.cmd("s SELECT nosuch"), "s NO")
	}
	wantPrefix(t, "FROB", c.cmd("a2 FROB"), "a2 BAD")
	wantPrefix(t, "FROB", c.cmd("a3 FROB"), "a3 BAD")
	// The error that reaches the hard limit is answered by the BYE.
	c.write("a4 FROB\r\n")
	if rest := c.eof(); rest != "* BYE Too many errors\r\n" {
		t.Errorf("error %d: %q; want * BYE and EOF", hard, rest)
	}
	if d := time.Since(start); d < (hard-soft)*delay {
		t.Errorf("errors answered in %v; want >= %v", d, (hard-soft)*delay)
	}
}

// A message whose text looks like a tagged error reply is not counted as
// one (HARDENING G5): the guard passes over literals in the server's output.
func TestRegress_errorCountSkipsLiterals(t *testing.T) {
	s, be := newRegressServer(t, errorLimits(1, 2, time.Millisecond))
	const msg = "Subject: x\r\n\r\nf1 NO fake\r\nf1 BAD fake\r\n"
	if err := be.Deliver("alice", []byte(msg)); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.Addr)
	c.login()
	wantPrefix(t, "SELECT", c.cmd("s SELECT INBOX"), "s OK")
	for i := 0; i < 3; i++ {
		c.write("f1 FETCH 2 BODY.PEEK[]\r\n")
		if l := c.line(); !strings.HasSuffix(l, fmt.Sprintf("{%d}", len(msg))) {
			t.Fatalf("FETCH = %q; want the message as a literal", l)
		}
		if _, err := io.ReadFull(c.r, make([]byte, len(msg))); err != nil {
			t.Fatal(err)
		}
		wantPrefix(t, "FETCH", c.until("f1"), "f1 OK")
	}
	wantPrefix(t, "NOOP after the FETCHes", c.cmd("n NOOP"), "n OK")
}

// A failed login counts as an error (HARDENING G5) and still waits
// AuthFailureDelay (I15); past the soft limit it waits at least ErrorDelay.
func TestRegress_loginFailureCountsAsError(t *testing.T) {
	const delay = 50 * time.Millisecond
	s, _ := newRegressServer(t, func(s *imap.Server) {
		s.SoftErrorLimit, s.HardErrorLimit, s.ErrorDelay = 1, 3, delay
		s.AuthFailureDelay = delay / 2
		s.MaxAuthFailures = 10
	})
	c := dial(t, s.Addr)
	if l := func() string { c.write("XYZZY\r\n"); return c.line() }(); !strings.HasPrefix(l, "XYZZY BAD") && !strings.HasPrefix(l, "* BAD") {
		t.Errorf("XYZZY = %q; want BAD", l)
	}
	for i, want := range []time.Duration{delay, delay} {
		start := time.Now()
		wantPrefix(t, "LOGIN", c.cmd("l LOGIN alice bad"), "l NO [AUTHENTICATIONFAILED]")
		if d := time.Since(start); d < want {
			t.Errorf("failed login %d answered after %v; want >= %v", i+1, d, want)
		}
	}
	if rest := c.eof(); rest != "* BYE Too many errors\r\n" {
		t.Errorf("after 3 errors: %q; want * BYE Too many errors", rest)
	}
}

// trickle sends data one octet every gap, as a slow-loris client does, until
// the server closes the connection or the data is sent.
func (s *session) trickle(data string, gap time.Duration) {
	go func() {
		for i := range len(data) {
			s.conn.SetWriteDeadline(time.Now().Add(prototest.Timeout))
			if _, err := io.WriteString(s.conn, data[i:i+1]); err != nil {
				return
			}
			time.Sleep(gap)
		}
	}()
}

// CommandTimeout bounds a command from its first octet to its last line,
// after login as before it, whatever the pace of its octets (HARDENING G2).
func TestRegress_commandTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, loggedIn := range []bool{false, true} {
		t.Run(fmt.Sprint("loggedIn=", loggedIn), func(t *testing.T) {
			s, _ := newRegressServer(t, func(s *imap.Server) { s.CommandTimeout = timeout })
			c := dial(t, s.Addr)
			if loggedIn {
				c.login()
				c.cmd("s SELECT INBOX")
			}
			start := time.Now()
			c.trickle("a1 NOOP\r\n", 100*time.Millisecond) // 900 ms in all
			if rest := c.eof(); rest != "* BYE Timed out waiting for the rest of the command\r\n" {
				t.Errorf("trickled command got %q; want * BYE Timed out waiting for the rest of the command", rest)
			}
			if d := time.Since(start); d < timeout || d > timeout+500*time.Millisecond {
				t.Errorf("closed after %v; want the command timeout, %v", d, timeout)
			}
		})
	}
}

// A command whose octets all come within CommandTimeout is served, however
// long the client waited before it, and the time spent on an APPEND message
// is LiteralReadTimeout's, not CommandTimeout's: the rest of the command
// after it has a CommandTimeout of its own.
func TestRegress_commandTimeoutAppend(t *testing.T) {
	s, _ := newRegressServer(t, func(s *imap.Server) {
		s.CommandTimeout = 300 * time.Millisecond
		s.LiteralReadTimeout = 5 * time.Second
	})
	c := dial(t, s.Addr)
	c.login()
	time.Sleep(400 * time.Millisecond) // idle time, not command time
	c.write("a1 APPEND INBOX {10}\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("APPEND = %q; want a continuation", l)
	}
	c.trickle("0123456789", 70*time.Millisecond) // 700 ms, over the command timeout
	time.Sleep(900 * time.Millisecond)
	c.write("\r\n")
	wantPrefix(t, "slow APPEND message", c.until("a1"), "a1 OK [APPENDUID ")
	wantPrefix(t, "NOOP", c.cmd("n NOOP"), "n OK")
}

// A literal other than an APPEND message is part of the command's time:
// a LOGIN whose literal comes after CommandTimeout is cut off.
func TestRegress_commandTimeoutLiteral(t *testing.T) {
	s, _ := newRegressServer(t, func(s *imap.Server) { s.CommandTimeout = 300 * time.Millisecond })
	c := dial(t, s.Addr)
	c.write("a1 LOGIN {5}\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("LOGIN {5} = %q; want a continuation", l)
	}
	start := time.Now()
	if rest := c.eof(); !strings.HasPrefix(rest, "* BYE Timed out") || strings.Count(rest, "\r\n") != 1 {
		t.Errorf("stalled LOGIN literal got %q; want * BYE Timed out ... and EOF", rest)
	}
	if d := time.Since(start); d > 800*time.Millisecond {
		t.Errorf("closed after %v; want the rest of the 300ms command timeout", d)
	}
}

// The DONE that ends IDLE is waited for IdleTimeout, not CommandTimeout:
// IDLE is waiting, not sending a command.
func TestRegress_commandTimeoutIdle(t *testing.T) {
	s, _ := newRegressServer(t, func(s *imap.Server) { s.CommandTimeout = 200 * time.Millisecond })
	c := dial(t, s.Addr)
	c.login()
	c.cmd("s SELECT INBOX")
	c.write("i IDLE\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE = %q", l)
	}
	time.Sleep(600 * time.Millisecond)
	c.write("DONE\r\n")
	wantPrefix(t, "IDLE after 600 ms", c.until("i"), "i OK")
}

// Client mistakes (nesting past the limit, a CR in a quoted string, which
// RFC 9051 §9 QUOTED-CHAR excludes and Dovecot refuses with BAD) get a BAD,
// and the session goes on (HARDENING G7, I8, I9). A mailbox name that is
// not valid UTF-8 may get NO instead, as Dovecot answers it.
func TestRegress_clientMistakesAreBAD(t *testing.T) {
	s, _ := newRegressServer(t, nil)
	c := dial(t, s.Addr)
	c.login()
	c.cmd("s SELECT INBOX")
	for _, line := range []string{
		"a1 SEARCH " + strings.Repeat("(", 1000) + "ALL" + strings.Repeat(")", 1000),
		"a2 SEARCH " + strings.Repeat("(", 101) + "ALL" + strings.Repeat(")", 101),
		"a3 SELECT \"IN\rBOX\"",
		"a4 CREATE \"a\rb\"",
		"a5 STORE 1 +FLAGS (\"a\rb\")",
		"a6 NOOP\rx",
		"a8 SELECT \"IN\xffBOX\"",
	} {
		tag, rest, _ := strings.Cut(line, " ")
		got := last(c.cmd(line))
		if !strings.HasPrefix(got, tag+" BAD ") && (tag != "a8" || !strings.HasPrefix(got, tag+" NO ")) {
			t.Errorf("%.40q = %q; want BAD", line, got)
		}
		wantPrefix(t, "NOOP after it", c.cmd("n NOOP"), "n OK")
		if strings.HasPrefix(rest, "SELECT") {
			// A failed SELECT leaves no mailbox selected (RFC 9051 §6.3.2).
			c.cmd("s SELECT INBOX")
		}
	}
	// As deep as a command may go is served, and so is a chain of ORs as
	// long as a client builds to search for many senders or message IDs.
	// (The depth is 100 search keys: 99 lists and the ALL inside them.)
	deep := "a7 SEARCH " + strings.Repeat("(", 99) + "ALL" + strings.Repeat(")", 99)
	if lines := c.cmd(deep); len(lines) != 2 || lines[0] != "* SEARCH 1" || !strings.HasPrefix(lines[1], "a7 OK") {
		t.Errorf("SEARCH nested 100 deep = %q; want * SEARCH 1 and OK", lines)
	}
	ors := "a9 SEARCH " + strings.Repeat("OR FROM nobody ", 60) + "ALL"
	if lines := c.cmd(ors); len(lines) != 2 || lines[0] != "* SEARCH 1" || !strings.HasPrefix(lines[1], "a9 OK") {
		t.Errorf("SEARCH of 61 ORed keys = %q; want * SEARCH 1 and OK", lines)
	}
}

// Failed logins count across connections: past the AuthLimiter's free
// failures, a login from the same address waits before its credentials are
// checked, right password or not, and a success forgives.
func TestRegress_authLimiter(t *testing.T) {
	const base = 300 * time.Millisecond
	lim := &lineproto.AuthLimiter{Base: base, Max: base, FreeFailures: 1}
	s, _ := newRegressServer(t, func(s *imap.Server) {
		s.AuthLimiter = lim
		s.AuthFailureDelay = -1
		s.MaxAuthFailures = 1
	})
	login := func(pass string) (string, time.Duration) {
		c := dial(t, s.Addr)
		start := time.Now()
		r := last(c.cmd("l LOGIN alice " + pass))
		return r, time.Since(start)
	}
	if r, d := login("bad"); !strings.HasPrefix(r, "l NO [AUTHENTICATIONFAILED]") || d >= base {
		t.Errorf("first failure = %q after %v; want NO at once", r, d)
	}
	if r, d := login("secret"); !strings.HasPrefix(r, "l OK") || d < base {
		t.Errorf("login on a new connection after a failure = %q after %v; want OK after >= %v", r, d, base)
	}
	if r, d := login("secret"); !strings.HasPrefix(r, "l OK") || d >= base {
		t.Errorf("login after a success = %q after %v; want OK at once", r, d)
	}
}

// Without an AuthLimiter, the server has its own, whose waits start at
// AuthFailureDelay, after lineproto's 3 free failures.
func TestRegress_authLimiterDefault(t *testing.T) {
	const delay = 200 * time.Millisecond
	s, _ := newRegressServer(t, func(s *imap.Server) { s.AuthFailureDelay = delay; s.MaxAuthFailures = 1 })
	for range lineproto.DefaultAuthFreeFailures {
		c := dial(t, s.Addr)
		wantPrefix(t, "LOGIN", c.cmd("l LOGIN alice bad"), "l NO")
	}
	c := dial(t, s.Addr)
	start := time.Now()
	wantPrefix(t, "LOGIN", c.cmd("l LOGIN alice secret"), "l OK")
	if d := time.Since(start); d < delay {
		t.Errorf("login after %d failures on other connections took %v; want >= %v", lineproto.DefaultAuthFreeFailures, d, delay)
	}
}

// ServeConn serves one connection accepted elsewhere, here a net.Pipe, with
// the server's limits; Stats counts only the connections of Serve.
func TestRegress_ServeConn(t *testing.T) {
	be := imaptest.NewMemBackend()
	be.AddUser("alice", "secret")
	srv := &imap.Server{Backend: be, InsecureAuth: true, Logger: slog.New(slog.DiscardHandler)}
	defer srv.Close()
	sc, cc := net.Pipe()
	served := make(chan error, 1)
	go func() { served <- srv.ServeConn(context.Background(), sc) }()
	c := &session{t: t, conn: cc, r: bufio.NewReader(cc)}
	if g := c.line(); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting = %q", g)
	}
	c.login()
	wantPrefix(t, "SELECT", c.cmd("s SELECT INBOX"), "s OK")
	c.write("z LOGOUT\r\n")
	if rest := c.eof(); !strings.HasPrefix(rest, "* BYE") {
		t.Errorf("LOGOUT = %q", rest)
	}
	if err := <-served; err != nil {
		t.Errorf("ServeConn = %v; want nil after LOGOUT", err)
	}
	if st := srv.Stats(); st.Accepted != 0 {
		t.Errorf("Stats().Accepted = %d; want 0 (ServeConn's connections are not counted)", st.Accepted)
	}
}

// Stats counts the connections of Serve.
func TestRegress_Stats(t *testing.T) {
	s, _ := newRegressServer(t, nil)
	c := dial(t, s.Addr)
	c.login()
	if st := s.Config.Stats(); st.Accepted != 1 || st.Active != 1 {
		t.Errorf("Stats() = %+v; want 1 accepted, 1 active", st)
	}
}
