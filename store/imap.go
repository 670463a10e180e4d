package store

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	inetimap "github.com/inetkit/inetkit/imap"
)

// mailboxDelim is the hierarchy separator of mailbox names.
const mailboxDelim = '/'

// maxMailboxNameBytes bounds the length of a mailbox name.
const maxMailboxNameBytes = 1000

// IMAPBackend returns the IMAP backend of the store. Sessions log in with
// [Store.Authenticate]; a user's mailboxes are those of the store (INBOX
// and the RFC 6154 special-use mailboxes at first), with "/" as the
// hierarchy separator. Every change (a delivery over SMTP, a deletion over
// POP3, a flag set by another IMAP session) is announced to the sessions
// that have the mailbox selected, as EXISTS, EXPUNGE and FETCH responses.
// The sessions implement imapserver.SessionIMAP4rev2 (NAMESPACE, MOVE).
func (s *Store) IMAPBackend() inetimap.Backend { return imapBackend{s} }

type imapBackend struct{ s *Store }

func (be imapBackend) NewSession(c *imapserver.Conn) (inetimap.Session, error) {
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
	return nil
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
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM mailboxes WHERE user_id = ? AND name = ?`, sess.userID, parent).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if _, err := sess.s.createMailboxImapTx(ctx, tx, sess.userID, parent, ""); err != nil {
				return err
			}
		}
	}
	return nil
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
		type child struct {
			id   int64
			name string
		}
		var children []child
		rows, err := tx.QueryContext(ctx, `SELECT id, name FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ?`,
			sess.userID, len(oldName)+1, oldName+"/")
		if err != nil {
			return err
		}
		for rows.Next() {
			var c child
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
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM mailboxes WHERE user_id = ? AND name = ?`,
				sess.userID, newName+c.name[len(oldName):]).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return ErrExists
			}
		}
		if err := sess.createParentsTx(ctx, tx, newName); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET name = ? WHERE id = ?`, newName, mb.id); err != nil {
			return err
		}
		for _, c := range children {
			if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET name = ? WHERE id = ?`, newName+c.name[len(oldName):], c.id); err != nil {
				return err
			}
		}
		return nil
	})
	return sess.err("rename", err)
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

func (sess *imapSession) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{
		Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: mailboxDelim}},
	}, nil
}

