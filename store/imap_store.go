package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	inetimap "github.com/inetkit/inetkit/imap"
)

// errIMAPReadOnly answers a change to a mailbox opened with EXAMINE.
var errIMAPReadOnly = &inetimap.Error{Code: "CANNOT", Text: "Mailbox is read-only."}

// imapRow is a message of a mailbox, as the writes of IMAPBackend read it.
type imapRow struct {
	id     int64
	uid    uint32
	modseq uint64
	date   int64
	size   int64
}

// jsonIDs returns ids (int64 or uint32) as a JSON array, for json_each.
func jsonIDs[T int64 | uint32](ids []T) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

// uidsCond returns the condition on m.uid that selects uids (ascending),
// its argument, and the filter the rows it selects must pass as well (nil
// if none). A long list is a range of the (mailbox_id, uid) index, its
// rows filtered here: a JSON list of 100,000 UIDs is slower to join.
func uidsCond(uids []uint32) (cond string, args []any, keep func(uint32) bool) {
	if len(uids) <= 256 {
		return `m.uid IN (SELECT value FROM json_each(?))`, []any{jsonIDs(uids)}, nil
	}
	first, last := uids[0], uids[len(uids)-1]
	if int(last-first)+1 != len(uids) {
		keep = func(uid uint32) bool {
			_, ok := slices.BinarySearch(uids, uid)
			return ok
		}
	}
	return `m.uid BETWEEN ? AND ?`, []any{first, last}, keep
}

// imapRowsTx returns the messages of mailbox mbox whose UIDs are in uids
// (ascending; nil means all), in UID order.
func imapRowsTx(ctx context.Context, q querier, mbox int64, uids []uint32) ([]imapRow, error) {
	query := `SELECT m.id, m.uid, m.modseq, m.internal_date, m.size FROM messages m WHERE m.mailbox_id = ?`
	args := []any{mbox}
	var keep func(uint32) bool
	if uids != nil {
		cond, cargs, k := uidsCond(uids)
		query += ` AND ` + cond
		args, keep = append(args, cargs...), k
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY m.uid`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []imapRow
	for rows.Next() {
		var r imapRow
		if err := rows.Scan(&r.id, &r.uid, &r.modseq, &r.date, &r.size); err != nil {
			return nil, err
		}
		if keep == nil || keep(r.uid) {
			out = append(out, r)
		}
	}
	return out, rows.Err()
}

// expungeRowsTx deletes the messages rows, of one mailbox; the triggers
// record their UIDs as expunged.
func (s *Store) expungeRowsTx(ctx context.Context, tx *wtx, rows []imapRow) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.id
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))`, jsonIDs(ids)); err != nil {
		return err
	}
	tx.After(s.broadcast)
	return nil
}

