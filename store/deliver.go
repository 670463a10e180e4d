package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/inetkit/inetkit/internal/events"
)

// maxBatch bounds the items committed in one transaction.
const maxBatch = 128

// A delivery is one item of work for the writer: a mail message for its
// recipients (Deliver) or a news article (the NNTPBackend's Post). apply
// makes the item's writes in the transaction of its batch; it must return
// every error of its statements (so that one which ended the transaction
// is seen), and may be called again, in a transaction of its own, if the
// batch fails as a whole. done receives the item's outcome once the commit
// that holds it has returned, or failed.
type delivery struct {
	ctx   context.Context
	apply func(ctx context.Context, tx *wtx) error
	done  chan error
}

// Deliver stores msg in the INBOX of every address in rcpts and returns when
// it is durable (committed with synchronous=FULL). Line endings are made
// CRLF. Unknown addresses are made as users when Options.AnyLogin is set;
// otherwise they make Deliver fail with ErrNotFound and nothing is stored.
// Deliveries (and news posts) that arrive while another commit is in
// progress are committed together.
func (s *Store) Deliver(ctx context.Context, rcpts []string, msg []byte, date time.Time) error {
	if len(rcpts) == 0 {
		return errors.New("store: deliver: no recipients")
	}
	msg = NormalizeCRLF(msg)
	// Parsed here, in the caller's goroutine: the writer, which commits
	// for everyone, only stores what was parsed.
	meta := parseMessageMeta(msg)
	return s.enqueue(ctx, func(ctx context.Context, tx *wtx) error {
		return s.deliverTx(ctx, tx, rcpts, msg, meta, date)
	})
}

