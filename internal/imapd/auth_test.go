package imapd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/internal/imapd"
	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/lineproto"
)

func TestAuth_login(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.greeted(t)
	prototest.Run(t, c, r, `
C: a LOGIN alice wrong
S: a NO [AUTHENTICATIONFAILED] Authentication failed.
C: b LOGIN "alice" {6+}
C: secret
S: b OK \[CAPABILITY *\] Logged in
C: c LOGIN alice secret
S: c BAD Error in IMAP command LOGIN: Already logged in.
C: d AUTHENTICATE PLAIN
S: d BAD Error in IMAP command AUTHENTICATE: Already logged in.
C: e STARTTLS
S: e BAD Error in IMAP command STARTTLS: Already logged in.`)
}

func TestAuth_loginCapabilitiesChange(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `C: a CAPABILITY`)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(line, "AUTH=PLAIN") || strings.Contains(line, "LOGINDISABLED") || !strings.Contains(line, "IMAP4rev2") {
		t.Errorf("CAPABILITY after login = %q; want no AUTH= nor LOGINDISABLED", line)
	}
}

func TestAuth_authenticatePlain(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.greeted(t)
	// AGFsaWNlAHNlY3JldA== is "\x00alice\x00secret".
	prototest.Run(t, c, r, `
C: a AUTHENTICATE PLAIN
S: + 
C: *
S: a BAD Authentication aborted by client.
C: b AUTHENTICATE PLAIN
S: + 
C: !!!
S: b BAD Invalid base64 data in continued response
C: c AUTHENTICATE CRAM-MD5
S: c NO Unsupported authentication mechanism.
C: d AUTHENTICATE PLAIN Ym9iAGFsaWNlAHNlY3JldA==
S: d NO [AUTHORIZATIONFAILED] Authorization failed.
C: e AUTHENTICATE PLAIN AGFsaWNlAHdyb25n
S: e NO [AUTHENTICATIONFAILED] Authentication failed.
C: f AUTHENTICATE PLAIN
S: + 
C: AGFsaWNlAHNlY3JldA==
S: f OK \[CAPABILITY *\] Logged in`)
	c2, r2 := s.greeted(t)
	prototest.Run(t, c2, r2, `
C: g AUTHENTICATE PLAIN YWxpY2UAYWxpY2UAc2VjcmV0
S: g OK \[CAPABILITY *\] Logged in`)
}

func TestAuth_tooManyFailures(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.MaxAuthFailures = 2 })
	c, r := s.greeted(t)
	prototest.Run(t, c, r, `
C: a LOGIN alice x
S: a NO [AUTHENTICATIONFAILED] Authentication failed.
C: b LOGIN alice y
S: b NO [AUTHENTICATIONFAILED] Authentication failed.`)
	if got, want := readUntilEOF(t, c, r), "* BYE Too many authentication failures\r\n"; got != want {
		t.Errorf("after the last failure: %q; want %q", got, want)
	}
}

func TestAuth_failureDelayAndLimiter(t *testing.T) {
	lim := lineproto.NewAuthLimiter(100 * time.Millisecond)
	lim.FreeFailures = 1
	s := newServer(t, func(s *imapd.Server) {
		s.AuthFailureDelay = 150 * time.Millisecond
		s.AuthLimiter = lim
	})
	c, r := s.greeted(t)
	start := time.Now()
	prototest.Run(t, c, r, `
C: a LOGIN alice x
S: a NO [AUTHENTICATIONFAILED] Authentication failed.`)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("failed login answered after %v; want at least AuthFailureDelay", d)
	}
	// The limiter counts across connections: a second connection's
	// login waits for it too.
	c2, r2 := s.greeted(t)
	start = time.Now()
	prototest.Run(t, c2, r2, `
C: x LOGIN alice y
S: x NO [AUTHENTICATIONFAILED] Authentication failed.`)
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("second failure answered after %v; want the limiter's wait and the failure delay", d)
	}
	prototest.Run(t, c, r, `
C: b LOGIN alice secret
S: b OK \[CAPABILITY *\] Logged in`)
}

func TestAuth_loginFault(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) {
		s.Faults = fault.MustParseSet(1, `imap login user=alice reply="NO [UNAVAILABLE] try later" first=1`)
	})
	c, r := s.greeted(t)
	prototest.Run(t, c, r, `
C: a LOGIN alice secret
S: a NO [UNAVAILABLE] try later
C: b LOGIN alice secret
S: b OK \[CAPABILITY *\] Logged in`)
}

// Quoted strings: escapes are read; CR, LF or NUL in one, or an
// unterminated one, is BAD and the session goes on (HARDENING I8).
func TestAuth_quotedStrings(t *testing.T) {
	s := newServer(t, nil)
	s.be.AddUser(`us"er`, `p\w`)
	c, r := s.greeted(t)
	prototest.Run(t, c, r, `
C: a LOGIN "alice
S: a BAD *
C: b LOGIN "al`+"\x00"+`ice" secret
S: b BAD *
C: n NOOP
S: n OK Noop completed.
C: c LOGIN "us\"er" "p\\w"
S: c OK \[CAPABILITY *\] Logged in`)
}
