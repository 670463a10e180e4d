package imapd

import (
	"slices"
	"strings"

	"github.com/inetkit/inetkit/internal/imapwire"
)

func init() {
	register("STORE", stateSelected, func(c *conn, tag string) error { return c.runStore(tag, false) })
	register("UID STORE", stateSelected, func(c *conn, tag string) error { return c.runStore(tag, true) })
}

// errReadOnly refuses a change to a mailbox selected with EXAMINE.
var errReadOnly = &Error{Text: "Mailbox is read-only."}

// runStore answers STORE and UID STORE (RFC 9051 §6.4.6), with
// UNCHANGEDSINCE (RFC 7162 §3.1.3). Unless .SILENT, a FETCH response with
// the resulting flags is sent for every message of the set (with UID for
// UID STORE, and MODSEQ with CONDSTORE); with .SILENT and CONDSTORE, one
// with only MODSEQ for each message changed, as RFC 7162 §3.1.3 requires
// to keep the client's mod-sequences right. Messages that fail the
// UNCHANGEDSINCE test are listed in the MODIFIED response code, by
// sequence number or, for UID STORE, UID.
func (c *conn) runStore(tag string, uid bool) error {
	if err := c.dec.SP(); err != nil {
		return err
	}
	args, err := c.dec.ReadStore()
	if err != nil {
		return err
	}
	if err := checkStoreFlags(args.Flags); err != nil {
		return err
	}
	if args.Conditional {
		// RFC 7162 §3.1: UNCHANGEDSINCE enables CONDSTORE.
		c.enable("CONDSTORE")
	}
	if c.sel.readOnly {
		return errReadOnly
	}
	uids, err := c.sel.uids(args.Seq, uid)
	if err != nil {
		return err
	}
	var changed []MessageState
	var modified []uint32
	switch {
	case len(uids) == 0:
	case args.Conditional && args.UnchangedSince == 0:
		// RFC 7162 §3.1.3: UNCHANGEDSINCE 0 fails for every message.
		modified = uids
	default:
		changed, modified, err = c.sel.mbox.Store(c.ctx, uids, storeOp(args.Op), args.Flags, args.UnchangedSince)
		if err != nil {
			return err
		}
	}
	slices.Sort(modified)
	c.sel.took(changed)
	if args.Op != '-' {
		// A keyword a client stores exists from then on, as in Dovecot,
		// even if no message of the set could take it (all expunged).
		c.sel.addKeywords(args.Flags)
	}
	// Other changes first: a keyword new to the mailbox must be in FLAGS
	// before a FETCH shows it (RFC 9051 §7.3.5).
	if err := c.writeUpdates(); err != nil {
		return err
	}
	if err := c.writeStored(args, uids, changed, modified, uid); err != nil {
		return err
	}
	if len(changed) > 0 {
		// The searches kept updated hear of this session's own changes
		// too (RFC 5267 §4.3).
		own := make([]uint32, len(changed))
		for i, m := range changed {
			own[i] = m.UID
		}
		if err := c.contextUpdate(own, nil); err != nil {
			return err
		}
	}
	if len(modified) == 0 {
		return c.ok(tag, "", "Store completed.")
	}
	return c.ok(tag, "MODIFIED "+c.modifiedSet(modified, uid), "Conditional store failed.")
}

// checkStoreFlags refuses \Recent, which only the server sets, and system
// flags that do not exist, as Dovecot does.
func checkStoreFlags(flags []string) error {
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) && !slices.Contains(systemFlags, f) {
			return &Error{Type: "BAD", Text: "Invalid system flag " + strings.ToUpper(f)}
		}
	}
	return nil
}

// storeOp maps the operation of imapwire.StoreArgs to a StoreOp.
func storeOp(op byte) StoreOp {
	switch op {
	case '+':
		return StoreAdd
	case '-':
		return StoreRemove
	}
	return StoreReplace
}

// writeStored writes STORE's FETCH responses for uids, those of the
// messages in modified excepted.
func (c *conn) writeStored(args *imapwire.StoreArgs, uids []uint32, changed []MessageState, modified []uint32, uid bool) error {
	s := c.sel
	if args.Silent {
		if !c.condStore() {
			return nil
		}
		for _, m := range changed {
			if seq := s.seq(m.UID); seq != 0 && !s.isPending(m.UID) {
				if err := c.writeFetchFlags(seq, uid, false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, u := range uids {
		if _, failed := slices.BinarySearch(modified, u); failed {
			continue
		}
		seq := s.seq(u)
		if seq == 0 {
			continue
		}
		if s.isPending(u) {
			// Expunged by another session, not yet reported: the client
			// still has it, and is told the flags it asked for, as if
			// the STORE had happened just before the expunge.
			m := &s.msgs[seq-1]
			m.Flags = applyStore(m.Flags, storeOp(args.Op), args.Flags)
			s.addKeywords(m.Flags)
			if s.flagsDue {
				if err := c.writeFlags(); err != nil {
					return err
				}
			}
		}
		if err := c.writeFetchFlags(seq, uid, true); err != nil {
			return err
		}
	}
	return nil
}

// modifiedSet returns the MODIFIED set of the UIDs in modified: UIDs for
// UID STORE, sequence numbers for STORE (RFC 7162 §3.1.3).
func (c *conn) modifiedSet(modified []uint32, uid bool) string {
	if uid {
		return imapwire.SeqSetOf(modified...).String()
	}
	seqs := make([]uint32, 0, len(modified))
	for _, u := range modified {
		if seq := c.sel.seq(u); seq != 0 {
			seqs = append(seqs, seq)
		}
	}
	return imapwire.SeqSetOf(seqs...).String()
}

// applyStore returns flags changed by op with arg, as Mailbox.Store changes
// them.
func applyStore(flags []string, op StoreOp, arg []string) []string {
	switch op {
	case StoreReplace:
		return slices.Clone(arg)
	case StoreAdd:
		out := slices.Clone(flags)
		for _, f := range arg {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
		return out
	}
	return slices.DeleteFunc(slices.Clone(flags), func(f string) bool { return slices.Contains(arg, f) })
}
