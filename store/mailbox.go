package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// mailboxDelim is the hierarchy separator of mailbox names.
const mailboxDelim = '/'

// maxMailboxNameBytes bounds the length of a mailbox name.
const maxMailboxNameBytes = 1000

// mailboxRow is a row of the mailboxes table.
type mailboxRow struct {
	id          int64
	name        string
	uidValidity uint32
	uidNext     uint32
	specialUse  string
	subscribed  bool
}

// mailboxColumns are the columns scanMailbox reads, in its order.
const mailboxColumns = `id, name, uid_validity, uid_next, special_use, subscribed`

// scanMailbox reads a mailboxRow from a row of mailboxColumns; no row is
// ErrNotFound.
func scanMailbox(row *sql.Row) (mailboxRow, error) {
	var mb mailboxRow
	err := row.Scan(&mb.id, &mb.name, &mb.uidValidity, &mb.uidNext, &mb.specialUse, &mb.subscribed)
	if errors.Is(err, sql.ErrNoRows) {
		return mb, ErrNotFound
	}
	return mb, err
}

// mailboxName is a mailbox's id and name.
type mailboxName struct {
	id   int64
	name string
}

// normMailboxName makes the INBOX part of a name upper case: INBOX is
// case-insensitive (RFC 9051 §5.1), and so is it as the first level of
// a hierarchical name here.
func normMailboxName(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	if len(name) > 6 && strings.EqualFold(name[:6], "INBOX/") {
		return "INBOX/" + name[6:]
	}
	return name
}

// specialUseAttrs are the special-use attributes of RFC 6154 that a
// mailbox may be created with.
var specialUseAttrs = map[imap.MailboxAttr]bool{
	imap.MailboxAttrAll: true, imap.MailboxAttrArchive: true, imap.MailboxAttrDrafts: true,
	imap.MailboxAttrFlagged: true, imap.MailboxAttrJunk: true, imap.MailboxAttrSent: true,
	imap.MailboxAttrTrash: true,
}

// canonicalAttr spells a special-use attribute as RFC 6154 does.
func canonicalAttr(a string) string {
	for k := range specialUseAttrs {
		if strings.EqualFold(string(k), a) {
			return string(k)
		}
	}
	return a
}

// createMailboxImapTx creates mailbox name of user userID, with a new
// UIDVALIDITY and the special-use attribute specialUse (or ""), and returns
// its id; a name in use is ErrExists.
func (s *Store) createMailboxImapTx(ctx context.Context, tx *wtx, userID int64, name, specialUse string) (int64, error) {
	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM mailboxes`).Scan(&id); err != nil {
		return 0, err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO mailboxes (id, user_id, name, uid_validity, special_use, subscribed) VALUES (?, ?, ?, ?, ?, 0)`,
		id, userID, name, newUIDValidity(), specialUse)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return 0, ErrExists
		}
		return 0, err
	}
	return id, nil
}

// renameMailboxTx gives mailbox id the name name.
func renameMailboxTx(ctx context.Context, tx *wtx, id int64, name string) error {
	_, err := tx.ExecContext(ctx, `UPDATE mailboxes SET name = ? WHERE id = ?`, name, id)
	return err
}
