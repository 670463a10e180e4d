package imap_test

import (
	"bufio"
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/testcert"
)

// capsOf returns the capabilities of a "* CAPABILITY" line or of the
// [CAPABILITY] code of a status line.
func capsOf(t *testing.T, line string) []string {
	t.Helper()
	if rest, ok := strings.CutPrefix(line, "* CAPABILITY "); ok {
		return strings.Fields(rest)
	}
	_, rest, ok := strings.Cut(line, "[CAPABILITY ")
	list, _, ok2 := strings.Cut(rest, "]")
	if !ok || !ok2 {
		t.Fatalf("no capabilities in %q", line)
	}
	return strings.Fields(list)
}

// The literal capability is LITERAL+ in every state, never with LITERAL-
// (RFC 7888 §5), and ID too; APPENDLIMIT is MaxLiteralBytes, and is
// advertised after login.
func TestRegress_capabilitiesEveryState(t *testing.T) {
	s, _ := newRegressServer(t, func(s *imap.Server) { s.MaxLiteralBytes = 12345 })
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sess := &session{t: t, conn: c, r: bufio.NewReader(c)}
	states := map[string][]string{"greeting": capsOf(t, sess.line())}
	states["CAPABILITY before login"] = capsOf(t, sess.cmd("a CAPABILITY")[0])
	if l := sess.cmd("b STARTTLS"); !strings.HasPrefix(last(l), "b OK") {
		t.Fatalf("STARTTLS = %q", l)
	}
	tc := tls.Client(c, testcert.ClientConfig())
	sess.conn, sess.r = tc, bufio.NewReader(tc)
	states["CAPABILITY after STARTTLS"] = capsOf(t, sess.cmd("c CAPABILITY")[0])
	// A LOGIN in non-synchronising literals, as LITERAL+ allows.
	sess.write("d LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n")
	login := sess.until("d")
	if !strings.HasPrefix(last(login), "d OK ") {
		t.Fatalf("LOGIN in non-synchronising literals = %q", login)
	}
	states["reply to LOGIN"] = capsOf(t, last(login))
	states["CAPABILITY after login"] = capsOf(t, sess.cmd("e CAPABILITY")[0])
	for state, caps := range states {
		if !slices.Contains(caps, "LITERAL+") || slices.Contains(caps, "LITERAL-") || !slices.Contains(caps, "ID") {
			t.Errorf("%s: %q; want LITERAL+, not LITERAL-, and ID", state, caps)
		}
		// RFC 7889 §2 does not say whether APPENDLIMIT is shown before
		// login: after login it must be, and wherever it is shown it is
		// MaxLiteralBytes.
		loggedIn := strings.Contains(state, "LOGIN") || strings.Contains(state, "after login")
		if loggedIn && !slices.Contains(caps, "APPENDLIMIT=12345") {
			t.Errorf("%s: %q; want APPENDLIMIT=12345", state, caps)
		}
		for _, c := range caps {
			if strings.HasPrefix(c, "APPENDLIMIT") && c != "APPENDLIMIT=12345" {
				t.Errorf("%s: %q; want APPENDLIMIT=12345 only", state, caps)
			}
		}
	}
}
