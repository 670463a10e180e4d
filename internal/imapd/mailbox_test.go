package imapd_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/prototest"
)

func TestMailbox_createListDelete(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a LIST "" ""
S: * LIST (\Noselect) "/" ""
S: a OK List completed.
C: b CREATE box/
S: b OK Create completed.
C: c CREATE box/sub/leaf
S: c OK Create completed.
C: d CREATE box
S: d NO [ALREADYEXISTS] Mailbox already exists.
C: e CREATE inbox
S: e NO [ALREADYEXISTS] Mailbox already exists.
C: f LIST "" *
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\HasChildren) "/" box
S: * LIST (\HasChildren) "/" box/sub
S: * LIST (\HasNoChildren) "/" box/sub/leaf
S: f OK List completed.
C: g LIST "" %
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\HasChildren) "/" box
S: g OK List completed.
C: h LIST box/ %
S: * LIST (\HasChildren) "/" box/sub
S: h OK List completed.
C: i LIST "" inbox
S: * LIST (\HasNoChildren) "/" INBOX
S: i OK List completed.
C: j DELETE box/sub
S: j OK Delete completed.
C: k LIST "" box/%
S: * LIST (\Noselect \HasChildren) "/" box/sub
S: k OK List completed.
C: l DELETE INBOX
S: l NO INBOX can't be deleted.
C: m DELETE nosuch
S: m NO [NONEXISTENT] Mailbox doesn't exist.
C: n LIST "" b*f
S: * LIST (\HasNoChildren) "/" box/sub/leaf
S: n OK List completed.
C: o CREATE "a*b"
S: o NO [CANNOT] Character not allowed in mailbox name
C: p RENAME box "x%"
S: p NO [CANNOT] Character not allowed in mailbox name`)
}

func TestMailbox_renameAndStatus(t *testing.T) {
	s := newServer(t, nil)
	if err := s.be.Deliver("alice", []byte("Subject: one\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a STATUS INBOX (MESSAGES UNSEEN DELETED SIZE APPENDLIMIT)
S: * STATUS INBOX (MESSAGES 1 UNSEEN 1 DELETED 0 SIZE 22 APPENDLIMIT 67108864)
S: a OK Status completed.
C: b CREATE old/child
S: b OK Create completed.
C: c RENAME old new
S: c OK Rename completed.
C: d LIST "" *
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\HasChildren) "/" new
S: * LIST (\HasNoChildren) "/" new/child
S: d OK List completed.
C: e STATUS old (MESSAGES)
S: e NO [NONEXISTENT] Mailbox doesn't exist.
C: f STATUS new (MESSAGES RECENT)
S: * STATUS new (MESSAGES 0 RECENT 0)
S: f OK Status completed.
C: g STATUS INBOX (FOO)
S: g BAD *
C: h RENAME new INBOX
S: h NO [ALREADYEXISTS] Mailbox already exists.`)
}

func TestMailbox_specialUse(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a CREATE Sent (USE (\Sent))
S: a OK Create completed.
C: b CREATE Junk (USE (\Nonsense))
S: b NO [USEATTR] Unsupported special-use attribute \Nonsense
C: c LIST (SPECIAL-USE) "" *
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: c OK List completed.
C: d LIST "" % RETURN (SPECIAL-USE)
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\HasNoChildren \Sent) "/" Sent
S: d OK List completed.`)
}

func TestMailbox_subscriptions(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a CREATE m/test
S: a OK Create completed.
C: b CREATE m/test2/test
S: b OK Create completed.
C: c CREATE m/gone
S: c OK Create completed.
C: d SUBSCRIBE m/test
S: d OK Subscribe completed.
C: e SUBSCRIBE m/test2/test
S: e OK Subscribe completed.
C: f SUBSCRIBE m/gone
S: f OK Subscribe completed.
C: g DELETE m/gone
S: g OK Delete completed.
C: h LSUB "" m/%
S: * LSUB () "/" m/gone
S: * LSUB () "/" m/test
S: * LSUB (\Noselect) "/" m/test2
S: h OK Lsub completed.
C: i LIST (SUBSCRIBED) "" m/*
S: * LIST (\NonExistent \Subscribed) "/" m/gone
S: * LIST (\Subscribed) "/" m/test
S: * LIST (\Subscribed) "/" m/test2/test
S: i OK List completed.
C: j LIST (SUBSCRIBED RECURSIVEMATCH) "" m/% RETURN (CHILDREN)
S: * LIST (\NonExistent \Subscribed) "/" m/gone
S: * LIST (\Subscribed \HasNoChildren) "/" m/test
S: * LIST (\HasChildren) "/" m/test2 ("CHILDINFO" ("SUBSCRIBED"))
S: j OK List completed.
C: k LIST (RECURSIVEMATCH) "" %
S: k BAD Invalid LIST selection options: RECURSIVEMATCH alone
C: l LIST "" m/% RETURN (SUBSCRIBED)
S: * LIST (\Subscribed \HasNoChildren) "/" m/test
S: * LIST (\HasChildren) "/" m/test2
S: l OK List completed.
C: m UNSUBSCRIBE m/test
S: m OK Unsubscribe completed.
C: n LSUB "" m/test
S: n OK Lsub completed.`)
}

