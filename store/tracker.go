package store

import "github.com/emersion/go-imap/v2"

// mailboxTracker is what is left of the go-imap backend's tracker of a
// selected mailbox. The IMAPBackend files still call openTracker and queue
// updates on what it returns; no session registers a tracker any more, so
// openTracker returns nil and the Queue methods are never reached. Remove
// it with those calls.
type mailboxTracker struct{}

// openTracker returns nil: no IMAP session keeps a tracker.
func (s *Store) openTracker(int64) *mailboxTracker { return nil }

// QueueNumMessages does nothing; see mailboxTracker.
func (t *mailboxTracker) QueueNumMessages(uint32) {}

// QueueExpunge does nothing; see mailboxTracker.
func (t *mailboxTracker) QueueExpunge(uint32) {}

// QueueMessageFlags does nothing; see mailboxTracker.
func (t *mailboxTracker) QueueMessageFlags(uint32, imap.UID, []imap.Flag, any) {}
