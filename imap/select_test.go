package imap_test

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/prototest"
)

// exchange sends the command line cmd with tag and returns the untagged
// responses and the tagged one that answer it.
func exchange(t testing.TB, c net.Conn, r *bufio.Reader, tag, cmd string) (untagged []string, tagged string) {
	t.Helper()
	if _, err := fmt.Fprintf(c, "%s %s\r\n", tag, cmd); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s %s: %v (after %q)", tag, cmd, err, untagged)
		}
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(line, tag+" ") {
			return untagged, line
		}
		untagged = append(untagged, line)
	}
}

// mustOK runs cmd and fails the test unless its answer is OK.
func mustOK(t testing.TB, c net.Conn, r *bufio.Reader, tag, cmd string) []string {
	t.Helper()
	u, tagged := exchange(t, c, r, tag, cmd)
	if !strings.HasPrefix(tagged, tag+" OK") {
		t.Fatalf("%s %s = %q (untagged %q); want OK", tag, cmd, tagged, u)
	}
	return u
}

// deliver delivers n messages to alice's INBOX.
func (s *testServer) deliver(t testing.TB, n int) {
	t.Helper()
	for i := range n {
		msg := fmt.Sprintf("From: a@example.test\r\nSubject: message %d\r\n\r\nbody %d\r\n", i+1, i+1)
		if err := s.be.Deliver("alice", []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
}

// selected logs in as alice and selects INBOX, after the commands of pre
// (such as "ENABLE QRESYNC"); it returns the SELECT's untagged responses.
func (s *testServer) selected(t testing.TB, pre ...string) (net.Conn, *bufio.Reader, []string) {
	t.Helper()
	c, r := s.loggedIn(t)
	for i, cmd := range pre {
		mustOK(t, c, r, "P"+strconv.Itoa(i), cmd)
	}
	u := mustOK(t, c, r, "S1", "SELECT INBOX")
	return c, r, u
}

// number returns the number the response code or item name is followed
// by in lines ("UIDVALIDITY" in "* OK [UIDVALIDITY 7] ..."), or fails.
func number(t testing.TB, lines []string, name string) uint64 {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(name) + ` \(?(\d+)`)
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in %q", name, lines)
	return 0
}

func TestSelect_responses(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 2)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a EXAMINE INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS ()] Read-only mailbox.
S: * 2 EXISTS
S: * ? RECENT
S: * OK [UNSEEN 1] First unseen.
S: * OK \[UIDVALIDITY *\] UIDs valid
S: * OK [UIDNEXT 3] Predicted next UID
S: * OK \[HIGHESTMODSEQ *\] Highest
S: a OK [READ-ONLY] Examine completed.
C: b SELECT INBOX
S: * OK [CLOSED] Previous mailbox closed.
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted.
S: * 2 EXISTS
S: * 2 RECENT
S: * OK [UNSEEN 1] First unseen.
S: * OK \[UIDVALIDITY *\] UIDs valid
S: * OK [UIDNEXT 3] Predicted next UID
S: * OK \[HIGHESTMODSEQ *\] Highest
S: b OK [READ-WRITE] Select completed.
C: c SELECT nosuch
S: * OK [CLOSED] Previous mailbox closed.
S: c NO [NONEXISTENT] Mailbox doesn't exist.
C: d FETCH 1 FLAGS
S: d BAD Error in IMAP command FETCH: No mailbox selected.`)

	// The first read-write session took \Recent; another sees none.
	c2, r2 := s.loggedIn(t)
	prototest.Run(t, c2, r2, `
C: a SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK \[PERMANENTFLAGS *\] Flags permitted.
S: * 2 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen.
S: * OK \[UIDVALIDITY *\] UIDs valid
S: * OK [UIDNEXT 3] Predicted next UID
S: * OK \[HIGHESTMODSEQ *\] Highest
S: a OK [READ-WRITE] Select completed.`)
}

func TestSelect_imap4rev2(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 1)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a ENABLE IMAP4rev2
S: * ENABLED IMAP4rev2
S: a OK Enabled.
C: b SELECT inbox
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK \[PERMANENTFLAGS *\] Flags permitted.
S: * LIST (\HasNoChildren) "/" INBOX
S: * 1 EXISTS
S: * OK \[UIDVALIDITY *\] UIDs valid
S: * OK [UIDNEXT 2] Predicted next UID
S: * OK \[HIGHESTMODSEQ *\] Highest
S: b OK [READ-WRITE] Select completed.`)
}

