package smtp_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
)

const ehloShort = `
C: EHLO x
S: 250-smtptest.local Hello x
S: 250-*
S: 250-*
S: 250-*
S: 250-*
S: 250-*
S: 250-*
S: 250-*
S: 250 *
`

// HARDENING S1: only CRLF.CRLF ends DATA; exactly one final reply and at
// most one message, none from evil@x.
func TestServer_smuggling(t *testing.T) {
	variants := []string{"\n.\n", "\r.\r", "\r.\n", "\n.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r", "\r\n\x00.\r\n"}
	for _, strict := range []bool{false, true} {
		for _, v := range variants {
			t.Run(fmt.Sprintf("strict=%v/%q", strict, v), func(t *testing.T) {
				rec := smtptest.NewRecorder()
				s, _ := newServer(t, rec, func(cfg *smtp.Server) { cfg.StrictLineEndings = strict })
				c, r := dialRaw(t, s.Addr)
				prototest.Run(t, c, r, ehloShort+`
C: MAIL FROM:<a@x>
S: 250 *
C: RCPT TO:<v@x>
S: 250 *
C: DATA
S: 354 *
`)
				io.WriteString(c, "Subject: a\r\n\r\nbody"+v+"MAIL FROM:<evil@x>\r\nRCPT TO:<v@x>\r\nDATA\r\nsmuggled\r\n.\r\n")
				final := readReply(t, r)
				want := "250 "
				if strict {
					want = "550 5.5.2 "
				}
				if !strings.HasPrefix(final[0], want) {
					t.Fatalf("final reply %q, want %q...", final, want)
				}
				// The next reply must answer our NOOP: nothing was smuggled.
				prototest.Run(t, c, r, "C: NOOP\nS: 250 2.0.0 *\nC: QUIT\nS: 221 *")
				msgs := rec.Messages()
				if strict && len(msgs) != 0 || !strict && len(msgs) != 1 {
					t.Fatalf("%d messages stored", len(msgs))
				}
				for _, m := range msgs {
					if m.Envelope.From != "a@x" {
						t.Errorf("message from %q", m.Envelope.From)
					}
					if !strings.Contains(string(m.Data), "smuggled") {
						t.Errorf("smuggled text not in the body: %q", m.Data)
					}
				}
			})
		}
	}
}

// HARDENING S2: text sent before 354 never becomes the message.
func TestServer_unauthorizedPipelining(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, nil)
	c, r := dialRaw(t, s.Addr)
	io.WriteString(c, "EHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nFrom: a\r\n\r\nhi\r\n.\r\nQUIT\r\n")
	readReply(t, r) // EHLO
	prototest.Run(t, c, r, "S: 250 *\nS: 250 *\nS: 554 5.5.0 *")
	expectEOF(t, c, r)
	if n := len(rec.Messages()); n != 0 {
		t.Errorf("%d messages stored", n)
	}
}

// HARDENING S3, G13: plaintext pipelined after STARTTLS is never answered
// inside TLS.
func TestServer_startTLSInjection(t *testing.T) {
	s, logs := newServer(t, nil, func(cfg *smtp.Server) { cfg.TLSConfig = testcert.ServerConfig() })
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, "C: EHLO x")
	if l := readReply(t, r); l[len(l)-1] != "250 STARTTLS" {
		t.Fatalf("EHLO reply %q", l)
	}
	io.WriteString(c, "STARTTLS\r\nEHLO injected\r\n")
	prototest.Run(t, c, r, "S: 220 2.0.0 *")
	if r.Buffered() != 0 {
		t.Fatalf("server sent more after 220")
	}
	tc := tls.Client(c, testcert.ClientConfig())
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	// Had EHLO injected been run, MAIL would be accepted and a 250 would
	// come first.
	tr := prototest.Client(t, tc, `
C: MAIL FROM:<a@x>
S: 503 5.5.1 *
C: EHLO x
S: 250-smtptest.local Hello x
`)
	lines := readReply(t, tr)
	for _, l := range lines {
		if strings.Contains(l, "STARTTLS") {
			t.Errorf("STARTTLS offered inside TLS: %q", lines)
		}
	}
	if !strings.Contains(logs.String(), "discarded plaintext sent after the STARTTLS command") {
		t.Errorf("no log line for the injection")
	}
}

