package pop3_test

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/pop3/pop3test"
	"github.com/inetkit/inetkit/sockserver"
)

func TestConn_authorization(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret", msg1))
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: CAPA
S: +OK Capability list follows
S: TOP
S: UIDL
S: RESP-CODES
S: PIPELINING
S: AUTH-RESP-CODE
S: USER
S: SASL PLAIN
S: IMPLEMENTATION inetkit
S: .
# Commands of the TRANSACTION state are refused before login.
C: STAT
S: -ERR command not valid in this state
C: LIST
S: -ERR command not valid in this state
C: LIST 1
S: -ERR command not valid in this state
C: RETR 1
S: -ERR command not valid in this state
C: TOP 1 0
S: -ERR command not valid in this state
C: DELE 1
S: -ERR command not valid in this state
C: RSET
S: -ERR command not valid in this state
C: NOOP
S: -ERR command not valid in this state
C: UIDL
S: -ERR command not valid in this state
C: XYZZ
S: -ERR unknown command
C: PASS secret
S: -ERR USER first
C: USER
S: -ERR invalid arguments
C: USER alice
S: +OK send PASS
C: PASS wrong
S: -ERR [AUTH] authentication failed
# PASS must follow USER at once.
C: USER alice
S: +OK send PASS
C: CAPA
S: +OK Capability list follows
S: TOP
S: UIDL
S: RESP-CODES
S: PIPELINING
S: AUTH-RESP-CODE
S: USER
S: SASL PLAIN
S: IMPLEMENTATION inetkit
S: .
C: PASS secret
S: -ERR USER first
C: STLS
S: -ERR STLS not supported
C: AUTH
S: +OK
S: PLAIN
S: .
C: AUTH CRAM-MD5
S: -ERR unsupported authentication mechanism
C: user alice
S: +OK send PASS
C: pass secret
S: +OK maildrop has 1 messages (23 octets)
C: QUIT
S: +OK inetkit POP3 server signing off (1 messages left)
`)
	if rest, eof := readAll(t, c, r); !eof || rest != "" {
		t.Errorf("after QUIT: %q, EOF %v; want the connection closed", rest, eof)
	}
}

func TestConn_quitInAuthorization(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"))
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: QUIT
S: +OK inetkit POP3 server signing off
`)
	if rest, eof := readAll(t, c, r); !eof || rest != "" {
		t.Errorf("after QUIT: %q, EOF %v; want the connection closed", rest, eof)
	}
}

func TestConn_transaction(t *testing.T) {
	md := pop3test.NewMaildrop("alice", "secret", msg1, msg2)
	s := newServer(t, md)
	c, r := loggedIn(t, s)
	prototest.Run(t, c, r, `
C: CAPA
S: +OK Capability list follows
S: TOP
S: UIDL
S: RESP-CODES
S: PIPELINING
S: AUTH-RESP-CODE
S: IMPLEMENTATION inetkit
S: .
C: STAT
S: +OK 2 59
C: LIST
S: +OK 2 messages (59 octets)
S: 1 23
S: 2 36
S: .
C: LIST 2
S: +OK 2 36
C: LIST 3
S: -ERR no such message
C: LIST 0
S: -ERR no such message
C: LIST x
S: -ERR invalid message number
C: LIST -1
S: -ERR invalid message number
C: UIDL
S: +OK
S: 1 uid-1
S: 2 uid-2
S: .
C: UIDL 2
S: +OK 2 uid-2
C: UIDL 9
S: -ERR no such message
C: RETR 2
S: +OK 36 octets
S: Subject: two
S:
S: ..dot
S: line2
S: line3
S: .
C: RETR
S: -ERR invalid message number
C: TOP 2 1
S: +OK top of message follows
S: Subject: two
S:
S: ..dot
S: .
C: TOP 2 0
S: +OK top of message follows
S: Subject: two
S:
S: .
C: TOP 1 99
S: +OK top of message follows
S: Subject: one
S:
S: first
S: .
C: TOP 1
S: -ERR invalid arguments
C: TOP 1 -1
S: -ERR invalid arguments
C: NOOP
S: +OK
C: NOOP x
S: -ERR invalid arguments
C: STAT x
S: -ERR invalid arguments
# Commands of the AUTHORIZATION state are refused after login.
C: USER alice
S: -ERR command not valid in this state
C: PASS secret
S: -ERR command not valid in this state
C: APOP alice 0123456789abcdef0123456789abcdef
S: -ERR command not valid in this state
C: AUTH PLAIN
S: -ERR command not valid in this state
C: STLS
S: -ERR command not valid in this state
C: DELE 1
S: +OK message 1 deleted
C: DELE 1
S: -ERR message 1 already deleted
C: RETR 1
S: -ERR message 1 already deleted
C: TOP 1 0
S: -ERR message 1 already deleted
C: LIST 1
S: -ERR message 1 already deleted
C: UIDL 1
S: -ERR message 1 already deleted
C: STAT
S: +OK 1 36
C: LIST
S: +OK 1 messages (36 octets)
S: 2 36
S: .
C: UIDL
S: +OK
S: 2 uid-2
S: .
C: RSET
S: +OK maildrop has 2 messages (59 octets)
C: STAT
S: +OK 2 59
C: DELE 2
S: +OK message 2 deleted
C: QUIT
S: +OK inetkit POP3 server signing off (1 messages left)
`)
	readAll(t, c, r)
	if got := md.Messages(); !slices.Equal(got, []string{msg1}) {
		t.Errorf("after DELE 2 and QUIT the maildrop holds %q; want only message 1", got)
	}
}

