package store

import (
	"context"
	"database/sql"
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

// Store changes the flags of the messages in numSet (RFC 9051 §6.4.6) and,
// unless the command is .SILENT, writes their flags as they now are. The
// other sessions with the mailbox selected get FETCH FLAGS updates, and a
// FLAGS update when a keyword new to the mailbox is set.
func (sess *imapSession) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	sel := sess.sel
	if sel == nil {
		return noSelection
	}
	if sel.readOnly {
		return errReadOnly
	}
	var results []storeResult
	err := sess.s.write(sess.ctx, func(tx *wtx) error {
		var err error
		results, err = sess.storeTx(sess.ctx, tx, numSet, flags.Op, canonicalFlags(flags.Flags))
		return err
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

// storeResult is a message's flags after a STORE.
type storeResult struct {
	cseq  uint32
	uid   imap.UID
	flags []imap.Flag
}

// storeTx applies a STORE to the messages of numSet and returns their
// flags after it.
func (sess *imapSession) storeTx(ctx context.Context, tx *wtx, numSet imap.NumSet, op imap.StoreFlagsOp, fl []string) ([]storeResult, error) {
	sel := sess.sel
	refs, err := sess.view(ctx, tx)
	if err != nil {
		return nil, err
	}
	targets := sess.targets(refs, numSet)
	if len(targets) == 0 {
		return nil, nil
	}
	// A keyword new to the mailbox changes its FLAGS.
	newKeyword := false
	if op != imap.StoreFlagsDel {
		if newKeyword, err = hasNewKeywordTx(ctx, tx, sel.id, fl); err != nil {
			return nil, err
		}
	}
	stmts, err := prepareFlagStmts(ctx, tx)
	if err != nil {
		return nil, err
	}
	defer stmts.close()
	var results []storeResult
	for _, t := range targets {
		changed, err := stmts.apply(ctx, tx, t.id, op, fl)
		if err != nil {
			return nil, err
		}
		cur, err := messageFlags(ctx, tx, t.id)
		if err != nil {
			return nil, err
		}
		results = append(results, storeResult{cseq: t.cseq, uid: t.uid, flags: cur})
		if changed {
			seq, uid, tr, st := t.seq, t.uid, sel.tracker, sel.st
			tx.After(func() { tr.QueueMessageFlags(seq, uid, cur, st) })
		}
	}
	if newKeyword {
		mf, err := mailboxFlags(ctx, tx, sel.id)
		if err != nil {
			return nil, err
		}
		tr := sel.tracker
		tx.After(func() { tr.QueueMailboxFlags(mf) })
	}
	return results, nil
}

// hasNewKeywordTx says whether one of flags is not yet in use in mailbox
// mbox.
func hasNewKeywordTx(ctx context.Context, tx *wtx, mbox int64, flags []string) (bool, error) {
	mf, err := mailboxFlags(ctx, tx, mbox)
	if err != nil {
		return false, err
	}
	known := make(map[string]bool)
	for _, f := range mf {
		known[strings.ToLower(string(f))] = true
	}
	for _, f := range flags {
		if !known[strings.ToLower(f)] {
			return true, nil
		}
	}
	return false, nil
}

// flagStmts add and remove the flags of a message, flags being compared
// without regard to case.
type flagStmts struct {
	ins, del *sql.Stmt
}

func prepareFlagStmts(ctx context.Context, tx *wtx) (*flagStmts, error) {
	ins, err := tx.PrepareContext(ctx, `INSERT INTO flags (message_id, flag) SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM flags WHERE message_id = ?1 AND flag = ?2 COLLATE NOCASE)`)
	if err != nil {
		return nil, err
	}
	del, err := tx.PrepareContext(ctx, `DELETE FROM flags WHERE message_id = ? AND flag = ? COLLATE NOCASE`)
	if err != nil {
		ins.Close()
		return nil, err
	}
	return &flagStmts{ins: ins, del: del}, nil
}

func (fs *flagStmts) close() {
	fs.ins.Close()
	fs.del.Close()
}

// apply makes the STORE operation op with flags fl on message id, and
// says whether its flags changed.
func (fs *flagStmts) apply(ctx context.Context, tx *wtx, id int64, op imap.StoreFlagsOp, fl []string) (bool, error) {
	switch op {
	case imap.StoreFlagsSet:
		removed, err := fs.removeOthers(ctx, tx, id, fl)
		if err != nil {
			return false, err
		}
		added, err := fs.exec(ctx, fs.ins, id, fl)
		return removed || added, err
	case imap.StoreFlagsAdd:
		return fs.exec(ctx, fs.ins, id, fl)
	case imap.StoreFlagsDel:
		return fs.exec(ctx, fs.del, id, fl)
	}
	return false, fmt.Errorf("store: unknown STORE operation %v", op)
}

// removeOthers removes the flags of message id that are not in keep.
func (fs *flagStmts) removeOthers(ctx context.Context, tx *wtx, id int64, keep []string) (bool, error) {
	cur, err := messageFlags(ctx, tx, id)
	if err != nil {
		return false, err
	}
	want := make(map[string]bool)
	for _, f := range keep {
		want[strings.ToLower(f)] = true
	}
	changed := false
	for _, f := range cur {
		if !want[strings.ToLower(string(f))] {
			if _, err := fs.del.ExecContext(ctx, id, string(f)); err != nil {
				return false, err
			}
			changed = true
		}
	}
	return changed, nil
}

// exec runs st for message id and each flag, and says whether a row
// changed.
func (fs *flagStmts) exec(ctx context.Context, st *sql.Stmt, id int64, flags []string) (bool, error) {
	changed := false
	for _, f := range flags {
		res, err := st.ExecContext(ctx, id, f)
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			changed = true
		}
	}
	return changed, nil
}
