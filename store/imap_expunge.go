package store

import (
	"context"
	"database/sql"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Expunge removes the messages flagged \Deleted (RFC 9051 §6.4.3), those of
// uids only for UID EXPUNGE (RFC 4315 §2.1). The sessions with the mailbox
// selected get the EXPUNGE responses, this one included.
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
		deleted, err := deletedMessagesTx(ctx, tx, sel.id)
		if err != nil {
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

// deletedMessagesTx returns the ids of the messages of mailbox mbox that
// are flagged \Deleted.
func deletedMessagesTx(ctx context.Context, tx *wtx, mbox int64) (map[int64]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT m.id FROM messages m JOIN flags f ON f.message_id = m.id WHERE m.mailbox_id = ? AND f.flag = '\Deleted' COLLATE NOCASE`, mbox)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	deleted := make(map[int64]bool)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		deleted[id] = true
	}
	return deleted, rows.Err()
}

// expungeRefsTx deletes the messages refs[i] with del[i] set from mailbox
// mbox, refs being all its messages in UID order. After the commit the
// sessions with the mailbox selected get the EXPUNGEs, highest sequence
// number first, so that each is valid when it is announced.
func (s *Store) expungeRefsTx(ctx context.Context, tx *wtx, mbox int64, refs []msgRef, del []bool) error {
	var seqs []uint32
	var st *sql.Stmt
	for i := len(refs) - 1; i >= 0; i-- {
		if !del[i] {
			continue
		}
		if st == nil {
			var err error
			if st, err = s.stmt(ctx, tx, `DELETE FROM messages WHERE id = ?`); err != nil {
				return err
			}
		}
		if _, err := st.ExecContext(ctx, refs[i].id); err != nil {
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
