package telnet

import (
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/inetkit/inetkit/lineproto"
)

// ErrInterrupt is returned by LineReader.ReadLine when the user pressed
// Ctrl-C or the client sent IP (Interrupt Process) or BRK.
var ErrInterrupt = errors.New("telnet: interrupted")

// DefaultHistory is the number of lines a LineReader remembers.
const DefaultHistory = 100

// A LineReader reads lines typed at a Telnet client, for a console.
//
// In character mode, when the server echoes (our side of ECHO is enabled,
// as Server negotiates by default), it edits the line on the server: it
// echoes what is typed and takes Backspace and DEL (and the EC command),
// Ctrl-U (and EL), Ctrl-W, the left and right arrows, Home and End (and
// Ctrl-A, Ctrl-E), the up and down arrows through its history, Ctrl-C (and
// IP, BRK), which returns ErrInterrupt, and Ctrl-D on an empty line, which
// returns io.EOF. In line mode, when the client refused to let the server
// echo and edits lines itself, it reads them as they come, taking only
// Backspace, DEL, EC and EL.
//
// A line longer than MaxLineBytes returns lineproto.ErrLineTooLong; a
// first line that is an HTTP request returns ErrHTTPRequest without being
// echoed. A Server ends the session with a goodbye after either error, and
// after the idle timeout. A LineReader is not safe for concurrent use.
type LineReader struct {
	// MaxLineBytes caps a line; zero means the Server's MaxLineBytes, or
	// DefaultMaxLineBytes.
	MaxLineBytes int
	// History is the number of lines remembered for the up and down
	// arrows; zero means DefaultHistory, negative none.
	History int

	c       *Conn
	in      []byte // input read, not yet processed
	cmds    []byte // commands the Conn reported, in order
	hist    []string
	lines   int  // lines read so far
	lastCR  bool // the last end of line was a CR: a LF or NUL right after it is not another
	esc     []byte
	partial []byte // an incomplete UTF-8 sequence
}

// NewLineReader returns a LineReader of c. Only one may read c.
func NewLineReader(c *Conn) *LineReader {
	lr := &LineReader{c: c}
	c.mu.Lock()
	c.onCommand = func(cmd byte) { lr.cmds = append(lr.cmds, cmd) }
	c.mu.Unlock()
	return lr
}

// ReadLine reads a line with c's LineReader, made on first use: see
// LineReader.ReadLine.
func (c *Conn) ReadLine(prompt string) (string, error) {
	if c.lr == nil {
		c.lr = NewLineReader(c)
	}
	return c.lr.ReadLine(prompt)
}

// ReadPassword reads a secret with c's LineReader: see
// LineReader.ReadPassword.
func (c *Conn) ReadPassword(prompt string) (string, error) {
	if c.lr == nil {
		c.lr = NewLineReader(c)
	}
	return c.lr.ReadPassword(prompt)
}

// an editor is the state of the line being edited.
type editor struct {
	lr *LineReader
	c  *Conn
	// echo is set when the server echoes the line as it is edited: in
	// character mode, and not for a password.
	echo bool
	// charMode is set when the server echoes (our side of ECHO is on);
	// hidden, when it echoes nothing of the line (a password).
	charMode, hidden bool
	line             []rune
	pos              int
	histPos          int
	out              []byte
}

// ReadLine writes prompt and returns the next line, without its end.
func (lr *LineReader) ReadLine(prompt string) (string, error) {
	return lr.readLine(prompt, false)
}

// ReadPassword is ReadLine for a secret: in character mode nothing of the
// line is echoed (the line end is, so the cursor moves on), the line is
// not remembered and the up and down arrows do not recall others. A client
// in line mode edits and echoes the line itself, so it decides what is
// shown.
func (lr *LineReader) ReadPassword(prompt string) (string, error) {
	return lr.readLine(prompt, true)
}