// TestConn_dropWithoutQuit is HARDENING P3: a session that ends without
// QUIT, here with a TCP reset, deletes nothing.
func TestConn_dropWithoutQuit(t *testing.T) {
	md := pop3test.NewMaildrop("alice", "secret", msg1, msg2)
	be := newNotifyBackend(md)
	s := newServer(t, be)
	c, r := loggedIn(t, s)
	prototest.Run(t, c, r, `
C: DELE 1
S: +OK message 1 deleted
C: DELE 2
S: +OK message 2 deleted
`)
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	be.waitClosed(t)
	if got := md.Messages(); len(got) != 2 {
		t.Errorf("after DELE and a reset the maildrop holds %d messages; want 2", len(got))
	}
	c, r = loggedIn(t, s)
	prototest.Run(t, c, r, `
C: STAT
S: +OK 2 59
`)
}

// TestConn_dotStuffing is HARDENING P1 and P2: lines starting with a dot
// are stuffed, bare LFs become CRLF, a message without a final newline gets
// one, and a stored "\n.\n" never ends the reply early.
func TestConn_dotStuffing(t *testing.T) {
	be := &rawBackend{msgs: []string{
		"Subject: dots\n\n.\n.x\n..\nlast line without newline",
		"Subject: smuggle\r\n\r\nbody\n.\nDELE 1\n",
		".starts with dot\r\n\r\n.body\r\n",
		"no blank line\nat all\n",
		"cr at end\r",
	}}
	s := newServer(t, be)
	c, r := loggedIn(t, s)
	c.Write([]byte("RETR 1\r\nTOP 1 0\r\nTOP 1 3\r\nRETR 2\r\nTOP 3 0\r\nTOP 4 1\r\nRETR 5\r\nQUIT\r\n"))
	got, _ := readAll(t, c, r)
	want := "+OK 48 octets\r\nSubject: dots\r\n\r\n..\r\n..x\r\n...\r\nlast line without newline\r\n.\r\n" +
		"+OK top of message follows\r\nSubject: dots\r\n\r\n.\r\n" +
		"+OK top of message follows\r\nSubject: dots\r\n\r\n..\r\n..x\r\n...\r\n.\r\n" +
		"+OK 34 octets\r\nSubject: smuggle\r\n\r\nbody\r\n..\r\nDELE 1\r\n.\r\n" +
		"+OK top of message follows\r\n..starts with dot\r\n\r\n.\r\n" +
		"+OK top of message follows\r\nno blank line\r\nat all\r\n.\r\n" +
		"+OK 10 octets\r\ncr at end\r\n.\r\n" +
		"+OK inetkit POP3 server signing off (5 messages left)\r\n"
	if got != want {
		t.Errorf("replies:\n%q\nwant:\n%q", got, want)
	}
	// Every line ends in CRLF, and no line is a lone "." before the end
	// of its reply.
	if strings.Contains(strings.ReplaceAll(got, "\r\n", ""), "\n") {
		t.Errorf("a bare LF in the replies: %q", got)
	}
}

// TestConn_pipelining sends a batch of commands in one segment (RFC 2449
// PIPELINING) and expects the replies in order.
func TestConn_pipelining(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret", msg1, msg2))
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: USER alice
C: PASS secret
C: STAT
C: LIST 1
C: NOOP
C: UIDL 2
S: +OK send PASS
S: +OK maildrop has 2 messages (59 octets)
S: +OK 2 59
S: +OK 1 23
S: +OK
S: +OK 2 uid-2
`)
}

func TestConn_apop(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret", msg1))
	c := dial(t, s.Addr)
	r := prototest.Client(t, c, ``)
	greeting, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	ts := regexp.MustCompile(`<[0-9]+\.[0-9]+@[^>]+>`).FindString(greeting)
	if ts == "" {
		t.Fatalf("greeting %q has no <pid.nanotime@host> timestamp", greeting)
	}
	sum := md5.Sum([]byte(ts + "secret"))
	bad := md5.Sum([]byte(ts + "wrong"))
	prototest.Run(t, c, r, fmt.Sprintf(`
C: APOP alice %x
S: -ERR [AUTH] authentication failed
C: APOP alice
S: -ERR invalid arguments
C: APOP alice xyz
S: -ERR invalid arguments
C: APOP alice %s
S: +OK maildrop has 1 messages (23 octets)
`, bad, strings.ToUpper(hex.EncodeToString(sum[:]))))

	// A second connection gets another timestamp.
	c2 := dial(t, s.Addr)
	g2 := prototest.Client(t, c2, ``)
	greeting2, _ := g2.ReadString('\n')
	if ts2 := regexp.MustCompile(`<[^>]+>`).FindString(greeting2); ts2 == ts {
		t.Errorf("two connections got the same timestamp %q", ts)
	}
}

func TestConn_apopUnsupported(t *testing.T) {
	s := newServer(t, &rawBackend{})
	c := dial(t, s.Addr)
	prototest.Client(t, c, `
S: +OK inetkit POP3 server ready
C: APOP alice 0123456789abcdef0123456789abcdef
S: -ERR unknown command
`)
}

func TestConn_authPlain(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret", msg1))
	c, r := greeted(t, s)
	// "\x00alice\x00secret" and friends, in base64.
	prototest.Run(t, c, r, `
C: AUTH PLAIN AGFsaWNlAHdyb25n
S: -ERR [AUTH] authentication failed
C: AUTH PLAIN !!!
S: -ERR invalid base64 in response
C: AUTH PLAIN YWxpY2U=
S: -ERR invalid PLAIN response
C: AUTH PLAIN
S: + 
C: *
S: -ERR authentication cancelled
C: AUTH PLAIN
S: + 
C: Ym9iAGFsaWNlAHNlY3JldA==
S: -ERR [AUTH] authorization identity not allowed
C: AUTH PLAIN
S: + 
C: AGFsaWNlAHNlY3JldA==
S: +OK maildrop has 1 messages (23 octets)
`)

	// With the initial response, and with an authorization identity equal
	// to the user.
	c, r = greeted(t, newServer(t, pop3test.NewMaildrop("alice", "secret")))
	prototest.Run(t, c, r, `
C: auth plain YWxpY2UAYWxpY2UAc2VjcmV0
S: +OK maildrop has 0 messages (0 octets)
`)
}

func TestConn_authPlainLongContinuation(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"))
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: AUTH PLAIN
S: + 
C: `+strings.Repeat("A", 2000)+`
S: -ERR line too long
C: CAPA
S: +OK Capability list follows
`)
}

