package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/inetkit/inetkit/imap"
)

// imapMailbox is a mailbox a connection has selected. Poll remembers the
// highest mod-sequence it reported, so that the next Poll reads only what
// changed after it.
type imapMailbox struct {
	s           *Store
	id          int64
	readOnly    bool
	uidValidity uint32
	changed     chan struct{}
	unwatch     func()

	polled  bool
	modseq  uint64      // the mailbox's highest_modseq at the last Poll
	uidNext uint32      // its uid_next at the last Poll
	recent  []uidRange  // the UIDs that are \Recent for this session
	scratch []uidRecord // reused by Poll
}

// uidRange is the UIDs from lo up to, not including, hi.
type uidRange struct{ lo, hi uint32 }

// uidRecord is a message as Poll reads it.
type uidRecord struct {
	uid    uint32
	modseq uint64
	date   int64
	size   int64
	flags  string
}

// Open opens a mailbox and starts watching it; the first Poll reads it.
func (u *imapUser) Open(ctx context.Context, name string, readOnly bool) (imap.Mailbox, error) {
	name, err := imapName(name)
	if err != nil {
		return nil, err
	}
	mb := &imapMailbox{s: u.s, readOnly: readOnly, changed: make(chan struct{}, 1)}
	err = u.s.db.QueryRowContext(ctx, `SELECT id, uid_validity FROM mailboxes WHERE user_id = ? AND name = ?`, u.id, name).Scan(&mb.id, &mb.uidValidity)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, imap.ErrNonExistent
	} else if err != nil {
		return nil, imapErr(err)
	}
	// Watching from before the first Poll: a commit after it either is
	// in the Poll or wakes the channel.
	mb.unwatch = u.s.imap.watch(&u.s.imap.boxes, mb.id, mb.changed)
	return mb, nil
}

func (mb *imapMailbox) UIDValidity() uint32 { return mb.uidValidity }

func (mb *imapMailbox) Changed() <-chan struct{} { return mb.changed }

func (mb *imapMailbox) Close() error {
	mb.unwatch()
	return nil
}

// Poll reads what changed since the last Poll, in one snapshot. A
// read-write session that finds messages no session has taken as \Recent
// takes them, in a write transaction (RFC 3501 §2.3.2: one session only
// gets a message as \Recent); otherwise Poll only reads.
func (mb *imapMailbox) Poll(ctx context.Context) (*imap.Changes, error) {
	// A wake-up waiting is for changes this Poll reads: its snapshot
	// starts after this, and a commit after it wakes the channel again.
	select {
	case <-mb.changed:
	default:
	}
	ch, err := mb.pollRead(ctx)
	if errors.Is(err, errNeedClaim) {
		err = mb.s.write(ctx, func(tx *wtx) error {
			var err error
			ch, err = mb.pollTx(ctx, tx, true)
			return err
		})
	}
	return ch, imapErr(err)
}

// errNeedClaim stops a read-only Poll of a read-write session that finds
// messages to take as \Recent: it must take them in a write transaction.
var errNeedClaim = errors.New("store: messages to take as recent")

// pollRead is Poll in a read transaction.
func (mb *imapMailbox) pollRead(ctx context.Context) (*imap.Changes, error) {
	tx, err := mb.s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return mb.pollTx(ctx, tx, false)
}

