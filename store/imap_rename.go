package store

import (
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// Rename renames a mailbox and its inferiors (RFC 9051 §6.3.6), making
// the missing superiors of the new name. Renaming INBOX moves its messages
// to a new mailbox and leaves it empty.
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
		return sess.renameTreeTx(ctx, tx, mb, newName)
	})
	return sess.err("rename", err)
}

// renameTreeTx renames mailbox mb and its inferiors to newName, unless one
// of the new names is taken.
func (sess *imapSession) renameTreeTx(ctx context.Context, tx *wtx, mb mailboxRow, newName string) error {
	children, err := sess.inferiorsTx(ctx, tx, mb.name)
	if err != nil {
		return err
	}
	for _, c := range children {
		taken, err := sess.nameTakenTx(ctx, tx, newName+c.name[len(mb.name):])
		if err != nil {
			return err
		}
		if taken {
			return ErrExists
		}
	}
	if err := sess.createParentsTx(ctx, tx, newName); err != nil {
		return err
	}
	if err := renameMailboxTx(ctx, tx, mb.id, newName); err != nil {
		return err
	}
	for _, c := range children {
		if err := renameMailboxTx(ctx, tx, c.id, newName+c.name[len(mb.name):]); err != nil {
			return err
		}
	}
	return nil
}

// mailboxName is a mailbox's id and name.
type mailboxName struct {
	id   int64
	name string
}

// inferiorsTx returns the mailboxes of the session's user whose names are
// below name in the hierarchy.
func (sess *imapSession) inferiorsTx(ctx context.Context, tx *wtx, name string) ([]mailboxName, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, name FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ?`,
		sess.userID, len(name)+1, name+"/")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mailboxName
	for rows.Next() {
		var c mailboxName
		if err := rows.Scan(&c.id, &c.name); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// renameMailboxTx gives mailbox id the name name.
func renameMailboxTx(ctx context.Context, tx *wtx, id int64, name string) error {
	_, err := tx.ExecContext(ctx, `UPDATE mailboxes SET name = ? WHERE id = ?`, name, id)
	return err
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
