package imap

import (
	"errors"
	"strconv"

	"github.com/inetkit/inetkit/internal/imapwire"
)

func init() {
	register("COPY", stateSelected, func(c *conn, tag string) error { return c.runCopy(tag, false, false) })
	register("UID COPY", stateSelected, func(c *conn, tag string) error { return c.runCopy(tag, true, false) })
	register("MOVE", stateSelected, func(c *conn, tag string) error { return c.runCopy(tag, false, true) })
	register("UID MOVE", stateSelected, func(c *conn, tag string) error { return c.runCopy(tag, true, true) })
}

// runCopy answers COPY and UID COPY (RFC 9051 §6.4.7, §6.4.9), with
// COPYUID in the tagged OK (RFC 4315 §3), and MOVE and UID MOVE (RFC 6851),
// whose COPYUID comes in an untagged OK before the expunges of the moved
// messages (RFC 6851 §4.3). A destination that does not exist is answered
// with TRYCREATE (RFC 9051 §6.4.7).
func (c *conn) runCopy(tag string, uid, move bool) error {
	if err := c.dec.SP(); err != nil {
		return err
	}
	set, err := c.dec.SeqSet()
	if err != nil {
		return err
	}
	if err := c.dec.SP(); err != nil {
		return err
	}
	dest, err := c.dec.Mailbox()
	if err != nil {
		return err
	}
	if err := c.dec.End(); err != nil {
		return err
	}
	if move && c.sel.readOnly {
		return errReadOnly
	}
	uids, err := c.sel.uids(set, uid)
	if err != nil {
		return err
	}
	if len(uids) == 0 {
		return c.ok(tag, "", "No messages found.")
	}
	res, err := c.sel.mbox.Copy(c.ctx, uids, dest, move)
	var e *Error
	if errors.As(err, &e) && e.Code == ErrNonExistent.Code {
		return &Error{Code: "TRYCREATE", Text: "Mailbox doesn't exist: " + dest}
	}
	if err != nil {
		return err
	}
	code := copyUID(res)
	if !move {
		return c.ok(tag, code, "Copy completed.")
	}
	if code != "" {
		if err := c.enc.StatusResponse("", "OK", code, "Moved UIDs."); err != nil {
			return err
		}
	}
	c.sel.expunge(res.Source)
	return c.ok(tag, "", "Move completed.")
}

// copyUID returns the COPYUID response code of res (RFC 4315 §3), or "" if
// nothing was copied.
func copyUID(res *CopyResult) string {
	if res == nil || len(res.Dest) == 0 {
		return ""
	}
	return "COPYUID " + strconv.FormatUint(uint64(res.UIDValidity), 10) + " " +
		imapwire.SeqSetOf(res.Source...).String() + " " + imapwire.SeqSetOf(res.Dest...).String()
}
