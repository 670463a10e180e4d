package lineproto

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// ErrLineTooLong is returned by [Reader.ReadLine] for a line longer than its
// limit, and by [Reader.DiscardLine] when the end of such a line does not
// come soon enough.
var ErrLineTooLong = errors.New("lineproto: line too long")

// MaxDiscardBytes is how much of an overlong line DiscardLine reads past the
// limit, looking for its end, before it gives up: a line cap never lets a
// client make the server read more than 64 KiB in vain.
const MaxDiscardBytes = 64 << 10

// DefaultReadBufferBytes is the size of a Reader's buffer when NewReader is
// given 0.
const DefaultReadBufferBytes = 4096

// A Reader reads the command lines of a connection, each under a size cap,
// with deadlines: the idle timeout while it waits for a line to start, and the
// command timeout from the first octet of a command to its end, whatever the
// pace of its octets. It also reads raw octets (a message, a literal, a
// chunk) from the same buffer, each read bounded by the idle timeout or by a
// deadline the caller sets.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	conn    net.Conn  // where the deadlines are set
	src     io.Reader // conn, a TLS connection over it, or a tee of either
	buf     []byte    // grows, up to size, for a long line
	size    int
	r, w    int
	idle    time.Duration
	command time.Duration
	// cmdFrom is when the command being read started: its first octet
	// arrived then. It is zero between commands.
	cmdFrom  time.Time
	lastFrom time.Time // cmdFrom of the line ReadLine returned last
	cont     bool      // the next line continues the current command
	deadline time.Time // for raw reads; zero means the idle timeout
	release  bool      // SetIdleRelease: no buffer held while waiting between commands
}

// idleBufs holds the buffers that Readers with SetIdleRelease give back while
// they wait between commands.
var idleBufs = sync.Pool{New: func() any { b := make([]byte, DefaultReadBufferBytes); return &b }}

// idleReadBytes is how much a Reader waiting between commands with
// SetIdleRelease reads into a small buffer of its own: most commands fit, and
// a longer one takes one more read.
const idleReadBytes = 128

// SetIdleRelease sets whether r gives its buffer back while it waits for a
// command (a sync.Pool keeps it for the next reader that needs one) and waits
// with a buffer of idleReadBytes instead: an idle connection then holds no
// read buffer, for servers whose sessions stay idle for hours (IMAP). A
// command that does not fit in that small read costs one more read.
func (r *Reader) SetIdleRelease(on bool) { r.release = on }

// NewReader returns a Reader of src, which reads from conn (conn itself, a
// *tls.Conn over it, or an io.TeeReader of either), with a buffer of at most
// size octets (0 means DefaultReadBufferBytes): it starts at
// DefaultReadBufferBytes and grows only while a line needs it, so that an
// idle connection holds little. No line can be longer than size. idle and
// command are the idle and command timeouts; 0 means none.
func NewReader(conn net.Conn, src io.Reader, size int, idle, command time.Duration) *Reader {
	if size <= 0 {
		size = DefaultReadBufferBytes
	}
	return &Reader{conn: conn, src: src, buf: make([]byte, min(size, DefaultReadBufferBytes)), size: size, idle: idle, command: command}
}

// Reset makes r read from src over conn, as after a TLS upgrade, and drops
// what is buffered, returning its length.
func (r *Reader) Reset(conn net.Conn, src io.Reader) int {
	n := r.Discard()
	r.conn, r.src = conn, src
	r.cmdFrom, r.cont = time.Time{}, false
	return n
}

// Buffered returns the number of octets buffered and not yet read.
func (r *Reader) Buffered() int { return r.w - r.r }

// HasLine reports whether a whole line is buffered, so that reading it will
// not block: a server flushes its replies before it waits for more input.
func (r *Reader) HasLine() bool { return bytes.IndexByte(r.buf[r.r:r.w], '\n') >= 0 }

// InCommand reports whether part of a command has arrived: a timeout now is a
// command timeout, not an idle one.
func (r *Reader) InCommand() bool { return !r.cmdFrom.IsZero() || r.r < r.w }

// Continue tells r that the next line belongs to the command whose line was
// just read (an IMAP command goes on after a literal): the command timeout
// keeps running from the command's first octet.
func (r *Reader) Continue() { r.cont, r.cmdFrom = true, r.lastFrom }

// EndCommand tells r that the command is over, after raw reads that ended it
// (a message, a literal): the next line starts a new command.
func (r *Reader) EndCommand() { r.cmdFrom, r.cont = time.Time{}, false }