func TestServer_startTLS(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, func(cfg *smtp.Server) {
		cfg.TLSConfig = testcert.ServerConfig()
		cfg.InsecureAuth = false
	})
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, "C: EHLO x")
	readReply(t, r)
	prototest.Run(t, c, r, "C: STARTTLS now\nS: 501 5.5.4 *\nC: MAIL FROM:<a@x>\nS: 250 *\nC: STARTTLS\nS: 503 5.5.1 *\nC: RSET\nS: 250 *\nC: STARTTLS\nS: 220 *")
	tc := tls.Client(c, testcert.ClientConfig())
	tr := prototest.Client(t, tc, "C: EHLO y\nS: 250-smtptest.local Hello y")
	lines := readReply(t, tr)
	if !strings.Contains(strings.Join(lines, "\n"), "AUTH PLAIN LOGIN") {
		t.Errorf("AUTH not offered inside TLS: %q", lines)
	}
	prototest.Run(t, tc, tr, `
C: STARTTLS
S: 503 5.5.1 *
C: AUTH PLAIN AHVzZXIAcGFzcw==
S: 235 2.0.0 *
C: MAIL FROM:<a@x>
S: 250 *
C: RCPT TO:<b@x>
S: 250 *
C: DATA
S: 354 *
C: hi
C: .
S: 250 *
`)
	m := waitMessages(t, rec, 1)[0]
	if m.Envelope.AuthUser != "user" {
		t.Errorf("AuthUser = %q", m.Envelope.AuthUser)
	}
	if !strings.Contains(string(m.Data), "with ESMTPSA id") || !strings.Contains(string(m.Data), "from y (") {
		t.Errorf("Received field: %q", m.Data)
	}
}

// HARDENING S4: an oversize message is read to its end, refused with
// 552 5.3.4, and the session stays in step, however the body is split.
func TestServer_oversize(t *testing.T) {
	const limit = 2000
	body := strings.Repeat("0123456789abcdef\r\n", 3*limit/18) + ".\r\nNOOP\r\n"
	for _, split := range []string{"whole", "bytes", "random"} {
		t.Run(split, func(t *testing.T) {
			rec := smtptest.NewRecorder()
			s, _ := newServer(t, rec, func(cfg *smtp.Server) { cfg.MaxMessageBytes = limit })
			c, r := dialRaw(t, s.Addr)
			prototest.Run(t, c, r, ehloShort+"C: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *\nC: DATA\nS: 354 *")
			b := []byte(body)
			for len(b) > 0 {
				n := len(b)
				switch split {
				case "bytes":
					n = 1
				case "random":
					n = min(n, 1+rand.IntN(300))
				}
				if _, err := c.Write(b[:n]); err != nil {
					t.Fatal(err)
				}
				b = b[n:]
			}
			prototest.Run(t, c, r, "S: 552 5.3.4 *\nS: 250 2.0.0 *\nC: MAIL FROM:<a@x> SIZE=5000\nS: 552 5.3.4 *")
			if n := len(rec.Messages()); n != 0 {
				t.Errorf("%d messages stored", n)
			}
		})
	}
}

// HARDENING S12 (size part): one huge header line is refused by the size
// cap, not by a line cap, and the server keeps serving.
func TestServer_headerBomb(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, func(cfg *smtp.Server) { cfg.MaxMessageBytes = 64 << 10 })
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShort+"C: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *\nC: DATA\nS: 354 *")
	io.WriteString(c, "X-Bomb: "+strings.Repeat("a", 1<<20)+"\r\n"+strings.Repeat("X-H: 1\r\n", 20000)+"\r\nbody\r\n.\r\n")
	prototest.Run(t, c, r, "S: 552 5.3.4 *\nC: NOOP\nS: 250 *")
}

