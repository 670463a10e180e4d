package imap

import (
	"iter"
	"slices"

	"github.com/inetkit/inetkit/internal/imapwire"
)

func init() {
	register("SELECT", stateLoggedIn, func(c *conn, tag string) error { return c.runSelect(tag, false) })
	register("EXAMINE", stateLoggedIn, func(c *conn, tag string) error { return c.runSelect(tag, true) })
	register("CLOSE", stateSelected, cmdClose)
	register("UNSELECT", stateSelected, cmdUnselect)
}

// errQResyncNotEnabled refuses the QRESYNC parameter of SELECT before
// ENABLE QRESYNC (RFC 7162 §3.2.5).
var errQResyncNotEnabled = &Error{Type: "BAD", Text: "QRESYNC not enabled"}

// runSelect answers SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3; RFC 3501
// §6.3.1 for IMAP4rev1's RECENT and UNSEEN), with the CONDSTORE and QRESYNC
// parameters (RFC 7162 §3.1.8, §3.2.5). A mailbox selected before is closed
// first, without expunging, and "* OK [CLOSED]" says so (RFC 7162 §3.2.11,
// RFC 9051 §7.1), even if the new one cannot be selected.
func (c *conn) runSelect(tag string, readOnly bool) error {
	err := c.dec.SP()
	var args *imapwire.SelectArgs
	if err == nil {
		args, err = c.dec.ReadSelect()
	}
	if err != nil {
		c.closeSelected(true)
		return err
	}
	if err := c.closeSelected(true); err != nil {
		return err
	}
	if args.QResync != nil && !c.qresync() {
		return errQResyncNotEnabled
	}
	if args.CondStore {
		c.enable("CONDSTORE")
	}
	mbox, err := c.user.Open(c.ctx, args.Mailbox, readOnly)
	if err != nil {
		return err
	}
	ch, err := mbox.Poll(c.ctx)
	if err != nil {
		mbox.Close()
		return err
	}
	s := &selected{name: args.Mailbox, mbox: mbox, readOnly: readOnly, condStore: c.condStore()}
	s.merge(ch)
	s.exists = uint32(len(s.msgs))
	s.recent = s.recentCount()
	s.pending = nil // a first Poll reports no expunges the client needs
	c.sel, c.state = s, stateSelected
	if err := c.writeSelected(); err != nil {
		return err
	}
	if q := args.QResync; q != nil && q.UIDValidity == mbox.UIDValidity() {
		if err := c.writeResync(q); err != nil {
			return err
		}
	}
	if readOnly {
		return c.ok(tag, "READ-ONLY", "Examine completed.")
	}
	return c.ok(tag, "READ-WRITE", "Select completed.")
}

// writeSelected writes the untagged responses of a successful SELECT, in
// Dovecot's order: FLAGS, PERMANENTFLAGS, LIST (IMAP4rev2, RFC 9051
// §6.3.2), EXISTS, RECENT and UNSEEN (IMAP4rev1), UIDVALIDITY, UIDNEXT and
// HIGHESTMODSEQ (RFC 7162 §3.1.2.1: the server keeps mod-sequences for
// every mailbox, so it is always sent and NOMODSEQ never is).
func (c *conn) writeSelected() error {
	s := c.sel
	if err := c.writeFlags(); err != nil {
		return err
	}
	if c.rev2() {
		if err := c.writeSelectedList(); err != nil {
			return err
		}
	}
	c.enc.Star().Number(s.exists).Atom(" EXISTS")
	if err := c.enc.CRLF(); err != nil {
		return err
	}
	if !c.rev2() {
		c.enc.Star().Number(s.recent).Atom(" RECENT")
		if err := c.enc.CRLF(); err != nil {
			return err
		}
		for i, m := range s.msgs {
			if !slices.Contains(m.Flags, `\Seen`) {
				c.enc.Star().Atom("OK [UNSEEN ").Number(uint32(i + 1)).Atom("] First unseen.")
				if err := c.enc.CRLF(); err != nil {
					return err
				}
				break
			}
		}
	}
	c.enc.Star().Atom("OK [UIDVALIDITY ").Number(s.mbox.UIDValidity()).Atom("] UIDs valid")
	if err := c.enc.CRLF(); err != nil {
		return err
	}
	c.enc.Star().Atom("OK [UIDNEXT ").Number(s.uidNext).Atom("] Predicted next UID")
	if err := c.enc.CRLF(); err != nil {
		return err
	}
	c.enc.Star().Atom("OK [HIGHESTMODSEQ ").Uint(s.highestModSeq).Atom("] Highest")
	return c.enc.CRLF()
}

