package store

import (
	"context"
	"errors"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// imapBackend is the store's backend of go-imap's imapserver, the IMAP
// server before package imap's own; left until its helpers move to
// IMAPBackend's files.
type imapBackend struct{ s *Store }

func (be imapBackend) NewSession(c *imapserver.Conn) (imapserver.Session, error) {
	ctx, cancel := context.WithCancel(context.Background())
	sess := &imapSession{s: be.s, ctx: ctx, cancel: cancel}
	if c != nil {
		if nc := c.NetConn(); nc != nil {
			sess.remote = nc.RemoteAddr().String()
			sess.abort = func() { nc.Close() }
		}
	}
	if sess.abort == nil {
		sess.abort = func() {}
	}
	return sess, nil
}

// imapSession is one IMAP connection. The server calls its methods from
// the connection's goroutine, one at a time, except that Idle runs on a
// goroutine of its own while the connection waits for DONE; if the
// connection ends instead, go-imap calls Close without waiting for Idle to
// return, so the two meet under idleMu.
type imapSession struct {
	s      *Store
	ctx    context.Context
	cancel context.CancelFunc
	remote string
	abort  func() // closes the connection, for a response that cannot be completed

	idleMu   sync.Mutex
	idleDone chan struct{} // closed when the last Idle returns
	closed   bool

	userID int64
	user   string
	sel    *imapSelected // nil unless a mailbox is selected
}

var _ imapserver.SessionIMAP4rev2 = (*imapSession)(nil)

func (sess *imapSession) Close() error {
	sess.cancel() // ends an Idle still running
	sess.idleMu.Lock()
	sess.closed = true
	idling := sess.idleDone
	sess.idleMu.Unlock()
	if idling != nil {
		<-idling
	}
	if sess.sel != nil {
		sess.sel.close()
		sess.sel = nil
	}
	if sess.userID != 0 {
		sess.s.dropIMAPSession(sess.userID, sess)
	}
	return nil
}

func (sess *imapSession) Login(username, password string) error {
	id, err := sess.s.Authenticate(sess.ctx, username, password)
	if errors.Is(err, ErrAuthFailed) {
		return imapserver.ErrAuthFailed
	} else if err != nil {
		return sess.err("login", err)
	}
	sess.userID = id
	sess.user = normAddress(username)
	sess.s.addIMAPSession(id, sess)
	return nil
}

// addIMAPSession records that sess is logged in as user id.
func (s *Store) addIMAPSession(id int64, sess *imapSession) {
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.sessions[id] == nil {
		s.sessions[id] = make(map[*imapSession]struct{})
	}
	s.sessions[id][sess] = struct{}{}
}

func (s *Store) dropIMAPSession(id int64, sess *imapSession) {
	s.smu.Lock()
	defer s.smu.Unlock()
	delete(s.sessions[id], sess)
	if len(s.sessions[id]) == 0 {
		delete(s.sessions, id)
	}
}

// endIMAPSessions disconnects the IMAP sessions logged in as user id, which
// has been removed.
func (s *Store) endIMAPSessions(id int64) {
	s.smu.Lock()
	defer s.smu.Unlock()
	for sess := range s.sessions[id] {
		sess.abort()
	}
}

// err turns an error of the store into the reply the client gets: an
// *imap.Error is sent as it is, ErrNotFound and ErrExists get their RFC
// 5530 codes, a busy or full database a temporary NO; anything else is
// logged and the client gets a generic NO without details.
func (sess *imapSession) err(op string, err error) error {
	var ie *imap.Error
	var se *sqlite.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		return err
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, ErrNotFound):
		return errNonExistent
	case errors.Is(err, ErrExists):
		return errAlreadyExists
	case errors.Is(err, ErrClosed):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Server is shutting down, try again later"}
	case errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED):
		sess.s.log.Warn("store: imap: database busy", "op", op, "user", sess.user, "remote", sess.remote, "err", err)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Temporary failure, try again"}
	case errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL:
		sess.s.log.Error("store: imap: disk full", "op", op, "user", sess.user, "remote", sess.remote, "err", err)
		return errOverQuota
	}
	sess.s.log.Error("store: imap", "op", op, "user", sess.user, "remote", sess.remote, "err", err)
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeServerBug, Text: "Internal server error"}
}

var (
	errNonExistent   = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such mailbox"}
	errAlreadyExists = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "Mailbox already exists"}
	errTryCreate     = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	errOverQuota     = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "Not enough storage space, try again later"}
	errReadOnly      = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Mailbox is read-only"}
)
