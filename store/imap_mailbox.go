package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"

	inetimap "github.com/inetkit/inetkit/imap"
)

// Mailboxes returns the user's mailboxes with their special-use attributes.
func (u *imapUser) Mailboxes(ctx context.Context) ([]inetimap.MailboxInfo, error) {
	rows, err := u.s.db.QueryContext(ctx, `SELECT name, special_use FROM mailboxes WHERE user_id = ?`, u.id)
	if err != nil {
		return nil, imapErr(err)
	}
	defer rows.Close()
	var out []inetimap.MailboxInfo
	for rows.Next() {
		var mi inetimap.MailboxInfo
		var use string
		if err := rows.Scan(&mi.Name, &use); err != nil {
			return nil, err
		}
		mi.SpecialUse = strings.Fields(use)
		out = append(out, mi)
	}
	return out, rows.Err()
}

// CreateMailbox creates name and its missing parents.
func (u *imapUser) CreateMailbox(ctx context.Context, name string, specialUse []string) error {
	name, err := imapNewName(name)
	if err != nil {
		return err
	}
	var use []string
	for _, a := range specialUse {
		c := canonicalAttr(a)
		if !specialUseAttrs[imap.MailboxAttr(c)] {
			return &inetimap.Error{Code: "USEATTR", Text: "Unsupported special-use attribute."}
		}
		use = append(use, c)
	}
	err = u.s.write(ctx, func(tx *wtx) error {
		if taken, err := u.nameTakenTx(ctx, tx, name); err != nil || taken {
			if err == nil {
				err = inetimap.ErrAlreadyExists
			}
			return err
		}
		if err := u.createParentsTx(ctx, tx, name); err != nil {
			return err
		}
		_, err := u.s.createMailboxImapTx(ctx, tx, u.id, name, strings.Join(use, " "))
		return err
	})
	return imapErr(err)
}

// nameTakenTx says whether the user has a mailbox named name.
func (u *imapUser) nameTakenTx(ctx context.Context, q querier, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM mailboxes WHERE user_id = ? AND name = ?`, u.id, name).Scan(&n)
	return n > 0, err
}

// createParentsTx makes the missing superiors of name (RFC 9051 §6.3.4).
func (u *imapUser) createParentsTx(ctx context.Context, tx *wtx, name string) error {
	for i := 0; i < len(name); i++ {
		if name[i] != mailboxDelim {
			continue
		}
		taken, err := u.nameTakenTx(ctx, tx, name[:i])
		if err != nil {
			return err
		}
		if !taken {
			if _, err := u.s.createMailboxImapTx(ctx, tx, u.id, name[:i], ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// mailboxTx looks up a mailbox of the user by name (checked already).
func (u *imapUser) mailboxTx(ctx context.Context, q querier, name string) (mailboxRow, error) {
	mb, err := scanMailbox(q.QueryRowContext(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE user_id = ? AND name = ?`, u.id, name))
	if errors.Is(err, ErrNotFound) {
		return mb, inetimap.ErrNonExistent
	}
	return mb, err
}

