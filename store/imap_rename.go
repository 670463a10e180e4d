package store

import (
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"
)

func (sess *imapSession) Rename(oldName, newName string, options *imap.RenameOptions) error {
	oldName = normMailboxName(oldName)
	newName = normMailboxName(strings.TrimRight(newName, "/"))
	if err := checkNewMailboxName(newName); err != nil {
		return err
	}
	if oldName == newName {
		return errAlreadyExists
	}
	if strings.HasPrefix(newName, oldName+"/") {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Cannot rename a mailbox into itself"}
	}
	ctx := sess.ctx
	err := sess.s.write(ctx, func(tx *wtx) error {
		mb, err := sess.mailbox(ctx, tx, oldName)
		if err != nil {
			return err
		}
		if _, err := sess.mailbox(ctx, tx, newName); err == nil {
			return ErrExists
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if oldName == "INBOX" {
			return sess.renameInboxTx(ctx, tx, mb, newName)
		}
		type child struct {
			id   int64
			name string
		}
		var children []child
		rows, err := tx.QueryContext(ctx, `SELECT id, name FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ?`,
			sess.userID, len(oldName)+1, oldName+"/")
		if err != nil {
			return err
		}
		for rows.Next() {
			var c child
			if err := rows.Scan(&c.id, &c.name); err != nil {
				rows.Close()
				return err
			}
			children = append(children, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range children {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM mailboxes WHERE user_id = ? AND name = ?`,
				sess.userID, newName+c.name[len(oldName):]).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return ErrExists
			}
		}
		if err := sess.createParentsTx(ctx, tx, newName); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET name = ? WHERE id = ?`, newName, mb.id); err != nil {
			return err
		}
		for _, c := range children {
			if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET name = ? WHERE id = ?`, newName+c.name[len(oldName):], c.id); err != nil {
				return err
			}
		}
		return nil
	})
	return sess.err("rename", err)
}

// renameInboxTx moves all messages of INBOX to a new mailbox newName,
// leaving INBOX empty (RFC 9051 §6.3.6). The messages keep their UIDs
// under the new mailbox's UIDVALIDITY; INBOX keeps its UIDNEXT.
func (sess *imapSession) renameInboxTx(ctx context.Context, tx *wtx, inbox mailboxRow, newName string) error {
	if err := sess.createParentsTx(ctx, tx, newName); err != nil {
		return err
	}
	id, err := sess.s.createMailboxImapTx(ctx, tx, sess.userID, newName, "")
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET uid_next = ?, subscribed = 1 WHERE id = ?`, inbox.uidNext, id); err != nil {
		return err
	}
	var n uint32
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE mailbox_id = ?`, inbox.id).Scan(&n); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET mailbox_id = ? WHERE mailbox_id = ?`, id, inbox.id); err != nil {
		return err
	}
	if t := sess.s.openTracker(inbox.id); t != nil && n > 0 {
		tx.After(func() {
			for seq := n; seq > 0; seq-- {
				t.QueueExpunge(seq)
			}
		})
	}
	tx.After(sess.s.broadcast)
	return nil
}
