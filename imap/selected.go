package imap

import (
	"cmp"
	"errors"
	"slices"
	"strings"

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
	// by UID. A message expunged but not yet reported (pending) keeps its
	// place.
	msgs []MessageState
	// saved is the result of the last SEARCH ... RETURN (SAVE), as UIDs
	// (RFC 5182 "$"), ascending; nil if none.
	saved []uint32
	// contexts are the searches the client asked to keep updated (SEARCH
	// RETURN (UPDATE), RFC 5267 §4); they end with the view (RFC 5267
	// §4.2: a new SELECT, CLOSE or LOGOUT).
	contexts []*searchContext

	// pending are the UIDs of messages of msgs that are expunged but not
	// yet reported, ascending.
	pending []uint32
	// changed holds the UIDs of messages whose state changed since it was
	// last reported: true if their flags changed, false if only their
	// mod-sequence did (reported only with CONDSTORE).
	changed map[uint32]bool
	// exists is the message count the client was last told; recent the
	// \Recent count (IMAP4rev1).
	exists, recent uint32
	// keywords are the mailbox's keywords as the client was last told in
	// FLAGS; flagsDue is set when they changed since.
	keywords []string
	flagsDue bool
	// maxUID is the highest UID the view ever held: a message a Poll
	// reports after its expunge (late news of a backend) is not taken
	// back into the view.
	maxUID uint32
	// uidNext and highestModSeq are the mailbox's as of the last poll.
	uidNext       uint32
	highestModSeq uint64
	// condStore is whether CONDSTORE was on when the client was last told
	// the HIGHESTMODSEQ.
	condStore bool
}

// errBadSeq answers a sequence number beyond the mailbox (RFC 9051 §9:
// "the server should respond with a tagged BAD").
var errBadSeq = &Error{Type: "BAD", Text: "Error in IMAP command: Invalid messageset"}