// writeSelectedList writes the LIST response that IMAP4rev2's SELECT
// requires (RFC 9051 §6.3.2), with the mailbox's child and special-use
// attributes.
func (c *conn) writeSelectedList() error {
	infos, err := c.user.Mailboxes(c.ctx)
	if err != nil {
		return err
	}
	name := c.sel.name
	var attrs []string
	children := false
	for _, mi := range infos {
		if mi.Name == name {
			attrs = append(attrs, mi.SpecialUse...)
		} else if len(mi.Name) > len(name) && mi.Name[:len(name)] == name && mi.Name[len(name)] == '/' {
			children = true
		}
	}
	if children {
		attrs = append([]string{`\HasChildren`}, attrs...)
	} else {
		attrs = append([]string{`\HasNoChildren`}, attrs...)
	}
	c.enc.Star().Atom("LIST ").Flags(attrs).Atom(` "/" `).Mailbox(name)
	return c.enc.CRLF()
}

// writeResync writes what QRESYNC's SELECT reports when the client's
// UIDVALIDITY is still right (RFC 7162 §3.2.5): "* VANISHED (EARLIER)"
// with the UIDs expunged since its mod-sequence, among its known UIDs and
// less those its sequence match data shows it cannot have (as Dovecot
// does), then a FETCH with UID, FLAGS and MODSEQ for each of its known
// messages changed since.
func (c *conn) writeResync(q *imapwire.QResyncArgs) error {
	s := c.sel
	const all = ^uint32(0)
	known := func(u uint32) bool {
		return len(q.KnownUIDs.Ranges) == 0 || q.KnownUIDs.Contains(u, all)
	}
	gone, err := s.mbox.Vanished(c.ctx, q.ModSeq)
	if err != nil {
		return err
	}
	floor := s.seqMatchFloor(q)
	var vanished []uint32
	for _, u := range gone {
		if u > floor && u < s.uidNext && known(u) {
			vanished = append(vanished, u)
		}
	}
	if len(vanished) > 0 {
		c.enc.Star().Atom("VANISHED (EARLIER) ").SeqSet(imapwire.SeqSetOf(vanished...))
		if err := c.enc.CRLF(); err != nil {
			return err
		}
	}
	for i, m := range s.msgs {
		if m.ModSeq > q.ModSeq && known(m.UID) {
			if err := c.writeFetchFlags(uint32(i+1), true, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// seqMatchFloor returns the highest UID up to which the client's sequence
// match data (RFC 7162 §3.2.5.2) agrees with the view: the sequence number
// of each of its pairs still holds the same UID, so that no message at or
// below it can have been expunged since, nor need be reported as vanished.
// It is 0 when there is no such data.
func (s *selected) seqMatchFloor(q *imapwire.QResyncArgs) uint32 {
	n := uint32(len(s.msgs))
	if n == 0 || len(q.KnownSeqs.Ranges) == 0 {
		return 0
	}
	const all = ^uint32(0)
	next, stop := iter.Pull(iter.Seq[uint32](q.KnownSeqs.All(all)))
	defer stop()
	var floor uint32
	for u := range q.KnownSeqUIDs.All(all) {
		seq, ok := next()
		if !ok || seq > n || s.msgs[seq-1].UID != u {
			break
		}
		floor = u
	}
	return floor
}

// closeSelected closes the selected mailbox, if any, without expunging,
// and returns to the authenticated state; with report, it says so with "*
// OK [CLOSED]" (RFC 7162 §3.2.11, RFC 9051 §7.1).
func (c *conn) closeSelected(report bool) error {
	if c.sel == nil {
		return nil
	}
	if err := c.sel.mbox.Close(); err != nil {
		c.lc.Log.Warn("closing mailbox", "err", err)
	}
	c.sel, c.state = nil, stateAuth
	if !report {
		return nil
	}
	return c.enc.StatusResponse("", "OK", "CLOSED", "Previous mailbox closed.")
}

// cmdClose answers CLOSE (RFC 9051 §6.4.1): the messages marked \Deleted
// are expunged, without EXPUNGE responses, unless the mailbox is
// read-only, and the mailbox is closed.
func cmdClose(c *conn, tag string) error {
	if err := c.dec.End(); err != nil {
		return err
	}
	if !c.sel.readOnly {
		if _, err := c.sel.mbox.Expunge(c.ctx, nil); err != nil {
			return err
		}
	}
	if err := c.closeSelected(false); err != nil {
		return err
	}
	return c.ok(tag, "", "Close completed.")
}

// cmdUnselect answers UNSELECT (RFC 3691): the mailbox is closed without
// expunging.
func cmdUnselect(c *conn, tag string) error {
	if err := c.dec.End(); err != nil {
		return err
	}
	if err := c.closeSelected(false); err != nil {
		return err
	}
	return c.ok(tag, "", "Unselect completed.")
}
