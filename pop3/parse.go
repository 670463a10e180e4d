package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"strconv"
	"strings"
	"unicode/utf8"
)

// command is a parsed command line: the keyword, upper-cased, and the text
// after the first space.
type command struct {
	name string
	arg  string
}

// errSyntax is the reply to a line that is not a POP3 command.
var errSyntax = &Error{Message: "invalid command line"}

// parseCommand splits a command line (without its line ending) into keyword
// and argument. A line holding NUL, a control character other than TAB or
// invalid UTF-8 is refused (HARDENING G7), as is one whose keyword is not 3
// or 4 letters (RFC 2449 §4 allows keywords of 3 or 4 characters).
func parseCommand(line []byte) (command, error) {
	if !utf8.Valid(line) {
		return command{}, errSyntax
	}
	for _, b := range line {
		if b < 0x20 && b != '\t' || b == 0x7f {
			return command{}, errSyntax
		}
	}
	name, arg, _ := strings.Cut(string(line), " ")
	if len(name) < 3 || len(name) > 4 {
		return command{}, errSyntax
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return command{}, errSyntax
		}
	}
	return command{name: strings.ToUpper(name), arg: arg}, nil
}

// isHTTPRequest reports whether line looks like the request line of HTTP
// ("GET / HTTP/1.1"): a browser or proxy talking to the wrong port
// (HARDENING G6).
func isHTTPRequest(line []byte) bool {
	f := bytes.Fields(line)
	return len(f) == 3 && bytes.HasPrefix(f[2], []byte("HTTP/"))
}

// parseNumber parses a message number or a line count: decimal digits only,
// at most 9 of them.
func parseNumber(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// validUID reports whether s is a valid unique-id: 1 to 70 characters in
// 0x21..0x7E (RFC 1939 §7).
func validUID(s string) bool {
	if len(s) == 0 || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// errTopDone stops the copy of a message once TOP has sent its lines.
var errTopDone = errors.New("pop3: top lines sent")

// dotWriter writes a message as the body of a multi-line reply (RFC 1939
// §3): every line ends in CRLF (a bare LF becomes CRLF), a line starting with
// "." gets another, and Close ends the reply with ".". With a line limit it
// sends the header, the blank line and that many body lines, as TOP does.
type dotWriter struct {
	w         *bufio.Writer
	lineStart bool
	prevCR    bool
	lineLen   int  // octets of the current line, line ending excluded
	inBody    bool // the blank line after the header has been written
	limit     int  // body lines to write; negative means all
	done      bool // limit reached
}

func newDotWriter(w *bufio.Writer, limit int) *dotWriter {
	d := &dotWriter{w: w, lineStart: true, limit: limit}
	if limit == 0 {
		d.checkDone()
	}
	return d
}

func (d *dotWriter) checkDone() {
	if d.inBody && d.limit == 0 {
		d.done = true
	}
}

// Write writes p; once the line limit is reached it returns errTopDone.
func (d *dotWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if d.done {
			return n, errTopDone
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
		return n, errTopDone
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

func (d *dotWriter) writeByte(b byte) {
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

func (d *dotWriter) endLine() {
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
func (d *dotWriter) Close() error {
	switch {
	case d.prevCR:
		d.w.WriteByte('\n')
	case !d.lineStart:
		d.w.WriteString("\r\n")
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}

// parseStatus parses the first line of a reply, without its line ending:
// "+OK text" returns the text, "-ERR text" a *Error, anything else a
// textproto.ProtocolError.
func parseStatus(line string) (string, error) {
	switch {
	case line == "+OK":
		return "", nil
	case strings.HasPrefix(line, "+OK "):
		return line[4:], nil
	case line == "-ERR":
		return "", &Error{}
	case strings.HasPrefix(line, "-ERR "):
		return "", parseError(line[5:])
	}
	return "", textproto.ProtocolError("pop3: invalid reply " + strconv.Quote(truncate(line, 64)))
}

// parseError parses the text of a -ERR reply, with its response code in
// brackets if it has one (RFC 2449 §8).
func parseError(text string) *Error {
	if strings.HasPrefix(text, "[") {
		if i := strings.IndexByte(text, ']'); i > 1 && i <= 64 && !strings.ContainsAny(text[1:i], " [") {
			return &Error{Code: text[1:i], Message: strings.TrimLeft(text[i+1:], " ")}
		}
	}
	return &Error{Message: text}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// dotReader reads the body of a multi-line reply, removing the dot-stuffing
// (RFC 1939 §3), up to the terminating "." line, which it consumes. Lines
// keep their line endings. It never buffers more than the bufio.Reader does.
type dotReader struct {
	r         *bufio.Reader
	lineStart bool
	done      bool
	err       error
	before    func() // called before each read that may block
}

func newDotReader(r *bufio.Reader, before func()) *dotReader {
	return &dotReader{r: r, lineStart: true, before: before}
}

func (d *dotReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if d.before != nil {
		d.before()
	}
	if d.lineStart {
		b, err := d.r.Peek(1)
		if err != nil {
			return 0, d.fail(err)
		}
		if b[0] == '.' {
			b, err := d.r.Peek(2)
			if err != nil {
				return 0, d.fail(err)
			}
			switch b[1] {
			case '\n':
				d.r.Discard(2)
				d.done = true
				return 0, io.EOF
			case '\r':
				b, err := d.r.Peek(3)
				if err != nil {
					return 0, d.fail(err)
				}
				if b[2] == '\n' {
					d.r.Discard(3)
					d.done = true
					return 0, io.EOF
				}
			}
			d.r.Discard(1) // the stuffed dot
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

func (d *dotReader) fail(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	d.err = err
	return err
}