// TestConn_plaintextRefused is HARDENING P6: without TLS and without
// InsecureAuth, USER/PASS and AUTH PLAIN are refused and not advertised;
// APOP still works.
func TestConn_plaintextRefused(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret", msg1), func(s *pop3.Server) {
		s.InsecureAuth = false
		s.TLSConfig = testcert.ServerConfig()
	})
	c := dial(t, s.Addr)
	r := prototest.Client(t, c, ``)
	greeting, _ := r.ReadString('\n')
	ts := regexp.MustCompile(`<[^>]+>`).FindString(greeting)
	prototest.Run(t, c, r, fmt.Sprintf(`
C: CAPA
S: +OK Capability list follows
S: TOP
S: UIDL
S: RESP-CODES
S: PIPELINING
S: AUTH-RESP-CODE
S: STLS
S: IMPLEMENTATION inetkit
S: .
C: USER alice
S: -ERR [AUTH] plaintext authentication disallowed on non-secure connections
C: PASS secret
S: -ERR [AUTH] plaintext authentication disallowed on non-secure connections
C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
S: -ERR [AUTH] plaintext authentication disallowed on non-secure connections
C: AUTH
S: +OK
S: .
C: APOP alice %x
S: +OK maildrop has 1 messages (23 octets)
`, md5.Sum([]byte(ts+"secret"))))
}

// TestConn_stls covers STLS (RFC 2595) and HARDENING P5/G13: the command
// sent in the same segment as STLS is discarded, not answered inside TLS.
func TestConn_stls(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret", msg1), func(s *pop3.Server) {
		s.InsecureAuth = false
		s.TLSConfig = testcert.ServerConfig()
	})
	c, r := greeted(t, s)
	c.Write([]byte("STLS\r\nCAPA\r\n"))
	prototest.Run(t, c, r, `S: +OK Begin TLS negotiation`)
	if r.Buffered() != 0 {
		t.Fatalf("%d octets after the STLS reply", r.Buffered())
	}
	tc := startTLS(t, c)
	prototest.Client(t, tc, `
C: NOOP
S: -ERR command not valid in this state
C: STLS
S: -ERR command not permitted when TLS active
C: CAPA
S: +OK Capability list follows
S: TOP
S: UIDL
S: RESP-CODES
S: PIPELINING
S: AUTH-RESP-CODE
S: USER
S: SASL PLAIN
S: IMPLEMENTATION inetkit
S: .
C: USER alice
S: +OK send PASS
C: PASS secret
S: +OK maildrop has 1 messages (23 octets)
C: QUIT
S: +OK*
`)
}

func TestConn_stlsBadHandshake(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"), func(s *pop3.Server) {
		s.TLSConfig = testcert.ServerConfig()
	})
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: STLS
S: +OK Begin TLS negotiation
C: this is not a TLS client hello
`)
	if _, eof := readAll(t, c, r); !eof {
		t.Error("the connection stayed open after a failed handshake")
	}
	// The server still serves.
	greeted(t, s)
}

// TestConn_inUse is HARDENING P4.
func TestConn_inUse(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret", msg1))
	loggedIn(t, s)
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: USER alice
S: +OK send PASS
C: PASS secret
S: -ERR [IN-USE] maildrop already locked
`)
}

// TestConn_bruteForce is HARDENING P7: every failed login waits
// AuthFailureDelay, and the connection is closed after MaxAuthFailures.
func TestConn_bruteForce(t *testing.T) {
	const delay = 30 * time.Millisecond
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"), func(s *pop3.Server) {
		s.AuthFailureDelay = delay
		s.MaxAuthFailures = 3
	})
	c, r := greeted(t, s)
	start := time.Now()
	prototest.Run(t, c, r, `
C: USER alice
S: +OK send PASS
C: PASS bad1
S: -ERR [AUTH] authentication failed
C: USER alice
S: +OK send PASS
C: PASS bad2
S: -ERR [AUTH] authentication failed
C: USER alice
S: +OK send PASS
C: PASS bad3
S: -ERR [AUTH] authentication failed
`)
	if elapsed := time.Since(start); elapsed < 3*delay {
		t.Errorf("3 failed logins took %v; want at least %v", elapsed, 3*delay)
	}
	c.Write([]byte("USER alice\r\n"))
	if rest, eof := readAll(t, c, r); !eof || rest != "" {
		t.Errorf("after 3 failures: %q, EOF %v; want the connection closed", rest, eof)
	}
}

// TestConn_longLine is HARDENING P8: a line over 255 octets gets -ERR and
// the session continues; the limit counts the CRLF.
func TestConn_longLine(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"))
	c, r := greeted(t, s)
	ok253 := "USER " + strings.Repeat("a", 248)
	prototest.Run(t, c, r, `
C: USER `+strings.Repeat("a", 300)+`
S: -ERR line too long
C: `+ok253+`
S: +OK send PASS
C: `+ok253+`b
S: -ERR line too long
C: USER alice
S: +OK send PASS
C: PASS secret
S: +OK*
`)
}

