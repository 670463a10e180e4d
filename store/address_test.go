package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/pop3/pop3test"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
	"github.com/inetkit/inetkit/store"
)

func TestValidateAddress(t *testing.T) {
	valid := []string{
		"alice@example.org",
		"a@b",
		"alice@localhost",
		"first.last+tag@example.org",
		"!#$%&'*+-/=?^_`{|}~@example.org",
		"bøb@exämple.org",
		"用户@例子.广告",
		"alice@[192.0.2.1]",
		"alice@[IPv6:2001:db8::1]",
		"alice@[x-tag:abc]",
		"alice@a-b.example.org",
		"alice@" + strings.Repeat("a", 63) + ".org",
		strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57),
	}
	invalid := map[string]string{
		"":                      "empty",
		"\xff\xfe":              "not valid UTF-8",
		"alice\xff@example.org": "not valid UTF-8",
		"alice":                 "no @",
		"@example.org":          "empty local part",
		"alice@":                "empty domain",
		"al ice@example.org":    "space",
		"alice@exa mple.org":    "space",
		"alice\t@example.org":   "tab",
		"alice\x00@example.org": "NUL",
		"alice\x7f@example.org": "DEL",
		"alice\u0085@x.org":     "C1 control",
		"alice\u00a0@x.org":     "no-break space",
		"alice\u202e@x.org":     "bidi override",
		"alice\u200b@x.org":     "zero-width space",
		`"al ice"@example.org`:  "quoted local part",
		"al\"ice@example.org":   "quote",
		"al\\ice@example.org":   "backslash",
		"<alice@example.org>":   "angle brackets",
		"alice@@example.org":    "two @",
		"alice@exa@mple.org":    "@ in the domain",
		".alice@example.org":    "leading dot",
		"alice.@example.org":    "trailing dot",
		"al..ice@example.org":   "two dots",
		"alice@example..org":    "empty label",
		"alice@example.org.":    "trailing dot in domain",
		"alice@-example.org":    "label starts with hyphen",
		"alice@example-.org":    "label ends with hyphen",
		"alice@exa_mple.org":    "underscore in domain",
		"alice@[300.0.0.1]":     "bad IPv4 literal",
		"alice@[IPv6:zz::1]":    "bad IPv6 literal",
		"alice@[192.0.2.1":      "unclosed literal",
		"alice@" + strings.Repeat("a", 64) + ".org": "label over 63",
		strings.Repeat("a", 250) + "@x.org":         "over 254 octets",
	}
	for _, a := range valid {
		if err := store.ValidateAddress(a); err != nil {
			t.Errorf("ValidateAddress(%q) = %v; want nil", a, err)
		}
	}
	for a, why := range invalid {
		if err := store.ValidateAddress(a); err == nil {
			t.Errorf("ValidateAddress(%q) = nil; want an error (%s)", a, why)
		}
	}
}

// notAddresses are logins and recipients that any-login mode must refuse.
var notAddresses = []string{"\xff\xfe", "\xff@example.org", "alice@\xfeexample.org", "\ufffd@example.org", "alice", "al ice@example.org", "alice\x01@example.org", "alice@exa\u202emple.org", strings.Repeat("a", 250) + "@x.org"}

// In any-login mode only a mail address logs in (and is made a user);
// through every path that makes users.
func TestAuthenticate_anyLoginNeedsAnAddress(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "", &store.Options{AnyLogin: true})
	apop := st.POP3Backend().(pop3.BackendAPOP)
	for _, a := range notAddresses {
		if _, err := st.Authenticate(ctx, a, "pw"); !errors.Is(err, store.ErrAuthFailed) {
			t.Errorf("Authenticate(%q) = %v; want ErrAuthFailed", a, err)
		}
		if _, err := apop.LoginAPOP(ctx, a, "<1@h>", "c4c9334bac560ecc979e58001b3e22fb"); !errors.Is(err, pop3.ErrAuthFailed) {
			t.Errorf("LoginAPOP(%q) = %v; want pop3.ErrAuthFailed", a, err)
		}
		if err := st.Deliver(ctx, []string{a}, []byte("Subject: x\r\n\r\nx\r\n"), time.Now()); err == nil {
			t.Errorf("Deliver to %q = nil; want an error", a)
		}
		var se *smtp.Error
		if err := st.SMTPBackend().CheckRecipient(ctx, &smtp.Envelope{}, a); !errors.As(err, &se) || se.Code != 553 {
			t.Errorf("CheckRecipient(%q) = %v; want 553", a, err)
		}
	}
	if users, _ := st.Users(ctx); len(users) != 0 {
		t.Errorf("users made: %q; want none", users)
	}
	if _, err := st.Authenticate(ctx, "Bøb@Exämple.org", "pw"); err != nil {
		t.Errorf("Authenticate(a UTF-8 address) = %v", err)
	}
	// An account needs no mail address, and keeps its password in
	// any-login mode.
	if err := st.AddUser(ctx, "carol", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(ctx, "carol", "pw"); err != nil {
		t.Errorf("Authenticate(account carol) = %v", err)
	}
	if _, err := st.Authenticate(ctx, "carol", "bad"); !errors.Is(err, store.ErrAuthFailed) {
		t.Errorf("Authenticate(carol, wrong password) = %v; want ErrAuthFailed", err)
	}
	if err := st.AddUser(ctx, "\xff\xfe", "pw"); err == nil {
		t.Error("AddUser(invalid UTF-8) = nil; want an error")
	}
}

