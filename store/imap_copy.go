package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/inetkit/inetkit/imap"
)

// errUIDsExhausted answers a COPY that would take a mailbox past the last
// UID.
var errUIDsExhausted = &imap.Error{Code: "LIMIT", Text: "Mailbox has run out of UIDs."}

// Copy copies the messages of uids to dest, sharing their bodies, with
// their flags and internal dates; with move it expunges them here in the
// same transaction, so that they are never in both mailboxes nor in
// neither (RFC 6851 §3.3).
func (mb *imapMailbox) Copy(ctx context.Context, uids []uint32, dest string, move bool) (*imap.CopyResult, error) {
	dest, err := imapName(dest)
	if err != nil {
		return nil, err
	}
	if move && mb.readOnly {
		return nil, errIMAPReadOnly
	}
	res := &imap.CopyResult{}
	err = mb.s.write(ctx, func(tx *wtx) error {
		var dst mailboxRow
		err := tx.QueryRowContext(ctx, `SELECT d.id, d.uid_validity FROM mailboxes d JOIN mailboxes s ON s.user_id = d.user_id
			WHERE s.id = ? AND d.name = ?`, mb.id, dest).Scan(&dst.id, &dst.uidValidity)
		if errors.Is(err, sql.ErrNoRows) {
			return imap.ErrNonExistent
		} else if err != nil {
			return err
		}
		res.UIDValidity, res.Source, res.Dest = dst.uidValidity, nil, nil
		rows, err := imapRowsTx(ctx, tx, mb.id, uids)
		if err != nil || len(rows) == 0 {
			return err
		}
		if res.Dest, err = mb.s.copyRowsTx(ctx, tx, rows, dst.id); err != nil {
			return err
		}
		for _, r := range rows {
			res.Source = append(res.Source, r.uid)
		}
		if move {
			return mb.s.expungeRowsTx(ctx, tx, rows)
		}
		return nil
	})
	if err != nil {
		return nil, imapErr(err)
	}
	return res, nil
}

// copyRowsTx copies the messages rows into mailbox dest and returns their
// new UIDs.
func (s *Store) copyRowsTx(ctx context.Context, tx *wtx, rows []imapRow, dest int64) ([]uint32, error) {
	k := uint32(len(rows))
	var first uint32
	var modseq int64
	// The copies' UIDs and mod-sequences are taken at once; the triggers
	// then only count the flags.
	err := tx.QueryRowContext(ctx, `UPDATE mailboxes SET uid_next = uid_next + ?1, highest_modseq = highest_modseq + ?1
		WHERE id = ?2 AND uid_next + ?1 <= 4294967295 RETURNING uid_next - ?1, highest_modseq - ?1`, k, dest).Scan(&first, &modseq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUIDsExhausted
	} else if err != nil {
		return nil, err
	}
	insMsg, err := s.stmt(ctx, tx, `INSERT INTO messages (id, mailbox_id, uid, body_id, size, internal_date, modseq)
		SELECT ?, ?, ?, body_id, size, internal_date, ? FROM messages WHERE id = ?`)
	if err != nil {
		return nil, err
	}
	insFlags, err := s.stmt(ctx, tx, `INSERT INTO flags (message_id, flag) SELECT ?, flag FROM flags WHERE message_id = ?`)
	if err != nil {
		return nil, err
	}
	uids := make([]uint32, len(rows))
	for i, r := range rows {
		uid := first + uint32(i)
		id, err := s.nextID(ctx, tx, "messages")
		if err != nil {
			return nil, err
		}
		if _, err := insMsg.ExecContext(ctx, id, dest, uid, modseq+int64(i)+1, r.id); err != nil {
			return nil, err
		}
		if _, err := insFlags.ExecContext(ctx, id, r.id); err != nil {
			return nil, err
		}
		uids[i] = uid
	}
	tx.After(s.broadcast)
	return uids, nil
}