// TestConn_hugeLine is HARDENING G1: a 16 MiB line without LF gets -ERR when
// it passes the cap and the connection is closed, without the server
// reading it all.
func TestConn_hugeLine(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"))
	for _, login := range []bool{false, true} {
		var c net.Conn
		if login {
			c, _ = loggedIn(t, s)
		} else {
			c, _ = greeted(t, s)
		}
		done := make(chan int64)
		go func() {
			n, _ := c.Write(make([]byte, 16<<20))
			done <- int64(n)
		}()
		c.SetReadDeadline(time.Now().Add(prototest.Timeout))
		got, err := io.ReadAll(c)
		if !strings.HasPrefix(string(got), "-ERR line too long\r\n") && err == nil {
			t.Errorf("login %v: got %q, %v; want -ERR line too long or a reset", login, got, err)
		}
		if isTimeout(err) {
			t.Errorf("login %v: the connection was not closed", login)
		}
		c.Close()
		<-done
	}
	greeted(t, s)
	// The server read at most the cap, the discard limit and a buffer of
	// each huge line.
	if n := s.Config.Stats().BytesRead; n > 2*(70<<10)+100 {
		t.Errorf("the server read %d octets of two 16 MiB lines; want at most about 2 × 70 KiB", n)
	}
}

// TestConn_idleTimeout is HARDENING G3.
func TestConn_idleTimeout(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"), func(s *pop3.Server) {
		s.IdleTimeout = 50 * time.Millisecond
	})
	c, r := greeted(t, s)
	got, eof := readAll(t, c, r)
	if got != "-ERR [SYS/TEMP] idle timeout\r\n" || !eof {
		t.Errorf("idle connection got %q, EOF %v; want the idle timeout reply and EOF", got, eof)
	}
}

// TestConn_slowloris is HARDENING G2: a command line must arrive within
// CommandTimeout of its first octet, however the octets trickle in.
func TestConn_slowloris(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"), func(s *pop3.Server) {
		s.CommandTimeout = 100 * time.Millisecond
	})
	c, r := greeted(t, s)
	c.Write([]byte("NO"))
	got, eof := readAll(t, c, r)
	if got != "-ERR [SYS/TEMP] command timeout\r\n" || !eof {
		t.Errorf("slow command got %q, EOF %v; want the command timeout reply and EOF", got, eof)
	}
}

// TestConn_errorFlood is HARDENING G5: past SoftErrorLimit errors the
// replies are delayed, and at HardErrorLimit the connection is closed.
func TestConn_errorFlood(t *testing.T) {
	const delay = 20 * time.Millisecond
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"), func(s *pop3.Server) {
		s.SoftErrorLimit = 2
		s.HardErrorLimit = 5
		s.ErrorDelay = delay
	})
	c, r := greeted(t, s)
	start := time.Now()
	c.Write([]byte(strings.Repeat("XYZZY\r\n", 100)))
	got, eof := readAll(t, c, r)
	want := strings.Repeat("-ERR invalid command line\r\n", 4) + "-ERR too many errors, closing connection\r\n"
	if got != want || !eof {
		t.Errorf("error flood got %q, EOF %v; want %q and EOF", got, eof, want)
	}
	if elapsed := time.Since(start); elapsed < 3*delay {
		t.Errorf("the flood took %v; want at least %v", elapsed, 3*delay)
	}
}

// TestConn_http is HARDENING G6: an HTTP request closes the connection at
// once, without echoing anything.
func TestConn_http(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"))
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT x:110 HTTP/1.1\r\n\r\n",
		"HEAD /index.html HTTP/1.0\r\n\r\n",
		"GET /index.html\r\n", // HTTP/0.9
	} {
		c, r := greeted(t, s)
		c.Write([]byte(req))
		got, eof := readAll(t, c, r)
		if got != "" || !eof {
			t.Errorf("%q got %q, EOF %v; want EOF and nothing", req, got, eof)
		}
	}
	// A password of four words, one of them like an HTTP version, is a
	// password.
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: USER alice
S: +OK send PASS
C: PASS my HTTP/1.1 password
S: -ERR * authentication failed
C: NOOP
S: -ERR command not valid in this state
`)
}

// TestConn_badBytes is HARDENING G7: NUL and invalid UTF-8 get -ERR, are
// logged escaped, and the session continues.
func TestConn_badBytes(t *testing.T) {
	var log logBuffer
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"), func(s *pop3.Server) {
		s.Logger = textLogger(&log)
	})
	c, r := greeted(t, s)
	c.Write([]byte("NOOP\x00\r\nEHLO \xff\xfe\r\n"))
	prototest.Run(t, c, r, `
S: -ERR invalid command line
S: -ERR invalid command line
C: CAPA
S: +OK Capability list follows
`)
	logged := log.String()
	// The server escapes the line, and the TextHandler may escape it again.
	if !strings.Contains(logged, `NOOP\x00`) || !regexp.MustCompile(`EHLO \\+xff\\+xfe`).MatchString(logged) {
		t.Errorf("log %q does not show the bad bytes escaped", logged)
	}
	if strings.IndexByte(logged, 0) >= 0 || strings.IndexByte(logged, 0xff) >= 0 {
		t.Errorf("log %q holds raw bad bytes", logged)
	}
}

// TestConn_bareLF is HARDENING G8: LF alone ends a command line.
func TestConn_bareLF(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret", msg1))
	c, r := greeted(t, s)
	c.Write([]byte("USER alice\nPASS secret\nNOOP\nSTAT\n"))
	prototest.Run(t, c, r, `
