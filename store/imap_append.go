package store

import (
	"errors"
	"io"
	"time"

	"github.com/emersion/go-imap/v2"
)

func (sess *imapSession) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	// The literal is read before the write lock is taken: a slow client
	// must not hold up the store.
	msg, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	msg = NormalizeCRLF(msg)
	meta := parseMessageMeta(msg)
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
		bodyID, err := sess.s.insertMailBodyTx(ctx, tx, msg, meta)
		if err != nil {
			return err
		}
		uid, id, err := appendTx(ctx, tx, sess.s, mb.id, bodyID, int64(len(msg)), date, flags)
		if err != nil {
			return err
		}
		sess.s.publishMessage(tx, id, sess.user, mb.name, meta, int64(len(msg)))
		data = imap.AppendData{UID: imap.UID(uid), UIDValidity: mb.uidValidity}
		return nil
	})
	if err != nil {
		return nil, sess.err("append", err)
	}
	return &data, nil
}
