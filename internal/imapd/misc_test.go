package imapd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/internal/imapd"
	"github.com/inetkit/inetkit/internal/prototest"
)

func TestMisc_id(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.greeted(t)
	prototest.Run(t, c, r, `
C: a ID ("name" "client" "version" NIL)
S: * ID ("name" "inetkit")
S: a OK ID completed.
C: b ID NIL
S: * ID ("name" "inetkit")
S: b OK ID completed.
C: c ID ("name")
S: c BAD [CLIENTBUG] Syntax error: expected ID parameter list or NIL
C: d ID
S: d BAD [CLIENTBUG] Syntax error: expected ID parameter list or NIL`)
}

func TestMisc_enable(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.greeted(t)
	prototest.Run(t, c, r, `
C: a ENABLE CONDSTORE
S: a BAD Error in IMAP command ENABLE: Not logged in.
C: b LOGIN alice secret
S: b OK \[CAPABILITY *\] Logged in
C: c ENABLE QRESYNC X-UNKNOWN
S: * ENABLED CONDSTORE QRESYNC
S: c OK Enabled.
C: d ENABLE CONDSTORE
S: * ENABLED
S: d OK Enabled.
C: e ENABLE IMAP4rev2
S: * ENABLED IMAP4rev2
S: e OK Enabled.
C: f ENABLE
S: f BAD Missing parameters
C: g NAMESPACE
S: * NAMESPACE (("" "/")) NIL NIL
S: g OK Namespace completed.`)
}

func TestMisc_faults(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) {
		s.Faults = fault.MustParseSet(1,
			`imap connect reply="* BYE [UNAVAILABLE] not now" first=1`,
			`imap NAMESPACE reply="NO [UNAVAILABLE] try later" first=1`,
			`imap STATUS close="* BYE [UNAVAILABLE] going away" first=1`,
		)
	})
	c, r := s.dial(t)
	if got, want := readUntilEOF(t, c, r), "* BYE [UNAVAILABLE] not now\r\n"; got != want {
		t.Errorf("refused greeting: %q; want %q", got, want)
	}
	c, r = s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a NAMESPACE
S: a NO [UNAVAILABLE] try later
C: b NAMESPACE
S: * NAMESPACE (("" "/")) NIL NIL
S: b OK Namespace completed.
C: c STATUS INBOX (MESSAGES)`)
	if got, want := readUntilEOF(t, c, r), "* BYE [UNAVAILABLE] going away\r\n"; got != want {
		t.Errorf("close fault: %q; want %q", got, want)
	}
}

func TestMisc_faultDelay(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) {
		s.Faults = fault.MustParseSet(1, `imap NOOP delay=200ms`)
	})
	c, r := s.greeted(t)
	start := time.Now()
	prototest.Run(t, c, r, `
C: a NOOP
S: a OK Noop completed.`)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("NOOP answered after %v; want the fault's delay", d)
	}
}

func TestMisc_debugWriter(t *testing.T) {
	var debug prototest.Buffer
	s := newServer(t, func(s *imapd.Server) { s.DebugWriter = &debug })
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a LOGOUT
S: * BYE Logging out
S: a OK Logout completed.`)
	readUntilEOF(t, c, r)
	for _, want := range []string{"L1 LOGIN alice secret\r\n", "a OK Logout completed.\r\n"} {
		if !strings.Contains(debug.String(), want) {
			t.Errorf("DebugWriter got %q; want it to hold %q", debug.String(), want)
		}
	}
}

// A disk-full fault at APPEND refuses it before its literal is asked for,
// or after a non-synchronizing one is read; the session goes on.
func TestMisc_faultAppendDiskFull(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) {
		s.Faults = fault.MustParseSet(1, `imap APPEND disk-full first=2`)
	})
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a APPEND INBOX {5}
S: a NO [OVERQUOTA] Insufficient storage
C: b APPEND INBOX {5+}
C: hello
S: b NO [OVERQUOTA] Insufficient storage
C: c APPEND INBOX {5+}
C: hello
S: c OK \[APPENDUID * 1\] Append completed.`)
}