// HARDENING S5, G1: an overlong command line gets 500 5.5.2 and the
// connection is closed, without waiting for the end of the line.
func TestServer_lineTooLong(t *testing.T) {
	s, _ := newServer(t, nil, nil)
	t.Run("MAIL", func(t *testing.T) {
		c, r := dialRaw(t, s.Addr)
		prototest.Run(t, c, r, ehloShort)
		io.WriteString(c, "MAIL FROM:<"+strings.Repeat("a", 10000)+"@x>\r\n")
		prototest.Run(t, c, r, "S: 500 5.5.2 Line too long")
		expectEOF(t, c, r)
	})
	t.Run("noLF", func(t *testing.T) {
		c, r := dialRaw(t, s.Addr)
		go c.Write([]byte(strings.Repeat("A", 1<<20))) // never ends the line
		prototest.Run(t, c, r, "S: 500 5.5.2 Line too long")
		expectEOF(t, c, r)
	})
	t.Run("SASL", func(t *testing.T) {
		c, r := dialRaw(t, s.Addr)
		prototest.Run(t, c, r, ehloShort+"C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6")
		io.WriteString(c, strings.Repeat("A", 5000)+"\r\n")
		prototest.Run(t, c, r, "S: 500 5.5.2 Line too long")
		expectEOF(t, c, r)
	})
}

// HARDENING S6: a client that vanishes mid-DATA stores nothing.
func TestServer_vanishMidData(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, nil)
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShort+"C: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *\nC: DATA\nS: 354 *\nC: Subject: half")
	c.Close()
	// A later session still works and its message is the only one stored.
	c2, r2 := dialRaw(t, s.Addr)
	prototest.Run(t, c2, r2, ehloShort+"C: MAIL FROM:<second@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *\nC: DATA\nS: 354 *\nC: whole\nC: .\nS: 250 *")
	msgs := waitMessages(t, rec, 1)
	if len(msgs) != 1 || msgs[0].Envelope.From != "second@x" {
		t.Errorf("messages: %+v", msgs)
	}
}

// HARDENING S7, G7: control characters and invalid UTF-8 in commands are
// refused, logged escaped, and the session goes on.
func TestServer_badCharacters(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, logs := newServer(t, rec, nil)
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShort)
	io.WriteString(c, "MAIL FROM:<a\rb@x>\r\n")
	prototest.Run(t, c, r, "S: 501 5.1.7 *\nC: MAIL FROM:<a@x>\nS: 250 *")
	io.WriteString(c, "RCPT TO:<b@x>\x00\r\n")
	prototest.Run(t, c, r, "S: 501 5.1.7 *")
	io.WriteString(c, "NOOP\x00\r\n")
	prototest.Run(t, c, r, "S: 501 5.5.2 *")
	io.WriteString(c, "EHLO \xff\xfe\r\n")
	prototest.Run(t, c, r, "S: 501 5.5.2 *\nC: RCPT TO:<b@x>\nS: 250 *\nC: DATA\nS: 354 *\nC: x\nC: .\nS: 250 *")
	m := waitMessages(t, rec, 1)[0]
	if strings.ContainsAny(string(m.Data[:strings.Index(string(m.Data), "\r\n")]), "\r\x00") {
		t.Errorf("Return-Path holds a control character: %q", m.Data)
	}
	l := logs.String()
	for _, want := range []string{`\x00`, `\xff`, `\r`} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %s escape", want)
		}
	}
	if strings.Contains(l, "\x00") || strings.Contains(l, "\xff") {
		t.Errorf("log holds raw bytes")
	}
}

// HARDENING S8: recipients beyond the limit get 452 4.5.3.
func TestServer_tooManyRecipients(t *testing.T) {
	s, _ := newServer(t, nil, func(cfg *smtp.Server) { cfg.MaxRecipients = 3 })
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, "C: EHLO x")
	readReply(t, r)
	prototest.Run(t, c, r, "C: MAIL FROM:<a@x>\nS: 250 *")
	for i := range 6 {
		io.WriteString(c, fmt.Sprintf("RCPT TO:<r%d@x>\r\n", i))
		want := "250 *"
		if i >= 3 {
			want = "452 4.5.3 *"
		}
		prototest.Run(t, c, r, "S: "+want)
	}
}

