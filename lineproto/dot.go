package lineproto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ErrBodyLinesDone is returned by DotWriter.Write once the body lines its
// limit allows have been written; the caller stops copying and calls Close.
var ErrBodyLinesDone = errors.New("lineproto: body line limit reached")

// A DotWriter writes a message as a dot-stuffed block (RFC 5321 §4.5.2, RFC
// 1939 §3, RFC 3977 §3.1.1): every line ends in CRLF (a bare LF becomes
// CRLF), a line starting with "." gets another, and Close ends the block with
// a line holding only ".". With a limit on body lines it writes the header,
// the blank line after it and that many lines of the body, as POP3's TOP
// does. It writes to a bufio.Writer and never flushes it.
type DotWriter struct {
	w         *bufio.Writer
	lineStart bool
	prevCR    bool
	lineLen   int  // octets of the current line, line ending excluded
	inBody    bool // the blank line after the header has been written
	limit     int  // body lines to write; negative means all
	done      bool // limit reached
}

// NewDotWriter returns a DotWriter to w that writes all of the message.
func NewDotWriter(w *bufio.Writer) *DotWriter {
	return &DotWriter{w: w, lineStart: true, limit: -1}
}

// LimitBody makes d write only the header and the first n lines of the body
// (all of it if n is negative). Call it before the first Write.
func (d *DotWriter) LimitBody(n int) {
	d.limit = n
	d.checkDone()
}

func (d *DotWriter) checkDone() {
	if d.inBody && d.limit == 0 {
		d.done = true
	}
}

// Write writes p; once the body line limit is reached it returns
// ErrBodyLinesDone.
func (d *DotWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if d.done {
			return n, ErrBodyLinesDone
		}
		if !d.lineStart && !d.prevCR {
			// Fast path: copy up to the next CR or LF as it is.
			rest := p[n:]
			i := indexCRLF(rest)
			if i < 0 {
				i = len(rest)
			}
			if i > 0 {
				d.w.Write(rest[:i])
				d.lineLen += i
				n += i
				continue
			}
		}
		d.writeByte(p[n])
		n++
	}
	if d.done {
		return n, ErrBodyLinesDone
	}
	return n, nil
}

// indexCRLF returns the index of the first CR or LF in p, or -1.
func indexCRLF(p []byte) int {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		i = len(p)
	}
	if j := bytes.IndexByte(p[:i], '\r'); j >= 0 {
		return j
	}
	if i == len(p) {
		return -1
	}
	return i
}

func (d *DotWriter) writeByte(b byte) {
	if d.lineStart {
		d.lineStart = false
		if b == '.' {
			d.w.WriteByte('.')
		}
	}
	switch b {
	case '\n':
		if !d.prevCR {
			d.w.WriteByte('\r')
		}
		d.w.WriteByte('\n')
		d.endLine()
	case '\r':
		if d.prevCR {
			d.lineLen++ // the earlier CR was part of the line
		}
		d.w.WriteByte('\r')
	default:
		if d.prevCR {
			d.lineLen++
		}
		d.lineLen++
		d.w.WriteByte(b)
	}
	d.prevCR = b == '\r'
}

func (d *DotWriter) endLine() {
	if d.inBody {
		if d.limit > 0 {
			d.limit--
		}
	} else if d.lineLen == 0 {
		d.inBody = true
	}
	d.lineStart = true
	d.lineLen = 0
	d.checkDone()
}

// Close ends the last line if the message did not, and writes the
// terminating ".". It does not flush.
func (d *DotWriter) Close() error {
	switch {
	case d.prevCR:
		d.w.WriteByte('\n')
	case !d.lineStart:
		d.w.WriteString("\r\n")
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}

// A DotReader reads a dot-stuffed block, as a client reads a POP3 or NNTP
// multi-line reply: it removes the stuffed dots, keeps the line endings as
// sent, and ends at the line holding only ".", which it consumes. An EOF
// before that line is io.ErrUnexpectedEOF. It never reads past the block,
// so the bufio.Reader goes on with what follows it.
type DotReader struct {
	r         *bufio.Reader
	lineStart bool
	done      bool
	err       error
	// Before, if not nil, is called before each read that may block (to set
	// a deadline).
	Before func()
}

// NewDotReader returns a DotReader of the block that r is at the start of.
func NewDotReader(r *bufio.Reader) *DotReader {
	return &DotReader{r: r, lineStart: true}
}

// Read implements io.Reader.
func (d *DotReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if d.Before != nil {
		d.Before()
	}
	if d.lineStart {
		end, err := d.atEnd()
		if err != nil {
			return 0, d.fail(err)
		}
		if end {
			d.done = true
			return 0, io.EOF
		}
		d.lineStart = false
	}
	if d.r.Buffered() == 0 {
		if _, err := d.r.Peek(1); err != nil {
			return 0, d.fail(err)
		}
	}
	buf, _ := d.r.Peek(min(d.r.Buffered(), len(p)))
	n := len(buf)
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		n = i + 1
		d.lineStart = true
	}
	copy(p, buf[:n])
	d.r.Discard(n)
	return n, nil
}

// atEnd looks at the start of a line: it consumes the terminating line and
// reports true, or consumes a stuffed dot.
func (d *DotReader) atEnd() (bool, error) {
	b, err := d.r.Peek(1)
	if err != nil || b[0] != '.' {
		return false, err
	}
	if b, err = d.r.Peek(2); err != nil {
		return false, err
	}
	switch b[1] {
	case '\n':
		d.r.Discard(2)
		return true, nil
	case '\r':
		if b, err = d.r.Peek(3); err != nil {
			return false, err
		}
		if b[2] == '\n' {
			d.r.Discard(3)
			return true, nil
		}
	}
	d.r.Discard(1) // the stuffed dot
	return false, nil
}

func (d *DotReader) fail(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	d.err = err
	return err
}