func (lr *LineReader) readLine(prompt string, hidden bool) (string, error) {
	c := lr.c
	e := &editor{lr: lr, c: c, hidden: hidden, histPos: len(lr.hist)}
	e.setMode()
	max := lr.MaxLineBytes
	if max <= 0 && c.sess != nil {
		max = c.sess.maxLine
	}
	if max <= 0 {
		max = DefaultMaxLineBytes
	}
	if prompt != "" {
		if _, err := c.Write([]byte(prompt)); err != nil {
			return "", err
		}
	}
	buf := make([]byte, 512)
	for {
		for len(lr.cmds) > 0 {
			cmd := lr.cmds[0]
			lr.cmds = lr.cmds[1:]
			switch cmd {
			case EC:
				e.backspace()
			case EL:
				e.kill()
			case IP, BRK:
				lr.in = lr.in[:0]
				e.out = append(e.out, "^C\r\n"...)
				return "", e.flush(ErrInterrupt)
			}
		}
		if len(lr.in) > 0 && lr.lines == 0 && len(e.line) == 0 && isHTTP(lr.in) {
			c.fail(ErrHTTPRequest)
			return "", ErrHTTPRequest
		}
		for len(lr.in) > 0 {
			b := lr.in[0]
			lr.in = lr.in[1:]
			done, err := e.key(b)
			if err != nil {
				return "", e.flush(err)
			}
			if lineBytes(e.line) > max {
				c.fail(lineproto.ErrLineTooLong)
				return "", e.flush(lineproto.ErrLineTooLong)
			}
			if done {
				line := string(appendRunes(nil, e.line))
				lr.lines++
				if !hidden {
					lr.remember(line)
				}
				return line, e.flush(nil)
			}
		}
		if err := e.flush(nil); err != nil {
			return "", err
		}
		c.rmu.Lock()
		n, err := c.read(buf, readCommand)
		c.rmu.Unlock()
		lr.in = append(lr.in, buf[:n]...)
		e.setMode()
		if err != nil && n == 0 {
			return "", err
		}
	}
}

// setMode follows the state of our ECHO option, which the client may
// change at any time.
func (e *editor) setMode() {
	e.charMode = e.c.LocalEnabled(OptionEcho)
	e.echo = e.charMode && !e.hidden
}

// fail records the error that ends a session, for the Server's goodbye.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.readFailed == nil {
		c.readFailed = err
	}
	c.mu.Unlock()
}

func (lr *LineReader) remember(line string) {
	limit := lr.History
	if limit == 0 {
		limit = DefaultHistory
	}
	if limit < 0 || line == "" || (len(lr.hist) > 0 && lr.hist[len(lr.hist)-1] == line) {
		return
	}
	lr.hist = append(lr.hist, line)
	if len(lr.hist) > limit {
		lr.hist = lr.hist[len(lr.hist)-limit:]
	}
}

// flush writes the echo and returns err, or the write's error.
func (e *editor) flush(err error) error {
	if len(e.out) > 0 {
		_, werr := e.c.Write(e.out)
		e.out = e.out[:0]
		if err == nil {
			err = werr
		}
	}
	return err
}

// key applies one octet of input; done reports the end of the line.
func (e *editor) key(b byte) (done bool, err error) {
	lr := e.lr
	if lr.lastCR {
		lr.lastCR = false
		if b == '\n' || b == 0 {
			return false, nil
		}
	}
	if len(lr.esc) > 0 {
		e.escape(b)
		return false, nil
	}
	if len(lr.partial) > 0 || b >= 0x80 {
		lr.partial = append(lr.partial, b)
		for len(lr.partial) > 0 && utf8.FullRune(lr.partial) {
			r, size := utf8.DecodeRune(lr.partial)
			if r == utf8.RuneError && size <= 1 {
				// Not UTF-8: the octet is kept as it is, as Python's
				// surrogateescape keeps it.
				r = rawRune(lr.partial[0])
				size = 1
			}
			lr.partial = lr.partial[size:]
			e.insert(r)
		}
		return false, nil
	}
	switch b {
	case '\r', '\n':
		lr.lastCR = b == '\r'
		if e.charMode {
			e.out = append(e.out, "\r\n"...)
		}
		return true, nil
	case 0x7f, 0x08:
		e.backspace()
	case 0x15: // Ctrl-U
		e.kill()
	case 0x17: // Ctrl-W
		e.killWord()
	case 0x03: // Ctrl-C
		if e.charMode {
			e.out = append(e.out, "^C\r\n"...)
		}
		return false, ErrInterrupt
	case 0x04: // Ctrl-D
		if len(e.line) == 0 {
			return false, io.EOF
		}
	case 0x01: // Ctrl-A
		e.home()
	case 0x05: // Ctrl-E
		e.end()
	case 0x02: // Ctrl-B
		e.left()
	case 0x06: // Ctrl-F
		e.right()
	case 0x1b:
		if e.charMode {
			lr.esc = append(lr.esc, b)
		}
	case '\t':
		e.insert(' ')
	default:
		if b >= ' ' {
			e.insert(rune(b))
		}
	}
	return false, nil
}

