package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// A Message is a stored message as [Store.Messages] returns it.
type Message struct {
	// UID is the message's IMAP UID in its mailbox (RFC 9051 §2.3.1.1).
	UID uint32
	// Flags are the message's flags, sorted, as stored (system flags in
	// their canonical spelling, such as \Seen).
	Flags []string
	// Size is the length of Body in octets (RFC822.SIZE).
	Size int64
	// InternalDate is when the message was delivered or appended.
	InternalDate time.Time
	// Body is the whole message, header and body, with CRLF line endings.
	Body []byte
}

// Messages returns the messages of a user's mailbox, in UID order. The
// address is compared without regard to case, as logins are, and the name
// INBOX too (RFC 9051 §5.1). It returns an error wrapping ErrNotFound if the
// user or the mailbox does not exist. Messages only reads: it makes no user,
// even with Options.AnyLogin, and sets no flag.
//
// With [Store.Changed] it lets a caller wait for a message without polling.
func (s *Store) Messages(ctx context.Context, address, mailbox string) ([]Message, error) {
	// One read transaction, so that messages and flags are one snapshot.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	defer tx.Rollback()
	var mbox int64
	err = tx.QueryRowContext(ctx, `SELECT m.id FROM mailboxes m JOIN users u ON u.id = m.user_id WHERE u.address = ? AND m.name = ?`,
		normAddress(address), normMailboxName(mailbox)).Scan(&mbox)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: messages of %q in %q: %w", address, mailbox, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	msgs, index, err := loadMessages(ctx, tx, mbox)
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	if len(msgs) == 0 {
		return msgs, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT f.message_id, f.flag FROM flags f JOIN messages m ON m.id = f.message_id WHERE m.mailbox_id = ? ORDER BY f.message_id, f.flag`, mbox)
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var flag string
		if err := rows.Scan(&id, &flag); err != nil {
			return nil, fmt.Errorf("store: messages: %w", err)
		}
		if i, ok := index[id]; ok {
			msgs[i].Flags = append(msgs[i].Flags, flag)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	return msgs, nil
}

// loadMessages returns the messages of mailbox mbox in UID order, with
// their bodies but no flags, and the index in the slice of each message id.
func loadMessages(ctx context.Context, q querier, mbox int64) ([]Message, map[int64]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.id, m.uid, m.size, m.internal_date, c.data
		FROM messages m LEFT JOIN body_chunks c ON c.body_id = m.body_id
		WHERE m.mailbox_id = ? ORDER BY m.uid, c.off`, mbox)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	msgs := []Message{}
	index := make(map[int64]int) // message id → index in msgs
	for rows.Next() {
		var id, date int64
		var m Message
		var piece []byte
		if err := rows.Scan(&id, &m.UID, &m.Size, &date, &piece); err != nil {
			return nil, nil, err
		}
		if i, ok := index[id]; ok {
			msgs[i].Body = append(msgs[i].Body, piece...)
			continue
		}
		m.InternalDate = time.Unix(0, date)
		m.Flags = []string{}
		m.Body = make([]byte, 0, m.Size)
		m.Body = append(m.Body, piece...)
		index[id] = len(msgs)
		msgs = append(msgs, m)
	}
	return msgs, index, rows.Err()
}
