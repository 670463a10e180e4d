package imapd

import (
	"slices"

	"github.com/inetkit/inetkit/internal/imapwire"
)

func init() {
	register("CANCELUPDATE", stateSelected, cmdCancelUpdate)
}

// A searchContext is a search that the client asked to keep updated,
// with SEARCH RETURN (UPDATE) (CONTEXT=SEARCH, RFC 5267 §4): the server
// tells it, with ESEARCH ADDTO and REMOVEFROM, how the result changes as
// messages arrive, change flags or are expunged, until CANCELUPDATE or
// until the mailbox is closed.
type searchContext struct {
	tag  string
	uid  bool
	key  imapwire.SearchKey
	uids []uint32 // the result as the client knows it, ascending
}

// maxContexts is the number of searches a connection may keep updated:
// each is evaluated again at every change of the mailbox.
const maxContexts = 16

// addContext keeps the search of command tag, whose result is the view's
// messages found (indexes, ascending), to be updated. A context of the
// same tag is replaced. It reports false if the connection has too many.
func (c *conn) addContext(tag string, uid bool, key *imapwire.SearchKey, found []int) bool {
	list := slices.DeleteFunc(c.sel.contexts, func(o *searchContext) bool { return o.tag == tag })
	c.sel.contexts = list
	if len(list) >= maxContexts {
		return false
	}
	sc := &searchContext{tag: tag, uid: uid, key: *key, uids: make([]uint32, len(found))}
	for i, ix := range found {
		sc.uids[i] = c.sel.msgs[ix].UID
	}
	c.sel.contexts = append(list, sc)
	return true
}

// cmdCancelUpdate answers CANCELUPDATE (RFC 5267 §4.3): the searches of
// the tags given are no longer updated. A tag that names none is answered
// with NO.
func cmdCancelUpdate(c *conn, tag string) error {
	var tags []string
	for !c.dec.AtEnd() {
		if err := c.dec.SP(); err != nil {
			return err
		}
		t, err := c.dec.String()
		if err != nil {
			return err
		}
		tags = append(tags, t)
	}
	if err := c.dec.End(); err != nil {
		return err
	}
	if len(tags) == 0 {
		return &Error{Type: "BAD", Text: "Missing search tag."}
	}
	list := c.sel.contexts
	for _, t := range tags {
		i := slices.IndexFunc(list, func(o *searchContext) bool { return o.tag == t })
		if i < 0 {
			// As Dovecot: those named before are cancelled.
			c.sel.contexts = list
			return &Error{Text: "Unknown tag."}
		}
		list = slices.Delete(list, i, i+1)
	}
	c.sel.contexts = list
	return c.ok(tag, "", "Updates cancelled.")
}

// contextUpdate reports the messages added to or changed in (changed,
// UIDs) and expunged from (expunged, UIDs) the selected mailbox to the
// searches the client asked to keep updated: "* ESEARCH (TAG t) [UID]
// ADDTO (0 set)" for those that now match and "REMOVEFROM (0 set)" for
// those that no longer do (RFC 5267 §4.3; 0, as the position of an
// unsorted search). It is called after the view took the changes and the
// client was told of the expunges; an expunged message is named by the
// sequence number it had before, which is the one its EXPUNGE response
// named when expunges are written from the highest down.
func (c *conn) contextUpdate(changed, expunged []uint32) error {
	list := c.sel.contexts
	if len(list) == 0 {
		return nil
	}
	exp := slices.Sorted(slices.Values(expunged))
	var only []int
	for _, u := range changed {
		if seq := c.sel.seq(u); seq != 0 {
			only = append(only, int(seq-1))
		}
	}
	slices.Sort(only)
	only = slices.Compact(only)
	for _, sc := range list {
		if err := c.updateContext(sc, only, exp); err != nil {
			return err
		}
	}
	return nil
}

// updateContext brings one context up to date: only are the indexes of the
// view's messages to evaluate again, exp the UIDs expunged, ascending.
func (c *conn) updateContext(sc *searchContext, only []int, exp []uint32) error {
	var add, remove []uint32
	keep := sc.uids[:0:0]
	for _, u := range sc.uids {
		if _, gone := slices.BinarySearch(exp, u); gone {
			remove = append(remove, c.numBefore(u, exp, sc.uid))
			continue
		}
		keep = append(keep, u)
	}
	sc.uids = keep
	if len(only) > 0 {
		s := c.newSearch(&sc.key)
		found, err := s.run(c.ctx, only)
		if err != nil {
			return err
		}
		match := make(map[int]bool, len(found))
		for _, ix := range found {
			match[ix] = true
		}
		for _, ix := range only {
			u := c.sel.msgs[ix].UID
			i, in := slices.BinarySearch(sc.uids, u)
			num := u
			if !sc.uid {
				num = uint32(ix + 1)
			}
			switch {
			case match[ix] && !in:
				sc.uids = slices.Insert(sc.uids, i, u)
				add = append(add, num)
			case !match[ix] && in:
				sc.uids = slices.Delete(sc.uids, i, i+1)
				remove = append(remove, num)
			}
		}
	}
	if err := c.writeContextUpdate(sc, "ADDTO", add); err != nil {
		return err
	}
	return c.writeContextUpdate(sc, "REMOVEFROM", remove)
}

// contextExpunge reports to the searches kept updated that the messages
// of uids are about to be expunged: "REMOVEFROM (0 set)" with their
// sequence numbers (or UIDs) as they are before the expunge. Called before
// the EXPUNGE responses, it lets the client read the numbers in the view
// they refer to, as Dovecot sends them; contextUpdate then does not report
// these messages again.
func (c *conn) contextExpunge(uids []uint32) error {
	for _, sc := range c.sel.contexts {
		var remove []uint32
		keep := sc.uids[:0:0]
		for _, u := range sc.uids {
			if _, gone := slices.BinarySearch(uids, u); !gone {
				keep = append(keep, u)
				continue
			}
			if sc.uid {
				remove = append(remove, u)
			} else if seq := c.sel.seq(u); seq != 0 {
				remove = append(remove, seq)
			}
		}
		sc.uids = keep
		if err := c.writeContextUpdate(sc, "REMOVEFROM", remove); err != nil {
			return err
		}
	}
	return nil
}

// numBefore returns what named the expunged message u before the expunges
// exp: its UID, or its sequence number then (the messages of the view
// below it, and the expunged ones below it, plus one).
func (c *conn) numBefore(u uint32, exp []uint32, uid bool) uint32 {
	if uid {
		return u
	}
	below, _ := slices.BinarySearchFunc(c.sel.msgs, u, func(m MessageState, u uint32) int {
		if m.UID < u {
			return -1
		}
		return 1
	})
	gone, _ := slices.BinarySearch(exp, u)
	return uint32(below + gone + 1)
}

// writeContextUpdate writes one ADDTO or REMOVEFROM response, if nums
// holds any number.
func (c *conn) writeContextUpdate(sc *searchContext, what string, nums []uint32) error {
	if len(nums) == 0 {
		return nil
	}
	c.enc.Star().Atom("ESEARCH (TAG ").String(sc.tag).Special(')')
	if sc.uid {
		c.enc.Atom(" UID")
	}
	c.enc.SP().Atom(what).Atom(" (0 ").SeqSet(imapwire.SeqSetOf(nums...)).Special(')')
	return c.enc.CRLF()
}