// enqueue hands apply to the writer, which runs it in a write transaction
// with whatever else is queued, and returns its outcome once the commit
// that holds it has returned.
func (s *Store) enqueue(ctx context.Context, apply func(ctx context.Context, tx *wtx) error) error {
	d := &delivery{ctx: ctx, apply: apply, done: make(chan error, 1)}
	select {
	case s.deliveries <- d:
	case <-s.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the outcome is waited for even if ctx ends: the caller
	// must not report failure for an item that is then committed.
	select {
	case err := <-d.done:
		return err
	case <-s.writerDone:
		// The writer has stopped (Close). It gave every item it took its
		// outcome before stopping; an item it never took was queued as
		// it stopped, and is not stored.
		select {
		case err := <-d.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// writer commits queued items, as many at a time as are waiting.
func (s *Store) writer() {
	defer close(s.writerDone)
	for {
		var first *delivery
		select {
		case first = <-s.deliveries:
		case <-s.stop:
			// Fail what is still queued; nothing of it was acknowledged.
			for {
				select {
				case d := <-s.deliveries:
					d.done <- ErrClosed
				default:
					return
				}
			}
		}
		batch := []*delivery{first}
	more:
		for len(batch) < maxBatch {
			select {
			case d := <-s.deliveries:
				batch = append(batch, d)
			default:
				break more
			}
		}
		s.commitBatch(batch)
	}
}

// commitBatch commits the items of batch in one transaction, each within a
// savepoint: an item that fails is rolled back to its savepoint and gets
// its error, and the others are committed without it. Every item gets its
// outcome only after the COMMIT.
func (s *Store) commitBatch(batch []*delivery) {
	if len(batch) == 1 {
		d := batch[0]
		d.done <- s.write(context.Background(), func(tx *wtx) error {
			return d.apply(context.WithoutCancel(d.ctx), tx)
		})
		return
	}
	errs := make([]error, len(batch))
	err := s.write(context.Background(), func(tx *wtx) error {
		for i, d := range batch {
			var err error
			if errs[i], err = s.applyItem(tx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for i, d := range batch {
			d.done <- errs[i]
		}
		return
	}
	// The transaction failed as a whole (its COMMIT, or an error that
	// ended it): nothing of the batch is stored. Commit the items one by
	// one, so that each gets its own outcome.
	for _, d := range batch {
		d.done <- s.write(context.Background(), func(tx *wtx) error {
			return d.apply(context.WithoutCancel(d.ctx), tx)
		})
	}
}

// applyItem runs d's writes in tx within a savepoint. An error of d is
// returned as itemErr, with d's writes (and the work it arranged for after
// the commit) undone and the transaction going on; txErr is an error that
// leaves the transaction unusable, to be rolled back.
func (s *Store) applyItem(tx *wtx, d *delivery) (itemErr, txErr error) {
	ctx := context.WithoutCancel(d.ctx)
	if err := s.execStmt(ctx, tx, "SAVEPOINT item"); err != nil {
		return nil, err
	}
	after := len(tx.after)
	if err := d.apply(ctx, tx); err != nil {
		tx.after = tx.after[:after]
		// ROLLBACK TO fails if the error ended the whole transaction
		// (SQLite rolls back by itself on some I/O errors): then it is
		// the batch that failed.
		if rerr := s.execStmt(ctx, tx, "ROLLBACK TO item"); rerr != nil {
			return nil, fmt.Errorf("store: %w (after %w)", rerr, err)
		}
		if rerr := s.execStmt(ctx, tx, "RELEASE item"); rerr != nil {
			return nil, rerr
		}
		return err, nil
	}
	return nil, s.execStmt(ctx, tx, "RELEASE item")
}

// execStmt runs query, prepared once on the write connection, in tx.
func (s *Store) execStmt(ctx context.Context, tx *wtx, query string) error {
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx)
	return err
}

func (s *Store) deliverTx(ctx context.Context, tx *wtx, rcpts []string, msg []byte, meta *messageMeta, date time.Time) error {
	bodyID, err := s.insertMailBodyTx(ctx, tx, msg, meta)
	if err != nil {
		return err
	}
	seen := make(map[string]bool)
	for _, rcpt := range rcpts {
		addr := normAddress(rcpt)
		if seen[addr] {
			continue
		}
		seen[addr] = true
		var userID int64
		if s.opts.AnyLogin {
			userID, err = ensureUserTx(ctx, tx, addr, originRcpt)
		} else {
			err = tx.QueryRowContext(ctx, `SELECT id FROM users WHERE address = ?`, addr).Scan(&userID)
			if err != nil {
				err = fmt.Errorf("store: deliver to %q: %w", addr, ErrNotFound)
			}
		}
		if err != nil {
			return err
		}
		mbox, err := inboxID(ctx, tx, userID)
		if err != nil {
			return err
		}
		_, id, err := appendTx(ctx, tx, s, mbox, bodyID, int64(len(msg)), date, nil)
		if err != nil {
			return err
		}
		s.publishMessage(tx, id, addr, "INBOX", meta, int64(len(msg)))
	}
	return nil
}

// publishMessage arranges for an events.Message event for message id,
// stored in mailbox of address, to be published after the commit.
func (s *Store) publishMessage(tx *wtx, id int64, address, mailbox string, meta *messageMeta, size int64) {
	hub := s.opts.Events
	if hub == nil {
		return
	}
	var from string
	if len(meta.from) > 0 {
		from = formatAddress(meta.from[0])
	}
	e := events.Event{Kind: events.Message, ID: id, Address: address, Mailbox: mailbox, From: from, Subject: meta.subject, Size: size}
	tx.After(func() { hub.Publish(e) })
}

// appendTx adds a message with body bodyID to mailbox mbox, with flags, and
// returns its UID and its id. After the commit, an IMAP session with the
// mailbox selected learns the new count.
func appendTx(ctx context.Context, tx *wtx, s *Store, mbox, bodyID, size int64, date time.Time, flags []string) (uint32, int64, error) {
	var uid uint32
	var modseq int64
	// The message's mod-sequence is taken with its UID, so that the
	// trigger that gives one to a message stored without (by other
	// code) has nothing to do (schema/009_imap.sql).
	next, err := s.stmt(ctx, tx, `UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING uid_next - 1, highest_modseq`)
	if err != nil {
		return 0, 0, err
	}
	if err := next.QueryRowContext(ctx, mbox).Scan(&uid, &modseq); err != nil {
		return 0, 0, err
	}
	msgID, err := s.nextID(ctx, tx, "messages")
	if err != nil {
		return 0, 0, err
	}
	ins, err := s.stmt(ctx, tx, `INSERT INTO messages (id, mailbox_id, uid, body_id, size, internal_date, modseq) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, 0, err
	}
	if _, err := ins.ExecContext(ctx, msgID, mbox, uid, bodyID, size, date.UnixNano(), modseq); err != nil {
		return 0, 0, err
	}
	for _, f := range flags {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO flags (message_id, flag) VALUES (?, ?)`, msgID, f); err != nil {
			return 0, 0, err
		}
	}
	tx.After(s.broadcast)
	return uid, msgID, nil
}

// nextID returns the id of a new row of table (messages or
// news_articles): above every id in use and every id that was
// (schema/008_message_meta.sql), so that an id is never given twice. (A
// subquery of the table in the INSERT itself would make SQLite copy the
// row through a temporary table.)
func (s *Store) nextID(ctx context.Context, tx *wtx, table string) (int64, error) {
	st, err := s.stmt(ctx, tx, `SELECT max((SELECT coalesce(max(id), 0) FROM `+table+`), (SELECT high FROM id_high WHERE name = '`+table+`')) + 1`)
	if err != nil {
		return 0, err
	}
	var id int64
	err = st.QueryRowContext(ctx).Scan(&id)
	return id, err
}

// broadcast wakes everyone waiting on Changed. The caller holds the write lock.
func (s *Store) broadcast() {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
}

// Changed returns a channel that is closed at the next commit that adds or
// removes messages, so a caller can wait for a delivery without polling:
// take the channel, check the store, and wait on the channel if the check
// failed.
func (s *Store) Changed() <-chan struct{} {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	return s.changed
}

// NormalizeCRLF returns msg with every line ending made CRLF: bare LF and
// bare CR become CRLF. It returns msg itself when nothing needs changing.
func NormalizeCRLF(msg []byte) []byte {
	bare := false
	for i, c := range msg {
		if (c == '\n' && (i == 0 || msg[i-1] != '\r')) || (c == '\r' && (i+1 == len(msg) || msg[i+1] != '\n')) {
			bare = true
			break
		}
	}
	if !bare {
		return msg
	}
	var b bytes.Buffer
	b.Grow(len(msg) + len(msg)/32)
	for i := 0; i < len(msg); i++ {
		switch c := msg[i]; c {
		case '\r':
			b.WriteString("\r\n")
			if i+1 < len(msg) && msg[i+1] == '\n' {
				i++
			}
		case '\n':
			b.WriteString("\r\n")
		default:
			b.WriteByte(c)
		}
	}
	return b.Bytes()
}