// escape collects an escape sequence (ESC [ ... final, or ESC O x) and
// applies it.
func (e *editor) escape(b byte) {
	lr := e.lr
	lr.esc = append(lr.esc, b)
	seq := lr.esc
	if len(seq) == 2 {
		if b != '[' && b != 'O' {
			lr.esc = lr.esc[:0]
		}
		return
	}
	if seq[1] == '[' && (b < 0x40 || b > 0x7e) && len(seq) < 16 {
		return // a parameter octet
	}
	lr.esc = lr.esc[:0]
	switch string(seq[1:]) {
	case "[A", "OA":
		e.history(-1)
	case "[B", "OB":
		e.history(+1)
	case "[C", "OC":
		e.right()
	case "[D", "OD":
		e.left()
	case "[H", "OH", "[1~", "[7~":
		e.home()
	case "[F", "OF", "[4~", "[8~":
		e.end()
	case "[3~":
		e.deleteAt()
	}
}

func (e *editor) back(n int) {
	if e.echo {
		e.out = append(e.out, strings.Repeat("\b", n)...)
	}
}

func (e *editor) write(rs []rune) {
	if e.echo {
		e.out = appendRunes(e.out, rs)
	}
}

// rawRune returns the rune that stands for an octet that is not UTF-8,
// in the surrogate range no valid UTF-8 decodes to.
func rawRune(b byte) rune { return 0xdc00 + rune(b) }

// appendRunes appends the line rs as octets: each rune in UTF-8, and each
// rawRune as its octet.
func appendRunes(dst []byte, rs []rune) []byte {
	for _, r := range rs {
		if r >= 0xdc80 && r <= 0xdcff {
			dst = append(dst, byte(r-0xdc00))
			continue
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// lineBytes returns the length of rs as octets.
func lineBytes(rs []rune) int {
	n := 0
	for _, r := range rs {
		if r >= 0xdc80 && r <= 0xdcff {
			n++
		} else {
			n += utf8.RuneLen(r)
		}
	}
	return n
}

func (e *editor) spaces(n int) {
	if e.echo {
		e.out = append(e.out, strings.Repeat(" ", n)...)
	}
}

func (e *editor) insert(r rune) {
	e.line = append(e.line, 0)
	copy(e.line[e.pos+1:], e.line[e.pos:])
	e.line[e.pos] = r
	e.write(e.line[e.pos:])
	e.pos++
	e.back(len(e.line) - e.pos)
}

func (e *editor) backspace() {
	if e.pos == 0 {
		return
	}
	e.pos--
	e.line = append(e.line[:e.pos], e.line[e.pos+1:]...)
	e.back(1)
	e.write(e.line[e.pos:])
	e.spaces(1)
	e.back(len(e.line) - e.pos + 1)
}

func (e *editor) deleteAt() {
	if e.pos == len(e.line) {
		return
	}
	e.line = append(e.line[:e.pos], e.line[e.pos+1:]...)
	e.write(e.line[e.pos:])
	e.spaces(1)
	e.back(len(e.line) - e.pos + 1)
}

// replace makes the line s, redrawn.
func (e *editor) replace(s []rune) {
	e.back(e.pos)
	e.write(s)
	if extra := len(e.line) - len(s); extra > 0 {
		e.spaces(extra)
		e.back(extra)
	}
	e.line = append(e.line[:0], s...)
	e.pos = len(e.line)
}

func (e *editor) kill() { e.replace(nil) }

func (e *editor) killWord() {
	i := e.pos
	for i > 0 && e.line[i-1] == ' ' {
		i--
	}
	for i > 0 && e.line[i-1] != ' ' {
		i--
	}
	k := e.pos - i
	if k == 0 {
		return
	}
	rest := append([]rune(nil), e.line[e.pos:]...)
	e.line = append(e.line[:i], rest...)
	e.back(k)
	e.write(rest)
	e.spaces(k)
	e.back(len(rest) + k)
	e.pos = i
}

func (e *editor) left() {
	if e.pos > 0 {
		e.pos--
		e.back(1)
	}
}

func (e *editor) right() {
	if e.pos < len(e.line) {
		e.write(e.line[e.pos : e.pos+1])
		e.pos++
	}
}

func (e *editor) home() {
	e.back(e.pos)
	e.pos = 0
}

func (e *editor) end() {
	e.write(e.line[e.pos:])
	e.pos = len(e.line)
}

func (e *editor) history(d int) {
	if e.hidden {
		return
	}
	hist := e.lr.hist
	i := e.histPos + d
	if i < 0 || i > len(hist) {
		return
	}
	e.histPos = i
	if i == len(hist) {
		e.replace(nil)
		return
	}
	e.replace(toRunes(hist[i]))
}

// toRunes is the inverse of appendRunes.
func toRunes(s string) []rune {
	var rs []rune
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			r, size = rawRune(s[i]), 1
		}
		rs = append(rs, r)
		i += size
	}
	return rs
}
