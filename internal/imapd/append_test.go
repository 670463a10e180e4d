package imapd_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/imapd"
	"github.com/inetkit/inetkit/internal/prototest"
)

func TestAppend_basic(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a APPEND INBOX (\Seen \Recent) "05-Jan-2024 10:00:00 +0000" {12}
S: + Ready for literal data
C: Subject: x
C: 
S: a OK \[APPENDUID * 1\] Append completed.
C: b APPEND inbox {12+}
C: Subject: y
C: 
S: b OK \[APPENDUID * 2\] Append completed.
C: c STATUS INBOX (MESSAGES UNSEEN UIDNEXT)
S: * STATUS INBOX (MESSAGES 2 UNSEEN 1 UIDNEXT 3)
S: c OK Status completed.
C: d APPEND nosuch {12+}
C: Subject: z
C: 
S: d NO [TRYCREATE] Mailbox doesn't exist.
C: e APPEND INBOX (\Bogus) {12+}
C: Subject: z
C: 
S: e BAD *
C: f NOOP
S: f OK Noop completed.`)
}

func TestAppend_multiappend(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a APPEND INBOX {3+}
C: one (\Flagged) {3}
S: + Ready for literal data
C: two {5+}
C: three
S: a OK \[APPENDUID * 1:3\] Append completed.
C: b APPEND nosuch {3+}
C: one {3+}
C: two
S: b NO [TRYCREATE] Mailbox doesn't exist.
C: c STATUS INBOX (MESSAGES)
S: * STATUS INBOX (MESSAGES 3)
S: c OK Status completed.`)
	// All or nothing: a refused second message stores neither.
	prototest.Run(t, c, r, `
C: d APPEND INBOX {3+}
C: one {3+}
C: t`+"\x00"+`o
S: d NO [UNKNOWN-CTE] NUL in a message sent as a literal: send it as a literal8 (BINARY)
C: e STATUS INBOX (MESSAGES)
S: * STATUS INBOX (MESSAGES 3)
S: e OK Status completed.`)
}

func TestAppend_binary(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	if _, err := io.WriteString(c, "a APPEND INBOX ~{5+}\r\nx\x00y\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	prototest.Run(t, c, r, `S: a OK \[APPENDUID * 1\] Append completed.`)
}

func TestAppend_tooBig(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.MaxLiteralBytes = 100 })
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a CAPABILITY
S: * CAPABILITY *APPENDLIMIT=100*
S: a OK Capability completed.
C: b APPEND INBOX {101}
S: b NO [TOOBIG] Literal too large
C: c APPEND INBOX {50+}
C: 12345678901234567890123456789012345678901234567890 {51+}
C: 123456789012345678901234567890123456789012345678901
S: c NO [TOOBIG] Message too large.
C: d STATUS INBOX (MESSAGES APPENDLIMIT)
S: * STATUS INBOX (MESSAGES 0 APPENDLIMIT 100)
S: d OK Status completed.`)
}

func TestAppend_catenate(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a APPEND INBOX (\Seen) CATENATE (TEXT {7+}
C: Subj: x TEXT {6}
S: + Ready for literal data
C: 
C: body)
S: a OK \[APPENDUID * 1\] Append completed.
C: b STATUS INBOX (MESSAGES SIZE)
S: * STATUS INBOX (MESSAGES 1 SIZE 13)
S: b OK Status completed.`)
}

func TestAppend_literalTimeout(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.LiteralReadTimeout = 300 * time.Millisecond })
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a APPEND INBOX {1000}
S: + Ready for literal data`)
	io.WriteString(c, "0123456789")
	got := readUntilEOF(t, c, r)
	if !strings.HasPrefix(got, "* BYE ") {
		t.Errorf("stalled literal: %q; want * BYE", got)
	}
	c2, r2 := s.loggedIn(t)
	prototest.Run(t, c2, r2, `
C: b STATUS INBOX (MESSAGES)
S: * STATUS INBOX (MESSAGES 0)
S: b OK Status completed.`)
}

func TestAppend_utf8(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a ENABLE UTF8=ACCEPT
S: * ENABLED UTF8=ACCEPT
S: a OK Enabled.`)
	io.WriteString(c, "b APPEND INBOX UTF8 (~{15+}\r\nSubject: é\r\n\r\n) UTF8 (~{2+}\r\nx\x00)\r\n")
	prototest.Run(t, c, r, `
S: b OK \[APPENDUID * 1:2\] Append completed.
C: c APPEND INBOX UTF8 (~{1+}
C: x
S: c BAD *
C: d STATUS INBOX (MESSAGES)
S: * STATUS INBOX (MESSAGES 2)
S: d OK Status completed.`)
}

// TestAppend_bareLF checks that a message sent as a literal with bare LF
// line ends is stored with CRLF ones (RFC822.SIZE counts them, RFC 9051
// §2.3.4), and that a literal8 is kept as sent.
func TestAppend_bareLF(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	if _, err := io.WriteString(c, "a APPEND INBOX {15+}\r\nSubject: x\n\nhi\n\r\nb APPEND INBOX ~{15+}\r\nSubject: y\n\nhi\n\r\n"); err != nil {
		t.Fatal(err)
	}
	prototest.Run(t, c, r, `
S: a OK \[APPENDUID * 1\] Append completed.
S: b OK \[APPENDUID * 2\] Append completed.
C: c EXAMINE INBOX
S: * *
S: * *
S: * *
S: * *
S: * *
S: * *
S: * *
S: * *
S: c OK *
C: d FETCH 1:2 RFC822.SIZE
S: * 1 FETCH (RFC822.SIZE 18)
S: * 2 FETCH (RFC822.SIZE 15)
S: d OK Fetch completed.`)
}
