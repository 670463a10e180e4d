package store

import (
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// mailboxTracker is the tracker of a mailbox that IMAP sessions have
// selected: go-imap's MailboxTracker, whose Queue methods also wake the
// sessions idling on the mailbox. Every update of the store goes through
// these methods (under the store's write lock, after the commit), so an
// idling session cannot miss one; see [imapSession.Idle].
type mailboxTracker struct {
	*imapserver.MailboxTracker

	mu     sync.Mutex
	idlers map[chan struct{}]struct{}
}

func newMailboxTracker(numMessages uint32) *mailboxTracker {
	return &mailboxTracker{
		MailboxTracker: imapserver.NewMailboxTracker(numMessages),
		idlers:         make(map[chan struct{}]struct{}),
	}
}

// QueueNumMessages queues an EXISTS update and wakes the idling sessions.
func (t *mailboxTracker) QueueNumMessages(n uint32) {
	t.MailboxTracker.QueueNumMessages(n)
	t.wake()
}

// QueueExpunge queues an EXPUNGE update and wakes the idling sessions.
func (t *mailboxTracker) QueueExpunge(seqNum uint32) {
	t.MailboxTracker.QueueExpunge(seqNum)
	t.wake()
}

// QueueMailboxFlags queues a FLAGS update and wakes the idling sessions.
func (t *mailboxTracker) QueueMailboxFlags(flags []imap.Flag) {
	t.MailboxTracker.QueueMailboxFlags(flags)
	t.wake()
}

// QueueMessageFlags queues a FETCH FLAGS update (not for source) and wakes
// the idling sessions.
func (t *mailboxTracker) QueueMessageFlags(seqNum uint32, uid imap.UID, flags []imap.Flag, source *imapserver.SessionTracker) {
	t.MailboxTracker.QueueMessageFlags(seqNum, uid, flags, source)
	t.wake()
}

// wake signals every idling session; a session that has a signal pending
// already needs no second one.
func (t *mailboxTracker) wake() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for ch := range t.idlers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// watch returns a channel that receives a value whenever an update is
// queued from now on (several updates may share one value), and a function
// that stops it.
func (t *mailboxTracker) watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	t.mu.Lock()
	t.idlers[ch] = struct{}{}
	t.mu.Unlock()
	return ch, func() {
		t.mu.Lock()
		delete(t.idlers, ch)
		t.mu.Unlock()
	}
}

// Idle writes the updates of the selected mailbox as they come, until stop
// is closed. It does not use SessionTracker.Idle, which wakes only for the
// updates queued after it has started: an update queued between the
// client's "+ idling" and that moment would wait for DONE. Here the wake-up
// channel is installed before the first Poll, so an update is either
// polled at once or signals the channel.
func (sess *imapSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	sess.idleMu.Lock()
	if sess.closed {
		sess.idleMu.Unlock()
		return nil
	}
	done := make(chan struct{})
	sess.idleDone = done
	sel := sess.sel
	sess.idleMu.Unlock()
	defer close(done)
	if sel == nil {
		select {
		case <-stop:
		case <-sess.ctx.Done():
		}
		return nil
	}
	wake, unwatch := sel.tracker.watch()
	defer unwatch()
	for {
		if err := sel.st.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-wake:
		case <-stop:
			return nil
		case <-sess.ctx.Done():
			return nil
		}
	}
}