func TestMailbox_listStatus(t *testing.T) {
	s := newServer(t, nil)
	if err := s.be.Deliver("alice", []byte("Subject: one\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a CREATE p/q
S: a OK Create completed.
C: b LIST "" * RETURN (STATUS (MESSAGES UNSEEN))
S: * LIST (\HasNoChildren) "/" INBOX
S: * STATUS INBOX (MESSAGES 1 UNSEEN 1)
S: * LIST (\HasChildren) "/" p
S: * STATUS p (MESSAGES 0 UNSEEN 0)
S: * LIST (\HasNoChildren) "/" p/q
S: * STATUS p/q (MESSAGES 0 UNSEEN 0)
S: b OK List completed.`)
}

func TestMailbox_mutf7(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a CREATE "&AOQ-pfel"
S: a OK Create completed.
C: b LIST "" "&AOQ-*"
S: * LIST (\HasNoChildren) "/" &AOQ-pfel
S: b OK List completed.
C: c CREATE "&Jjo!"
S: c NO *
C: d ENABLE UTF8=ACCEPT
S: * ENABLED UTF8=ACCEPT
S: d OK Enabled.
C: e LIST "" "ä*"
S: * LIST (\HasNoChildren) "/" "äpfel"
S: e OK List completed.`)
}

// STATUS of the selected mailbox first reports the mailbox's changes to
// the session, as Dovecot does, so that the counts agree with its view.
func TestMailbox_statusOfSelected(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a SELECT INBOX
S: * FLAGS *
S: * OK \[PERMANENTFLAGS *\] *
S: * 0 EXISTS
S: * 0 RECENT
S: * OK \[UIDVALIDITY *\] *
S: * OK \[UIDNEXT 1\] *
S: * OK \[HIGHESTMODSEQ *\] *
S: a OK \[READ-WRITE\] Select completed.`)
	if err := s.be.Deliver("alice", []byte("Subject: one\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	prototest.Run(t, c, r, `
C: b STATUS INBOX (MESSAGES UIDNEXT)
S: * 1 EXISTS
S: * 1 RECENT
S: * STATUS INBOX (MESSAGES 1 UIDNEXT 2)
S: b OK Status completed.
C: c DELETE INBOX
S: c NO INBOX can't be deleted.`)
}

// Deleting the selected mailbox ends the session after the OK, as in
// Dovecot.
func TestMailbox_deleteSelected(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a CREATE box
S: a OK Create completed.
C: b EXAMINE box
S: * FLAGS *
S: * OK \[PERMANENTFLAGS *\] *
S: * 0 EXISTS
S: * 0 RECENT
S: * OK \[UIDVALIDITY *\] *
S: * OK \[UIDNEXT 1\] *
S: * OK \[HIGHESTMODSEQ *\] *
S: b OK \[READ-ONLY\] Examine completed.
C: c DELETE box
S: c OK Delete completed.
S: * BYE Selected mailbox was deleted, have to disconnect.`)
	if got := readUntilEOF(t, c, r); got != "" {
		t.Errorf("after the BYE: %q; want EOF", got)
	}
	c, r = s.loggedIn(t)
	prototest.Run(t, c, r, `
C: d LIST "" box
S: d OK List completed.`)
}

// INBOX matches patterns case-insensitively; other names do not.
func TestMailbox_listInboxCase(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a CREATE inboxes
S: a OK Create completed.
C: b CREATE INBOX/sub
S: b OK Create completed.
C: c LIST "" inbox*
S: * LIST (\HasChildren) "/" INBOX
S: * LIST (\HasNoChildren) "/" INBOX/sub
S: * LIST (\HasNoChildren) "/" inboxes
S: c OK List completed.
C: d LIST "" Inbox%
S: * LIST (\HasChildren) "/" INBOX
S: d OK List completed.
C: e LIST inbox/ %
S: * LIST (\HasNoChildren) "/" INBOX/sub
S: e OK List completed.
C: f LIST "" INBOXES
S: f OK List completed.`)
}

// A pattern of many wildcards is answered at once (HARDENING N5's LIST
// counterpart): runs of wildcards are collapsed.
func TestMailbox_listWildcardBlowup(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	for i := range 50 {
		prototest.Run(t, c, r, fmt.Sprintf("C: c%d CREATE m/%d/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nS: c%d OK Create completed.", i, i, i))
	}
	start := time.Now()
	pattern := strings.Repeat("*%", 30000) + "y"
	prototest.Run(t, c, r, `
C: a LIST "" `+pattern+`
S: a OK List completed.
C: b LIST "" m/0%%%/x*
S: * LIST (\HasNoChildren) "/" m/0/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
S: b OK List completed.`)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("LIST with %d wildcards took %v", 60000, d)
	}
}
