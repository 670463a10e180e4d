package imap_test

import (
	"testing"

	"github.com/inetkit/inetkit/internal/prototest"
)

// TestExpunge_deferredDuringFetch checks that another session's expunges
// are not reported during FETCH, STORE and SEARCH, whose results use
// sequence numbers, but are by UID FETCH and NOOP (RFC 9051 §7.5.1), and
// that sequence numbers stay those the client knows until then.
func TestExpunge_deferredDuringFetch(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 4)
	c, r, _ := s.selected(t)
	other, ro, _ := s.selected(t)
	prototest.Run(t, c, r, `
C: a STORE 1,3 +FLAGS.SILENT (\Deleted)
S: a OK Store completed.
C: b EXPUNGE
S: * 3 EXPUNGE
S: * 1 EXPUNGE
S: b OK Expunge completed.`)
	prototest.Run(t, other, ro, `
C: a FETCH 4 (UID)
S: * 4 FETCH (UID 4)
S: a OK Fetch completed.
C: b STORE 2 FLAGS (\Seen)
S: * 2 FETCH (FLAGS (\Seen))
S: b OK Store completed.
C: c NOOP
S: * 3 EXPUNGE
S: * 1 EXPUNGE
S: c OK Noop completed.
C: d FETCH 1:2 (UID FLAGS)
S: * 1 FETCH (UID 2 FLAGS (\Seen))
S: * 2 FETCH (UID 4 FLAGS ())
S: d OK Fetch completed.`)
}

func TestExpunge_uidExpunge(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 3)
	c, r, _ := s.selected(t)
	prototest.Run(t, c, r, `
C: a STORE 1:3 +FLAGS.SILENT (\Deleted)
S: a OK Store completed.
C: b UID EXPUNGE 2:3
S: * 3 EXPUNGE
S: * 2 EXPUNGE
S: b OK Expunge completed.
C: c UID EXPUNGE 7
S: c OK Expunge completed.
C: d EXAMINE INBOX
S: * OK [CLOSED] Previous mailbox closed.
S: * FLAGS *
S: * OK *
S: * 1 EXISTS
S: * 0 RECENT
S: * OK [UNSEEN 1] First unseen.
S: * OK *
S: * OK [UIDNEXT 4] Predicted next UID
S: * OK *
S: d OK [READ-ONLY] Examine completed.
C: e EXPUNGE
S: e OK Expunge ignored: Mailbox is read-only.`)
}

// TestExpunge_vanished checks that with QRESYNC expunges are reported as
// VANISHED (RFC 7162 §3.2.10), flag changes of others carry the UID, and
// the tagged OK of EXPUNGE the HIGHESTMODSEQ.
func TestExpunge_vanished(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 3)
	c, r, _ := s.selected(t, "ENABLE QRESYNC")
	other, ro, _ := s.selected(t)
	mustOK(t, other, ro, "a", `STORE 2 +FLAGS (\Flagged)`)
	u := mustOK(t, c, r, "a", "NOOP")
	if !containsPrefix(u, `* 2 FETCH (UID 2 FLAGS (\Flagged \Recent) MODSEQ (`) {
		t.Errorf("NOOP after another session's STORE = %q; want FETCH with UID, FLAGS, MODSEQ", u)
	}
	mustOK(t, c, r, "b", `STORE 1,3 +FLAGS.SILENT (\Deleted)`)
	u, tagged := exchange(t, c, r, "c", "EXPUNGE")
	if len(u) != 1 || u[0] != "* VANISHED 1,3" {
		t.Errorf("EXPUNGE with QRESYNC = %q; want * VANISHED 1,3", u)
	}
	if !containsPrefix([]string{tagged}, "c OK [HIGHESTMODSEQ ") {
		t.Errorf("EXPUNGE with QRESYNC = %q; want HIGHESTMODSEQ", tagged)
	}
}
