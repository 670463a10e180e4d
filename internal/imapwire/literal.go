package imapwire

import (
	"errors"
	"io"
	"time"
)

// A LiteralReader reads a streamed literal: an APPEND message or a
// CATENATE TEXT part, exactly Size octets. The server sets the read
// deadline of its lineproto.Reader for it as it sees fit (an APPEND may
// take longer than a command). What is not read of it when the decoder is
// next used is read and dropped.
type LiteralReader struct {
	d      *Decoder
	n      int64 // left to read
	size   int64
	binary bool
	err    error
}

// Size returns the length of the literal.
func (lr *LiteralReader) Size() int64 { return lr.size }

// Binary reports whether the literal is a literal8 (RFC 3516, "~{n}"),
// which may hold NUL; a plain literal must not, and the server should
// refuse one that does.
func (lr *LiteralReader) Binary() bool { return lr.binary }

// Read reads from the literal; it returns io.EOF at its end.
func (lr *LiteralReader) Read(p []byte) (int, error) {
	if lr.err != nil {
		return 0, lr.err
	}
	if lr.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > lr.n {
		p = p[:lr.n]
	}
	n, err := lr.d.r.Read(p)
	lr.n -= int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		lr.err = err
		lr.d.fatal = err
		return n, err
	}
	return n, nil
}

// streamLiteral starts the line's literal as a LiteralReader.
func (d *Decoder) streamLiteral(binaryOK bool) (*LiteralReader, error) {
	m := d.lit
	if !d.atLiteral() {
		return nil, d.expected("literal")
	}
	if m.binary && !binaryOK {
		return nil, syntaxError("literal8 not allowed here")
	}
	if err := d.checkLiteral(m, d.opts.MaxMessageBytes, "NO"); err != nil {
		return nil, err
	}
	if err := d.startLiteral(m); err != nil {
		return nil, err
	}
	d.body = &LiteralReader{d: d, n: m.n, size: m.n, binary: m.binary}
	return d.body, nil
}

// finishBody reads what is left of a streamed literal, and the line after
// it.
func (d *Decoder) finishBody() error {
	lr := d.body
	if lr == nil {
		return nil
	}
	d.body = nil
	if lr.err != nil {
		return lr.err
	}
	if lr.n > 0 {
		d.r.SetDeadline(time.Time{})
		_, err := io.CopyN(io.Discard, d.r, lr.n)
		lr.n = 0
		if err != nil {
			d.fatal = err
			return err
		}
	}
	lr.err = io.EOF
	d.r.ContinueAnew()
	return d.nextLine(true)
}