// HARDENING S10: failed logins are delayed and end the session after
// MaxAuthFailures.
func TestServer_authBruteForce(t *testing.T) {
	rec := smtptest.NewRecorder()
	rec.Users = map[string]string{"user": "secret"}
	const delay = 50 * time.Millisecond
	s, _ := newServer(t, rec, func(cfg *smtp.Server) {
		cfg.AuthFailureDelay = delay
		cfg.MaxAuthFailures = 3
	})
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShort)
	start := time.Now()
	prototest.Run(t, c, r, `
C: AUTH PLAIN AHVzZXIAd3Jvbmc=
S: 535 5.7.8 *
C: AUTH LOGIN dXNlcg==
S: 334 UGFzc3dvcmQ6
C: d3Jvbmc=
S: 535 5.7.8 *
C: AUTH PLAIN AHVzZXIAd3Jvbmc=
S: 535 5.7.8 *
S: 421 4.7.0 *
`)
	if d := time.Since(start); d < 3*delay {
		t.Errorf("3 failures took %v, want >= %v", d, 3*delay)
	}
	expectEOF(t, c, r)
}

func TestServer_auth(t *testing.T) {
	rec := smtptest.NewRecorder()
	rec.Users = map[string]string{"user": "secret"}
	s, _ := newServer(t, rec, nil)
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, `
C: AUTH PLAIN AHVzZXIAc2VjcmV0
S: 503 5.5.1 Send EHLO or HELO first
`+ehloShort+`
C: AUTH CRAM-MD5
S: 504 5.7.4 *
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: *
S: 501 5.0.0 *
C: AUTH PLAIN
S: 334 
C: AGJvYgBzZWNyZXQ=
S: 535 5.7.8 *
C: AUTH PLAIN !!!
S: 454 4.7.0 *
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: dXNlcg==
S: 334 UGFzc3dvcmQ6
C: c2VjcmV0
S: 235 2.0.0 *
C: AUTH PLAIN AHVzZXIAc2VjcmV0
S: 503 5.5.1 *
`)
}

// HARDENING S16: a client that talks before the greeting is served.
func TestServer_earlyTalker(t *testing.T) {
	s, _ := newServer(t, nil, nil)
	c, err := dialTCP(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "EHLO x\r\nNOOP\r\n")
	r := prototest.Client(t, c, "S: 220 *\nS: 250-smtptest.local Hello x")
	readReply(t, r)
	prototest.Run(t, c, r, "S: 250 2.0.0 *")
}

// HARDENING G3: an idle client gets 421 4.4.2 and is disconnected.
func TestServer_idleTimeout(t *testing.T) {
	s, _ := newServer(t, nil, func(cfg *smtp.Server) { cfg.IdleTimeout = 100 * time.Millisecond })
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, "S: 421 4.4.2 smtptest.local Idle timeout*")
	expectEOF(t, c, r)
}

// HARDENING G5: after the soft limit errors are delayed, after the hard
// limit the session ends with 421 4.7.0.
func TestServer_errorFlood(t *testing.T) {
	const delay = 20 * time.Millisecond
	s, _ := newServer(t, nil, func(cfg *smtp.Server) {
		cfg.SoftErrorLimit = 3
		cfg.HardErrorLimit = 6
		cfg.ErrorDelay = delay
	})
	c, r := dialRaw(t, s.Addr)
	start := time.Now()
	go io.WriteString(c, strings.Repeat("XYZZY\r\n", 100))
	for range 6 {
		prototest.Run(t, c, r, "S: 500 5.5.1 Command not recognized")
	}
	prototest.Run(t, c, r, "S: 421 4.7.0 *")
	if rest := expectEOF(t, c, r); rest != "" {
		t.Errorf("after 421: %q", rest)
	}
	if d := time.Since(start); d < 3*delay {
		t.Errorf("took %v, want >= %v", d, 3*delay)
	}
}