S: +OK send PASS
S: +OK maildrop has 1 messages (23 octets)
S: +OK
S: +OK 1 23
`)
}

// TestConn_slowReader is HARDENING G4: a client that asks for a large
// message and never reads is cut off by WriteTimeout.
func TestConn_slowReader(t *testing.T) {
	be := newNotifyBackend(pop3test.NewMaildrop("alice", "secret", strings.Repeat(strings.Repeat("x", 1022)+"\r\n", 16<<10)))
	s := newServer(t, be, func(s *pop3.Server) { s.WriteTimeout = 100 * time.Millisecond })
	c, _ := loggedIn(t, s)
	c.Write([]byte("RETR 1\r\n"))
	be.waitClosed(t) // without reading anything
}

// TestConn_reset is HARDENING G9 (light): a client reset in the middle of a
// command ends the session, which is closed.
func TestConn_reset(t *testing.T) {
	be := newNotifyBackend(pop3test.NewMaildrop("alice", "secret", msg1))
	s := newServer(t, be)
	c, _ := loggedIn(t, s)
	c.Write([]byte("RETR"))
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	be.waitClosed(t)
	// The maildrop is unlocked.
	loggedIn(t, s)
}

func TestConn_backendErrors(t *testing.T) {
	var log logBuffer
	cfg := func(s *pop3.Server) { s.Logger = textLogger(&log) }
	tests := []struct {
		name   string
		be     *rawBackend
		script string
	}{
		{"login internal", &rawBackend{loginErr: errors.New("db is down at /var/secret")}, `
C: USER alice
S: +OK send PASS
C: PASS secret
S: -ERR [SYS/TEMP] internal error
`},
		{"login verbatim", &rawBackend{loginErr: fmt.Errorf("wrapped: %w", &pop3.Error{Code: "LOGIN-DELAY", Message: "wait\r\na bit"})}, `
C: USER alice
S: +OK send PASS
C: PASS secret
S: -ERR [LOGIN-DELAY] wait  a bit
`},
		{"list", &rawBackend{listErr: errors.New("boom")}, `
C: USER alice
S: +OK send PASS
C: PASS secret
S: -ERR [SYS/TEMP] internal error
`},
		{"open", &rawBackend{msgs: []string{"a"}, openErr: &pop3.Error{Code: "SYS/PERM", Message: "gone"}}, `
C: USER alice
S: +OK send PASS
C: PASS secret
S: +OK*
C: RETR 1
S: -ERR [SYS/PERM] gone
C: TOP 1 1
S: -ERR [SYS/PERM] gone
C: NOOP
S: +OK
`},
		{"commit", &rawBackend{msgs: []string{"a"}, commitErr: errors.New("disk full")}, `
C: USER alice
S: +OK send PASS
C: PASS secret
S: +OK*
C: DELE 1
S: +OK*
C: QUIT
S: -ERR [SYS/TEMP] internal error
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.be, cfg)
			c, r := greeted(t, s)
			prototest.Run(t, c, r, tc.script)
		})
	}
	if !strings.Contains(log.String(), "db is down") {
		t.Errorf("the internal error is not logged: %q", log.String())
	}
}

// TestConn_messageReadError: when a message fails after its +OK is out,
// the connection is closed before the terminating line, so the client
// cannot take the part for the whole.
func TestConn_messageReadError(t *testing.T) {
	var log logBuffer
	s := newServer(t, pop3.BackendFunc(func(ctx context.Context, user, pass string) (pop3.Session, error) {
		return &failingSession{rawSession{b: &rawBackend{}}}, nil
	}), func(s *pop3.Server) { s.Logger = textLogger(&log) })
	c, r := loggedIn(t, s)
	c.Write([]byte("RETR 1\r\n"))
	got, eof := readAll(t, c, r)
	if got != "+OK 100 octets\r\npart\r\n" || !eof {
		t.Errorf("RETR of a failing message: %q, EOF %v; want the part and EOF", got, eof)
	}
	if !strings.Contains(log.String(), "disk read error") {
		t.Errorf("the error is not logged: %q", log.String())
	}
}

type failingSession struct{ rawSession }

func (failingSession) List(ctx context.Context) ([]pop3.MessageInfo, error) {
	return []pop3.MessageInfo{{Size: 100, UID: "a"}}, nil
}

