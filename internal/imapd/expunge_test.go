package imapd_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/inetkit/inetkit/internal/imapd"
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

// TestExpunge_sequenceConsistency has sessions append, flag, expunge,
// fetch and search at random, each keeping the message count its
// responses imply, as imaptest's stress mode does: no EXPUNGE or FETCH
// may name a number above it, no EXISTS may shrink it, and at the end
// every session agrees with the mailbox.
func TestExpunge_sequenceConsistency(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 5)
	const sessions, ops = 5, 150
	var wg sync.WaitGroup
	for i := range sessions {
		c, r, sel := s.selected(t)
		var count uint64
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(i), 7))
			track := func(lines []string) bool {
				for _, l := range lines {
					f := strings.Fields(l)
					if len(f) < 3 || f[0] != "*" {
						continue
					}
					n, err := strconv.ParseUint(f[1], 10, 32)
					if err != nil {
						continue
					}
					switch f[2] {
					case "EXISTS":
						if n < count {
							t.Errorf("session %d: %q shrinks the count %d", i, l, count)
							return false
						}
						count = n
					case "EXPUNGE", "FETCH":
						if n > count || n == 0 {
							t.Errorf("session %d: %q names a number above the count %d", i, l, count)
							return false
						}
						if f[2] == "EXPUNGE" {
							count--
						}
					}
				}
				return true
			}
			if !track(sel) {
				return
			}
			for n := range ops {
				var cmd string
				switch k := rnd.IntN(7); {
				case k == 0:
					cmd = "APPEND INBOX {3+}\r\nx\r\n"
				case k == 1 && count > 0:
					cmd = fmt.Sprintf(`STORE %d +FLAGS.SILENT (\Deleted)`, 1+rnd.Uint64N(count))
				case k == 2:
					cmd = "EXPUNGE"
				case k == 3 && count > 0:
					cmd = "FETCH 1:* (UID FLAGS)"
				case k == 4:
					cmd = "SEARCH ALL"
				case k == 5 && count > 0:
					cmd = fmt.Sprintf(`STORE %d FLAGS (\Seen)`, 1+rnd.Uint64N(count))
				default:
					cmd = "NOOP"
				}
				u, tagged := exchange(t, c, r, "t"+strconv.Itoa(n), cmd)
				if !strings.Contains(tagged, " OK ") {
					t.Errorf("session %d: %s = %q", i, cmd, tagged)
					return
				}
				if !track(u) {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestExpunge_deferredDuringSearch checks that SEARCH, like FETCH and
// STORE, holds back expunges, while UID SEARCH may send them; flag updates
// of others are sent with either, with their UID during a UID command.
func TestExpunge_deferredDuringSearch(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 3)
	c, r, _ := s.selected(t)
	other, ro, _ := s.selected(t)
	mustOK(t, other, ro, "a", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	mustOK(t, other, ro, "b", `EXPUNGE`)
	mustOK(t, other, ro, "c", `STORE 2 +FLAGS (\Answered)`)
	u := mustOK(t, c, r, "a", "SEARCH ALL")
	if containsPrefix(u, "* 1 EXPUNGE") || !containsPrefix(u, `* 3 FETCH (FLAGS (\Answered \Recent))`) {
		t.Errorf("SEARCH ALL = %q; want the flag change and no EXPUNGE", u)
	}
	mustOK(t, other, ro, "d", `STORE 2 +FLAGS (\Flagged)`)
	u = mustOK(t, c, r, "b", "UID SEARCH ALL")
	if !containsPrefix(u, "* 1 EXPUNGE") || !containsPrefix(u, `* 2 FETCH (UID 3 FLAGS (\Answered \Flagged \Recent))`) {
		t.Errorf("UID SEARCH ALL = %q; want the EXPUNGE and the flag change with its UID", u)
	}
}

// lateBackend wraps a Backend so that a test can add to what the next Poll
// of a mailbox reports: the late or doubled news that a backend reading
// the messages and the expunges apart may give.
type lateBackend struct {
	imapd.Backend
	mu     sync.Mutex
	inject func(*imapd.Changes) // applied to the next Poll's changes, once
}

func (b *lateBackend) Login(ctx context.Context, username, password string) (imapd.User, error) {
	u, err := b.Backend.Login(ctx, username, password)
	if err != nil {
		return nil, err
	}
	return &lateUser{User: u, b: b}, nil
}

// setInject sets the change the next Poll of any mailbox gets.
func (b *lateBackend) setInject(f func(*imapd.Changes)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inject = f
}

type lateUser struct {
	imapd.User
	b *lateBackend
}

func (u *lateUser) Open(ctx context.Context, name string, readOnly bool) (imapd.Mailbox, error) {
	m, err := u.User.Open(ctx, name, readOnly)
	if err != nil {
		return nil, err
	}
	return &lateMailbox{Mailbox: m, b: u.b}, nil
}

type lateMailbox struct {
	imapd.Mailbox
	b *lateBackend
}

func (m *lateMailbox) Poll(ctx context.Context) (*imapd.Changes, error) {
	ch, err := m.Mailbox.Poll(ctx)
	if err != nil {
		return nil, err
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	if m.b.inject != nil {
		m.b.inject(ch)
		m.b.inject = nil
	}
	return ch, nil
}

// TestExpunge_lateNews checks that a message a Poll reports both added and
// expunged, or reports again after its expunge was sent, is never told to
// the client: no EXISTS for it, no EXPUNGE or FETCH above the count the
// client knows.
func TestExpunge_lateNews(t *testing.T) {
	var lb *lateBackend
	s := newServer(t, func(srv *imapd.Server) {
		lb = &lateBackend{Backend: srv.Backend}
		srv.Backend = lb
	})
	s.deliver(t, 5)
	c, r, _ := s.selected(t)
	// UID 6, added and expunged between two reads of the backend.
	lb.setInject(func(ch *imapd.Changes) {
		ch.Messages = append(ch.Messages, imapd.MessageState{UID: 6, ModSeq: 100, Size: 3})
		ch.Expunged = append(ch.Expunged, 6)
	})
	if u := mustOK(t, c, r, "a", "NOOP"); len(u) != 0 {
		t.Errorf("NOOP after a message added and expunged = %q; want nothing", u)
	}
	// UID 5 expunged and reported, then reported again.
	other, ro, _ := s.selected(t)
	mustOK(t, other, ro, "b", `STORE 5 +FLAGS.SILENT (\Deleted)`)
	mustOK(t, other, ro, "c", "EXPUNGE")
	if u := mustOK(t, c, r, "d", "NOOP"); len(u) != 1 || u[0] != "* 5 EXPUNGE" {
		t.Errorf("NOOP after another session's EXPUNGE = %q; want * 5 EXPUNGE", u)
	}
	lb.setInject(func(ch *imapd.Changes) {
		ch.Messages = append(ch.Messages, imapd.MessageState{UID: 5, ModSeq: 200, Size: 3})
	})
	if u := mustOK(t, c, r, "e", "NOOP"); len(u) != 0 {
		t.Errorf("NOOP after an expunged message is reported again = %q; want nothing", u)
	}
	u := mustOK(t, c, r, "f", "FETCH 1:* (UID)")
	if len(u) != 4 || u[3] != "* 4 FETCH (UID 4)" {
		t.Errorf("FETCH 1:* = %q; want the 4 messages left", u)
	}
}
