package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"unicode/utf8"

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

// checkNewMailboxName says whether name can be created.
func checkNewMailboxName(name string) error {
	bad := func(text string) error {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: text}
	}
	switch {
	case name == "":
		return bad("Empty mailbox name")
	case len(name) > maxMailboxNameBytes:
		return bad("Mailbox name too long")
	case !utf8.ValidString(name):
		return bad("Mailbox name is not valid UTF-8")
	case strings.HasPrefix(name, "/") || strings.Contains(name, "//"):
		return bad("Mailbox name has an empty level")
	case strings.ContainsAny(name, "*%"):
		return bad("Mailbox name contains a wildcard")
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return bad("Mailbox name contains a control character")
		}
	}
	return nil
}

func scanMailbox(row *sql.Row) (mailboxRow, error) {
	var mb mailboxRow
	err := row.Scan(&mb.id, &mb.name, &mb.uidValidity, &mb.uidNext, &mb.specialUse, &mb.subscribed)
	if errors.Is(err, sql.ErrNoRows) {
		return mb, ErrNotFound
	}
	return mb, err
}

const mailboxColumns = `id, name, uid_validity, uid_next, special_use, subscribed`

// mailbox looks up a mailbox of the session's user by name.
func (sess *imapSession) mailbox(ctx context.Context, q querier, name string) (mailboxRow, error) {
	return scanMailbox(q.QueryRowContext(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE user_id = ? AND name = ?`, sess.userID, normMailboxName(name)))
}

// createMailboxImapTx makes a mailbox, unsubscribed, with a fresh
// UIDVALIDITY. Its id is chosen so that it is not the id of a deleted
// mailbox that a session still has selected.
func (s *Store) createMailboxImapTx(ctx context.Context, tx *wtx, userID int64, name, specialUse string) (int64, error) {
	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM mailboxes`).Scan(&id); err != nil {
		return 0, err
	}
	s.tmu.Lock()
	for s.trackers[id] != nil {
		id++
	}
	s.tmu.Unlock()
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

// createParentsTx makes the missing superior names of name (RFC 9051
// §6.3.4: the server SHOULD create them).
func (sess *imapSession) createParentsTx(ctx context.Context, tx *wtx, name string) error {
	for i := 0; i < len(name); i++ {
		if name[i] != mailboxDelim {
			continue
		}
		parent := name[:i]
		taken, err := sess.nameTakenTx(ctx, tx, parent)
		if err != nil {
			return err
		}
		if !taken {
			if _, err := sess.s.createMailboxImapTx(ctx, tx, sess.userID, parent, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// nameTakenTx says whether the session's user has a mailbox named name.
func (sess *imapSession) nameTakenTx(ctx context.Context, tx *wtx, name string) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM mailboxes WHERE user_id = ? AND name = ?`, sess.userID, name).Scan(&n)
	return n > 0, err
}

// specialUseAttrs are the RFC 6154 attributes a mailbox can be created
// with.
var specialUseAttrs = map[imap.MailboxAttr]bool{
	imap.MailboxAttrAll: true, imap.MailboxAttrArchive: true, imap.MailboxAttrDrafts: true,
	imap.MailboxAttrFlagged: true, imap.MailboxAttrJunk: true, imap.MailboxAttrSent: true,
	imap.MailboxAttrTrash: true,
}

func (sess *imapSession) Create(name string, options *imap.CreateOptions) error {
	name = normMailboxName(strings.TrimRight(name, "/"))
	if err := checkNewMailboxName(name); err != nil {
		return err
	}
	var use []string
	if options != nil {
		for _, a := range options.SpecialUse {
			if !specialUseAttrs[imap.MailboxAttr(canonicalAttr(string(a)))] {
				return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "USEATTR", Text: "Unsupported special-use attribute"}
			}
			use = append(use, canonicalAttr(string(a)))
		}
	}
	err := sess.s.write(sess.ctx, func(tx *wtx) error {
		if _, err := sess.mailbox(sess.ctx, tx, name); err == nil {
			return ErrExists
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := sess.createParentsTx(sess.ctx, tx, name); err != nil {
			return err
		}
		_, err := sess.s.createMailboxImapTx(sess.ctx, tx, sess.userID, name, strings.Join(use, " "))
		return err
	})
	return sess.err("create", err)
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

func (sess *imapSession) Delete(name string) error {
	name = normMailboxName(name)
	if name == "INBOX" {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "INBOX cannot be deleted"}
	}
	err := sess.s.write(sess.ctx, func(tx *wtx) error {
		mb, err := sess.mailbox(sess.ctx, tx, name)
		if err != nil {
			return err
		}
		// The messages go first, so that sessions with the mailbox
		// selected see them expunged.
		refs, err := loadRefs(sess.ctx, tx, mb.id)
		if err != nil {
			return err
		}
		all := make([]bool, len(refs))
		for i := range all {
			all[i] = true
		}
		if err := sess.s.expungeRefsTx(sess.ctx, tx, mb.id, refs, all); err != nil {
			return err
		}
		_, err = tx.ExecContext(sess.ctx, `DELETE FROM mailboxes WHERE id = ?`, mb.id)
		return err
	})
	return sess.err("delete", err)
}

func (sess *imapSession) setSubscribed(name string, on bool) error {
	return sess.s.write(sess.ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(sess.ctx, `UPDATE mailboxes SET subscribed = ? WHERE user_id = ? AND name = ?`, on, sess.userID, normMailboxName(name))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

func (sess *imapSession) Subscribe(name string) error {
	return sess.err("subscribe", sess.setSubscribed(name, true))
}

func (sess *imapSession) Unsubscribe(name string) error {
	return sess.err("unsubscribe", sess.setSubscribed(name, false))
}
