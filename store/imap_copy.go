package store

import (
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

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
	insMsg, err := tx.PrepareContext(ctx, `INSERT INTO messages (id, mailbox_id, uid, body_id, size, internal_date) SELECT ?, ?, ?, body_id, size, internal_date FROM messages WHERE id = ?`)
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
		newID, err := s.nextID(ctx, tx, "messages")
		if err != nil {
			return nil, err
		}
		if _, err := insMsg.ExecContext(ctx, newID, dest.id, uid, tg.id); err != nil {
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