// Expunge removes the messages of uids (all if nil) flagged \Deleted.
func (mb *imapMailbox) Expunge(ctx context.Context, uids []uint32) ([]uint32, error) {
	if mb.readOnly {
		return nil, errIMAPReadOnly
	}
	var gone []uint32
	err := mb.s.write(ctx, func(tx *wtx) error {
		rows, err := tx.QueryContext(ctx, `SELECT m.id, m.uid FROM messages m WHERE m.mailbox_id = ?
			AND EXISTS (SELECT 1 FROM flags f WHERE f.message_id = m.id AND f.flag = '\Deleted' COLLATE NOCASE) ORDER BY m.uid`, mb.id)
		if err != nil {
			return err
		}
		var del []imapRow
		for rows.Next() {
			var r imapRow
			if err := rows.Scan(&r.id, &r.uid); err != nil {
				rows.Close()
				return err
			}
			if _, found := slices.BinarySearch(uids, r.uid); uids == nil || found {
				del = append(del, r)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		gone = gone[:0]
		for _, r := range del {
			gone = append(gone, r.uid)
		}
		return mb.s.expungeRowsTx(ctx, tx, del)
	})
	if err != nil {
		return nil, imapErr(err)
	}
	return gone, nil
}

// Store changes the flags of the messages of uids, in one transaction.
// Keywords are compared without regard to case, as IMAP compares flags; a
// message keeps the spelling it has.
func (mb *imapMailbox) Store(ctx context.Context, uids []uint32, op inetimap.StoreOp, flags []string, unchangedSince uint64) (changed []inetimap.MessageState, modified []uint32, err error) {
	if mb.readOnly {
		return nil, nil, errIMAPReadOnly
	}
	flags = dedupFlags(flags)
	err = mb.s.write(ctx, func(tx *wtx) error {
		changed, modified = nil, nil
		flags, err := keywordSpellingTx(ctx, tx, mb.id, flags)
		if err != nil {
			return err
		}
		// The keywords named are the mailbox's from now on, even if no
		// message gets one (they were all expunged, or the operation
		// removes it), as in Dovecot: the client sees them in FLAGS.
		for _, f := range flags {
			if !strings.HasPrefix(f, `\`) {
				if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO keywords (mailbox_id, name) VALUES (?, ?)`, mb.id, f); err != nil {
					return err
				}
			}
		}
		var before uint64
		if err := tx.QueryRowContext(ctx, `SELECT highest_modseq FROM mailboxes WHERE id = ?`, mb.id).Scan(&before); err != nil {
			return err
		}
		rows, err := imapRowsTx(ctx, tx, mb.id, uids)
		if err != nil {
			return err
		}
		var ids []int64
		for _, r := range rows {
			if unchangedSince != 0 && r.modseq > unchangedSince {
				modified = append(modified, r.uid)
			} else {
				ids = append(ids, r.id)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		if err := storeFlagsTx(ctx, tx, jsonIDs(ids), op, flags); err != nil {
			return err
		}
		// Every message whose flags changed has a mod-sequence above
		// the mailbox's before (the triggers gave it one), and no other
		// writer ran meanwhile: the write lock is held.
		if changed, err = mb.changedSinceTx(ctx, tx, before); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, nil, imapErr(err)
	}
	return changed, modified, nil
}

// dedupFlags drops repeated flags (compared without regard to case) and
// \Recent, which no one stores.
func dedupFlags(flags []string) []string {
	var out []string
	for _, f := range flags {
		if strings.EqualFold(f, `\Recent`) || slices.ContainsFunc(out, func(g string) bool { return strings.EqualFold(f, g) }) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// keywordSpellingTx returns flags with each keyword spelled as mailbox
// mbox first saw it: keywords differ only by case are one keyword (RFC 9051
// §2.3.2), which every message of the mailbox spells one way.
func keywordSpellingTx(ctx context.Context, q querier, mbox int64, flags []string) ([]string, error) {
	out := slices.Clone(flags)
	for i, f := range out {
		if strings.HasPrefix(f, `\`) {
			continue
		}
		var name string
		err := q.QueryRowContext(ctx, `SELECT name FROM keywords WHERE mailbox_id = ? AND name = ? COLLATE NOCASE`, mbox, f).Scan(&name)
		if err == nil {
			out[i] = name
		} else if !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	return out, nil
}

// storeFlagsTx changes the flags of the messages of ids (a JSON list) as
// op says, a statement per flag whatever the number of messages. Flags
// compare without regard to case (ASCII, as flags are atoms); a flag a
// message has is not set again, so that its mod-sequence does not change.
func storeFlagsTx(ctx context.Context, tx *wtx, ids string, op inetimap.StoreOp, flags []string) error {
	if op == inetimap.StoreReplace {
		keep, _ := json.Marshal(append([]string{}, flags...))
		if _, err := tx.ExecContext(ctx, `DELETE FROM flags WHERE message_id IN (SELECT value FROM json_each(?1))
			AND lower(flag) NOT IN (SELECT lower(value) FROM json_each(?2))`, ids, string(keep)); err != nil {
			return err
		}
	}
	for _, f := range flags {
		q := `INSERT INTO flags (message_id, flag) SELECT j.value, ?2 FROM json_each(?1) j
			WHERE NOT EXISTS (SELECT 1 FROM flags WHERE message_id = j.value AND flag = ?2 COLLATE NOCASE)`
		if op == inetimap.StoreRemove {
			q = `DELETE FROM flags WHERE message_id IN (SELECT value FROM json_each(?1)) AND flag = ?2 COLLATE NOCASE`
		}
		if _, err := tx.ExecContext(ctx, q, ids, f); err != nil {
			return err
		}
	}
	return nil
}

// changedSinceTx returns the state of the messages changed after modseq.
func (mb *imapMailbox) changedSinceTx(ctx context.Context, tx *wtx, modseq uint64) ([]inetimap.MessageState, error) {
	rows, err := tx.QueryContext(ctx, `SELECT uid, modseq, internal_date, size,
		coalesce((SELECT group_concat(flag, ' ') FROM flags WHERE message_id = m.id), '')
		FROM messages m WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`, mb.id, modseq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []inetimap.MessageState
	for rows.Next() {
		var r uidRecord
		if err := rows.Scan(&r.uid, &r.modseq, &r.date, &r.size, &r.flags); err != nil {
			return nil, err
		}
		out = append(out, inetimap.MessageState{UID: r.uid, Flags: splitFlags(r.flags), ModSeq: r.modseq,
			InternalDate: time.Unix(0, r.date), Size: r.size, Recent: mb.isRecent(r.uid)})
	}
	return out, rows.Err()
}