func TestSelect_qresyncNotEnabled(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a SELECT INBOX (QRESYNC (1 1))
S: a BAD QRESYNC not enabled
C: b SELECT INBOX (CONDSTORE)
S: * FLAGS *
S: * OK *
S: * 0 EXISTS
S: * 0 RECENT
S: * OK *
S: * OK *
S: * OK \[HIGHESTMODSEQ *\] Highest
S: b OK [READ-WRITE] Select completed.`)
}

// TestSelect_qresync resynchronizes a session after another expunged a
// message and changed the flags of another (RFC 7162 §3.2.5).
func TestSelect_qresync(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 4)
	c, r, u := s.selected(t, "ENABLE QRESYNC")
	uidValidity := number(t, u, "UIDVALIDITY")
	modseq := number(t, u, "HIGHESTMODSEQ")
	mustOK(t, c, r, "L", "LOGOUT")

	c2, r2, _ := s.selected(t)
	mustOK(t, c2, r2, "a", `STORE 3 +FLAGS (\Deleted)`)
	mustOK(t, c2, r2, "b", `EXPUNGE`)
	mustOK(t, c2, r2, "c", `STORE 2 +FLAGS (\Flagged)`)

	c3, r3 := s.loggedIn(t)
	mustOK(t, c3, r3, "a", "ENABLE QRESYNC")
	u, tagged := exchange(t, c3, r3, "b", fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d 1:4))", uidValidity, modseq))
	if tagged != "b OK [READ-WRITE] Select completed." {
		t.Fatalf("SELECT (QRESYNC) = %q", tagged)
	}
	want := []string{"* VANISHED (EARLIER) 3", `* 2 FETCH (UID 2 FLAGS (\Flagged) MODSEQ (`}
	for _, w := range want {
		if !containsPrefix(u, w) {
			t.Errorf("SELECT (QRESYNC) responses %q lack %q", u, w)
		}
	}
	if containsPrefix(u, "* 1 FETCH") || containsPrefix(u, "* 3 FETCH") {
		t.Errorf("SELECT (QRESYNC) responses %q: FETCH of an unchanged message", u)
	}

	// A wrong UIDVALIDITY gets no resync; sequence match data that says
	// the client knew message 3 at sequence 3 holds: it was not there.
	u, _ = exchange(t, c3, r3, "c", fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", uidValidity+1, modseq))
	if containsPrefix(u, "* VANISHED") || containsPrefix(u, "* 2 FETCH") {
		t.Errorf("SELECT (QRESYNC) with a wrong UIDVALIDITY: %q", u)
	}
	u, _ = exchange(t, c3, r3, "d", fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d 1:4 (1:3 1,2,4)))", uidValidity, modseq))
	if containsPrefix(u, "* VANISHED") {
		t.Errorf("SELECT (QRESYNC) with matching sequence data reported %q", u)
	}
}

// containsPrefix reports whether one of lines starts with prefix.
func containsPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func TestClose_expungesSilently(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 3)
	c, r, _ := s.selected(t)
	other, ro, _ := s.selected(t)
	mustOK(t, c, r, "a", `STORE 1,3 +FLAGS.SILENT (\Deleted)`)
	u := mustOK(t, c, r, "b", "CLOSE")
	if len(u) != 0 {
		t.Errorf("CLOSE wrote %q; want nothing", u)
	}
	prototest.Run(t, c, r, `
C: c FETCH 1 FLAGS
S: c BAD Error in IMAP command FETCH: No mailbox selected.`)
	u = mustOK(t, other, ro, "n", "NOOP")
	if !containsPrefix(u, "* 3 EXPUNGE") || !containsPrefix(u, "* 1 EXPUNGE") {
		t.Errorf("other session's NOOP = %q; want the two expunges", u)
	}
}

func TestClose_readOnlyKeepsDeleted(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 2)
	c, r, _ := s.selected(t)
	mustOK(t, c, r, "a", `STORE 1 +FLAGS (\Deleted)`)
	mustOK(t, c, r, "b", "EXAMINE INBOX")
	mustOK(t, c, r, "c", "CLOSE")
	mustOK(t, c, r, "d", "SELECT INBOX")
	mustOK(t, c, r, "e", "UNSELECT")
	u := mustOK(t, c, r, "f", "STATUS INBOX (MESSAGES)")
	if len(u) != 1 || u[0] != "* STATUS INBOX (MESSAGES 2)" {
		t.Errorf("STATUS after CLOSE of EXAMINE and UNSELECT = %q; want 2 messages", u)
	}
}

// TestSelect_condStoreEnabledWhileSelected checks that the first CONDSTORE
// enabling command issued while a mailbox is selected (here FETCH MODSEQ)
// gets the mailbox's HIGHESTMODSEQ (RFC 7162 §3.1), once.
func TestSelect_condStoreEnabledWhileSelected(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 1)
	c, r, _ := s.selected(t)
	u := mustOK(t, c, r, "a", "FETCH 1 (MODSEQ)")
	if !containsPrefix(u, "* OK [HIGHESTMODSEQ ") {
		t.Errorf("FETCH MODSEQ, the first CONDSTORE enabling command = %q; want HIGHESTMODSEQ", u)
	}
	if u = mustOK(t, c, r, "b", "FETCH 1 (MODSEQ)"); containsPrefix(u, "* OK [HIGHESTMODSEQ ") {
		t.Errorf("second FETCH MODSEQ = %q; want no HIGHESTMODSEQ", u)
	}
}
