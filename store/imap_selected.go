package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// imapSelected is the state of a selected mailbox.
type imapSelected struct {
	id          int64
	name        string
	uidValidity uint32
	readOnly    bool
	tracker     *mailboxTracker
	st          *imapserver.SessionTracker
	release     func()
	searchRes   imap.UIDSet // SEARCH RETURN (SAVE), used as "$"
}

func (sel *imapSelected) close() {
	sel.st.Close()
	sel.release()
}

// msgRef is a message of the selected mailbox as a command sees it.
type msgRef struct {
	id   int64
	uid  imap.UID
	seq  uint32 // in the database (and the MailboxTracker) now
	cseq uint32 // as the session's client knows it; 0 if not yet announced
}

// loadRefs returns the messages of a mailbox in UID order, seq set.
func loadRefs(ctx context.Context, q querier, mbox int64) ([]msgRef, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, uid FROM messages WHERE mailbox_id = ? ORDER BY uid`, mbox)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var refs []msgRef
	for rows.Next() {
		var r msgRef
		if err := rows.Scan(&r.id, &r.uid); err != nil {
			return nil, err
		}
		refs = append(refs, r)
		refs[len(refs)-1].seq = uint32(len(refs))
	}
	return refs, rows.Err()
}

// view returns the messages of the selected mailbox with the sequence
// numbers the client knows them by. The caller holds the store's write
// lock, so that the database and the tracker agree.
func (sess *imapSession) view(ctx context.Context, q querier) ([]msgRef, error) {
	sel := sess.sel
	var validity uint32
	err := q.QueryRowContext(ctx, `SELECT uid_validity FROM mailboxes WHERE id = ?`, sel.id).Scan(&validity)
	if err != nil || validity != sel.uidValidity {
		// deleted under us: nothing left to see
		return nil, nil
	}
	refs, err := loadRefs(ctx, q, sel.id)
	if err != nil {
		return nil, err
	}
	for i := range refs {
		refs[i].cseq = sel.st.EncodeSeqNum(refs[i].seq)
	}
	return refs, nil
}

// snapshot runs f under the store's write lock without a transaction: the
// tracker then agrees with what f reads.
func (s *Store) snapshot(f func() error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return f()
}

// targets returns the messages of refs in numSet, as the client numbers
// them. Messages the client has not been told about yet are left out.
func (sess *imapSession) targets(refs []msgRef, numSet imap.NumSet) []msgRef {
	if imap.IsSearchRes(numSet) {
		numSet = sess.sel.searchRes
	}
	var out []msgRef
	switch set := numSet.(type) {
	case imap.SeqSet:
		var max uint32
		for i := len(refs) - 1; i >= 0; i-- {
			if refs[i].cseq != 0 {
				max = refs[i].cseq
				break
			}
		}
		ranges := make([][2]uint32, len(set))
		for i, r := range set {
			ranges[i] = [2]uint32{r.Start, r.Stop}
		}
		static := staticSet(ranges, max)
		for _, r := range refs {
			if r.cseq != 0 && static.Contains(r.cseq) {
				out = append(out, r)
			}
		}
	case imap.UIDSet:
		if len(refs) == 0 {
			return nil
		}
		ranges := make([][2]uint32, len(set))
		for i, r := range set {
			ranges[i] = [2]uint32{uint32(r.Start), uint32(r.Stop)}
		}
		static := staticSet(ranges, uint32(refs[len(refs)-1].uid))
		for _, r := range refs {
			if r.cseq != 0 && static.Contains(uint32(r.uid)) {
				out = append(out, r)
			}
		}
	}
	return out
}

// staticSet replaces "*" (0) by max and merges the ranges, so that a set
// of many overlapping ranges costs no more than one (HARDENING I10).
func staticSet(ranges [][2]uint32, max uint32) imap.SeqSet {
	var out imap.SeqSet
	for _, r := range ranges {
		start, stop := r[0], r[1]
		if start == 0 {
			start = max
		}
		if stop == 0 {
			stop = max
		}
		if start > stop {
			start, stop = stop, start
		}
		if start == 0 {
			if stop == 0 {
				continue
			}
			start = 1
		}
		out.AddRange(start, stop)
	}
	return out
}

func (sess *imapSession) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	if sess.sel != nil {
		sess.sel.close()
		sess.sel = nil
	}
	ctx := sess.ctx
	s := sess.s
	mb, err := sess.mailbox(ctx, s.db, name)
	if err != nil {
		return nil, sess.err("select", err)
	}
	t, release, err := s.tracker(ctx, mb.id)
	if err != nil {
		return nil, sess.err("select", err)
	}
	sel := &imapSelected{id: mb.id, name: mb.name, tracker: t, release: release}
	if options != nil {
		sel.readOnly = options.ReadOnly
	}
	var data imap.SelectData
	err = s.snapshot(func() error {
		// The session tracker is made and the counts read under the write
		// lock: no commit can come between them.
		sel.st = t.NewSession()
		mb, err = scanMailbox(s.db.QueryRowContext(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE id = ?`, mb.id))
		if err != nil {
			return err
		}
		sel.uidValidity = mb.uidValidity
		data.UIDValidity = mb.uidValidity
		data.UIDNext = imap.UID(mb.uidNext)
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE mailbox_id = ?`, mb.id).Scan(&data.NumMessages); err != nil {
			return err
		}
		var firstUnseen int64
		err := s.db.QueryRowContext(ctx, `SELECT coalesce((SELECT count(*) FROM messages WHERE mailbox_id = ?1 AND uid <= u.uid), 0) FROM
			(SELECT min(m.uid) AS uid FROM messages m WHERE m.mailbox_id = ?1 AND NOT EXISTS (SELECT 1 FROM flags f WHERE f.message_id = m.id AND f.flag = '\Seen' COLLATE NOCASE)) u
			WHERE u.uid IS NOT NULL`, mb.id).Scan(&firstUnseen)
		if err == nil {
			data.FirstUnseenSeqNum = uint32(firstUnseen)
		}
		data.Flags, err = mailboxFlags(ctx, s.db, mb.id)
		return err
	})
	if err != nil {
		if sel.st != nil {
			sel.st.Close()
		}
		release()
		return nil, sess.err("select", err)
	}
	if sel.readOnly {
		data.PermanentFlags = []imap.Flag{}
	} else {
		data.PermanentFlags = append(append([]imap.Flag(nil), data.Flags...), imap.FlagWildcard)
	}
	sess.sel = sel
	return &data, nil
}

// mailboxFlags returns the system flags and the keywords in use in a
// mailbox.
func mailboxFlags(ctx context.Context, q querier, mbox int64) ([]imap.Flag, error) {
	flags := append([]imap.Flag(nil), systemFlags...)
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT f.flag FROM flags f JOIN messages m ON m.id = f.message_id WHERE m.mailbox_id = ? AND f.flag NOT LIKE '\%' ORDER BY f.flag`, mbox)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := make(map[string]bool)
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, err
		}
		if k := strings.ToLower(f); !seen[k] {
			seen[k] = true
			flags = append(flags, imap.Flag(f))
		}
	}
	return flags, rows.Err()
}

