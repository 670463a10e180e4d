package imap_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fault"
	inetimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/imap/imaptest"
	"github.com/inetkit/inetkit/internal/peers"
)

const faultMsg = "From: a@x.test\r\nSubject: hi\r\n\r\nhello\r\n"

func faultServer(t *testing.T, rules ...string) (*imaptest.Server, *fault.Set) {
	t.Helper()
	be := imaptest.NewMemBackend()
	be.AddUser("alice", "secret")
	be.AddUser("bob", "secret")
	be.AddUser("carol", "secret")
	for _, u := range []string{"alice", "bob"} {
		if err := be.Deliver(u, []byte(faultMsg)); err != nil {
			t.Fatal(err)
		}
	}
	set := fault.MustParseSet(1, rules...)
	s := imaptest.NewUnstartedServer(be)
	s.Config.Faults = set
	s.Config.IdleTimeout = 500 * time.Millisecond
	s.Start()
	t.Cleanup(s.Close)
	return s, set
}

const imaplibFaultScript = `
import imaplib, sys
host, port = sys.argv[1], int(sys.argv[2])
def connect(user):
    m = imaplib.IMAP4(host, port, timeout=10)
    m.login(user, "secret")
    return m
try:
    imaplib.IMAP4(host, port, timeout=10)
except imaplib.IMAP4.error as e:
    print("greeting refused:", e)
try:
    connect("carol")
except imaplib.IMAP4.error as e:
    print("login carol:", e)
m = connect("alice")
print("select:", m.select("INBOX")[0])
print("fetch:", m.fetch("1", "(FLAGS)"))
print("fetch again:", m.fetch("1", "(UID)")[0])
try:
    m.search(None, "ALL")
except imaplib.IMAP4.abort as e:
    print("search abort:", e)
m = connect("alice")
m.select("INBOX")
print("after reconnect:", m.search(None, "ALL"))
m.logout()
b = connect("bob")
b.select("INBOX")
print("bob fetch:", b.fetch("1", "(FLAGS)")[0])
b.logout()
`

// TestInterop_imaplibFaults: Python's imaplib sees the NO of a FETCH, the
// BYE that aborts a session and a refused greeting and login; it reconnects
// and goes on; bob, whom no rule names, is served.
func TestInterop_imaplibFaults(t *testing.T) {
	t.Parallel()
	python := peers.Need(t, "python3")
	s, set := faultServer(t,
		`imap connect reply="* BYE [UNAVAILABLE] not now" first=1`,
		`imap login user=carol reply="NO [UNAVAILABLE] try later"`,
		`imap FETCH user=alice reply="NO [UNAVAILABLE] try later" first=1`,
		`imap SEARCH user=alice close="* BYE [UNAVAILABLE] going away" first=1`,
	)
	host, port, _ := strings.Cut(s.Addr, ":")
	var stderr bytes.Buffer
	cmd := exec.Command(python, "-c", imaplibFaultScript, host, port)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, stderr.Bytes())
	}
	want := `greeting refused: b'* BYE [UNAVAILABLE] not now'
login carol: b'[UNAVAILABLE] try later'
select: OK
fetch: ('NO', [b'[UNAVAILABLE] try later'])
fetch again: OK
search abort: command: SEARCH => [UNAVAILABLE] going away
after reconnect: ('OK', [b'1'])
bob fetch: OK
`
	if string(out) != want {
		t.Errorf("imaplib said\n%s\nwant\n%s", out, want)
	}
	for _, st := range set.Rules() {
		if st.Fired != 1 {
			t.Errorf("rule %q fired %d times; want once", st.Rule.String(), st.Fired)
		}
	}
	if st := s.Config.Stats(); st.Errors != 0 {
		t.Errorf("Stats().Errors = %d; want faults not counted", st.Errors)
	}
}

func TestRegress_faultNetwork(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule string
		want string // in the error of Select
	}{
		{`imap SELECT reset`, "reset"},
		{`imap SELECT close`, "EOF"},
		{`imap SELECT hang`, "EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			s, _ := faultServer(t, tc.rule)
			c, err := s.Client(&inetimap.ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Login("alice", "secret").Wait(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = c.Select("INBOX", nil).Wait()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Select = %v; want an error with %q", err, tc.want)
			}
			if strings.Contains(tc.rule, "hang") && time.Since(start) < 400*time.Millisecond {
				t.Errorf("the hang ended after %v; want the idle timeout, 500ms", time.Since(start))
			}
		})
	}
}

func TestRegress_faultAppendDiskFull(t *testing.T) {
	t.Parallel()
	s, _ := faultServer(t, `imap APPEND disk-full`)
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "secret").Wait(); err != nil {
		t.Fatal(err)
	}
	w := c.Append("INBOX", int64(len(faultMsg)), nil)
	w.Write([]byte(faultMsg))
	w.Close()
	if _, err := w.Wait(); err == nil || !strings.Contains(err.Error(), "OVERQUOTA") {
		t.Errorf("Append = %v; want NO [OVERQUOTA]", err)
	}
	// The session goes on after the refused APPEND and its literal.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Errorf("Select after the refused APPEND = %v", err)
	}
}
