package imapd_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/internal/imapd"
	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
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

const imaplibScript = `
import imaplib, ssl, sys
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
m = imaplib.IMAP4(host, port, timeout=10)
print("caps before:", "LOGINDISABLED" in m.capabilities, "STARTTLS" in m.capabilities)
m.starttls(ssl.create_default_context(cafile=cafile))
print("caps after TLS:", "AUTH=PLAIN" in m.capabilities)
print("login:", m.login("alice", "secret")[0])
print("create:", m.create("work/2024")[0])
print("subscribe:", m.subscribe("work/2024")[0])
print("list:", m.list('""', "work*"))
print("lsub:", m.lsub('""', "*"))
print("append:", m.append("work/2024", r"(\Seen)", imaplib.Time2Internaldate(0), b"Subject: hi\r\n\r\nhello\r\n"))
print("status:", m.status("work/2024", "(MESSAGES UNSEEN)"))
print("rename:", m.rename("work/2024", "work/2025")[0])
print("delete:", m.delete("work/2025")[0])
print("namespace:", m.namespace())
print("logout:", m.logout()[0])
`

// TestInterop_imaplib: Python's imaplib, a client that many test suites
// use, works through STARTTLS, login and the mailbox commands.
func TestInterop_imaplib(t *testing.T) {
	python := peers.Need(t, "python3")
	s := newServer(t, func(s *imapd.Server) {
		s.InsecureAuth = false
		s.TLSConfig = testcert.ServerConfig()
	})
	_, _, caFile, err := testcert.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(s.addr, ":")
	var stderr bytes.Buffer
	cmd := exec.Command(python, "-c", imaplibScript, host, port, caFile)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s\n%s", err, out, stderr.Bytes())
	}
	want := `caps before: True True
caps after TLS: True
login: OK
create: OK
subscribe: OK
list: ('OK', [b'(\\HasChildren) "/" work', b'(\\HasNoChildren) "/" work/2024'])
lsub: ('OK', [b'() "/" work/2024'])
append: ('OK', [b'[APPENDUID *'])
status: ('OK', [b'work/2024 (MESSAGES 1 UNSEEN 0)'])
rename: OK
delete: OK
namespace: ('OK', [b'(("" "/")) NIL NIL'])
logout: BYE
`
	if ok, _ := matchLines(want, string(out)); !ok {
		t.Errorf("imaplib said\n%s\nwant\n%s", out, want)
	}
}

// matchLines reports whether got has the lines of want, each matched as a
// pattern in which "*" stands for any text.
func matchLines(want, got string) (bool, int) {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	if len(w) != len(g) {
		return false, -1
	}
	for i := range w {
		pre, post, star := strings.Cut(w[i], "*")
		if !star && w[i] != g[i] || star && !(strings.HasPrefix(g[i], pre) && strings.HasSuffix(g[i], post)) {
			return false, i
		}
	}
	return true, 0
}
