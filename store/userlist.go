package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// A UserKind says how a user came to be in the store.
type UserKind int

// The kinds of users. A user with a password is an account, whatever made
// it first.
const (
	// UserKindAuto is a user without a password made before the store
	// recorded how (by a login in any-login mode, or by mail delivered).
	UserKindAuto UserKind = iota
	// UserKindAccount is a user with a password ([Store.AddUser]).
	UserKindAccount
	// UserKindLogin is a user made by a login in any-login mode.
	UserKindLogin
	// UserKindRecipient is a user made by mail delivered to it in
	// any-login mode. A later login does not change the kind, which tells
	// how the address was made.
	UserKindRecipient
)

// String returns "auto", "account", "any-login" or "rcpt".
func (k UserKind) String() string {
	switch k {
	case UserKindAccount:
		return "account"
	case UserKindLogin:
		return "any-login"
	case UserKindRecipient:
		return "rcpt"
	}
	return "auto"
}

// A User is a user of the store as [Store.ListUsers] describes it.
type User struct {
	Address string
	Kind    UserKind
	Created time.Time
	// Mailboxes are the user's mailboxes with the number of messages in
	// each, INBOX first, then by name.
	Mailboxes []MailboxCount
}

// A MailboxCount is a mailbox and the number of messages in it.
type MailboxCount struct {
	Name     string
	Messages int
}

// Messages returns the number of messages in all of u's mailboxes.
func (u *User) Messages() int {
	n := 0
	for _, mb := range u.Mailboxes {
		n += mb.Messages
	}
	return n
}

// ListUsers returns every user of the store, sorted by address, with the
// number of messages in each of its mailboxes.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	users, _, err := usersTx(ctx, s.db, "")
	return users, err
}

// usersTx returns the user with address, or every user if address is "",
// and their ids.
func usersTx(ctx context.Context, q querier, address string) ([]User, []int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT u.id, u.address, u.password_hash IS NOT NULL, coalesce(u.origin, ''), u.created, m.name,
			(SELECT count(*) FROM messages WHERE mailbox_id = m.id)
		FROM users u LEFT JOIN mailboxes m ON m.user_id = u.id
		WHERE ?1 = '' OR u.address = ?1
		ORDER BY u.address, m.name <> 'INBOX', m.name`, address)
	if err != nil {
		return nil, nil, fmt.Errorf("store: users: %w", err)
	}
	defer rows.Close()
	var users []User
	var ids []int64
	for rows.Next() {
		var id, created int64
		var u User
		var account bool
		var origin string
		var mbox sql.NullString
		var n int
		if err := rows.Scan(&id, &u.Address, &account, &origin, &created, &mbox, &n); err != nil {
			return nil, nil, fmt.Errorf("store: users: %w", err)
		}
		if len(ids) == 0 || ids[len(ids)-1] != id {
			u.Kind = userKind(account, origin)
			u.Created = time.Unix(created, 0).UTC()
			users = append(users, u)
			ids = append(ids, id)
		}
		if mbox.Valid {
			last := &users[len(users)-1]
			last.Mailboxes = append(last.Mailboxes, MailboxCount{Name: mbox.String, Messages: n})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("store: users: %w", err)
	}
	return users, ids, nil
}

func userKind(account bool, origin string) UserKind {
	switch {
	case account:
		return UserKindAccount
	case origin == originLogin:
		return UserKindLogin
	case origin == originRcpt:
		return UserKindRecipient
	}
	return UserKindAuto
}

// RemoveUser removes a user (an account or not), its mailboxes and its
// messages, and returns the user as it was. It returns a *NotFoundError for
// an unknown address.
//
// The IMAP sessions that have one of its mailboxes selected get the
// EXPUNGE responses, and every IMAP session logged in as the user is then
// disconnected; this also holds when a server in another process has the
// data directory open (Options.Exclusive), which then carries out the
// removal. A POP3 session of the user sees its messages as deleted by
// another session. In any-login mode a later login or delivery makes the
// address again, empty.
func (s *Store) RemoveUser(ctx context.Context, address string) (User, error) {
	res, err := s.do(ctx, &request{Op: opRemoveUser, Address: address})
	if res.User == nil {
		return User{}, err
	}
	return *res.User, err
}

// removeUserTx is RemoveUser in tx.
func (s *Store) removeUserTx(ctx context.Context, tx *wtx, address string) (User, error) {
	address = normAddress(address)
	users, ids, err := usersTx(ctx, tx, address)
	if err != nil {
		return User{}, err
	}
	if len(users) == 0 {
		return User{}, &NotFoundError{Address: address}
	}
	id := ids[0]
	// Expunged one mailbox at a time, so that the sessions that have one
	// selected hear of it.
	boxes, err := filterMailboxesTx(ctx, tx, &MessageFilter{Address: address})
	if err != nil {
		return User{}, err
	}
	for _, mbox := range boxes {
		refs, err := loadRefs(ctx, tx, mbox)
		if err != nil {
			return User{}, err
		}
		del := make([]bool, len(refs))
		for i := range del {
			del[i] = true
		}
		if err := s.expungeRefsTx(ctx, tx, mbox, refs, del); err != nil {
			return User{}, err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id); err != nil {
		return User{}, err
	}
	tx.After(func() {
		s.authCache.Delete(address)
	})
	return users[0], nil
}