func (failingSession) Open(ctx context.Context, n int) (io.ReadCloser, error) {
	return io.NopCloser(io.MultiReader(strings.NewReader("part\r\n"), errReader{})), nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk read error") }

// TestConn_panic is HARDENING X11: a panic in a backend ends its connection
// only.
func TestConn_panic(t *testing.T) {
	var log logBuffer
	be := &rawBackend{msgs: []string{"a"}, panicOpen: true}
	s := newServer(t, be, func(s *pop3.Server) { s.Logger = textLogger(&log) })
	c, r := loggedIn(t, s)
	c.Write([]byte("RETR 1\r\n"))
	if got, eof := readAll(t, c, r); got != "" || !eof {
		t.Errorf("after a panic: %q, EOF %v; want the connection closed", got, eof)
	}
	loggedIn(t, s)
	if !strings.Contains(log.String(), "test panic in Open") {
		t.Errorf("the panic is not logged: %q", log.String())
	}
}

func TestConn_invalidUID(t *testing.T) {
	s := newServer(t, &badUIDBackend{})
	c, r := loggedIn(t, s)
	prototest.Run(t, c, r, `
C: UIDL
S: -ERR [SYS/TEMP] internal error
C: UIDL 1
S: -ERR [SYS/TEMP] internal error
C: LIST
S: +OK 1 messages (1 octets)
S: 1 1
S: .
`)
}

type badUIDBackend struct{ rawBackend }

func (b *badUIDBackend) Login(ctx context.Context, user, pass string) (pop3.Session, error) {
	return &badUIDSession{rawSession{b: &b.rawBackend}}, nil
}

type badUIDSession struct{ rawSession }

func (badUIDSession) List(ctx context.Context) ([]pop3.MessageInfo, error) {
	return []pop3.MessageInfo{{Size: 1, UID: "has space"}}, nil
}

func TestServer_shutdown(t *testing.T) {
	md := pop3test.NewMaildrop("alice", "secret", msg1)
	s := pop3test.NewUnstartedServer(md)
	s.Start()
	defer s.Close()
	idle, ir := greeted(t, s)
	tx, tr := loggedIn(t, s)
	prototest.Run(t, tx, tr, `
C: DELE 1
S: +OK*
`)
	ctx, cancel := context.WithTimeout(context.Background(), prototest.Timeout)
	defer cancel()
	if err := s.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	for _, c := range []struct {
		conn net.Conn
		r    io.Reader
	}{{idle, ir}, {tx, tr}} {
		if got, eof := readAll(t, c.conn, c.r); got != "-ERR [SYS/TEMP] server shutting down\r\n" || !eof {
			t.Errorf("at shutdown: %q, EOF %v; want the goodbye and EOF", got, eof)
		}
	}
	if got := md.Messages(); len(got) != 1 {
		t.Errorf("a shutdown committed the deletion: %d messages left", len(got))
	}
	if _, err := net.Dial("tcp", s.Addr); err == nil {
		t.Error("the server still accepts connections after Shutdown")
	}
}

// TestServer_shutdownTLS: the goodbye of Shutdown reaches a POP3S client
// waiting between commands.
func TestServer_shutdownTLS(t *testing.T) {
	s := pop3test.NewUnstartedServer(pop3test.NewMaildrop("alice", "secret"))
	s.StartTLS()
	defer s.Close()
	c, err := tls.Dial("tcp", s.Addr, testcert.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := prototest.Client(t, c, `
S: +OK inetkit POP3 server ready*
C: NOOP
S: -ERR command not valid in this state
`)
	if err := s.Config.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, eof := readAll(t, c, r); got != "-ERR [SYS/TEMP] server shutting down\r\n" || !eof {
		t.Errorf("at shutdown: %q, EOF %v; want the goodbye and EOF", got, eof)
	}
}

func TestServer_serveAfterClose(t *testing.T) {
	srv := &pop3.Server{Backend: pop3test.NewMaildrop("a", "b")}
	srv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(l); !errors.Is(err, pop3.ErrServerClosed) || !errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("Serve after Close = %v; want ErrServerClosed, which is sockserver's", err)
	}
}

func TestServer_noBackend(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := (&pop3.Server{}).Serve(l); err == nil || errors.Is(err, pop3.ErrServerClosed) {
		t.Errorf("Serve without Backend = %v; want a configuration error", err)
	}
	if err := (&pop3.Server{Backend: &rawBackend{}}).ServeTLS(l); err == nil {
		t.Error("ServeTLS without TLSConfig succeeded")
	}
}

// TestServer_maxConnsPerIP is HARDENING G10 with a limit of 1.
func TestServer_maxConnsPerIP(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"), func(s *pop3.Server) {
		s.MaxConnsPerIP = 1
	})
	greeted(t, s)
	c := dial(t, s.Addr)
	got, eof := readAll(t, c, c)
	if got != "-ERR [SYS/TEMP] too many connections\r\n" || !eof {
		t.Errorf("second connection got %q, EOF %v; want the busy reply and EOF", got, eof)
	}
}

func TestServer_debugWriter(t *testing.T) {
	var dbg logBuffer
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"), func(s *pop3.Server) {
		s.DebugWriter = &dbg
	})
	c, r := greeted(t, s)
	prototest.Run(t, c, r, `
C: USER alice
S: +OK send PASS
C: QUIT
S: +OK*
`)
	readAll(t, c, r)
	got := dbg.String()
	for _, want := range []string{"+OK inetkit POP3 server ready", "USER alice\r\n", "+OK send PASS\r\n", "QUIT\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("debug output %q lacks %q", got, want)
		}
	}
}

func TestServer_listenAndServeTLS(t *testing.T) {
	srv := &pop3.Server{Backend: &rawBackend{}, Addr: "127.0.0.1:0"}
	if err := srv.ListenAndServeTLS(); err == nil {
		t.Error("ListenAndServeTLS without TLSConfig succeeded")
	}
	srv = &pop3.Server{Backend: &rawBackend{}, Addr: "127.0.0.1:-1"}
	if err := srv.ListenAndServe(); err == nil || errors.Is(err, pop3.ErrServerClosed) {
		t.Errorf("ListenAndServe on a bad address = %v; want a listen error", err)
	}
}

// TestServer_implicitTLSReject checks that a POP3S connection over the limit
// is closed without a plaintext reply.
func TestServer_implicitTLSReject(t *testing.T) {
	s := pop3test.NewUnstartedServer(pop3test.NewMaildrop("alice", "secret"))
	s.Config.MaxConnsPerIP = 1
	s.StartTLS()
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := dial(t, s.Addr)
	if got, eof := readAll(t, raw, raw); got != "" || !eof {
		t.Errorf("rejected POP3S connection got %q, EOF %v; want EOF", got, eof)
	}
}

