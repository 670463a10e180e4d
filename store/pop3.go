package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/inetkit/inetkit/pop3"
)

// POP3Backend returns the POP3 backend of the store: a user's maildrop is
// their INBOX, fixed at login; deletions committed at QUIT are expunged from
// the INBOX and IMAP sessions see them at once. One POP3 session at a time
// holds a maildrop (RFC 1939 §8, "exclusive-access lock"); a second gets
// pop3.ErrInUse.
//
// With Options.AnyLogin the backend also takes APOP (RFC 1939 §7), for the
// addresses that need no password: any digest logs them in, as any password
// does. An account with a password cannot use APOP, whose digest needs the
// password itself and not the bcrypt hash the store keeps.
func (s *Store) POP3Backend() pop3.Backend {
	if s.opts.AnyLogin {
		return &pop3APOPBackend{pop3Backend{s: s}}
	}
	return &pop3Backend{s: s}
}

type pop3Backend struct{ s *Store }

func (be *pop3Backend) Login(ctx context.Context, user, pass string) (pop3.Session, error) {
	userID, err := be.s.Authenticate(ctx, user, pass)
	return be.open(ctx, userID, err)
}

// pop3APOPBackend is the POP3 backend of a store with Options.AnyLogin.
type pop3APOPBackend struct{ pop3Backend }

func (be *pop3APOPBackend) LoginAPOP(ctx context.Context, user, timestamp, digest string) (pop3.Session, error) {
	userID, err := be.s.authenticateNoPassword(ctx, user)
	return be.open(ctx, userID, err)
}

// open starts the session of the user that authenticated as userID, or
// returns the error err of that authentication.
func (be *pop3Backend) open(ctx context.Context, userID int64, err error) (pop3.Session, error) {
	if errors.Is(err, ErrAuthFailed) {
		return nil, pop3.ErrAuthFailed
	} else if err != nil {
		return nil, err
	}
	s := be.s
	s.pop3mu.Lock()
	if s.pop3Locked[userID] {
		s.pop3mu.Unlock()
		return nil, pop3.ErrInUse
	}
	s.pop3Locked[userID] = true
	s.pop3mu.Unlock()
	sess := &pop3Session{be: be, userID: userID}
	if err := sess.load(ctx); err != nil {
		sess.Close()
		return nil, err
	}
	return sess, nil
}

type pop3Message struct {
	id  int64
	uid uint32
}

type pop3Session struct {
	be       *pop3Backend
	userID   int64
	mbox     int64
	msgs     []pop3Message
	infos    []pop3.MessageInfo
	closeOne sync.Once
}

// load takes the snapshot of the INBOX the session shows.
func (sess *pop3Session) load(ctx context.Context) error {
	db := sess.be.s.db
	mbox, err := inboxID(ctx, db, sess.userID)
	if err != nil {
		return err
	}
	sess.mbox = mbox
	var validity uint32
	if err := db.QueryRowContext(ctx, `SELECT uid_validity FROM mailboxes WHERE id = ?`, mbox).Scan(&validity); err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT id, uid, size FROM messages WHERE mailbox_id = ? ORDER BY uid`, mbox)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var m pop3Message
		var size int64
		if err := rows.Scan(&m.id, &m.uid, &size); err != nil {
			return err
		}
		sess.msgs = append(sess.msgs, m)
		sess.infos = append(sess.infos, pop3.MessageInfo{Size: size, UID: fmt.Sprintf("%d.%d", validity, m.uid)})
	}
	return rows.Err()
}

func (sess *pop3Session) List(ctx context.Context) ([]pop3.MessageInfo, error) {
	return sess.infos, nil
}

func (sess *pop3Session) Open(ctx context.Context, n int) (io.ReadCloser, error) {
	if n < 1 || n > len(sess.msgs) {
		return nil, &pop3.Error{Message: "no such message"}
	}
	m := sess.msgs[n-1]
	b, err := openBody(ctx, sess.be.s.bodies, m.id, sess.mbox, m.uid, sess.infos[n-1].Size)
	if errors.Is(err, errBodyGone) {
		return nil, &pop3.Error{Message: "message was deleted by another session"}
	} else if err != nil {
		return nil, err
	}
	// The message is read a piece at a time as the client takes it.
	return io.NopCloser(b.reader(ctx)), nil
}

func (sess *pop3Session) Commit(ctx context.Context, deleted []int) error {
	if len(deleted) == 0 {
		return nil
	}
	s := sess.be.s
	return s.write(ctx, func(tx *wtx) error {
		gone := make(map[int64]bool, len(deleted))
		for _, n := range deleted {
			if n < 1 || n > len(sess.msgs) {
				return fmt.Errorf("store: pop3 commit: message %d out of range", n)
			}
			gone[sess.msgs[n-1].id] = true
		}
		// The same expunge as IMAP's, so that sessions with the INBOX
		// selected hear of it. A message another session has already
		// expunged is simply not there.
		refs, err := loadRefs(ctx, tx, sess.mbox)
		if err != nil {
			return err
		}
		del := make([]bool, len(refs))
		for i, r := range refs {
			del[i] = gone[r.id]
		}
		return s.expungeRefsTx(ctx, tx, sess.mbox, refs, del)
	})
}

func (sess *pop3Session) Close() error {
	sess.closeOne.Do(func() {
		s := sess.be.s
		s.pop3mu.Lock()
		delete(s.pop3Locked, sess.userID)
		s.pop3mu.Unlock()
	})
	return nil
}

var _ pop3.Session = (*pop3Session)(nil)
