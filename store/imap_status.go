package store

import (
	"context"

	"github.com/emersion/go-imap/v2"
)

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
