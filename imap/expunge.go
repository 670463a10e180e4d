package imap

import "strconv"

func init() {
	register("EXPUNGE", stateSelected, func(c *conn, tag string) error { return c.runExpunge(tag, false) })
	register("UID EXPUNGE", stateSelected, func(c *conn, tag string) error { return c.runExpunge(tag, true) })
}

// runExpunge answers EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315
// §2.1): the messages marked \Deleted, of the whole mailbox or of the UID
// set, are expunged and reported, with the expunges of other sessions.
// With CONDSTORE the tagged OK carries the mailbox's HIGHESTMODSEQ (RFC
// 7162 §3.2.10). In a read-only mailbox the command is ignored, as Dovecot
// ignores it.
func (c *conn) runExpunge(tag string, uid bool) error {
	var uids []uint32
	if uid {
		if err := c.dec.SP(); err != nil {
			return err
		}
		set, err := c.dec.SeqSet()
		if err != nil {
			return err
		}
		if err := c.dec.End(); err != nil {
			return err
		}
		if uids, err = c.sel.uids(set, true); err != nil {
			return err
		}
	} else if err := c.dec.End(); err != nil {
		return err
	}
	if c.sel.readOnly {
		return c.ok(tag, "", "Expunge ignored: Mailbox is read-only.")
	}
	if !uid || len(uids) > 0 {
		expunged, err := c.sel.mbox.Expunge(c.ctx, uids)
		if err != nil {
			return err
		}
		c.sel.expunge(expunged)
	}
	if err := c.writeUpdates(); err != nil {
		return err
	}
	code := ""
	if c.condStore() {
		code = "HIGHESTMODSEQ " + strconv.FormatUint(c.sel.highestModSeq, 10)
	}
	return c.enc.StatusResponse(tag, "OK", code, "Expunge completed.")
}
