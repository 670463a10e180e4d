package store

import (
	"bytes"
	"context"
	"time"

	"github.com/inetkit/inetkit/imap"
)

// maxAppendBytes bounds a message of APPEND, as the IMAP server bounds its
// literal by default.
const maxAppendBytes = imap.DefaultMaxLiteralBytes

// Append stores msgs in mailbox name in one transaction: all or none
// (MULTIAPPEND, RFC 3502). A message is stored as sent: a client that
// sends bare line feeds gets them back, and binary content (RFC 3516)
// is kept. A message over maxAppendBytes is refused with
// TOOBIG, and messages that would leave less than Options.MinFreeBytes on
// the disk with OVERQUOTA.
func (u *imapUser) Append(ctx context.Context, name string, msgs []*imap.AppendMessage) (*imap.CopyResult, error) {
	name, err := imapName(name)
	if err != nil {
		return nil, err
	}
	type prepared struct {
		body  []byte
		meta  *messageMeta
		date  time.Time
		flags []string
	}
	var total int64
	ps := make([]prepared, len(msgs))
	for i, m := range msgs {
		if int64(len(m.Body)) > maxAppendBytes {
			return nil, imap.ErrTooBig
		}
		p := prepared{body: m.Body, date: m.Date, flags: dedupFlags(m.Flags)}
		if p.date.IsZero() {
			p.date = time.Now()
		}
		p.meta = parseMessageMeta(p.body)
		total += int64(len(p.body))
		ps[i] = p
	}
	if min := u.s.opts.MinFreeBytes; min > 0 {
		if free, ok := freeBytes(u.s.dir); ok && free < min+total {
			u.s.log.Warn("store: imap: refusing APPEND, low on disk space", "free", free, "user", u.address)
			return nil, imap.ErrOverQuota
		}
	}
	res := &imap.CopyResult{}
	err = u.s.write(ctx, func(tx *wtx) error {
		mb, err := u.mailboxTx(ctx, tx, name)
		if err != nil {
			return err
		}
		res.UIDValidity, res.Dest = mb.uidValidity, nil
		for _, p := range ps {
			if p.flags, err = keywordSpellingTx(ctx, tx, mb.id, p.flags); err != nil {
				return err
			}
			bodyID, err := u.s.insertMailBodyTx(ctx, tx, p.body, p.meta)
			if err != nil {
				return err
			}
			uid, id, err := appendTx(ctx, tx, u.s, mb.id, bodyID, int64(len(p.body)), p.date, p.flags)
			if err != nil {
				return err
			}
			u.s.publishMessage(tx, id, u.address, mb.name, p.meta, int64(len(p.body)))
			res.Dest = append(res.Dest, uid)
		}
		return nil
	})
	if err != nil {
		return nil, imapErr(err)
	}
	return res, nil
}

// headerOf returns the header of msg, with the blank line that ends it
// (CRLF CRLF, or LF LF in a message sent with bare line feeds).
func headerOf(msg []byte) []byte {
	for _, end := range []string{"\r\n\r\n", "\n\n"} {
		if bytes.HasPrefix(msg, []byte(end[len(end)/2:])) {
			return msg[:len(end)/2]
		}
		if i := bytes.Index(msg, []byte(end)); i >= 0 {
			return msg[:i+len(end)]
		}
	}
	return msg
}
