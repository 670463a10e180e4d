package store

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"
)

// internalDate converts the stored internal date.
func internalDate(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// fetchChunk is how many messages one metadata query covers.
const fetchChunk = 256

// MIME limits for parsing stored messages, which any sender can shape:
// for BODYSTRUCTURE (RFC 9051 §7.5.2) and SEARCH BODY/TEXT, a message with
// more multipart or message/* containers than maxMIMEContainers is treated
// as one opaque part, and body structures are cut at maxMIMEDepth, so that
// the work and the response stay bounded.
const (
	maxMIMEContainers = 1000
	maxMIMEDepth      = 100
)

// msgMeta is a message's row and flags.
type msgMeta struct {
	id    int64
	uid   imap.UID
	size  int64
	date  time.Time
	flags []imap.Flag
}

// loadMeta returns the rows and flags of the messages refs that still
// exist, by id.
func loadMeta(ctx context.Context, q querier, mbox int64, refs []msgRef) (map[int64]*msgMeta, error) {
	out := make(map[int64]*msgMeta, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	var in strings.Builder
	args := []any{mbox}
	for i, r := range refs {
		if i > 0 {
			in.WriteByte(',')
		}
		in.WriteByte('?')
		args = append(args, r.id)
	}
	rows, err := q.QueryContext(ctx, `SELECT id, uid, size, internal_date FROM messages WHERE mailbox_id = ? AND id IN (`+in.String()+`)`, args...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		m := &msgMeta{flags: []imap.Flag{}}
		var date int64
		if err := rows.Scan(&m.id, &m.uid, &m.size, &date); err != nil {
			rows.Close()
			return nil, err
		}
		m.date = internalDate(date)
		out[m.id] = m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = q.QueryContext(ctx, `SELECT message_id, flag FROM flags WHERE message_id IN (`+in.String()+`) ORDER BY message_id, flag`, args[1:]...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var f string
		if err := rows.Scan(&id, &f); err != nil {
			return nil, err
		}
		if m := out[id]; m != nil {
			m.flags = append(m.flags, imap.Flag(f))
		}
	}
	return out, rows.Err()
}

// Fetch writes the FETCH responses of the messages in numSet. A body
// section other than BODY[] and BODY[TEXT] is extracted into memory before
// it is written; BODY[] and BODY[TEXT] (and their partial ranges) are
// streamed from the store a piece at a time, so that a client that reads
// slowly holds little memory, however large the message.
func (sess *imapSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	sel := sess.sel
	if sel == nil {
		return noSelection
	}
	markSeen := !sel.readOnly && fetchSetsSeen(options)
	targets, err := sess.fetchTargets(numSet, markSeen)
	if err != nil {
		return sess.err("fetch", err)
	}
	needBody := options.Envelope || options.BodyStructure != nil || len(options.BodySection) > 0 ||
		len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
	for len(targets) > 0 {
		chunk := targets[:min(fetchChunk, len(targets))]
		targets = targets[len(chunk):]
		meta, err := loadMeta(sess.ctx, sess.s.db, sel.id, chunk)
		if err != nil {
			return sess.err("fetch", err)
		}
		for _, t := range chunk {
			m := meta[t.id]
			if m == nil {
				continue // expunged since; the client learns it at the next poll
			}
			var body *storedBody
			if needBody {
				if body, err = openBody(sess.ctx, sess.s.bodies, m.id, sel.id, uint32(m.uid), m.size); err != nil {
					continue
				}
			}
			if err := sess.writeFetch(w.CreateMessage(t.cseq), m, body, options, markSeen); err != nil {
				return err
			}
		}
	}
	return nil
}

// fetchSetsSeen says whether a FETCH asks for a body section without PEEK,
// which sets \Seen (RFC 9051 §6.4.5).
func fetchSetsSeen(options *imap.FetchOptions) bool {
	for _, bs := range options.BodySection {
		if !bs.Peek {
			return true
		}
	}
	for _, bs := range options.BinarySection {
		if !bs.Peek {
			return true
		}
	}
	return false
}

// fetchTargets returns the messages of numSet. With markSeen it sets their
// \Seen flag in the same transaction that picks them, so that the sequence
// numbers queued to the other sessions are right.
func (sess *imapSession) fetchTargets(numSet imap.NumSet, markSeen bool) ([]msgRef, error) {
	ctx, s := sess.ctx, sess.s
	var targets []msgRef
	if !markSeen {
		err := s.snapshot(func() error {
			refs, err := sess.view(ctx, s.db)
			targets = sess.targets(refs, numSet)
			return err
		})
		return targets, err
	}
	err := s.write(ctx, func(tx *wtx) error {
		refs, err := sess.view(ctx, tx)
		if err != nil {
			return err
		}
		targets = sess.targets(refs, numSet)
		for _, t := range targets {
			if err := sess.setSeenTx(ctx, tx, t); err != nil {
				return err
			}
		}
		return nil
	})
	return targets, err
}

// setSeenTx sets the \Seen flag of message t and, if it was not set,
// queues the new flags to the other sessions.
func (sess *imapSession) setSeenTx(ctx context.Context, tx *wtx, t msgRef) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO flags (message_id, flag) SELECT ?1, '\Seen' WHERE NOT EXISTS (SELECT 1 FROM flags WHERE message_id = ?1 AND flag = '\Seen' COLLATE NOCASE)`, t.id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	flags, err := messageFlags(ctx, tx, t.id)
	if err != nil {
		return err
	}
	seq, uid, tr, st := t.seq, t.uid, sess.sel.tracker, sess.sel.st
	tx.After(func() { tr.QueueMessageFlags(seq, uid, flags, st) })
	return nil
}

// writeFetch writes the FETCH items of one message. It closes rw whatever
// happens: go-imap's response encoder holds the connection's write lock
// until then, and a FETCH that failed without closing it (a write timed
// out, say) would leave the connection unable to reply or to end.
func (sess *imapSession) writeFetch(rw *imapserver.FetchResponseWriter, m *msgMeta, body *storedBody, options *imap.FetchOptions, withFlags bool) (err error) {
	defer func() {
		if cerr := rw.Close(); err == nil {
			err = cerr
		}
	}()
	rw.WriteUID(m.uid)
	if options.Flags || withFlags {
		rw.WriteFlags(m.flags)
	}
	if options.InternalDate {
		rw.WriteInternalDate(m.date)
	}
	if options.RFC822Size {
		rw.WriteRFC822Size(m.size)
	}
	if options.Envelope {
		var env *imap.Envelope
		if err := sess.extract(body, func(r io.Reader) { env = envelope(r) }); err != nil {
			return err
		}
		rw.WriteEnvelope(env)
	}
	if options.BodyStructure != nil {
		data, err := body.readAll(sess.ctx)
		if err != nil {
			return err
		}
		rw.WriteBodyStructure(bodyStructure(data))
	}
	for _, bs := range options.BodySection {
		if err := sess.writeBodySection(rw, body, bs); err != nil {
			return err
		}
	}
	return sess.writeBinary(rw, body, options)
}

// writeBinary writes the BINARY and BINARY.SIZE items of a FETCH (RFC
// 3516), decoded into memory first.
func (sess *imapSession) writeBinary(rw *imapserver.FetchResponseWriter, body *storedBody, options *imap.FetchOptions) error {
	for _, bs := range options.BinarySection {
		var buf []byte
		if err := sess.extract(body, func(r io.Reader) { buf = imapserver.ExtractBinarySection(r, bs) }); err != nil {
			return err
		}
		if err := writeLiteral(rw.WriteBinarySection(bs, int64(len(buf))), buf); err != nil {
			return err
		}
	}
	for _, bss := range options.BinarySectionSize {
		var size uint32
		if err := sess.extract(body, func(r io.Reader) { size = imapserver.ExtractBinarySectionSize(r, bss) }); err != nil {
			return err
		}
		rw.WriteBinarySectionSize(bss, size)
	}
	return nil
}

// writeBodySection writes one BODY[...] item. BODY[] is the stored message
// as it is, and BODY[TEXT] what follows its header; both, and their partial
// ranges, are copied from the store a piece at a time. Other sections are
// extracted by go-imap into memory first.
func (sess *imapSession) writeBodySection(rw *imapserver.FetchResponseWriter, body *storedBody, bs *imap.FetchItemBodySection) error {
	if len(bs.Part) > 0 || (bs.Specifier != imap.PartSpecifierNone && bs.Specifier != imap.PartSpecifierText) {
		var buf []byte
		if err := sess.extract(body, func(r io.Reader) { buf = imapserver.ExtractBodySection(r, bs) }); err != nil {
			return err
		}
		return writeLiteral(rw.WriteBodySection(bs, int64(len(buf))), buf)
	}
	off, n := int64(0), body.size
	if bs.Specifier == imap.PartSpecifierText {
		var err error
		if off, n, err = sess.textRange(body); err != nil {
			return err
		}
	}
	start, n := partialRange(n, bs.Partial)
	wc := rw.WriteBodySection(bs, n)
	_, err := io.Copy(wc, body.section(sess.ctx, off+start, n))
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// The literal may be cut short: the client cannot tell where it
		// ends, so the connection cannot go on.
		sess.abort()
	}
	return err
}

// textRange returns where BODY[TEXT] lies in a body: after the header, as
// go-imap's ExtractBodySection finds it (and empty, as there, if the header
// cannot be parsed).
func (sess *imapSession) textRange(body *storedBody) (off, n int64, err error) {
	err = sess.extract(body, func(r io.Reader) {
		cr := &countingReader{r: r}
		br := bufio.NewReader(cr)
		if _, herr := textproto.ReadHeader(br); herr == nil {
			off = cr.n - int64(br.Buffered())
			n = body.size - off
		}
	})
	return off, n, err
}

// partialRange returns the part of a section of size bytes that a partial
// FETCH (BODY[]<off.n>) asks for, as go-imap's extractPartial does.
func partialRange(size int64, partial *imap.SectionPartial) (start, n int64) {
	if partial == nil {
		return 0, size
	}
	if partial.Offset > size {
		return 0, 0
	}
	return partial.Offset, min(partial.Offset+partial.Size, size) - partial.Offset
}

// extract runs f, one of go-imap's extractors, over a reader of body. The
// extractors take a read error for the end of the message; extract
// returns it instead.
func (sess *imapSession) extract(body *storedBody, f func(r io.Reader)) error {
	er := &errReader{r: body.reader(sess.ctx)}
	f(er)
	return er.err
}

// errReader keeps the first error of its reader other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (r *errReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}

func writeLiteral(wc io.WriteCloser, buf []byte) error {
	_, err := wc.Write(buf)
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}

// envelope returns the ENVELOPE of a message; a message without a
// readable header gets an empty one rather than NIL.
func envelope(r io.Reader) *imap.Envelope {
	h, _ := textproto.ReadHeader(bufio.NewReader(r))
	return imapserver.ExtractEnvelope(h)
}

// tooManyContainers says whether a message has more MIME containers than
// maxMIMEContainers, counting "multipart/" and "message/" anywhere in it
// (an over-estimate, which is what a bound needs).
func tooManyContainers(body []byte) bool {
	n := 0
	for i := 0; i+8 <= len(body); i++ {
		c := body[i] | 0x20
		if c != 'm' {
			continue
		}
		rest := body[i:]
		if len(rest) >= 10 && bytes.EqualFold(rest[:10], []byte("multipart/")) ||
			bytes.EqualFold(rest[:8], []byte("message/")) {
			if n++; n > maxMIMEContainers {
				return true
			}
		}
	}
	return false
}

// bodyStructure returns the BODYSTRUCTURE of a message, bounded in work
// and depth.
func bodyStructure(body []byte) imap.BodyStructure {
	if tooManyContainers(body) {
		return opaquePart(body)
	}
	return capDepth(imapserver.ExtractBodyStructure(bytes.NewReader(body)), 0)
}

// opaquePart describes a message as one text/plain part, for messages too
// deeply nested to describe.
func opaquePart(body []byte) imap.BodyStructure {
	size := len(body)
	if i := bytes.Index(body, []byte("\r\n\r\n")); i >= 0 {
		size = len(body) - i - 4
	}
	return &imap.BodyStructureSinglePart{
		Type: "text", Subtype: "plain",
		Params:   map[string]string{"charset": "us-ascii"},
		Encoding: "7bit",
		Size:     uint32(size),
		Text:     &imap.BodyStructureText{NumLines: int64(bytes.Count(body, []byte("\n")))},
		Extended: &imap.BodyStructureSinglePartExt{},
	}
}

func capDepth(bs imap.BodyStructure, depth int) imap.BodyStructure {
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		if depth >= maxMIMEDepth {
			return &imap.BodyStructureSinglePart{Type: "application", Subtype: "octet-stream", Encoding: "7bit", Extended: &imap.BodyStructureSinglePartExt{}}
		}
		for i, c := range bs.Children {
			bs.Children[i] = capDepth(c, depth+1)
		}
	case *imap.BodyStructureSinglePart:
		if bs.MessageRFC822 != nil {
			if depth >= maxMIMEDepth {
				bs.MessageRFC822.BodyStructure = &imap.BodyStructureSinglePart{Type: "application", Subtype: "octet-stream", Encoding: "7bit", Extended: &imap.BodyStructureSinglePartExt{}}
			} else {
				bs.MessageRFC822.BodyStructure = capDepth(bs.MessageRFC822.BodyStructure, depth+1)
			}
		}
	}
	return bs
}