// HARDENING G6: HTTP request lines close the connection without echo.
func TestServer_http(t *testing.T) {
	s, _ := newServer(t, nil, nil)
	for _, req := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "POST / HTTP/1.1\r\n", "CONNECT x:25 HTTP/1.1\r\n", "get /index.html http/1.0\r\n"} {
		t.Run(strings.Fields(req)[0], func(t *testing.T) {
			c, r := dialRaw(t, s.Addr)
			io.WriteString(c, req)
			got := expectEOF(t, c, r)
			if strings.Contains(got, "GET") || strings.Contains(got, "Host") || strings.Contains(got, "index") {
				t.Errorf("reply echoes the request: %q", got)
			}
			if !strings.HasPrefix(got, "221 2.7.0 ") {
				t.Errorf("reply %q", got)
			}
		})
	}
}

// HARDENING G8: bare LF ends a command line.
func TestServer_bareLF(t *testing.T) {
	s, _ := newServer(t, nil, nil)
	c, r := dialRaw(t, s.Addr)
	io.WriteString(c, "NOOP\n")
	prototest.Run(t, c, r, "S: 250 2.0.0 *")
	io.WriteString(c, "HELO x\nMAIL FROM:<a@x>\n")
	prototest.Run(t, c, r, "S: 250 *\nS: 250 *")
}

func TestServer_badSequence(t *testing.T) {
	s, _ := newServer(t, nil, nil)
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, `
C: MAIL FROM:<a@x>
S: 503 5.5.1 Send EHLO or HELO first
C: DATA
S: 503 5.5.1 *
C: BDAT 6
C: QUIT
S: 503 5.5.1 *
C: EHLO
S: 501 5.5.2 Domain/address argument required for HELO
C: HELO x
S: 250 *
C: RCPT TO:<b@x>
S: 502 5.5.1 *
C: DATA
S: 502 5.5.1 *
C: MAIL FROM:<a@x>
S: 250 *
C: MAIL FROM:<a@x>
S: 250 *
C: DATA
S: 502 5.5.1 *
C: DATA x
S: 501 5.5.4 *
C: RCPT TO:bad
S: 501 5.5.2 *
C: MAIL FROM:<a@x> FOO=1
S: 500 5.5.4 *
C: HELP
S: 502 5.5.1 *
C: 
S: 500 5.5.2 *
C: STARTTLS
S: 502 5.5.1 *
C: XYZZY
S: 500 5.5.1 Command not recognized
C: QUIT
S: 221 *
`)
}

func TestServer_bdat(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, func(cfg *smtp.Server) { cfg.MaxMessageBytes = 100 })
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShort+"C: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *")
	// Chunks hold what would be commands, and CRLF.CRLF, which means
	// nothing in BDAT.
	io.WriteString(c, "BDAT 11\r\nQUIT\r\n.\r\nab")
	prototest.Run(t, c, r, "S: 250 2.0.0 *")
	io.WriteString(c, "BDAT 6 LAST\r\nRSET\r\n")
	prototest.Run(t, c, r, "S: 250 2.0.0 *")
	m := waitMessages(t, rec, 1)[0]
	if got, want := string(m.Body()), "QUIT\r\n.\r\nabRSET\r\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	// Too big: the chunk is skipped, not run.
	prototest.Run(t, c, r, "C: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *")
	io.WriteString(c, "BDAT 200 LAST\r\n"+strings.Repeat("QUIT\r\n", 40)[:200])
	prototest.Run(t, c, r, "S: 552 5.3.4 *\nC: NOOP\nS: 250 *")
	// A malformed size ends the session: the octets that follow are
	// unknowable.
	io.WriteString(c, "BDAT x\r\n")
	prototest.Run(t, c, r, "S: 501 5.5.4 *")
	expectEOF(t, c, r)
}