// The maildrop is released before QUIT's reply: a client that logs in again
// as soon as it has the reply never finds it in use. The session's Close is
// slowed down, so that a reply sent before it would be seen first.
func TestConn_quitReleasesBeforeReply(t *testing.T) {
	for _, deleting := range []bool{false, true} {
		m := pop3test.NewMaildrop("alice", "secret", "Subject: a\r\n\r\nx\r\n", "Subject: b\r\n\r\ny\r\n")
		s := newServer(t, slowCloseBackend{m})
		c, r := greeted(t, s)
		script := "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: +OK maildrop has 2 messages (34 octets)\n"
		if deleting {
			script += "C: DELE 1\nS: +OK message 1 deleted\nC: QUIT\nS: +OK inetkit POP3 server signing off (1 messages left)\n"
		} else {
			script += "C: QUIT\nS: +OK inetkit POP3 server signing off (2 messages left)\n"
		}
		prototest.Run(t, c, r, script)
		if m.Locked() {
			t.Errorf("deleting %v: the maildrop is still locked when QUIT's reply arrives", deleting)
		}
	}
}

// slowCloseBackend's sessions take 50ms to close.
type slowCloseBackend struct{ pop3.Backend }

func (b slowCloseBackend) Login(ctx context.Context, user, pass string) (pop3.Session, error) {
	sess, err := b.Backend.Login(ctx, user, pass)
	if err != nil {
		return nil, err
	}
	return slowCloseSession{sess}, nil
}

type slowCloseSession struct{ pop3.Session }

func (s slowCloseSession) Close() error {
	time.Sleep(50 * time.Millisecond)
	return s.Session.Close()
}

// TestConn_retrVerbatim: RETR and TOP send a message's octets as they are
// (NUL, 8-bit, a CR inside a line: HARDENING P9), and TOP finds the end of
// the header whatever the message looks like.
func TestConn_retrVerbatim(t *testing.T) {
	tests := []struct {
		name, msg, cmd, want string
	}{
		{"nul and 8 bit", "a\x00b\xff\r\n", "RETR 1", "+OK 6 octets\r\na\x00b\xff\r\n.\r\n"},
		{"inner cr", "a\rb\r\n", "RETR 1", "+OK 5 octets\r\na\rb\r\n.\r\n"},
		{"empty", "", "RETR 1", "+OK 0 octets\r\n.\r\n"},
		{"top header line with cr inside", "H: a\rb\r\n\r\nx\r\n", "TOP 1 0", "+OK top of message follows\r\nH: a\rb\r\n\r\n.\r\n"},
		{"top empty header", "\r\nbody\r\n", "TOP 1 0", "+OK top of message follows\r\n\r\n.\r\n"},
		{"top no body", "H: 1\r\nH: 2\r\n", "TOP 1 0", "+OK top of message follows\r\nH: 1\r\nH: 2\r\n.\r\n"},
		{"top more than all", "H: 1\r\n\r\nb1\r\nb2", "TOP 1 5", "+OK top of message follows\r\nH: 1\r\n\r\nb1\r\nb2\r\n.\r\n"},
		{"top stuffed", "H: 1\n\n.b1\n.\n", "TOP 1 2", "+OK top of message follows\r\nH: 1\r\n\r\n..b1\r\n..\r\n.\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, &rawBackend{msgs: []string{tc.msg}})
			c, r := loggedIn(t, s)
			c.Write([]byte(tc.cmd + "\r\nQUIT\r\n"))
			got, _ := readAll(t, c, r)
			if got, ok := strings.CutSuffix(got, "+OK inetkit POP3 server signing off (1 messages left)\r\n"); !ok || got != tc.want {
				t.Errorf("%s of %q:\n%q\nwant:\n%q", tc.cmd, tc.msg, got, tc.want)
			}
		})
	}
}

// pipeServer serves srv with ServeConn on one end of a net.Pipe, in a new
// goroutine, and returns the other end, greeted. The connection is closed,
// and ServeConn waited for, at the end of the test.
func pipeServer(t *testing.T, srv *pop3.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	cc, sc := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeConn(t.Context(), sc)
	}()
	t.Cleanup(func() { cc.Close(); <-done })
	return cc, prototest.Client(t, cc, `S: +OK inetkit POP3 server ready*`)
}

// TestConn_authFailureDelay: a failed login past SoftErrorLimit waits the
// longer of AuthFailureDelay and ErrorDelay, not their sum (HARDENING P7
// and G5 under one rule). The clock is synctest's, so the waits are exact.
func TestConn_authFailureDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &pop3.Server{
			Backend:      pop3test.NewMaildrop("alice", "secret"),
			InsecureAuth: true,
			Limits: lineproto.Limits{
				AuthFailureDelay: 100 * time.Millisecond,
				ErrorDelay:       300 * time.Millisecond,
				SoftErrorLimit:   1,
			},
			Logger: slog.New(slog.DiscardHandler),
		}
		c, r := pipeServer(t, srv)
		step := func(script string) time.Duration {
			start := time.Now()
			prototest.Run(t, c, r, script)
			return time.Since(start)
		}
		if d := step("C: PASS x\nS: -ERR USER first"); d != 0 {
			t.Errorf("the first error reply took %v; want no delay", d)
		}
		step("C: USER alice\nS: +OK send PASS")
		if d := step("C: PASS bad\nS: -ERR [AUTH] authentication failed"); d != 300*time.Millisecond {
			t.Errorf("a failed login past the soft limit took %v; want 300ms, the longer delay", d)
		}
	})
}