func (sess *imapSession) Unselect() error {
	if sess.sel != nil {
		sess.sel.close()
		sess.sel = nil
	}
	return nil
}

func (sess *imapSession) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if sess.sel == nil {
		return nil
	}
	return sess.sel.st.Poll(w, allowExpunge)
}

// noSelection is returned by selected-state methods called without a
// mailbox selected (the server does not call them so).
var noSelection = &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: "No mailbox selected"}

func (sess *imapSession) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	sel := sess.sel
	if sel == nil {
		return noSelection
	}
	// CLOSE expunges through a writer that writes nothing; on a mailbox
	// opened with EXAMINE it must not expunge at all (RFC 9051 §6.4.1).
	closing := w == nil || *w == (imapserver.ExpungeWriter{})
	if sel.readOnly {
		if closing {
			return nil
		}
		return errReadOnly
	}
	ctx := sess.ctx
	err := sess.s.write(ctx, func(tx *wtx) error {
		refs, err := sess.view(ctx, tx)
		if err != nil || len(refs) == 0 {
			return err
		}
		deleted := make(map[int64]bool)
		rows, err := tx.QueryContext(ctx, `SELECT m.id FROM messages m JOIN flags f ON f.message_id = m.id WHERE m.mailbox_id = ? AND f.flag = '\Deleted' COLLATE NOCASE`, sel.id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			deleted[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var set imap.SeqSet
		if uids != nil {
			u := *uids
			if imap.IsSearchRes(u) {
				u = sel.searchRes
			}
			ranges := make([][2]uint32, len(u))
			for i, r := range u {
				ranges[i] = [2]uint32{uint32(r.Start), uint32(r.Stop)}
			}
			set = staticSet(ranges, uint32(refs[len(refs)-1].uid))
		}
		del := make([]bool, len(refs))
		for i, r := range refs {
			del[i] = deleted[r.id] && (uids == nil || set.Contains(uint32(r.uid)))
		}
		return sess.s.expungeRefsTx(ctx, tx, sel.id, refs, del)
	})
	return sess.err("expunge", err)
}

// expungeRefsTx deletes the messages refs[i] with del[i] set from mailbox
// mbox, refs being all its messages in UID order. After the commit the
// sessions with the mailbox selected get the EXPUNGEs, highest sequence
// number first, so that each is valid when it is announced.
func (s *Store) expungeRefsTx(ctx context.Context, tx *wtx, mbox int64, refs []msgRef, del []bool) error {
	var seqs []uint32
	for i := len(refs) - 1; i >= 0; i-- {
		if !del[i] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id = ?`, refs[i].id); err != nil {
			return err
		}
		seqs = append(seqs, refs[i].seq)
	}
	if len(seqs) == 0 {
		return nil
	}
	if t := s.openTracker(mbox); t != nil {
		tx.After(func() {
			for _, seq := range seqs {
				t.QueueExpunge(seq)
			}
		})
	}
	tx.After(s.broadcast)
	return nil
}

// messageFlags returns the flags of a message.
func messageFlags(ctx context.Context, q querier, id int64) ([]imap.Flag, error) {
	rows, err := q.QueryContext(ctx, `SELECT flag FROM flags WHERE message_id = ? ORDER BY flag`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	flags := []imap.Flag{}
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, err
		}
		flags = append(flags, imap.Flag(f))
	}
	return flags, rows.Err()
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

// copyTx copies the messages targets into mailbox dest (sharing their
// bodies), with their flags and internal dates, and returns the CopyData.
// Sessions with dest selected get one EXISTS per message after the commit.
func (s *Store) copyTx(ctx context.Context, tx *wtx, targets []msgRef, dest mailboxRow) (*imap.CopyData, error) {
	k := uint32(len(targets))
	var first uint32
	err := tx.QueryRowContext(ctx, `UPDATE mailboxes SET uid_next = uid_next + ?1 WHERE id = ?2 AND uid_next + ?1 <= 4294967295 RETURNING uid_next - ?1`, k, dest.id).Scan(&first)
	if err != nil {
		if strings.Contains(err.Error(), "no rows") {
			return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Mailbox has run out of UIDs"}
		}
		return nil, err
	}
	t := s.openTracker(dest.id)
	var n uint32
	if t != nil {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE mailbox_id = ?`, dest.id).Scan(&n); err != nil {
			return nil, err
		}
	}
	insMsg, err := tx.PrepareContext(ctx, `INSERT INTO messages (mailbox_id, uid, body_id, size, internal_date) SELECT ?, ?, body_id, size, internal_date FROM messages WHERE id = ?`)
	if err != nil {
		return nil, err
	}
	defer insMsg.Close()
	insFlags, err := tx.PrepareContext(ctx, `INSERT INTO flags (message_id, flag) SELECT ?, flag FROM flags WHERE message_id = ?`)
	if err != nil {
		return nil, err
	}
	defer insFlags.Close()
	data := &imap.CopyData{UIDValidity: dest.uidValidity}
	for i, tg := range targets {
		uid := first + uint32(i)
		res, err := insMsg.ExecContext(ctx, dest.id, uid, tg.id)
		if err != nil {
			return nil, err
		}
		newID, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		if _, err := insFlags.ExecContext(ctx, newID, tg.id); err != nil {
			return nil, err
		}
		data.SourceUIDs.AddNum(tg.uid)
		data.DestUIDs.AddNum(imap.UID(uid))
	}
	if t != nil {
		tx.After(func() {
			for i := uint32(1); i <= k; i++ {
				t.QueueNumMessages(n + i)
			}
		})
	}
	tx.After(s.broadcast)
	return data, nil
}

