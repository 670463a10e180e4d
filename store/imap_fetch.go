package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/inetkit/inetkit/imap"
)

// Fetch calls fn with each message of uids that exists, its body read from
// the stored pieces as fn asks for them: a message is never read whole
// into memory (unless it fits in one piece).
func (mb *imapMailbox) Fetch(ctx context.Context, uids []uint32, fn func(*imap.Message) error) error {
	rows, err := imapRowsTx(ctx, mb.s.db, mb.id, uids)
	if err != nil {
		return imapErr(err)
	}
	for _, r := range rows {
		b, err := openBody(ctx, mb.s.bodies, r.id, mb.id, r.uid, r.size)
		if errors.Is(err, errBodyGone) {
			continue // expunged since
		} else if err != nil {
			return imapErr(err)
		}
		if err := fn(&imap.Message{UID: r.uid, Size: b.size, Body: &bodyReaderAt{ctx: ctx, b: b}}); err != nil {
			return err
		}
	}
	return nil
}

// bodyReaderAt reads a stored body at any offset. Reads that follow one
// another through one piece of the body read that piece once.
type bodyReaderAt struct {
	ctx context.Context
	b   *storedBody
	r   bodyReader // keeps the piece last read
}

func (ra *bodyReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("store: negative offset")
	}
	size := ra.b.size
	if off >= size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), size)
	var n int
	if ra.b.data != nil {
		n = copy(p, ra.b.data[off:end])
	} else {
		ra.r.ctx, ra.r.b, ra.r.off, ra.r.end = ra.ctx, ra.b, off, end
		var err error
		if n, err = io.ReadFull(&ra.r, p[:end-off]); err != nil {
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// sortColumns are the columns of bodies that hold a SortData.
const sortColumns = `sort_date, sort_date_zone, sort_subject, sort_has_re, sort_from, sort_to, sort_cc,
	sort_display_from, sort_display_to, sort_message_id, sort_in_reply_to, sort_references`

// setSortDataTx stores d as the SortData of body id.
func (s *Store) setSortDataTx(ctx context.Context, tx *wtx, id int64, d *imap.SortData) error {
	st, err := s.stmt(ctx, tx, `UPDATE bodies SET (`+sortColumns+`) = (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE id = ?`)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, append(sortArgs(d), id)...)
	return err
}

// sortArgs returns the values of sortColumns for d.
func sortArgs(d *imap.SortData) []any {
	var date, zone any
	if !d.Date.IsZero() {
		_, off := d.Date.Zone()
		date, zone = d.Date.Unix(), off
	}
	return []any{date, zone, d.BaseSubject, d.HasRe, d.From, d.To, d.Cc, d.DisplayFrom, d.DisplayTo,
		d.MessageID, d.InReplyTo, strings.Join(d.References, "\n")}
}

// SortData returns the SortData of the messages of uids. It is computed
// once per body, when the body is stored (parseMessageMeta); the bodies
// stored before the store kept it get it here, at their first SORT or
// THREAD, and keep it.
func (mb *imapMailbox) SortData(ctx context.Context, uids []uint32) ([]imap.SortData, error) {
	out, missing, err := mb.readSortData(ctx, uids)
	if err != nil {
		return nil, imapErr(err)
	}
	if len(missing) == 0 {
		return out, nil
	}
	if err := mb.s.computeSortData(ctx, out, missing); err != nil {
		return nil, imapErr(err)
	}
	return out, nil
}

// readSortData reads the SortData of the messages of uids, and for those
// whose body has none yet, the body ids, by index in the result.
func (mb *imapMailbox) readSortData(ctx context.Context, uids []uint32) ([]imap.SortData, map[int]int64, error) {
	cond, args, keep := uidsCond(uids)
	rows, err := mb.s.db.QueryContext(ctx, `SELECT m.uid, m.body_id, b.sort_subject IS NOT NULL, `+sortColumns+`
		FROM messages m JOIN bodies b ON b.id = m.body_id
		WHERE m.mailbox_id = ? AND `+cond+` ORDER BY m.uid`, append([]any{mb.id}, args...)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []imap.SortData
	missing := make(map[int]int64)
	for rows.Next() {
		var d imap.SortData
		var bodyID int64
		var ok bool
		var date, zone sql.NullInt64
		var subj, from, to, cc, dfrom, dto, msgID, irt, refs sql.NullString
		var re sql.NullBool
		if err := rows.Scan(&d.UID, &bodyID, &ok, &date, &zone, &subj, &re, &from, &to, &cc, &dfrom, &dto, &msgID, &irt, &refs); err != nil {
			return nil, nil, err
		}
		if keep != nil && !keep(d.UID) {
			continue
		}
		if !ok {
			missing[len(out)] = bodyID
		} else {
			if date.Valid {
				d.Date = time.Unix(date.Int64, 0).In(time.FixedZone("", int(zone.Int64)))
			}
			d.BaseSubject, d.HasRe = subj.String, re.Bool
			d.From, d.To, d.Cc, d.DisplayFrom, d.DisplayTo = from.String, to.String, cc.String, dfrom.String, dto.String
			d.MessageID, d.InReplyTo = msgID.String, irt.String
			if refs.String != "" {
				d.References = strings.Split(refs.String, "\n")
			}
		}
		out = append(out, d)
	}
	return out, missing, rows.Err()
}

// sortDataBatch bounds the bodies whose SortData one write transaction
// stores, so that a first SORT of a large mailbox holds up other writers
// for short times only.
const sortDataBatch = 5000

// computeSortData computes the SortData of the bodies missing (by index in
// out), fills out, and stores them.
func (s *Store) computeSortData(ctx context.Context, out []imap.SortData, missing map[int]int64) error {
	done := make(map[int64]*imap.SortData)
	var batch []int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.write(ctx, func(tx *wtx) error {
			for _, id := range batch {
				if err := s.setSortDataTx(ctx, tx, id, done[id]); err != nil {
					return err
				}
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	for i, id := range missing {
		d := done[id]
		if d == nil {
			head, err := bodyHead(ctx, s.db, id)
			if err != nil {
				return err
			}
			nd := imap.NewSortData(0, headerOf(head))
			d = &nd
			done[id] = d
			batch = append(batch, id)
		}
		uid := out[i].UID
		out[i] = *d
		out[i].UID = uid
		if len(batch) >= sortDataBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// bodyHead returns the start of body id: its pieces until one holds the
// blank line that ends the header.
func bodyHead(ctx context.Context, q querier, id int64) ([]byte, error) {
	rows, err := q.QueryContext(ctx, `SELECT data FROM body_chunks WHERE body_id = ? ORDER BY off`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var head []byte
	for rows.Next() {
		var piece sql.RawBytes
		if err := rows.Scan(&piece); err != nil {
			return nil, err
		}
		head = append(head, piece...)
		if bytes.HasPrefix(head, []byte("\r\n")) || bytes.Contains(head, []byte("\r\n\r\n")) {
			break
		}
	}
	return head, rows.Err()
}
