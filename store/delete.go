package store

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// A MessageFilter selects the messages [Store.DeleteMessages] deletes. An
// empty field matches everything: the zero MessageFilter matches every
// message of the store.
type MessageFilter struct {
	// Address is the user whose messages match; "" means every user.
	Address string `json:"address,omitempty"`
	// Mailbox is the name of the mailbox whose messages match (INBOX
	// without regard to case); "" means every mailbox.
	Mailbox string `json:"mailbox,omitempty"`
	// Subject matches a message whose Subject header field, decoded (RFC
	// 2047), holds it, without regard to case.
	Subject string `json:"subject,omitempty"`
	// From matches a message whose From header field, decoded, holds it,
	// without regard to case: a name or an address, or a part of either.
	From string `json:"from,omitempty"`
}

// DeleteMessages deletes the messages f matches and returns how many it
// deleted. It returns a *NotFoundError if f names an address that does not
// exist, or an address and a mailbox it does not have.
//
// The IMAP sessions that have a mailbox selected get the EXPUNGE responses,
// also when a server in another process has the data directory open
// (Options.Exclusive): the deletion is then carried out by that server. A
// POP3 session holding a maildrop keeps its list of messages until it
// ends, and is answered "message was deleted by another session" for a
// message deleted under it.
func (s *Store) DeleteMessages(ctx context.Context, f MessageFilter) (int, error) {
	res, err := s.do(ctx, &request{Op: opDelete, Filter: &f})
	return res.Deleted, err
}

// deleteMessagesTx is DeleteMessages in tx.
func (s *Store) deleteMessagesTx(ctx context.Context, tx *wtx, f *MessageFilter) (int, error) {
	boxes, err := filterMailboxesTx(ctx, tx, f)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, mbox := range boxes {
		refs, err := loadRefs(ctx, tx, mbox)
		if err != nil {
			return 0, err
		}
		del := make([]bool, len(refs))
		for i, r := range refs {
			if del[i], err = matchHeaderTx(ctx, tx, r.id, f); err != nil {
				return 0, err
			}
			if del[i] {
				n++
			}
		}
		if err := s.expungeRefsTx(ctx, tx, mbox, refs, del); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// filterMailboxesTx returns the ids of the mailboxes f names.
func filterMailboxesTx(ctx context.Context, tx *wtx, f *MessageFilter) ([]int64, error) {
	address, mailbox := normAddress(f.Address), ""
	if f.Mailbox != "" {
		mailbox = normMailboxName(f.Mailbox)
	}
	if address != "" {
		if _, _, err := lookupUserTx(ctx, tx, address); err != nil {
			return nil, notFound(err, address, "")
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT m.id FROM mailboxes m JOIN users u ON u.id = m.user_id
		WHERE (?1 = '' OR u.address = ?1) AND (?2 = '' OR m.name = ?2) ORDER BY m.id`, address, mailbox)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 && address != "" && mailbox != "" {
		return nil, &NotFoundError{Address: address, Mailbox: mailbox}
	}
	return ids, nil
}

// maxFilterHeaderBytes bounds the part of a message read to find its
// header: a header longer than this is matched as far as it was read.
const maxFilterHeaderBytes = 256 << 10

// matchHeaderTx reports whether the header of message id matches f's
// Subject and From.
func matchHeaderTx(ctx context.Context, tx *wtx, id int64, f *MessageFilter) (bool, error) {
	if f.Subject == "" && f.From == "" {
		return true, nil
	}
	head, err := messageHeadTx(ctx, tx, id)
	if err != nil {
		return false, err
	}
	th, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(head)))
	h := mail.Header{Header: gomessage.Header{Header: th}}
	if f.Subject != "" && !matchHeaderFields(h.FieldsByKey("Subject"), f.Subject) {
		return false, nil
	}
	if f.From != "" && !matchHeaderFields(h.FieldsByKey("From"), f.From) {
		return false, nil
	}
	return true, nil
}

// messageHeadTx returns the start of message id's body: its pieces in
// order, until one holds the blank line that ends the header or
// maxFilterHeaderBytes are read.
func messageHeadTx(ctx context.Context, tx *wtx, id int64) ([]byte, error) {
	rows, err := tx.QueryContext(ctx, `SELECT c.data FROM messages m JOIN body_chunks c ON c.body_id = m.body_id
		WHERE m.id = ? ORDER BY c.off`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var head []byte
	for len(head) < maxFilterHeaderBytes && rows.Next() {
		var piece []byte
		if err := rows.Scan(&piece); err != nil {
			return nil, err
		}
		head = append(head, piece...)
		if bytes.HasPrefix(head, []byte("\r\n")) || bytes.Contains(head, []byte("\r\n\r\n")) {
			break
		}
	}
	return head, rows.Err()
}

// notFound turns the sql.ErrNoRows of a lookup into a *NotFoundError.
func notFound(err error, address, mailbox string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &NotFoundError{Address: address, Mailbox: mailbox}
	}
	return fmt.Errorf("store: %w", err)
}

// matchHeaderFields reports whether one of fields contains pattern,
// decoded and case-insensitively; an empty pattern matches any field.
func matchHeaderFields(fields gomessage.HeaderFields, pattern string) bool {
	if pattern == "" {
		return fields.Len() > 0
	}
	pattern = strings.ToLower(pattern)
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		if strings.Contains(strings.ToLower(v), pattern) {
			return true
		}
	}
	return false
}
