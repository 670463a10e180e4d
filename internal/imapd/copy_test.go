package imapd_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/prototest"
)

func TestCopy_copyUIDAndTryCreate(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 3)
	c, r, _ := s.selected(t)
	mustOK(t, c, r, "a", "CREATE dest")
	st := mustOK(t, c, r, "b", "STATUS dest (UIDVALIDITY)")
	uv := number(t, st, "UIDVALIDITY")
	prototest.Run(t, c, r, fmt.Sprintf(`
C: c STORE 2 +FLAGS.SILENT (\Flagged $Kw)
S: * FLAGS *
S: * OK *
S: c OK Store completed.
C: d COPY 2:3 dest
S: d OK [COPYUID %d 2:3 1:2] Copy completed.
C: e UID COPY 1 nosuch
S: e NO [TRYCREATE] Mailbox doesn't exist: nosuch
C: f UID COPY 99 dest
S: f OK No messages found.
C: g COPY 9 dest
S: g BAD Error in IMAP command: Invalid messageset`, uv))
	prototest.Run(t, c, r, `
C: h SELECT dest
S: * OK [CLOSED] Previous mailbox closed.
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Kw)
S: * OK *
S: * 2 EXISTS
S: * 2 RECENT
S: * OK [UNSEEN 1] First unseen.
S: * OK *
S: * OK [UIDNEXT 3] Predicted next UID
S: * OK *
S: h OK [READ-WRITE] Select completed.
C: i FETCH 1:2 (UID FLAGS)
S: * 1 FETCH (UID 1 FLAGS (\Flagged $Kw \Recent))
S: * 2 FETCH (UID 2 FLAGS (\Recent))
S: i OK Fetch completed.`)
}

// TestMove_untaggedCopyUID checks MOVE (RFC 6851): COPYUID in an untagged
// OK before the expunges, the moved messages gone; and MOVE into the
// selected mailbox itself, which gives them new UIDs.
func TestMove_untaggedCopyUID(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 3)
	c, r, u := s.selected(t)
	uv := number(t, u, "UIDVALIDITY")
	mustOK(t, c, r, "a", "CREATE dest")
	st := mustOK(t, c, r, "b", "STATUS dest (UIDVALIDITY)")
	duv := number(t, st, "UIDVALIDITY")
	other, ro, _ := s.selected(t)
	prototest.Run(t, c, r, fmt.Sprintf(`
C: c MOVE 1 dest
S: * OK [COPYUID %d 1 1] Moved UIDs.
S: * 1 EXPUNGE
S: c OK Move completed.
C: d UID MOVE 3 dest
S: * OK [COPYUID %d 3 2] Moved UIDs.
S: * 2 EXPUNGE
S: d OK Move completed.
C: e MOVE 1 INBOX
S: * OK [COPYUID %d 2 4] Moved UIDs.
S: * 1 EXPUNGE
S: * 1 EXISTS
S: * 1 RECENT
S: e OK Move completed.
C: f MOVE 1 nosuch
S: f NO [TRYCREATE] Mailbox doesn't exist: nosuch`, duv, duv, uv))
	prototest.Run(t, other, ro, `
C: n NOOP
S: * 3 EXPUNGE
S: * 2 EXPUNGE
S: * 1 EXPUNGE
S: * 1 EXISTS
S: * 0 RECENT
S: n OK Noop completed.`)
	mustOK(t, c, r, "g", "EXAMINE INBOX")
	prototest.Run(t, c, r, `
C: h MOVE 1 dest
S: h NO Mailbox is read-only.`)
}

// TestMove_vanished checks MOVE with QRESYNC: the moved messages are
// reported as VANISHED after the untagged COPYUID (RFC 6851 §4.3, RFC 7162
// §3.2.10).
func TestMove_vanished(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 3)
	c, r, _ := s.selected(t, "ENABLE QRESYNC", "CREATE dest")
	u := mustOK(t, c, r, "a", "MOVE 1,3 dest")
	if len(u) != 2 || !strings.HasPrefix(u[0], "* OK [COPYUID ") || !strings.HasSuffix(u[0], " 1,3 1:2] Moved UIDs.") || u[1] != "* VANISHED 1,3" {
		t.Errorf("MOVE with QRESYNC = %q; want COPYUID, then VANISHED 1,3", u)
	}
}
