package store

import (
	"context"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

func (sess *imapSession) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	if sess.sel != nil {
		sess.sel.close()
		sess.sel = nil
	}
	ctx := sess.ctx
	s := sess.s
	mb, err := sess.mailbox(ctx, s.db, name)
	if err != nil {
		return nil, sess.err("select", err)
	}
	t, release, err := s.tracker(ctx, mb.id)
	if err != nil {
		return nil, sess.err("select", err)
	}
	sel := &imapSelected{id: mb.id, name: mb.name, tracker: t, release: release}
	if options != nil {
		sel.readOnly = options.ReadOnly
	}
	var data imap.SelectData
	err = s.snapshot(func() error {
		// The session tracker is made and the counts read under the write
		// lock: no commit can come between them.
		sel.st = t.NewSession()
		mb, err = scanMailbox(s.db.QueryRowContext(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE id = ?`, mb.id))
		if err != nil {
			return err
		}
		sel.uidValidity = mb.uidValidity
		data.UIDValidity = mb.uidValidity
		data.UIDNext = imap.UID(mb.uidNext)
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE mailbox_id = ?`, mb.id).Scan(&data.NumMessages); err != nil {
			return err
		}
		var firstUnseen int64
		err := s.db.QueryRowContext(ctx, `SELECT coalesce((SELECT count(*) FROM messages WHERE mailbox_id = ?1 AND uid <= u.uid), 0) FROM
			(SELECT min(m.uid) AS uid FROM messages m WHERE m.mailbox_id = ?1 AND NOT EXISTS (SELECT 1 FROM flags f WHERE f.message_id = m.id AND f.flag = '\Seen' COLLATE NOCASE)) u
			WHERE u.uid IS NOT NULL`, mb.id).Scan(&firstUnseen)
		if err == nil {
			data.FirstUnseenSeqNum = uint32(firstUnseen)
		}
		data.Flags, err = mailboxFlags(ctx, s.db, mb.id)
		return err
	})
	if err != nil {
		if sel.st != nil {
			sel.st.Close()
		}
		release()
		return nil, sess.err("select", err)
	}
	if sel.readOnly {
		data.PermanentFlags = []imap.Flag{}
	} else {
		data.PermanentFlags = append(append([]imap.Flag(nil), data.Flags...), imap.FlagWildcard)
	}
	sess.sel = sel
	return &data, nil
}

// mailboxFlags returns the system flags and the keywords in use in a
// mailbox.
func mailboxFlags(ctx context.Context, q querier, mbox int64) ([]imap.Flag, error) {
	flags := append([]imap.Flag(nil), systemFlags...)
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT f.flag FROM flags f JOIN messages m ON m.id = f.message_id WHERE m.mailbox_id = ? AND f.flag NOT LIKE '\%' ORDER BY f.flag`, mbox)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := make(map[string]bool)
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, err
		}
		if k := strings.ToLower(f); !seen[k] {
			seen[k] = true
			flags = append(flags, imap.Flag(f))
		}
	}
	return flags, rows.Err()
}

func (sess *imapSession) Unselect() error {
	if sess.sel != nil {
		sess.sel.close()
		sess.sel = nil
	}
	return nil
}

func (sess *imapSession) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if sess.sel == nil {
		return nil
	}
	return sess.sel.st.Poll(w, allowExpunge)
}