func TestServer_backendErrors(t *testing.T) {
	errPlain := errors.New("database is locked")
	rec := smtptest.NewRecorder()
	rec.RecipientFunc = func(rcpt string) error {
		switch rcpt {
		case "unknown@x":
			return smtp.ErrNoSuchMailbox
		case "broken@x":
			return fmt.Errorf("lookup: %w", errPlain)
		case "full@x":
			return smtp.ErrInsufficientStorage
		case "weird@x":
			return &smtp.Error{Code: 550, Message: "line1\r\n250 injected"}
		}
		return nil
	}
	rec.DeliverFunc = func(env *smtp.Envelope, _ []byte) error {
		switch env.From {
		case "temp@x":
			return &smtp.Error{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"}
		case "plain@x":
			return errPlain
		case "bye@x":
			return &smtp.Error{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Going down"}
		}
		return nil
	}
	s, logs := newServer(t, rec, nil)
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShort+`
C: MAIL FROM:<a@x>
S: 250 *
C: RCPT TO:<unknown@x>
S: 550 5.1.1 No such mailbox here
C: RCPT TO:<broken@x>
S: 451 4.3.0 Internal server error, try again later
C: RCPT TO:<full@x>
S: 452 4.3.1 Insufficient system storage
C: RCPT TO:<weird@x>
S: 550 5.0.0 line1  250 injected
C: RSET
S: 250 *
C: MAIL FROM:<temp@x>
S: 250 *
C: RCPT TO:<b@x>
S: 250 *
C: DATA
S: 354 *
C: x
C: .
S: 452 4.2.2 Mailbox full
C: MAIL FROM:<plain@x>
S: 250 *
C: RCPT TO:<b@x>
S: 250 *
C: DATA
S: 354 *
C: x
C: .
S: 451 4.3.0 *
C: MAIL FROM:<bye@x>
S: 250 *
C: RCPT TO:<b@x>
S: 250 *
C: DATA
S: 354 *
C: x
C: .
S: 421 4.3.0 Going down
`)
	expectEOF(t, c, r)
	if n := len(rec.Messages()); n != 0 {
		t.Errorf("%d messages stored", n)
	}
	if l := logs.String(); !strings.Contains(l, "database is locked") || strings.Count(l, "backend error") != 2 {
		t.Errorf("log: %s", l)
	}
}

func TestServer_utf8(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, nil)
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShort+`
C: MAIL FROM:<jörg@example.org>
S: 553 5.6.7 *
C: MAIL FROM:<jörg@example.org> SMTPUTF8 BODY=8BITMIME
S: 250 *
C: RCPT TO:<δοκιμή@παράδειγμα.δοκιμή>
S: 250 *
C: DATA
S: 354 *
C: Subject: ünïcödé
C: .
S: 250 *
`)
	m := waitMessages(t, rec, 1)[0]
	if !m.Envelope.UTF8 || m.Envelope.To[0] != "δοκιμή@παράδειγμα.δοκιμή" {
		t.Errorf("envelope %+v", m.Envelope)
	}
	if !strings.Contains(string(m.Data), "with UTF8SMTP id") {
		t.Errorf("Received: %q", m.Data)
	}
}

func TestServer_maxConnsPerIP(t *testing.T) {
	s, _ := newServer(t, nil, func(cfg *smtp.Server) { cfg.MaxConnsPerIP = 1 })
	dialRaw(t, s.Addr)
	c, err := dialTCP(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, _ := io.ReadAll(c)
	if string(b) != "421 4.7.0 Too many connections, try again later\r\n" {
		t.Errorf("second connection got %q", b)
	}
}

// HARDENING G2: a command trickled one byte at a time is cut off by the
// per-command deadline, though each byte arrives well within the idle
// timeout.
func TestServer_slowloris(t *testing.T) {
	s, _ := newServer(t, nil, func(cfg *smtp.Server) {
		cfg.IdleTimeout = time.Second
		cfg.CommandTimeout = 300 * time.Millisecond
	})
	c, r := dialRaw(t, s.Addr) // greeted
	start := time.Now()
	go func() {
		for _, b := range []byte("NOOP NOOP NOOP NOOP\r\n") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond) // the client's pace, not a wait for the server
		}
	}()
	prototest.Run(t, c, r, "S: 421 4.4.2 *")
	expectEOF(t, c, r)
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("cut off after %v; the deadline is 300ms", d)
	}
}