// DeleteMailbox deletes a mailbox other than INBOX with its messages: they
// are expunged first, so that the triggers record their UIDs as expunged
// and the sessions that have the mailbox selected see them go.
func (u *imapUser) DeleteMailbox(ctx context.Context, name string) error {
	name, err := imapName(name)
	if err != nil {
		return err
	}
	if name == "INBOX" {
		return &inetimap.Error{Code: "CANNOT", Text: "INBOX cannot be deleted."}
	}
	err = u.s.write(ctx, func(tx *wtx) error {
		mb, err := u.mailboxTx(ctx, tx, name)
		if err != nil {
			return err
		}
		all, err := imapRowsTx(ctx, tx, mb.id, nil)
		if err != nil {
			return err
		}
		if err := u.s.expungeRowsTx(ctx, tx, all); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM mailboxes WHERE id = ?`, mb.id)
		return err
	})
	return imapErr(err)
}

// RenameMailbox renames a mailbox and its inferiors; renaming INBOX moves
// its messages to a new mailbox instead (RFC 9051 §6.3.6).
func (u *imapUser) RenameMailbox(ctx context.Context, from, to string) error {
	from, err := imapName(from)
	if err != nil {
		return err
	}
	if to, err = imapNewName(to); err != nil {
		return err
	}
	if from == to {
		return inetimap.ErrAlreadyExists
	}
	if strings.HasPrefix(to, from+"/") {
		return &inetimap.Error{Code: "CANNOT", Text: "Cannot rename a mailbox into itself."}
	}
	err = u.s.write(ctx, func(tx *wtx) error {
		mb, err := u.mailboxTx(ctx, tx, from)
		if err != nil {
			return err
		}
		if taken, err := u.nameTakenTx(ctx, tx, to); err != nil || taken {
			if err == nil {
				err = inetimap.ErrAlreadyExists
			}
			return err
		}
		if err := u.createParentsTx(ctx, tx, to); err != nil {
			return err
		}
		if from == "INBOX" {
			return u.renameInboxTx(ctx, tx, mb, to)
		}
		return u.renameTreeTx(ctx, tx, mb, to)
	})
	return imapErr(err)
}

// renameTreeTx renames mb and its inferiors, unless a new name is taken.
func (u *imapUser) renameTreeTx(ctx context.Context, tx *wtx, mb mailboxRow, to string) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, name FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ?`,
		u.id, len(mb.name)+1, mb.name+"/")
	if err != nil {
		return err
	}
	var children []mailboxName
	for rows.Next() {
		var c mailboxName
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
		if taken, err := u.nameTakenTx(ctx, tx, to+c.name[len(mb.name):]); err != nil || taken {
			if err == nil {
				err = inetimap.ErrAlreadyExists
			}
			return err
		}
	}
	if err := renameMailboxTx(ctx, tx, mb.id, to); err != nil {
		return err
	}
	for _, c := range children {
		if err := renameMailboxTx(ctx, tx, c.id, to+c.name[len(mb.name):]); err != nil {
			return err
		}
	}
	return nil
}

// renameInboxTx moves INBOX's messages, with their UIDs, to a new mailbox
// to (whose UIDNEXT is INBOX's); INBOX stays, empty, and keeps its
// UIDVALIDITY and UIDNEXT. The triggers record the messages as expunged
// from INBOX.
func (u *imapUser) renameInboxTx(ctx context.Context, tx *wtx, inbox mailboxRow, to string) error {
	id, err := u.s.createMailboxImapTx(ctx, tx, u.id, to, "")
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET uid_next = ?1, recent_uid = (SELECT recent_uid FROM mailboxes WHERE id = ?2) WHERE id = ?3`,
		inbox.uidNext, inbox.id, id); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE messages SET mailbox_id = ? WHERE mailbox_id = ?`, id, inbox.id)
	if err == nil {
		tx.After(u.s.broadcast)
	}
	return err
}

// Subscriptions returns the names the user subscribed to.
func (u *imapUser) Subscriptions(ctx context.Context) ([]string, error) {
	rows, err := u.s.db.QueryContext(ctx, `SELECT name FROM subscriptions WHERE user_id = ?`, u.id)
	if err != nil {
		return nil, imapErr(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// Subscribe adds or removes a subscription, and keeps the mailbox's
// subscribed column in step.
func (u *imapUser) Subscribe(ctx context.Context, name string, subscribe bool) error {
	name, err := imapName(name)
	if err != nil {
		return err
	}
	err = u.s.write(ctx, func(tx *wtx) error {
		q := `INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)`
		if !subscribe {
			q = `DELETE FROM subscriptions WHERE user_id = ? AND name = ?`
		}
		if _, err := tx.ExecContext(ctx, q, u.id, name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE mailboxes SET subscribed = ? WHERE user_id = ? AND name = ?`, subscribe, u.id, name)
		return err
	})
	return imapErr(err)
}

// Status returns a mailbox's counters, from one snapshot.
func (u *imapUser) Status(ctx context.Context, name string) (*inetimap.MailboxStatus, error) {
	name, err := imapName(name)
	if err != nil {
		return nil, err
	}
	tx, err := u.s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, imapErr(err)
	}
	defer tx.Rollback()
	var st inetimap.MailboxStatus
	var id int64
	var seen, recentUID uint32
	err = tx.QueryRowContext(ctx, `SELECT id, total, seen, uid_next, uid_validity, highest_modseq, recent_uid FROM mailboxes WHERE user_id = ? AND name = ?`,
		u.id, name).Scan(&id, &st.Messages, &seen, &st.UIDNext, &st.UIDValidity, &st.HighestModSeq, &recentUID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, inetimap.ErrNonExistent
	} else if err != nil {
		return nil, err
	}
	st.Unseen = st.Messages - seen
	err = tx.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE mailbox_id = ? AND uid >= ?`, id, recentUID).Scan(&st.Recent)
	if err == nil {
		err = tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(m.size), 0) FROM messages m WHERE m.mailbox_id = ?`, id).Scan(new(int), &st.Size)
	}
	if err == nil {
		err = tx.QueryRowContext(ctx, `SELECT count(*) FROM messages m JOIN flags f ON f.message_id = m.id
			WHERE m.mailbox_id = ? AND f.flag = '\Deleted' COLLATE NOCASE`, id).Scan(&st.Deleted)
	}
	if err != nil {
		return nil, err
	}
	return &st, nil
}
