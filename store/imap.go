package store

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/inetkit/inetkit/imap"
)

// IMAPBackend returns the store as the backend of inetkit's own IMAP
// server. Users log in with [Store.Authenticate]; their mailboxes are those
// of the store, with "/" as the hierarchy separator. Every change, whoever
// makes it (a delivery over SMTP, a deletion over POP3 or from the console,
// an IMAP session), gets a mod-sequence (RFC 7162) from triggers of the
// database, and wakes the sessions that watch the mailbox after its commit.
func (s *Store) IMAPBackend() imap.Backend { return imapBackend{s} }

type imapBackend struct{ s *Store }

var (
	_ imap.Backend = imapBackend{}
	_ imap.User    = (*imapUser)(nil)
	_ imap.Mailbox = (*imapMailbox)(nil)
)

// Login checks the credentials with Store.Authenticate (which, with
// Options.AnyLogin, makes the user).
func (be imapBackend) Login(ctx context.Context, username, password string) (imap.User, error) {
	id, err := be.s.Authenticate(ctx, username, password)
	if errors.Is(err, ErrAuthFailed) {
		return nil, imap.ErrAuthFailed
	} else if err != nil {
		return nil, imapErr(err)
	}
	u := &imapUser{s: be.s, id: id, address: normAddress(username), changed: make(chan struct{}, 1)}
	u.unwatch = be.s.imap.watch(&be.s.imap.users, id, u.changed)
	return u, nil
}

// imapUser is one connection's access to a user's mailboxes.
type imapUser struct {
	s       *Store
	id      int64
	address string
	changed chan struct{}
	unwatch func()
}

func (u *imapUser) Changed() <-chan struct{} { return u.changed }

func (u *imapUser) Close() error {
	u.unwatch()
	return nil
}

// imapErr turns an error of the store into the response the client gets:
// the store's sentinels become their RFC 5530 codes, a busy database a
// temporary NO, a full disk OVERQUOTA; other errors are returned as they
// are, for the server to log.
func imapErr(err error) error {
	var ie *imap.Error
	var se *sqlite.Error
	switch {
	case err == nil, errors.As(err, &ie):
		return err
	case errors.Is(err, ErrNotFound):
		return imap.ErrNonExistent
	case errors.Is(err, ErrExists):
		return imap.ErrAlreadyExists
	case errors.Is(err, ErrClosed):
		return &imap.Error{Code: "UNAVAILABLE", Text: "Server is shutting down, try again later."}
	case errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED):
		return &imap.Error{Code: "UNAVAILABLE", Text: "Temporary failure, try again."}
	case errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL:
		return imap.ErrOverQuota
	}
	return err
}

// imapName checks a mailbox name and returns it with its INBOX level in
// upper case. It refuses, with ErrBadName, an empty level, a level of "."
// or "..", a name that is not UTF-8 or holds a control character, and a
// name too long.
func imapName(name string) (string, error) {
	if name == "" || len(name) > maxMailboxNameBytes || !utf8.ValidString(name) {
		return "", imap.ErrBadName
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return "", imap.ErrBadName
		}
	}
	for level := range strings.SplitSeq(name, "/") {
		if level == "" || level == "." || level == ".." {
			return "", imap.ErrBadName
		}
	}
	return normMailboxName(name), nil
}

// imapNewName checks a name for a new mailbox: as imapName does, and
// without the LIST wildcards, which would make it unlistable on its own.
func imapNewName(name string) (string, error) {
	if strings.ContainsAny(name, "*%") {
		return "", imap.ErrBadName
	}
	return imapName(name)
}