// MaxAuthFailures -1 means no limit, as every negative Limits field does:
// the session goes on after any number of failed AUTH commands.
func TestServer_maxAuthFailuresNone(t *testing.T) {
	rec := smtptest.NewRecorder()
	rec.Users = map[string]string{"user": "secret"}
	s, _ := newServer(t, rec, func(cfg *smtp.Server) { cfg.MaxAuthFailures = -1 })
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShort)
	for range 5 {
		prototest.Run(t, c, r, "C: AUTH PLAIN AHVzZXIAd3Jvbmc=\nS: 535 5.7.8 *")
	}
	prototest.Run(t, c, r, "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nS: 235 2.0.0 *\nC: QUIT\nS: 221 *")
}

// A failed AUTH past SoftErrorLimit waits the longer of AuthFailureDelay
// and ErrorDelay, never their sum.
func TestServer_authFailureDelayNotSummed(t *testing.T) {
	const delay = 150 * time.Millisecond
	rec := smtptest.NewRecorder()
	rec.Users = map[string]string{"user": "secret"}
	s, _ := newServer(t, rec, func(cfg *smtp.Server) {
		cfg.SoftErrorLimit = 1
		cfg.ErrorDelay = delay
		cfg.AuthFailureDelay = delay
		cfg.AuthLimiter = &lineproto.AuthLimiter{} // no wait before the check
	})
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShort+"C: XYZZY\nS: 500 5.5.1 *")
	start := time.Now()
	prototest.Run(t, c, r, "C: AUTH PLAIN AHVzZXIAd3Jvbmc=\nS: 535 5.7.8 *")
	if d := time.Since(start); d < delay || d >= 2*delay {
		t.Errorf("a failed AUTH past the soft limit took %v; want %v (the longer delay, not the sum)", d, delay)
	}
}

// The AuthLimiter counts failures across connections: past its free
// failures a fresh connection waits before its credentials are checked,
// right or wrong, and a success forgives the address and the account.
func TestServer_authLimiter(t *testing.T) {
	const base = 200 * time.Millisecond
	lim := &lineproto.AuthLimiter{Base: base, Max: base, FreeFailures: 2}
	rec := smtptest.NewRecorder()
	rec.Users = map[string]string{"user": "secret"}
	s, _ := newServer(t, rec, func(cfg *smtp.Server) { cfg.AuthLimiter = lim })
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	auth := func(creds, reply string) time.Duration {
		t.Helper()
		c, r := dialRaw(t, s.Addr)
		prototest.Run(t, c, r, ehloShort)
		start := time.Now()
		prototest.Run(t, c, r, "C: AUTH PLAIN "+creds+"\nS: "+reply)
		d := time.Since(start)
		c.Close()
		return d
	}
	const wrong, right = "AHVzZXIAd3Jvbmc=", "AHVzZXIAc2VjcmV0"
	for range 2 {
		if d := auth(wrong, "535 5.7.8 *"); d >= base {
			t.Errorf("a free failure took %v", d)
		}
	}
	if got := lim.Delay(loopback, "user"); got != base {
		t.Errorf("after 2 failures on 2 connections, Delay = %v; want %v", got, base)
	}
	if d := auth(right, "235 2.0.0 *"); d < base {
		t.Errorf("the right password past the free failures took %v; want >= %v", d, base)
	}
	if got := lim.Delay(loopback, "user"); got != 0 {
		t.Errorf("after a success, Delay = %v; want 0", got)
	}
	if d := auth(right, "235 2.0.0 *"); d >= base {
		t.Errorf("a login after a success took %v", d)
	}
}