func (sess *imapSession) Copy(numSet imap.NumSet, destName string) (*imap.CopyData, error) {
	if sess.sel == nil {
		return nil, noSelection
	}
	data, err := sess.copyMessages(numSet, destName, false)
	if err != nil {
		return nil, sess.err("copy", err)
	}
	return data, nil
}

func (sess *imapSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, destName string) error {
	sel := sess.sel
	if sel == nil {
		return noSelection
	}
	if sel.readOnly {
		return errReadOnly
	}
	data, err := sess.copyMessages(numSet, destName, true)
	if err != nil {
		return sess.err("move", err)
	}
	if data == nil {
		return nil
	}
	// The EXPUNGEs were queued to this session's tracker too; the server
	// polls it after MOVE, so they follow the COPYUID response.
	return w.WriteCopyData(data)
}

// copyMessages copies the messages of numSet to destName and, for MOVE,
// expunges them from the selected mailbox in the same transaction: they are
// never in both mailboxes, nor in neither (RFC 6851 §3.3). It returns nil
// data when numSet names no message.
func (sess *imapSession) copyMessages(numSet imap.NumSet, destName string, move bool) (*imap.CopyData, error) {
	ctx := sess.ctx
	var data *imap.CopyData
	err := sess.s.write(ctx, func(tx *wtx) error {
		dest, err := sess.mailbox(ctx, tx, destName)
		if errors.Is(err, ErrNotFound) {
			return errTryCreate
		} else if err != nil {
			return err
		}
		refs, err := sess.view(ctx, tx)
		if err != nil {
			return err
		}
		targets := sess.targets(refs, numSet)
		if len(targets) == 0 {
			data = nil
			return nil
		}
		if data, err = sess.s.copyTx(ctx, tx, targets, dest); err != nil || !move {
			return err
		}
		moved := make(map[int64]bool, len(targets))
		for _, t := range targets {
			moved[t.id] = true
		}
		del := make([]bool, len(refs))
		for i, r := range refs {
			del[i] = moved[r.id]
		}
		return sess.s.expungeRefsTx(ctx, tx, sess.sel.id, refs, del)
	})
	return data, err
}

// internalDate converts the stored internal date.
func internalDate(ns int64) time.Time { return time.Unix(0, ns).UTC() }
