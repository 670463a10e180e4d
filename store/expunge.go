package store

import (
	"context"
	"database/sql"

	"github.com/emersion/go-imap/v2"
)

// msgRef is a message of a mailbox: its row id, UID and sequence number.
type msgRef struct {
	id  int64
	uid imap.UID
	seq uint32
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

// expungeRefsTx deletes the messages refs[i] with del[i] set from mailbox
// mbox, refs being all its messages in UID order, and wakes those waiting
// on Changed after the commit. The triggers record the UIDs as expunged,
// which the IMAP sessions hear of.
func (s *Store) expungeRefsTx(ctx context.Context, tx *wtx, mbox int64, refs []msgRef, del []bool) error {
	var st *sql.Stmt
	deleted := false
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
		deleted = true
	}
	if deleted {
		tx.After(s.broadcast)
	}
	return nil
}