// ReadLine returns the next line without its line ending, LF or CRLF. The
// line is valid until the next call. A line of more than max octets, line
// ending included, returns ErrLineTooLong as soon as max octets have arrived
// without an LF; what was read of it stays buffered, for DiscardLine. max
// larger than the buffer is the buffer's size.
func (r *Reader) ReadLine(max int) ([]byte, error) {
	max = min(max, r.size)
	for {
		if i := bytes.IndexByte(r.buf[r.r:r.w], '\n'); i >= 0 {
			if i+1 > max {
				return nil, ErrLineTooLong
			}
			line := r.buf[r.r : r.r+i]
			r.r += i + 1
			r.lastFrom, r.cmdFrom, r.cont = r.cmdFrom, time.Time{}, false
			return bytes.TrimSuffix(line, []byte("\r")), nil
		}
		if r.w-r.r >= max {
			return nil, ErrLineTooLong
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// DiscardLine discards input up to and including the next LF: the rest of a
// line ReadLine refused. It returns ErrLineTooLong if none comes within max
// more octets.
func (r *Reader) DiscardLine(max int) error {
	for n := 0; ; {
		if i := bytes.IndexByte(r.buf[r.r:r.w], '\n'); i >= 0 {
			r.r += i + 1
			r.cmdFrom, r.cont = time.Time{}, false
			return nil
		}
		n += r.w - r.r
		r.r, r.w = 0, 0
		if n > max {
			return ErrLineTooLong
		}
		if err := r.readMore(false); err != nil {
			return err
		}
	}
}

// Discard drops everything buffered and returns its length.
func (r *Reader) Discard() int {
	n := r.w - r.r
	r.r, r.w = 0, 0
	return n
}

// SetDeadline sets the deadline of raw reads (Read, Peek); the zero value
// means each waits at most the idle timeout. Line reads are not affected.
func (r *Reader) SetDeadline(t time.Time) { r.deadline = t }

// Peek returns the octets buffered, reading once if there are none. The slice
// is valid until the next read; Skip consumes from it.
func (r *Reader) Peek() ([]byte, error) {
	if r.r == r.w {
		r.r, r.w = 0, 0
		if err := r.readMore(true); err != nil {
			return nil, err
		}
	}
	return r.buf[r.r:r.w], nil
}

// Skip consumes n of the octets Peek returned.
func (r *Reader) Skip(n int) { r.r += min(n, r.w-r.r) }

// Read reads raw octets: those buffered first, else from the connection with
// one read.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := r.Peek()
	if err != nil {
		return 0, err
	}
	n := copy(p, b)
	r.r += n
	return n, nil
}

// fill reads more input into the buffer, after what is there, making room
// first: by moving what is there to the start, or by growing the buffer up
// to its size.
func (r *Reader) fill() error {
	if r.r == r.w && len(r.buf) > DefaultReadBufferBytes && !r.cont && r.cmdFrom.IsZero() {
		// Between commands, a buffer grown for a long line is let go:
		// an idle connection holds DefaultReadBufferBytes, not the most
		// its longest command needed.
		r.buf, r.r, r.w = make([]byte, DefaultReadBufferBytes), 0, 0
	}
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if r.w == len(r.buf) && len(r.buf) < r.size {
		nb := make([]byte, min(2*len(r.buf), r.size))
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	return r.readMore(false)
}

// readMore reads once into the free end of the buffer. A raw read waits
// until the raw deadline, or for the idle timeout. A line read waits for the
// idle timeout between commands, and until the command deadline inside one;
// the command starts with its first octet.
func (r *Reader) readMore(raw bool) error {
	var deadline time.Time
	inCommand := !raw && (r.r < r.w || r.cont || !r.cmdFrom.IsZero())
	if inCommand && r.cmdFrom.IsZero() {
		r.cmdFrom = time.Now()
	}
	switch {
	case inCommand:
		if r.command > 0 {
			deadline = r.cmdFrom.Add(r.command)
		}
	case raw && !r.deadline.IsZero():
		deadline = r.deadline
	case r.idle > 0:
		deadline = time.Now().Add(r.idle)
	}
	if err := r.conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	if r.release && !raw && !inCommand && r.r == r.w && len(r.buf) == DefaultReadBufferBytes {
		return r.readIdle()
	}
	for range 100 { // as bufio.Reader, tolerate empty reads
		n, err := r.src.Read(r.buf[r.w:])
		if n > 0 && !raw && !inCommand {
			r.cmdFrom = time.Now()
		}
		r.w += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// readIdle waits for the next command holding no buffer: it gives the
// buffer back, reads into a small one, and takes a buffer again for what
// arrived.
func (r *Reader) readIdle() error {
	b := r.buf[:DefaultReadBufferBytes]
	idleBufs.Put(&b)
	r.buf, r.r, r.w = nil, 0, 0
	small := make([]byte, idleReadBytes)
	var n int
	var err error
	for range 100 { // as bufio.Reader, tolerate empty reads
		if n, err = r.src.Read(small); n > 0 || err != nil {
			break
		}
	}
	r.buf = *idleBufs.Get().(*[]byte)
	r.w = copy(r.buf, small[:n])
	if n > 0 {
		r.cmdFrom = time.Now()
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}