// A nil AuthLimiter is the server's own, with AuthFailureDelay as its base,
// shared by all the server's connections.
func TestServer_authLimiterDefault(t *testing.T) {
	const delay = 100 * time.Millisecond
	rec := smtptest.NewRecorder()
	rec.Users = map[string]string{"user": "secret"}
	s, _ := newServer(t, rec, func(cfg *smtp.Server) { cfg.AuthFailureDelay = delay })
	for range lineproto.DefaultAuthFreeFailures {
		c, r := dialRaw(t, s.Addr)
		prototest.Run(t, c, r, ehloShort+"C: AUTH PLAIN AHVzZXIAd3Jvbmc=\nS: 535 5.7.8 *")
		c.Close()
	}
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShort)
	start := time.Now()
	prototest.Run(t, c, r, "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nS: 235 2.0.0 *")
	if d := time.Since(start); d < delay {
		t.Errorf("a login after %d failures on other connections took %v; want >= %v", lineproto.DefaultAuthFreeFailures, d, delay)
	}
}

// StrictLineEndings judges each message by its own octets: a bare LF in
// one DATA does not make the next message, sent with BDAT, refused.
func TestServer_strictAfterBareData(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, func(cfg *smtp.Server) { cfg.StrictLineEndings = true })
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, "C: HELO x\nS: 250 *\nC: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *\nC: DATA\nS: 354 *")
	io.WriteString(c, "bare\nLF\r\n.\r\n")
	prototest.Run(t, c, r, "S: 550 5.5.2 *\nC: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *")
	io.WriteString(c, "BDAT 6 LAST\r\ngood\r\n")
	prototest.Run(t, c, r, "S: 250 *")
	if msgs := waitMessages(t, rec, 1); string(msgs[0].Body()) != "good\r\n" {
		t.Errorf("messages %+v", msgs)
	}
}

// The TLS handshake, after STARTTLS or on an implicit-TLS connection, must
// end within CommandTimeout, however long IdleTimeout is.
func TestServer_handshakeTimeout(t *testing.T) {
	configure := func(cfg *smtp.Server) {
		cfg.TLSConfig = testcert.ServerConfig()
		cfg.IdleTimeout = time.Minute
		cfg.CommandTimeout = 200 * time.Millisecond
	}
	t.Run("STARTTLS", func(t *testing.T) {
		s, _ := newServer(t, nil, configure)
		c, r := dialRaw(t, s.Addr)
		prototest.Run(t, c, r, "C: STARTTLS\nS: 220 2.0.0 *")
		start := time.Now()
		expectEOF(t, c, r) // no ClientHello
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("closed after %v", d)
		}
	})
	t.Run("implicit", func(t *testing.T) {
		s := smtptest.NewUnstartedServer(smtptest.NewRecorder())
		configure(s.Config)
		s.StartTLS()
		defer s.Close()
		c, err := dialTCP(s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		if b, err := io.ReadAll(c); len(b) != 0 || err != nil && !strings.Contains(err.Error(), "reset") {
			t.Errorf("read %q, %v; want EOF", b, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("closed after %v", d)
		}
	})
}

// MaxLineBytes above the read buffer's default is honoured, up to 64 KiB: a
// 9000-octet line is served with MaxLineBytes 10000, refused with 8000.
func TestServer_maxLineBytesLarge(t *testing.T) {
	for _, tc := range []struct {
		max  int
		want string
	}{
		{10000, "S: 500 5.5.4 Unknown MAIL FROM argument"},
		{8000, "S: 500 5.5.2 Line too long"},
	} {
		s, _ := newServer(t, nil, func(cfg *smtp.Server) { cfg.MaxLineBytes = tc.max })
		c, r := dialRaw(t, s.Addr)
		prototest.Run(t, c, r, ehloShort)
		io.WriteString(c, "MAIL FROM:<"+strings.Repeat("a", 8980)+"@x> BOGUS=1\r\n")
		prototest.Run(t, c, r, tc.want)
	}
}
