package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sort"
)

// bodyChunkBytes is the size of the pieces a message body is stored in
// (the last piece may be shorter), and so the most of a message that a
// reader holds in memory.
const bodyChunkBytes = 64 << 10

// errBodyGone is returned by a body reader whose body was deleted (its last
// message expunged) while it was being read.
var errBodyGone = fmt.Errorf("store: message body deleted while being read: %w", ErrNotFound)

// insertBodyTx stores msg as a new body and returns its id.
func (s *Store) insertBodyTx(ctx context.Context, tx *wtx, msg []byte) (int64, error) {
	ins, err := s.stmt(ctx, tx, `INSERT INTO bodies DEFAULT VALUES`)
	if err != nil {
		return 0, err
	}
	res, err := ins.ExecContext(ctx)
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	return id, s.insertChunksTx(ctx, tx, id, msg)
}

// insertChunksTx stores msg as the pieces of body id.
func (s *Store) insertChunksTx(ctx context.Context, tx *wtx, id int64, msg []byte) error {
	ins, err := s.stmt(ctx, tx, `INSERT INTO body_chunks (body_id, off, data) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	for off := 0; off < len(msg); off += bodyChunkBytes {
		if _, err := ins.ExecContext(ctx, id, off, msg[off:min(off+bodyChunkBytes, len(msg))]); err != nil {
			return err
		}
	}
	return nil
}

// splitBodiesTx moves the data of the bodies stored whole (before
// schema/002_body_chunks.sql) into body_chunks, one body in memory at a
// time.
func (s *Store) splitBodiesTx(ctx context.Context, tx *wtx) error {
	var ids []int64
	rows, err := tx.QueryContext(ctx, `SELECT id FROM bodies`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		var data []byte
		if err := tx.QueryRowContext(ctx, `SELECT data FROM bodies WHERE id = ?`, id).Scan(&data); err != nil {
			return err
		}
		if err := s.insertChunksTx(ctx, tx, id, data); err != nil {
			return err
		}
	}
	return nil
}

// bodyQueries are the statements that read bodies, prepared once: parsing
// them took a fifth of the CPU of a POP3 RETR.
type bodyQueries struct {
	body  *sql.Stmt // a message and its body's pieces: id, mailbox, uid, small
	chunk *sql.Stmt // one piece: its id
}

func prepareBodyQueries(ctx context.Context, db *sql.DB) (*bodyQueries, error) {
	body, err := db.PrepareContext(ctx, `SELECT m.size, c.id, c.off, length(c.data), iif(?4, c.data, NULL)
		FROM messages m LEFT JOIN body_chunks c ON c.body_id = m.body_id
		WHERE m.id = ?1 AND m.mailbox_id = ?2 AND m.uid = ?3 ORDER BY c.off`)
	if err != nil {
		return nil, err
	}
	chunk, err := db.PrepareContext(ctx, `SELECT data FROM body_chunks WHERE id = ?`)
	if err != nil {
		body.Close()
		return nil, err
	}
	return &bodyQueries{body: body, chunk: chunk}, nil
}

func (q *bodyQueries) close() {
	q.body.Close()
	q.chunk.Close()
}

// chunkRef locates a piece of a stored body.
type chunkRef struct {
	id  int64 // row of body_chunks; never reused
	off int64 // offset of the piece in the body
	n   int64 // length of the piece
}

// A storedBody is a message body as the store keeps it: its size and its
// pieces. A body no larger than one piece is read at once and kept in
// data; a larger one is read a piece at a time by each of its readers.
type storedBody struct {
	q      *bodyQueries
	size   int64
	chunks []chunkRef
	data   []byte // the whole body, if small; nil otherwise
}

// openBody returns the body of message id, which must still be message uid
// of mailbox mbox (ids are reused, UIDs are not), or errBodyGone. One query
// finds the message and its body's pieces, so that they agree. size is the
// size of the message; the body is read at once if it fits in one piece.
func openBody(ctx context.Context, q *bodyQueries, id, mbox int64, uid uint32, size int64) (*storedBody, error) {
	small := size <= bodyChunkBytes
	rows, err := q.body.QueryContext(ctx, id, mbox, uid, small)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	b := &storedBody{q: q, size: -1}
	for rows.Next() {
		var cid, off, n sql.NullInt64
		var data sql.RawBytes // copied once, by the append below
		if err := rows.Scan(&b.size, &cid, &off, &n, &data); err != nil {
			return nil, err
		}
		if cid.Valid {
			b.chunks = append(b.chunks, chunkRef{id: cid.Int64, off: off.Int64, n: n.Int64})
			b.data = append(b.data, data...)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if b.size < 0 {
		return nil, errBodyGone
	}
	var total int64
	for _, c := range b.chunks {
		if c.off != total {
			return nil, fmt.Errorf("store: message %d: body piece at offset %d, want %d", id, c.off, total)
		}
		total += c.n
	}
	if total != b.size {
		return nil, fmt.Errorf("store: message %d: body pieces hold %d bytes, want %d", id, total, b.size)
	}
	if !small || b.size > bodyChunkBytes {
		b.data = nil
	} else if b.data == nil {
		b.data = []byte{}
	}
	return b, nil
}

// reader returns a reader of the whole body.
func (b *storedBody) reader(ctx context.Context) io.Reader {
	return b.section(ctx, 0, b.size)
}

// section returns a reader of n bytes of the body from offset off, which
// must lie within it.
func (b *storedBody) section(ctx context.Context, off, n int64) io.Reader {
	if b.data != nil {
		return bytes.NewReader(b.data[off : off+n])
	}
	return &bodyReader{ctx: ctx, b: b, off: off, end: off + n}
}

// A bodyReader reads a range of a large stored body a piece at a time, each
// piece with a query of its own: it holds no transaction open, and no more
// than one piece in memory, however slowly it is read.
type bodyReader struct {
	ctx context.Context
	b   *storedBody
	off int64  // of the next byte to return
	end int64  // offset where the range ends
	buf []byte // the piece last read
	pos int64  // offset of buf[0] in the body
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	if err := r.fill(); err != nil {
		return 0, err
	}
	avail := r.buf[r.off-r.pos : min(int64(len(r.buf)), r.end-r.pos)]
	n := copy(p, avail)
	r.off += int64(n)
	return n, nil
}

// WriteTo writes the rest of the range to w a piece at a time, without the
// copy buffer io.Copy would allocate.
func (r *bodyReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.off < r.end {
		if err := r.fill(); err != nil {
			return total, err
		}
		n, err := w.Write(r.buf[r.off-r.pos : min(int64(len(r.buf)), r.end-r.pos)])
		r.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// fill makes buf the piece that holds offset off, reading it if needed.
func (r *bodyReader) fill() error {
	if r.buf != nil && r.off >= r.pos && r.off < r.pos+int64(len(r.buf)) {
		return nil
	}
	chunks := r.b.chunks
	i := sort.Search(len(chunks), func(i int) bool { return chunks[i].off+chunks[i].n > r.off })
	if i == len(chunks) {
		return fmt.Errorf("store: no piece of the body holds offset %d", r.off)
	}
	c := chunks[i]
	rows, err := r.b.q.chunk.QueryContext(r.ctx, c.id)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return errBodyGone
	}
	var raw sql.RawBytes
	if err := rows.Scan(&raw); err != nil {
		return err
	}
	if int64(len(raw)) != c.n {
		return errors.New("store: a piece of a message body changed while being read")
	}
	r.buf = append(r.buf[:0], raw...)
	r.pos = c.off
	return nil
}
