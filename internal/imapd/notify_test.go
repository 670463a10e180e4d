package imapd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/imapd"
	"github.com/inetkit/inetkit/internal/prototest"
)

func TestNotify_statusAndEvents(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	mustOK(t, c, r, "a", "CREATE box")
	other, ro := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: b NOTIFY SET STATUS (MAILBOXES box (MessageNew MessageExpunge)) (PERSONAL (MailboxName SubscriptionChange))
S: * STATUS box (MESSAGES 0 UIDNEXT 1 UIDVALIDITY *)
S: b OK NOTIFY completed.
C: c IDLE
S: + idling`)
	mustOK(t, other, ro, "a", "APPEND box {3+}\r\nx\r\n")
	prototest.Run(t, c, r, `S: * STATUS box (MESSAGES 1 UIDNEXT 2 UIDVALIDITY *)`)
	mustOK(t, other, ro, "b", "CREATE new")
	prototest.Run(t, c, r, `S: * LIST () "/" new`)
	mustOK(t, other, ro, "c", "SUBSCRIBE new")
	prototest.Run(t, c, r, `S: * LIST (\Subscribed) "/" new`)
	mustOK(t, other, ro, "d", "DELETE new")
	prototest.Run(t, c, r, `
S: * LIST (\NonExistent) "/" new
C: DONE
S: c OK Idle completed.`)
	// Events are also written at the end of a command.
	mustOK(t, c, r, "s", "SELECT INBOX")
	mustOK(t, other, ro, "e", "APPEND box {3+}\r\ny\r\n")
	u := mustOK(t, c, r, "d", "NOOP")
	if len(u) != 1 || !strings.HasPrefix(u[0], "* STATUS box (MESSAGES 2 UIDNEXT 3 ") {
		t.Errorf("NOOP after an APPEND to a watched mailbox = %q; want its STATUS", u)
	}
	mustOK(t, c, r, "e", "NOTIFY NONE")
	mustOK(t, other, ro, "f", "APPEND box {3+}\r\nz\r\n")
	if u := mustOK(t, c, r, "f", "NOOP"); len(u) != 0 {
		t.Errorf("NOOP after NOTIFY NONE = %q; want nothing", u)
	}
}

func TestNotify_refused(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a NOTIFY SET (SELECTED (MessageNew MessageExpunge MailboxMetadataChange))
S: a NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)] Unsupported NOTIFY events.
C: b NOTIFY SET (PERSONAL (Bogus))
S: b BAD Invalid arguments.
C: c NOTIFY BOGUS
S: c BAD Invalid arguments.
C: d NOTIFY SET (SELECTED-DELAYED (MessageNew (UID FLAGS) MessageExpunge))
S: d OK NOTIFY completed.
C: e NOTIFY SET (SELECTED (MessageNew))
S: e BAD MessageNew and MessageExpunge must be together
C: f NOTIFY SET (SELECTED (FlagChange))
S: f BAD FlagChange requires MessageNew and MessageExpunge
C: g NOTIFY SET (MAILBOXES INBOX (MessageExpunge))
S: g OK NOTIFY completed.`)
}

// FuzzNotify sends NOTIFY with arbitrary arguments to a real server: it
// must answer each with a tagged OK, NO or BAD, and go on serving.
func FuzzNotify(f *testing.F) {
	for _, seed := range []string{
		"NONE",
		"SET (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange))",
		"SET STATUS (MAILBOXES (INBOX box) (MessageNew MessageExpunge)) (PERSONAL (MailboxName))",
		"SET (SUBTREE box (FlagChange)) (SUBSCRIBED NONE) (INBOXES (SubscriptionChange))",
		"SET (SELECTED-DELAYED NONE) (MAILBOXES \"a&AOk-\" (MailboxMetadataChange))",
		"SET (MAILBOXES () (MessageNew))",
		"SET ((",
		"SET STATUS",
	} {
		f.Add(seed)
	}
	s := newServer(f, func(s *imapd.Server) {
		// Most inputs are refused: the error limits would end the session.
		s.SoftErrorLimit, s.HardErrorLimit = -1, -1
	})
	c, r := s.loggedIn(f)
	mustOK(f, c, r, "a", "CREATE box")
	f.Fuzz(func(t *testing.T, args string) {
		if strings.ContainsAny(args, "\r\n{") {
			return // the framing of lines and literals is the decoder's, fuzzed there
		}
		c.SetDeadline(time.Now().Add(prototest.Timeout))
		_, tagged := exchange(t, c, r, "f", "NOTIFY "+args)
		if !strings.HasPrefix(tagged, "f OK ") && !strings.HasPrefix(tagged, "f NO ") && !strings.HasPrefix(tagged, "f BAD ") {
			t.Fatalf("NOTIFY %q = %q", args, tagged)
		}
		mustOK(t, c, r, "n", "NOOP")
	})
}

// TestNotify_authenticatedState checks that NOTIFY's events reach a client
// with no mailbox selected at the end of any command, not only IDLE.
func TestNotify_authenticatedState(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	mustOK(t, c, r, "a", "CREATE box")
	other, ro := s.loggedIn(t)
	mustOK(t, c, r, "b", "NOTIFY SET (MAILBOXES box (MessageNew MessageExpunge))")
	mustOK(t, other, ro, "a", "APPEND box {3+}\r\nx\r\n")
	u := mustOK(t, c, r, "c", "NOOP")
	if len(u) != 1 || !strings.HasPrefix(u[0], "* STATUS box (MESSAGES 1 UIDNEXT 2 ") {
		t.Errorf("NOOP in the authenticated state after an APPEND to a watched mailbox = %q; want its STATUS", u)
	}
}
