package store

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// systemFlags are the RFC 9051 §2.3.2 system flags that can be stored.
var systemFlags = []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft}

// canonicalFlags spells system flags as RFC 9051 does, drops duplicates
// (flags are case-insensitive) and the flags that cannot be stored
// (\Recent, \*).
func canonicalFlags(in []imap.Flag) []string {
	var out []string
	seen := make(map[string]bool)
	for _, f := range in {
		s := string(f)
		for _, sf := range systemFlags {
			if strings.EqualFold(s, string(sf)) {
				s = string(sf)
			}
		}
		if strings.EqualFold(s, `\Recent`) || s == `\*` || s == "" {
			continue
		}
		if k := strings.ToLower(s); !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}

func (sess *imapSession) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	sel := sess.sel
	if sel == nil {
		return noSelection
	}
	if sel.readOnly {
		return errReadOnly
	}
	fl := canonicalFlags(flags.Flags)
	type result struct {
		cseq  uint32
		uid   imap.UID
		flags []imap.Flag
	}
	var results []result
	ctx := sess.ctx
	s := sess.s
	err := s.write(ctx, func(tx *wtx) error {
		results = results[:0]
		refs, err := sess.view(ctx, tx)
		if err != nil {
			return err
		}
		targets := sess.targets(refs, numSet)
		if len(targets) == 0 {
			return nil
		}
		// A keyword new to the mailbox changes its FLAGS.
		var known map[string]bool
		newKeyword := false
		if flags.Op != imap.StoreFlagsDel {
			mf, err := mailboxFlags(ctx, tx, sel.id)
			if err != nil {
				return err
			}
			known = make(map[string]bool)
			for _, f := range mf {
				known[strings.ToLower(string(f))] = true
			}
			for _, f := range fl {
				if !known[strings.ToLower(f)] {
					newKeyword = true
				}
			}
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO flags (message_id, flag) SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM flags WHERE message_id = ?1 AND flag = ?2 COLLATE NOCASE)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		del, err := tx.PrepareContext(ctx, `DELETE FROM flags WHERE message_id = ? AND flag = ? COLLATE NOCASE`)
		if err != nil {
			return err
		}
		defer del.Close()
		for _, t := range targets {
			changed := false
			switch flags.Op {
			case imap.StoreFlagsSet:
				cur, err := messageFlags(ctx, tx, t.id)
				if err != nil {
					return err
				}
				want := make(map[string]bool)
				for _, f := range fl {
					want[strings.ToLower(f)] = true
				}
				for _, f := range cur {
					if !want[strings.ToLower(string(f))] {
						if _, err := del.ExecContext(ctx, t.id, string(f)); err != nil {
							return err
						}
						changed = true
					}
				}
				fallthrough
			case imap.StoreFlagsAdd:
				for _, f := range fl {
					res, err := ins.ExecContext(ctx, t.id, f)
					if err != nil {
						return err
					}
					if n, _ := res.RowsAffected(); n > 0 {
						changed = true
					}
				}
			case imap.StoreFlagsDel:
				for _, f := range fl {
					res, err := del.ExecContext(ctx, t.id, f)
					if err != nil {
						return err
					}
					if n, _ := res.RowsAffected(); n > 0 {
						changed = true
					}
				}
			default:
				return fmt.Errorf("store: unknown STORE operation %v", flags.Op)
			}
			cur, err := messageFlags(ctx, tx, t.id)
			if err != nil {
				return err
			}
			results = append(results, result{cseq: t.cseq, uid: t.uid, flags: cur})
			if changed {
				seq, uid, tr, st := t.seq, t.uid, sel.tracker, sel.st
				tx.After(func() { tr.QueueMessageFlags(seq, uid, cur, st) })
			}
		}
		if newKeyword {
			mf, err := mailboxFlags(ctx, tx, sel.id)
			if err != nil {
				return err
			}
			tr := sel.tracker
			tx.After(func() { tr.QueueMailboxFlags(mf) })
		}
		return nil
	})
	if err != nil {
		return sess.err("store", err)
	}
	if flags.Silent {
		return nil
	}
	for _, r := range results {
		rw := w.CreateMessage(r.cseq)
		rw.WriteUID(r.uid)
		rw.WriteFlags(r.flags)
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}