// wireConn is a raw text connection for tests that send what a client
// library would refuse to.
type wireConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialWire(t *testing.T, addr string) *wireConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := &wireConn{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.line() // greeting
	return c
}

// line reads a line of the reply.
func (c *wireConn) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %q, %v", l, err)
	}
	return l
}

// cmd sends a line and returns the first reply line that starts with one
// of prefixes.
func (c *wireConn) cmd(line string, prefixes ...string) string {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		c.t.Fatal(err)
	}
	for {
		l := c.line()
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				return l
			}
		}
	}
}

// Over the wire: LOGIN with octets that are not UTF-8, in each of IMAP's
// string forms, or with a name that is not a mail address, is never
// accepted and makes no user.
func TestIMAPBackend_loginNotAnAddress(t *testing.T) {
	st, addr := newIMAPStore(t)
	for _, login := range []string{"\xff\xfe", "\"\xff\xfe\"", "alice", "\"al ice@example.org\""} {
		c := dialWire(t, addr)
		if r := c.cmd("a LOGIN "+login+" pw", "a "); strings.HasPrefix(r, "a OK") {
			t.Errorf("LOGIN %q pw = %q; want a refusal", login, r)
		}
	}
	for _, login := range []string{"\xff\xfe", "\xff@example.org", "al ice@example.org"} {
		c := dialWire(t, addr)
		c.cmd(fmt.Sprintf("a LOGIN {%d}", len(login)), "+")
		if r := c.cmd(login+" pw", "a "); !strings.HasPrefix(r, "a NO [AUTHENTICATIONFAILED]") {
			t.Errorf("LOGIN {%d} %q pw = %q; want NO [AUTHENTICATIONFAILED]", len(login), login, r)
		}
	}
	if users, _ := st.Users(context.Background()); len(users) != 0 {
		t.Errorf("users made: %q; want none", users)
	}
}

// Over the wire: POP3 USER/PASS and SMTP RCPT with a name that is not a
// mail address are refused.
func TestPOP3SMTP_notAnAddress(t *testing.T) {
	st := openStore(t, "", &store.Options{AnyLogin: true})
	ps := pop3test.NewServer(st.POP3Backend())
	defer ps.Close()
	ss := smtptest.NewServer(st.SMTPBackend())
	defer ss.Close()
	for _, a := range []string{"\xff\xfe", "\xff@example.org", "alice", "a\x01@example.org"} {
		p := dialWire(t, ps.Addr)
		p.cmd("USER "+a, "+OK", "-ERR")
		if r := p.cmd("PASS pw", "+OK", "-ERR"); !strings.HasPrefix(r, "-ERR") {
			t.Errorf("POP3 USER %q, PASS = %q; want -ERR", a, r)
		}
		s := dialWire(t, ss.Addr)
		s.cmd("EHLO test", "250 ")
		s.cmd("MAIL FROM:<bob@example.org>", "250 ")
		if r := s.cmd("RCPT TO:<"+a+">", "2", "4", "5"); !strings.HasPrefix(r, "5") {
			t.Errorf("SMTP RCPT TO:<%q> = %q; want 5xx", a, r)
		}
	}
	if users, _ := st.Users(context.Background()); len(users) != 0 {
		t.Errorf("users made: %q; want none", users)
	}
}