func (sess *imapSession) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if options == nil {
		options = &imap.ListOptions{}
	}
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy delimiter and root (RFC 9051 §6.3.9).
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: mailboxDelim})
	}
	ctx := sess.ctx
	rows, err := sess.s.db.QueryContext(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE user_id = ?`, sess.userID)
	if err != nil {
		return sess.err("list", err)
	}
	byName := make(map[string]*mailboxRow)
	var names []string
	for rows.Next() {
		var mb mailboxRow
		if err := rows.Scan(&mb.id, &mb.name, &mb.uidValidity, &mb.uidNext, &mb.specialUse, &mb.subscribed); err != nil {
			rows.Close()
			return sess.err("list", err)
		}
		byName[mb.name] = &mb
		names = append(names, mb.name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return sess.err("list", err)
	}

	// Names that exist only as the parents of others are listed too, as
	// \Noselect (RFC 9051 §6.3.9, §7.3.1).
	children := make(map[string]bool) // names with an inferior
	for _, name := range names {
		for i := 0; i < len(name); i++ {
			if name[i] != mailboxDelim {
				continue
			}
			parent := name[:i]
			children[parent] = true
		}
	}
	all := append([]string(nil), names...)
	for parent := range children {
		if byName[parent] == nil {
			all = append(all, parent)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if (a == "INBOX") != (b == "INBOX") {
			return a == "INBOX"
		}
		return a < b
	})

	// selected says whether a name meets the selection options.
	selected := func(name string) bool {
		mb := byName[name]
		if mb == nil {
			return false
		}
		if options.SelectSubscribed && !mb.subscribed {
			return false
		}
		if options.SelectSpecialUse && mb.specialUse == "" {
			return false
		}
		return true
	}
	anySelection := options.SelectSubscribed || options.SelectSpecialUse

	for _, name := range all {
		if !matchAnyPattern(name, ref, patterns) {
			continue
		}
		mb := byName[name]
		data := imap.ListData{Mailbox: name, Delim: mailboxDelim}
		if !selected(name) {
			if !anySelection && mb == nil {
				// an implied parent in a plain LIST
				data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect, imap.MailboxAttrHasChildren)
				if err := w.WriteList(&data); err != nil {
					return err
				}
				continue
			}
			if !options.SelectRecursiveMatch || !hasSelectedDescendant(name, names, selected) {
				continue
			}
			// RFC 5258 §3.5: listed for a descendant that meets the
			// selection criteria.
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: options.SelectSubscribed}
		}
		if mb == nil {
			data.Attrs = append(data.Attrs, imap.MailboxAttrNonExistent)
		}
		if children[name] {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if mb != nil {
			if mb.subscribed && (options.ReturnSubscribed || options.SelectSubscribed) {
				data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
			}
			// RFC 6154 §1: special-use attributes are returned in LIST
			// responses whether or not they were asked for.
			for _, a := range strings.Fields(mb.specialUse) {
				data.Attrs = append(data.Attrs, imap.MailboxAttr(a))
			}
			if options.ReturnStatus != nil {
				st, err := sess.status(ctx, sess.s.db, *mb, options.ReturnStatus)
				if err != nil {
					return sess.err("list", err)
				}
				data.Status = st
			}
		}
		if err := w.WriteList(&data); err != nil {
			return err
		}
	}
	return nil
}

func hasSelectedDescendant(name string, names []string, selected func(string) bool) bool {
	prefix := name + "/"
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && selected(n) {
			return true
		}
	}
	return false
}

// matchAnyPattern reports whether name matches one of the LIST patterns
// under reference ref.
func matchAnyPattern(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if matchList(name, ref, p) {
			return true
		}
	}
	return false
}

// matchList is imapserver.MatchList without its exponential backtracking
// (a pattern like "*a*a*a*a*a*b" costs O(len(name)·len(pattern)) here):
// the reference, taken literally, must prefix the name unless the pattern
// starts with the delimiter; in the pattern "*" matches anything, "%"
// anything but the delimiter. INBOX is matched case-insensitively.
func matchList(name, ref, pattern string) bool {
	const delim = string(mailboxDelim)
	if strings.HasPrefix(pattern, delim) {
		ref = ""
		pattern = strings.TrimPrefix(pattern, delim)
	}
	if ref != "" {
		if !strings.HasSuffix(ref, delim) {
			ref += delim
		}
		ref = inboxPrefix(ref)
		if !strings.HasPrefix(name, ref) {
			return false
		}
		name = name[len(ref):]
	} else {
		pattern = inboxPrefix(pattern)
	}
	return globMatch(name, pattern)
}

// inboxPrefix spells a leading "inbox" (as a whole level) as INBOX.
func inboxPrefix(s string) string {
	if len(s) >= 5 && strings.EqualFold(s[:5], "INBOX") && (len(s) == 5 || s[5] == mailboxDelim) {
		return "INBOX" + s[5:]
	}
	return s
}

// globMatch matches name against pattern with "*" and "%" wildcards by
// dynamic programming over pattern positions.
func globMatch(name, pattern string) bool {
	// cur[j]: pattern[:j] matches name[:i].
	cur := make([]bool, len(pattern)+1)
	next := make([]bool, len(pattern)+1)
	cur[0] = true
	for j := 0; j < len(pattern) && (pattern[j] == '*' || pattern[j] == '%'); j++ {
		cur[j+1] = true
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		for j := range next {
			next[j] = false
		}
		for j := 0; j < len(pattern); j++ {
			switch p := pattern[j]; p {
			case '*', '%':
				// the wildcard absorbs c, having matched name[:i] at j or j+1
				if (cur[j] || cur[j+1]) && (p == '*' || c != mailboxDelim) {
					next[j+1] = true
				}
			default:
				if cur[j] && p == c {
					next[j+1] = true
				}
			}
		}
		// wildcards may match empty strings
		for j := 0; j < len(pattern); j++ {
			if next[j] && (pattern[j] == '*' || pattern[j] == '%') {
				next[j+1] = true
			}
		}
		cur, next = next, cur
	}
	return cur[len(pattern)]
}

func (sess *imapSession) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	mb, err := sess.mailbox(sess.ctx, sess.s.db, name)
	if err != nil {
		return nil, sess.err("status", err)
	}
	data, err := sess.status(sess.ctx, sess.s.db, mb, options)
	return data, sess.err("status", err)
}

// status computes the STATUS data of a mailbox.
func (sess *imapSession) status(ctx context.Context, q querier, mb mailboxRow, options *imap.StatusOptions) (*imap.StatusData, error) {
	data := &imap.StatusData{Mailbox: mb.name}
	if options.UIDNext {
		data.UIDNext = imap.UID(mb.uidNext)
	}
	if options.UIDValidity {
		data.UIDValidity = mb.uidValidity
	}
	if options.NumMessages || options.NumUnseen || options.Size {
		var n uint32
		var size int64
		if err := q.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM messages WHERE mailbox_id = ?`, mb.id).Scan(&n, &size); err != nil {
			return nil, err
		}
		if options.NumMessages {
			data.NumMessages = &n
		}
		if options.Size {
			data.Size = &size
		}
		if options.NumUnseen {
			var seen uint32
			if err := q.QueryRowContext(ctx, `SELECT count(*) FROM messages m WHERE m.mailbox_id = ? AND EXISTS (SELECT 1 FROM flags f WHERE f.message_id = m.id AND f.flag = '\Seen' COLLATE NOCASE)`, mb.id).Scan(&seen); err != nil {
				return nil, err
			}
			unseen := n - seen
			data.NumUnseen = &unseen
		}
	}
	if options.NumDeleted {
		var del uint32
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM messages m WHERE m.mailbox_id = ? AND EXISTS (SELECT 1 FROM flags f WHERE f.message_id = m.id AND f.flag = '\Deleted' COLLATE NOCASE)`, mb.id).Scan(&del); err != nil {
			return nil, err
		}
		data.NumDeleted = &del
	}
	if options.NumRecent {
		var zero uint32
		data.NumRecent = &zero
	}
	return data, nil
}

func (sess *imapSession) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	// The literal is read before the write lock is taken: a slow client
	// must not hold up the store.
	msg, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	msg = NormalizeCRLF(msg)
	if min := sess.s.opts.MinFreeBytes; min > 0 {
		if free, ok := freeBytes(sess.s.dir); ok && free < min+int64(len(msg)) {
			sess.s.log.Warn("store: imap: refusing APPEND, low on disk space", "free", free, "user", sess.user)
			return nil, errOverQuota
		}
	}
	date := time.Now()
	var flags []string
	if options != nil {
		if !options.Time.IsZero() {
			date = options.Time
		}
		flags = canonicalFlags(options.Flags)
	}
	ctx := sess.ctx
	var data imap.AppendData
	err = sess.s.write(ctx, func(tx *wtx) error {
		mb, err := sess.mailbox(ctx, tx, name)
		if errors.Is(err, ErrNotFound) {
			return errTryCreate
		} else if err != nil {
			return err
		}
		bodyID, err := sess.s.insertBodyTx(ctx, tx, msg)
		if err != nil {
			return err
		}
		uid, err := appendTx(ctx, tx, sess.s, mb.id, bodyID, int64(len(msg)), date, flags)
		if err != nil {
			return err
		}
		data = imap.AppendData{UID: imap.UID(uid), UIDValidity: mb.uidValidity}
		return nil
	})
	if err != nil {
		return nil, sess.err("append", err)
	}
	return &data, nil
}

// systemFlags are the RFC 9051 §2.3.2 system flags that can be stored.
var systemFlags = []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft}

// canonicalFlags spells system flags as RFC 9051 does, drops duplicates
// (flags are case-insensitive) and the flags that cannot be stored
// (\Recent, \*).
func canonicalFlags(in []imap.Flag) []string {
	var out []string
	seen := make(map[string]bool)
	for _, f := range in {
		s := string(f)
		for _, sf := range systemFlags {
			if strings.EqualFold(s, string(sf)) {
				s = string(sf)
			}
		}
		if strings.EqualFold(s, `\Recent`) || s == `\*` || s == "" {
			continue
		}
		if k := strings.ToLower(s); !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}