// pollTx is Poll in transaction q; with claim (q is a write transaction)
// the session takes the messages not yet taken as \Recent.
func (mb *imapMailbox) pollTx(ctx context.Context, q querier, claim bool) (*imap.Changes, error) {
	var validity, uidNext, recentUID uint32
	var highest uint64
	err := q.QueryRowContext(ctx, `SELECT uid_validity, uid_next, highest_modseq, recent_uid FROM mailboxes WHERE id = ?`, mb.id).
		Scan(&validity, &uidNext, &highest, &recentUID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && validity != mb.uidValidity) {
		return nil, imap.ErrNonExistent // deleted since Open
	} else if err != nil {
		return nil, err
	}
	lo := recentUID
	if claim {
		if _, err := q.ExecContext(ctx, `UPDATE mailboxes SET recent_uid = uid_next WHERE id = ?`, mb.id); err != nil {
			return nil, err
		}
	} else if !mb.readOnly {
		if recentUID < uidNext {
			return nil, errNeedClaim
		}
		lo = uidNext // nothing to take
	} else {
		// EXAMINE: the messages not yet taken are \Recent, but stay so
		// for the next session (as in Dovecot); only those this Poll
		// adds are marked.
		lo = max(lo, mb.uidNext)
	}
	n := len(mb.recent)
	if lo < uidNext {
		mb.recent = append(mb.recent, uidRange{lo, uidNext})
	}
	ch := &imap.Changes{UIDNext: uidNext, HighestModSeq: highest}
	ch.Messages, err = mb.changedMessages(ctx, q)
	if err == nil && mb.polled {
		ch.Expunged, err = expungedSince(ctx, q, mb.id, mb.modseq)
	}
	if err == nil {
		ch.Keywords, err = mailboxKeywords(ctx, q, mb.id)
	}
	if err != nil {
		mb.recent = mb.recent[:n] // the claim is rolled back
		return nil, err
	}
	mb.polled, mb.modseq, mb.uidNext = true, highest, uidNext
	return ch, nil
}

// changedMessages reads the messages changed since the last Poll (all of
// them at the first), in UID order.
func (mb *imapMailbox) changedMessages(ctx context.Context, q querier) ([]imap.MessageState, error) {
	const cols = `SELECT uid, modseq, internal_date, size, coalesce((SELECT group_concat(flag, ' ') FROM flags WHERE message_id = m.id), '') FROM messages m`
	var rows *sql.Rows
	var err error
	if mb.polled {
		rows, err = q.QueryContext(ctx, cols+` WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`, mb.id, mb.modseq)
	} else {
		rows, err = q.QueryContext(ctx, cols+` WHERE mailbox_id = ? ORDER BY uid`, mb.id)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	recs := mb.scratch[:0]
	for rows.Next() {
		var r uidRecord
		if err := rows.Scan(&r.uid, &r.modseq, &r.date, &r.size, &r.flags); err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	mb.scratch = recs[:0]
	if len(recs) == 0 {
		return nil, nil
	}
	out := make([]imap.MessageState, len(recs))
	for i, r := range recs {
		out[i] = imap.MessageState{
			UID:          r.uid,
			Flags:        splitFlags(r.flags),
			ModSeq:       r.modseq,
			InternalDate: time.Unix(0, r.date),
			Size:         r.size,
			Recent:       mb.isRecent(r.uid),
		}
	}
	return out, nil
}

// splitFlags splits the flags Poll reads, joined with spaces (a flag has
// none).
func splitFlags(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, " ")
}

// isRecent says whether uid is \Recent for the session.
func (mb *imapMailbox) isRecent(uid uint32) bool {
	for _, r := range mb.recent {
		if uid >= r.lo && uid < r.hi {
			return true
		}
	}
	return false
}

// expungedSince returns the UIDs of mailbox mbox expunged after modseq,
// ascending.
func expungedSince(ctx context.Context, q querier, mbox int64, modseq uint64) ([]uint32, error) {
	rows, err := q.QueryContext(ctx, `SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`, mbox, modseq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var uids []uint32
	for rows.Next() {
		var uid uint32
		if err := rows.Scan(&uid); err != nil {
			return nil, err
		}
		uids = append(uids, uid)
	}
	return uids, rows.Err()
}

// mailboxKeywords returns the keywords mailbox mbox's messages have or
// had, in the order of first use.
func mailboxKeywords(ctx context.Context, q querier, mbox int64) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM keywords WHERE mailbox_id = ? ORDER BY id`, mbox)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	kw := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		kw = append(kw, k)
	}
	return kw, rows.Err()
}

// Vanished returns the UIDs expunged after since. The store keeps every
// expunged UID as long as its mailbox, so it never has to answer with
// more than that.
func (mb *imapMailbox) Vanished(ctx context.Context, since uint64) ([]uint32, error) {
	uids, err := expungedSince(ctx, mb.s.db, mb.id, since)
	return uids, imapErr(err)
}