// TestServer_authLimiter: failed logins are counted across connections, per
// address and per account, and past the free failures every attempt, right
// or wrong, waits before its credentials are checked (HARDENING P7 across
// connections). Two servers sharing one AuthLimiter count together.
func TestServer_authLimiter(t *testing.T) {
	const base = 20 * time.Millisecond
	limiter := lineproto.NewAuthLimiter(base)
	md := pop3test.NewMaildrop("alice", "secret")
	configure := func(s *pop3.Server) {
		s.AuthFailureDelay = base
		s.MaxAuthFailures = 1
		s.AuthLimiter = limiter
	}
	s1 := newServer(t, md, configure)
	s2 := newServer(t, md, configure)
	var remote net.Addr
	fail := func(s *pop3test.Server) {
		t.Helper()
		c, r := greeted(t, s)
		remote = c.LocalAddr()
		prototest.Run(t, c, r, `
C: USER alice
S: +OK send PASS
C: PASS wrong
S: -ERR [AUTH] authentication failed
`)
		if _, eof := readAll(t, c, r); !eof {
			t.Fatal("the connection stayed open after MaxAuthFailures")
		}
	}
	for range lineproto.DefaultAuthFreeFailures {
		fail(s1)
	}
	if d := limiter.Delay(remote, "alice"); d != base {
		t.Errorf("after %d failures Delay = %v; want %v", lineproto.DefaultAuthFreeFailures, d, base)
	}
	fail(s2)
	if d := limiter.Delay(remote, "alice"); d != 2*base {
		t.Errorf("after a further failure on the other server Delay = %v; want %v", d, 2*base)
	}
	// The right password waits too, and is forgiven.
	c, r := greeted(t, s1)
	start := time.Now()
	prototest.Run(t, c, r, `
C: USER alice
S: +OK send PASS
C: PASS secret
S: +OK maildrop has 0 messages (0 octets)
`)
	if elapsed := time.Since(start); elapsed < 2*base {
		t.Errorf("a login after %d failures took %v; want at least %v", lineproto.DefaultAuthFreeFailures+1, elapsed, 2*base)
	}
	if d := limiter.Delay(remote, "alice"); d != 0 {
		t.Errorf("after a successful login Delay = %v; want 0", d)
	}
}

// TestServer_ownAuthLimiter: with no AuthLimiter set, a server counts
// failures across its connections itself, with waits starting at
// AuthFailureDelay.
func TestServer_ownAuthLimiter(t *testing.T) {
	const base = 20 * time.Millisecond
	md := pop3test.NewMaildrop("alice", "secret")
	s := newServer(t, md, func(s *pop3.Server) {
		s.AuthFailureDelay = base
		s.MaxAuthFailures = 1
	})
	for range lineproto.DefaultAuthFreeFailures + 1 {
		c, r := greeted(t, s)
		prototest.Run(t, c, r, "C: USER alice\nS: +OK send PASS\nC: PASS wrong\nS: -ERR * authentication failed")
	}
	// The fourth failure waited base before its check, and the fifth
	// attempt waits twice as long, before the credentials are checked.
	c, r := greeted(t, s)
	start := time.Now()
	prototest.Run(t, c, r, "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: +OK*")
	if elapsed := time.Since(start); elapsed < 2*base {
		t.Errorf("a login after %d failures took %v; want at least %v", lineproto.DefaultAuthFreeFailures+1, elapsed, 2*base)
	}
}

// TestConn_retrSlowReader: a client that reads a large message slowly but
// steadily gets all of it, a message of one 2 MiB line included, because
// the server writes it in bounded pieces, each with its own write deadline
// (HARDENING G4 without cutting off honest clients). Over net.Pipe nothing
// is buffered between the two; the clock is synctest's.
func TestConn_retrSlowReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		msg := "Subject: big\r\n\r\n" + strings.Repeat("x", 2<<20) + "\r\n"
		srv := &pop3.Server{
			Backend:      pop3test.NewMaildrop("alice", "secret", msg),
			InsecureAuth: true,
			Limits:       lineproto.Limits{WriteTimeout: 100 * time.Millisecond},
			Logger:       slog.New(slog.DiscardHandler),
		}
		cc, sc := net.Pipe()
		rec := &writeRecorder{Conn: sc}
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.ServeConn(t.Context(), rec)
		}()
		defer func() { cc.Close(); <-done }()
		c, err := pop3.NewClient(slowConn{cc}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("alice", "secret"); err != nil {
			t.Fatal(err)
		}
		got := readString(t)(c.Retrieve(1))
		if got != msg {
			t.Errorf("Retrieve(1) returned %d octets; want %d", len(got), len(msg))
		}
		if rec.max > 64<<10 {
			t.Errorf("the server wrote %d octets at once; want pieces of at most 64 KiB", rec.max)
		}
	})
}

// slowConn reads at most 16 KiB every 10ms.
type slowConn struct{ net.Conn }

func (c slowConn) Read(p []byte) (int, error) {
	time.Sleep(10 * time.Millisecond)
	return c.Conn.Read(p[:min(len(p), 16<<10)])
}

// writeRecorder records the largest write made to its Conn.
type writeRecorder struct {
	net.Conn
	max int
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.max = max(w.max, len(p))
	return w.Conn.Write(p)
}

// TestConn_noLimits: a negative limit means none: no delay, and no close
// however many errors and failed logins.
func TestConn_noLimits(t *testing.T) {
	s := newServer(t, pop3test.NewMaildrop("alice", "secret"), func(s *pop3.Server) {
		s.SoftErrorLimit = -1
		s.HardErrorLimit = -1
		s.MaxAuthFailures = -1
		s.AuthFailureDelay = -1
		s.ErrorDelay = -1
	})
	c, r := greeted(t, s)
	for range 30 {
		prototest.Run(t, c, r, "C: XYZZY\nS: -ERR invalid command line")
	}
	for range 10 {
		prototest.Run(t, c, r, "C: USER alice\nS: +OK send PASS\nC: PASS wrong\nS: -ERR * authentication failed")
	}
	prototest.Run(t, c, r, "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: +OK*")
}