// uids returns the UIDs of the messages that set names, ascending and
// without duplicates: set holds message sequence numbers, or UIDs if uid is
// set (a UID that no message of the view has is left out, RFC 9051 §6.4.9);
// "$" is the saved search result. A sequence number beyond the view is
// errBadSeq; "*" is the last message, and names none in an empty mailbox.
// Only the messages the client was told of (EXISTS) are named.
func (s *selected) uids(set imapwire.SeqSet, uid bool) ([]uint32, error) {
	if set.Saved {
		return s.existing(s.saved), nil
	}
	n := min(uint32(len(s.msgs)), s.exists)
	if !uid {
		for _, r := range set.Ranges {
			if r.Start > n || r.Stop > n {
				return nil, errBadSeq
			}
		}
		if n == 0 {
			return nil, nil
		}
		// Normalized, the set visits each number once, ascending, and
		// so does the view's UIDs: no sort is needed, and the work is
		// bounded by the view however many ranges the client sent.
		var out []uint32
		for seq := range set.Normalize(n).All(n) {
			out = append(out, s.msgs[seq-1].UID)
		}
		return out, nil
	}
	if n == 0 {
		return nil, nil
	}
	msgs := s.msgs[:n]
	var out []uint32
	for _, r := range set.Normalize(msgs[n-1].UID).Ranges {
		i, _ := slices.BinarySearchFunc(msgs, r.Start, func(m MessageState, u uint32) int {
			return cmp.Compare(m.UID, u)
		})
		for ; i < len(msgs) && msgs[i].UID <= r.Stop; i++ {
			out = append(out, msgs[i].UID)
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

// isPending reports whether uid is expunged but not yet reported.
func (s *selected) isPending(uid uint32) bool {
	_, ok := slices.BinarySearch(s.pending, uid)
	return ok
}

// expunge marks uids (ascending or not) as expunged, to be reported by the
// next writeUpdates that may report expunges. UIDs the view does not hold,
// or already pending, are ignored.
func (s *selected) expunge(uids []uint32) {
	for _, u := range uids {
		if s.seq(u) == 0 {
			continue
		}
		i, found := slices.BinarySearch(s.pending, u)
		if found {
			continue
		}
		s.pending = slices.Insert(s.pending, i, u)
		delete(s.changed, u)
	}
}

// merge takes the changes of a Poll into the view: new messages are
// appended, changed ones replaced by their newer state (a state whose
// mod-sequence is not above the view's is older news and dropped, so that
// the client never sees a flag state go back), expunged ones marked
// pending. A message is new only if its UID is above every UID the view
// ever held and the same Poll does not report it expunged: a backend that
// reads the messages and the expunges apart may report a message both
// added and expunged, or a message again after its expunge, and the
// client must not be told of it (an EXISTS, then FETCH or EXPUNGE
// responses, for a message that is gone).
func (s *selected) merge(ch *Changes) {
	for _, m := range ch.Messages {
		seq := s.seq(m.UID)
		switch {
		case seq != 0:
			old := &s.msgs[seq-1]
			if m.ModSeq <= old.ModSeq || s.isPending(m.UID) {
				continue
			}
			differ := !sameFlags(old.Flags, m.Flags)
			m.Recent = m.Recent || old.Recent
			*old = m
			if s.changed == nil {
				s.changed = make(map[uint32]bool)
			}
			s.changed[m.UID] = s.changed[m.UID] || differ
		case m.UID > s.maxUID && !expungedToo(ch.Expunged, m.UID):
			s.msgs = append(s.msgs, m)
			s.maxUID = m.UID
		}
	}
	s.expunge(ch.Expunged)
	s.addKeywords(ch.Keywords)
	if ch.UIDNext > s.uidNext {
		s.uidNext = ch.UIDNext
	}
	if ch.HighestModSeq > s.highestModSeq {
		s.highestModSeq = ch.HighestModSeq
	}
}

// expungedToo reports whether uid is in expunged (ascending).
func expungedToo(expunged []uint32, uid uint32) bool {
	_, found := slices.BinarySearch(expunged, uid)
	return found
}

// addKeywords adds to the mailbox's keywords the client knows those of kw
// that are new to it, to be announced in FLAGS. Keywords are never
// dropped: a message the client still has may hold one.
func (s *selected) addKeywords(kw []string) {
	for _, k := range kw {
		if strings.HasPrefix(k, `\`) || slices.Contains(s.keywords, k) {
			continue
		}
		s.keywords = append(s.keywords, k)
		s.flagsDue = true
	}
}

// sameFlags reports whether a and b hold the same flags, in any order.
func sameFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !slices.Contains(b, f) {
			return false
		}
	}
	return true
}

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
			delete(s.changed, m.UID)
		}
	}
}

// condStore reports whether CONDSTORE is on for the connection (RFC 7162
// §3.1: QRESYNC implies it): FETCH responses then carry MODSEQ.
func (c *conn) condStore() bool { return c.enabled["CONDSTORE"] || c.enabled["QRESYNC"] }

// qresync reports whether QRESYNC is enabled: expunges are then reported
// as VANISHED and unsolicited FETCH responses carry the UID (RFC 7162
// §3.2.10).
func (c *conn) qresync() bool { return c.enabled["QRESYNC"] }

// rev2 reports whether the client enabled IMAP4rev2 (RFC 9051): there is
// no \Recent, no RECENT response and no UNSEEN response code.
func (c *conn) rev2() bool { return c.enabled["IMAP4REV2"] }

// expungesAllowed reports whether the command being run may report
// expunges: not FETCH, STORE and SEARCH, whose results use sequence
// numbers (RFC 9051 §7.5.1), nor SORT, THREAD and COPY for the same
// reason; their UID forms may.
func (c *conn) expungesAllowed() bool {
	switch c.cmd {
	case "FETCH", "STORE", "SEARCH", "SORT", "THREAD", "COPY":
		return false
	}
	return true
}

// writeUpdates writes the untagged responses that report the changes of
// the selected mailbox since they were last written (EXISTS, EXPUNGE or
// VANISHED, FETCH FLAGS, FLAGS), as far as the command being run (c.cmd)
// allows: no EXPUNGE during FETCH, STORE and SEARCH (RFC 9051 §7.5.1).
// c.ok calls it before a tagged OK. It also writes the events NOTIFY
// asked for (RFC 5465), selected mailbox or not.
func (c *conn) writeUpdates() error {
	if err := c.notifyUpdates(); err != nil {
		return err
	}
	if c.sel == nil {
		return nil
	}
	ch, err := c.sel.mbox.Poll(c.ctx)
	if errors.Is(err, ErrNonExistent) {
		// Another session deleted the mailbox: there is no way to tell the
		// client, so the session ends, as in Dovecot.
		c.lc.Log.Info("closing: the selected mailbox was deleted", "mailbox", c.sel.name)
		c.lc.Hangup("* BYE Selected mailbox was deleted, have to disconnect.")
		return errClose
	}
	if err != nil {
		return err
	}
	c.sel.merge(ch)
	return c.flushUpdates()
}

// flushUpdates writes what the view holds that the client has not been
// told, in the order RFC 9051 §7 allows: FLAGS before any FETCH that may
// use a new keyword, expunges before EXISTS (so that the count is right),
// then the flag changes.
func (c *conn) flushUpdates() error {
	s := c.sel
	if !s.condStore && c.condStore() {
		// RFC 7162 §3.1: the first CONDSTORE enabling command while a
		// mailbox is selected gets its HIGHESTMODSEQ.
		s.condStore = true
		c.enc.Star().Atom("OK [HIGHESTMODSEQ ").Uint(s.highestModSeq).Atom("] Highest")
		if err := c.enc.CRLF(); err != nil {
			return err
		}
	}
	if s.flagsDue {
		if err := c.writeFlags(); err != nil {
			return err
		}
	}
	var expunged []uint32
	if len(s.pending) > 0 && c.expungesAllowed() {
		expunged = s.pending
		// The searches kept updated hear of the expunges first, in the
		// numbering the EXPUNGE responses start from (RFC 5267 §4.3).
		if err := c.contextExpunge(expunged); err != nil {
			return err
		}
		if err := c.writeExpunges(); err != nil {
			return err
		}
	}
	var added []uint32
	if n := uint32(len(s.msgs)); n > s.exists {
		for _, m := range s.msgs[s.exists:] {
			added = append(added, m.UID)
		}
		s.exists = n
		c.enc.Star().Number(n).Atom(" EXISTS")
		if err := c.enc.CRLF(); err != nil {
			return err
		}
		if !c.rev2() {
			s.recent = s.recentCount()
			c.enc.Star().Number(s.recent).Atom(" RECENT")
			if err := c.enc.CRLF(); err != nil {
				return err
			}
		}
	}
	changed, err := c.writeChanged()
	if err != nil {
		return err
	}
	if len(added)+len(changed)+len(expunged) == 0 {
		return nil
	}
	return c.contextUpdate(append(added, changed...), expunged)
}

// recentCount returns the number of \Recent messages in the view.
func (s *selected) recentCount() uint32 {
	var n uint32
	for _, m := range s.msgs {
		if m.Recent {
			n++
		}
	}
	return n
}

// writeExpunges reports the pending expunges and drops them from the view:
// as "* VANISHED" with QRESYNC (RFC 7162 §3.2.10), else as one "* n
// EXPUNGE" per message, from the highest sequence number down so that each
// number is right when the client reads it. A message the client was not
// told of (above s.exists) goes without a word.
func (c *conn) writeExpunges() error {
	s := c.sel
	// A UID is reported once, even if pending twice: a second EXPUNGE
	// would take the count below the client's by one.
	slices.Sort(s.pending)
	s.pending = slices.Compact(s.pending)
	told := make([]uint32, 0, len(s.pending))
	for _, u := range s.pending {
		if seq := s.seq(u); seq != 0 && seq <= s.exists {
			told = append(told, u)
		}
	}
	if c.qresync() && len(told) > 0 {
		c.enc.Star().Atom("VANISHED ").SeqSet(imapwire.SeqSetOf(told...))
		if err := c.enc.CRLF(); err != nil {
			return err
		}
	}
	// Each sequence number is the one the message has when the client
	// reads its EXPUNGE: those above it are gone already.
	for i := len(told) - 1; i >= 0; i-- {
		seq := s.seq(told[i])
		if s.msgs[seq-1].Recent && s.recent > 0 {
			s.recent--
		}
		s.exists--
		if !c.qresync() {
			c.enc.Star().Number(seq).Atom(" EXPUNGE")
			if err := c.enc.CRLF(); err != nil {
				return err
			}
		}
	}
	s.msgs = slices.DeleteFunc(s.msgs, func(m MessageState) bool { return s.isPending(m.UID) })
	s.pending = nil
	return nil
}

// writeChanged writes a FETCH response for each message whose flags
// another session changed, ascending, and returns their UIDs.
func (c *conn) writeChanged() ([]uint32, error) {
	s := c.sel
	if len(s.changed) == 0 {
		return nil, nil
	}
	var uids []uint32
	for u, flags := range s.changed {
		if flags || c.condStore() {
			uids = append(uids, u)
		}
	}
	clear(s.changed)
	slices.Sort(uids)
	uid := c.qresync() || len(c.cmd) > 4 && c.cmd[:4] == "UID "
	for _, u := range uids {
		seq := s.seq(u)
		if seq == 0 {
			continue
		}
		if err := c.writeFetchFlags(seq, uid, true); err != nil {
			return nil, err
		}
	}
	return uids, nil
}

// writeFetchFlags writes "* seq FETCH (UID u FLAGS (...) MODSEQ (m))" for
// message seq of the view: UID if uid is set, FLAGS if flags is, MODSEQ
// with CONDSTORE (RFC 7162 §3.1.4).
func (c *conn) writeFetchFlags(seq uint32, uid, flags bool) error {
	m := &c.sel.msgs[seq-1]
	c.enc.Star().Number(seq).Atom(" FETCH (")
	sp := false
	if uid {
		c.enc.Atom("UID ").Number(m.UID)
		sp = true
	}
	if flags {
		if sp {
			c.enc.SP()
		}
		c.enc.Atom("FLAGS ").Flags(c.flagList(m))
		sp = true
	}
	if c.condStore() {
		if sp {
			c.enc.SP()
		}
		c.enc.Atom("MODSEQ (").Uint(m.ModSeq).Special(')')
	}
	c.enc.Special(')')
	return c.enc.CRLF()
}

// flagList returns the flags of m as FETCH FLAGS writes them: with \Recent
// if the message is recent for this session, but for IMAP4rev2, which has
// no \Recent (RFC 9051 §2.3.2).
func (c *conn) flagList(m *MessageState) []string {
	if !m.Recent || c.rev2() {
		return m.Flags
	}
	return append(append(make([]string, 0, len(m.Flags)+1), m.Flags...), `\Recent`)
}

// systemFlags are the flags every mailbox has (RFC 9051 §2.3.2), in the
// order of FLAGS responses.
var systemFlags = []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}

// writeFlags writes FLAGS and PERMANENTFLAGS with the mailbox's keywords
// (RFC 9051 §7.3.5, §7.1): at SELECT, and again before any FETCH that
// uses a keyword the client has not been told of.
func (c *conn) writeFlags() error {
	s := c.sel
	s.flagsDue = false
	all := append(slices.Clip(systemFlags), s.keywords...)
	c.enc.Star().Atom("FLAGS ").Flags(all)
	if err := c.enc.CRLF(); err != nil {
		return err
	}
	if s.readOnly {
		return c.enc.StatusResponse("", "OK", "PERMANENTFLAGS ()", "Read-only mailbox.")
	}
	c.enc.Star().Atom("OK [PERMANENTFLAGS ").Flags(append(all, `\*`)).Atom("] Flags permitted.")
	return c.enc.CRLF()
}
