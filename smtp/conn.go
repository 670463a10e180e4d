package smtp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// What the guard expects the client to send next.
const (
	modeCommand = iota // a command line
	modeSASL           // an AUTH continuation line
	modeData           // DATA text, up to CRLF.CRLF
	modeChunk          // the octets of a BDAT chunk
)

// End-of-data states, exactly those of go-smtp's dataReader, so that the
// guard and go-smtp always agree on where DATA ends
// (TestGoSMTPContract_dataEnd checks it).
const (
	dataBeginLine = iota
	dataDot
	dataDotCR
	dataCR
	dataText
	dataEOF
)

// maxReplyBytes bounds the output of go-smtp the guard holds while it waits
// for the end of a reply.
const maxReplyBytes = 64 << 10

// A conn sits between the client and go-smtp, which reads and writes
// through it. It reads every command line itself, with lineproto's Reader,
// answers what it refuses, and passes go-smtp one line at a time, so that
// go-smtp's buffer never holds octets the guard has not seen. It watches
// go-smtp's replies to know whether DATA text, a BDAT chunk or an AUTH
// continuation comes next, and counts the errors among them.
//
// Read, Write and Close are called only from the connection's go-smtp
// goroutine.
type conn struct {
	srv *Server
	lc  *lineproto.Conn
	raw net.Conn // as passed to ServeConn
	ctx context.Context

	// tlsOn and dataBare are also read by go-smtp's BDAT goroutine, through
	// the session.
	tlsOn atomic.Bool
	// dataBare records a bare CR, bare LF or NUL in the DATA text on the
	// wire, before go-smtp's unstuffing hides some of them.
	dataBare atomic.Bool
	// injected marks go-smtp's next reply as a fault's: not counted as an
	// error of the client.
	injected atomic.Bool

	closeOnce sync.Once
	done      chan struct{} // closed by Close

	mode     int
	pending  []byte // a line for go-smtp
	dataSt   int
	dataPrev byte
	chunk    int64
	verb     string // the forwarded command whose reply is awaited
	heloArg  string
	greeted  bool
	wbuf     []byte
	dead     bool // the session is over: reads return EOF, writes vanish
	sess     *session
}

func newConn(s *Server, ctx context.Context, raw net.Conn, lc *lineproto.Conn) *conn {
	c := &conn{srv: s, lc: lc, raw: raw, ctx: ctx, done: make(chan struct{})}
	c.tlsOn.Store(lc.TLS())
	return c
}

// Read gives go-smtp its next octets: one command line, or DATA text up to
// and including its end, or chunk octets.
func (c *conn) Read(p []byte) (n int, err error) {
	defer c.recoverPanic(&err)
	for {
		if len(c.pending) > 0 {
			n = copy(p, c.pending)
			c.pending = c.pending[n:]
			return n, nil
		}
		if c.dead {
			return 0, io.EOF
		}
		switch c.mode {
		case modeData:
			return c.readData(p)
		case modeChunk:
			return c.readChunk(p)
		}
		// A line ends in LF, with or without CR: a bare LF is taken as
		// the end of a command line, as Postfix and go-smtp do.
		line, err := c.lc.ReadLine(c.srv.maxLine)
		if err != nil {
			c.readFailed(err)
			continue
		}
		if c.mode == modeSASL {
			c.mode = modeCommand
			c.pending = append(append(c.pending[:0], line...), '\r', '\n')
			continue
		}
		c.command(string(line))
	}
}

func (c *conn) recoverPanic(err *error) {
	if r := recover(); r != nil {
		c.lc.Log.Error("panic in SMTP connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		c.dead = true
		*err = io.EOF
	}
}

// readFailed ends the session after a failed read, with the goodbye the
// failure calls for.
func (c *conn) readFailed(err error) {
	c.lc.ReadFailed(err)
	c.dead = true
}

// flushBeforeRaw sends the replies before a raw read that may block.
func (c *conn) flushBeforeRaw() error {
	if c.lc.Reader().Buffered() > 0 {
		return nil
	}
	if err := c.lc.Flush(); err != nil {
		c.dead = true
		return err
	}
	return nil
}

// readData passes DATA text to go-smtp, stopping right after CRLF.CRLF.
func (c *conn) readData(p []byte) (int, error) {
	if err := c.flushBeforeRaw(); err != nil {
		return 0, err
	}
	r := c.lc.Reader()
	buf, err := r.Peek()
	if err != nil {
		c.readFailed(err)
		return 0, err
	}
	buf = buf[:min(len(p), len(buf))]
	i := 0
	for i < len(buf) {
		ch := buf[i]
		if ch == 0 || ch == '\n' && c.dataPrev != '\r' || c.dataPrev == '\r' && ch != '\n' {
			c.dataBare.Store(true)
		}
		c.dataPrev = ch
		c.dataSt = nextDataState(c.dataSt, ch)
		i++
		if c.dataSt == dataEOF {
			c.mode = modeCommand
			r.EndCommand()
			break
		}
	}
	copy(p, buf[:i])
	r.Skip(i)
	return i, nil
}

// nextDataState is go-smtp's dataReader state machine: only CRLF.CRLF ends
// DATA, so that no other line ending (a bare LF or CR around the dot, as
// in SMTP smuggling) can end a message where a receiver downstream would
// not (RFC 5321 §4.1.1.4, §2.3.8). It keeps go-smtp's quirk, since the
// guard must end DATA where go-smtp does: a CR after a CR leaves the line
// unended, so "\r\r\n.\r\n" does not end DATA (StrictLineEndings refuses
// such a message).
func nextDataState(st int, ch byte) int {
	switch st {
	case dataBeginLine:
		switch ch {
		case '.':
			return dataDot
		case '\r':
			return dataCR
		}
		return dataText
	case dataDot:
		if ch == '\r' {
			return dataDotCR
		}
		return dataText
	case dataDotCR:
		if ch == '\n' {
			return dataEOF
		}
		return dataText
	case dataCR:
		if ch == '\n' {
			return dataBeginLine
		}
		return dataText
	case dataText:
		if ch == '\r' {
			return dataCR
		}
		return dataText
	}
	return st
}

// readChunk passes the octets of a BDAT chunk to go-smtp.
func (c *conn) readChunk(p []byte) (int, error) {
	if err := c.flushBeforeRaw(); err != nil {
		return 0, err
	}
	r := c.lc.Reader()
	n, err := r.Read(p[:min(int64(len(p)), c.chunk)])
	if err != nil {
		c.readFailed(err)
		return 0, err
	}
	c.chunk -= int64(n)
	if c.chunk == 0 {
		c.mode = modeCommand
		r.EndCommand()
	}
	return n, nil
}

// command checks one command line and either answers it or queues it for
// go-smtp.
func (c *conn) command(line string) {
	cmd := parseCommand(line)
	switch cmd.problem {
	case problemNone:
	case problemBadChar:
		c.lc.Log.Warn("control character or invalid UTF-8 in command", "line", lineproto.Quote([]byte(line)))
		if cmd.verb == "MAIL" || cmd.verb == "RCPT" {
			c.local(501, "5.1.7", "Bad address syntax: control character or invalid UTF-8")
		} else {
			c.local(501, "5.5.2", "Syntax error: control character or invalid UTF-8")
		}
		return
	case problemHTTP:
		c.lc.Log.Warn("HTTP request on the SMTP port", "line", lineproto.Quote([]byte(line)))
		c.lc.Goodbye(lineproto.ReasonHTTP)
		c.dead = true
		return
	case problemEmpty:
		c.local(500, "5.5.2", "Syntax error: empty command")
		return
	}
	if c.inject(cmd) {
		return
	}
	switch cmd.verb {
	case "HELO", "EHLO":
		c.heloArg, _, _ = strings.Cut(cmd.arg, " ")
		c.forward(cmd)
	case "STARTTLS":
		c.startTLS(cmd.arg)
	case "MAIL", "RCPT", "DATA", "AUTH":
		switch {
		case !c.greeted:
			c.local(503, "5.5.1", "Send EHLO or HELO first")
		case cmd.verb == "AUTH" && !c.authAllowed():
			c.local(538, "5.7.11", "Encryption required for requested authentication mechanism")
		default:
			if cmd.verb == "MAIL" {
				c.dataBare.Store(false) // a new message
			}
			c.forward(cmd)
		}
	case "BDAT":
		size, ok := parseBDAT(cmd.arg)
		switch {
		case !ok:
			// The size of the chunk that follows is unknown, so its octets
			// could only be taken for commands: end the session instead.
			c.local(501, "5.5.4", "Syntax: BDAT size [LAST], closing connection")
			c.hangup("")
		case !c.greeted:
			c.local(503, "5.5.1", "Send EHLO or HELO first")
			c.discard(size)
		default:
			c.forward(cmd)
			if size > 0 {
				c.mode, c.chunk = modeChunk, size
			}
		}
	case "RSET", "NOOP", "QUIT", "VRFY", "HELP", "EXPN", "TURN", "SEND", "SOML", "SAML":
		c.forward(cmd)
	default:
		c.lc.Log.Info("unknown command", "line", lineproto.Quote([]byte(line)))
		c.local(500, "5.5.1", "Command not recognized")
	}
}

func (c *conn) forward(cmd command) {
	c.verb = cmd.verb
	c.pending = append(c.pending[:0], cmd.verb...)
	if cmd.arg != "" {
		c.pending = append(append(c.pending, ' '), cmd.arg...)
	}
	c.pending = append(c.pending, '\r', '\n')
}

func (c *conn) authAllowed() bool { return c.tlsOn.Load() || c.srv.InsecureAuth }

// discard skips the octets of a chunk that is refused before go-smtp sees
// it.
func (c *conn) discard(n int64) {
	if c.dead || c.flushBeforeRaw() != nil {
		return
	}
	if _, err := io.CopyN(io.Discard, c.lc.Reader(), n); err != nil {
		c.readFailed(err)
	}
	c.lc.Reader().EndCommand()
}

// startTLS runs STARTTLS (RFC 3207) here rather than in go-smtp, so that
// the guard keeps reading plaintext above TLS.
func (c *conn) startTLS(arg string) {
	switch {
	case arg != "":
		c.local(501, "5.5.4", "Syntax: STARTTLS")
		return
	case c.srv.TLSConfig == nil:
		c.local(502, "5.5.1", "STARTTLS not available")
		return
	case c.tlsOn.Load():
		c.local(503, "5.5.1", "TLS already active")
		return
	case c.sess != nil && c.sess.busy():
		c.local(503, "5.5.1", "STARTTLS not allowed in a mail transaction or after AUTH")
		return
	}
	c.emit(220, []byte("220 2.0.0 Ready to start TLS\r\n"), "STARTTLS")
	if c.dead {
		return
	}
	// Whatever the client sent behind STARTTLS was sent in plaintext: it
	// is discarded, never answered inside TLS (RFC 3207 §4.2).
	if err := c.lc.StartTLS(); err != nil {
		c.dead = true
		return
	}
	c.tlsOn.Store(true)
	c.greeted = false // RFC 3207 §4.2: the client must send EHLO again
}

// Write takes go-smtp's replies; each complete reply is checked and sent.
func (c *conn) Write(p []byte) (n int, err error) {
	defer c.recoverPanic(&err)
	if c.dead {
		return len(p), nil
	}
	c.wbuf = append(c.wbuf, p...)
	for !c.dead {
		end := replyEnd(c.wbuf)
		if end < 0 {
			if len(c.wbuf) > maxReplyBytes {
				end = len(c.wbuf)
			} else {
				break
			}
		}
		c.reply(c.wbuf[:end])
		c.wbuf = c.wbuf[end:]
	}
	if len(c.wbuf) == 0 || c.dead {
		c.wbuf = nil
	}
	return len(p), nil
}

// replyEnd returns the length of the first complete reply in b (through
// the LF of its last line, the one with a space after the code), or -1.
func replyEnd(b []byte) int {
	start := 0
	for {
		i := bytes.IndexByte(b[start:], '\n')
		if i < 0 {
			return -1
		}
		line := b[start : start+i]
		start += i + 1
		if len(line) < 4 || line[3] != '-' {
			return start
		}
	}
}

func replyCode(b []byte) int {
	if len(b) < 3 {
		return 0
	}
	n, err := strconv.Atoi(string(b[:3]))
	if err != nil {
		return 0
	}
	return n
}

// reply handles one complete reply from go-smtp.
func (c *conn) reply(r []byte) {
	code := replyCode(r)
	verb := c.verb
	if code != 334 {
		c.verb = ""
	}
	switch {
	case (verb == "EHLO" || verb == "HELO") && code == 250:
		c.greeted = true
		if c.sess != nil {
			c.sess.setHelo(c.heloArg, verb == "EHLO")
		}
		if verb == "EHLO" {
			r = c.rewriteEHLO(r)
		}
	case verb == "DATA" && code == 354:
		if n := c.lc.Reader().Buffered(); n > 0 {
			// Text sent before the 354 must never become the message
			// (RFC 2920 §3.1: DATA is the last command of a group).
			c.lc.Log.Warn("unauthorized pipelining: text sent before 354", "bytes", n)
			c.hangup("554 5.5.0 Error: SMTP protocol synchronization")
			return
		}
		c.mode, c.dataSt, c.dataPrev = modeData, dataBeginLine, '\n'
		c.emit(code, r, verb)
		if !c.dead && c.lc.Flush() == nil {
			// Shutdown lets the transfer finish. The mark lasts until
			// the next write, so it follows the 354.
			sockserver.MarkBusy(c.raw)
		}
		return
	case verb == "AUTH" && code == 334:
		c.mode = modeSASL
	}
	c.emit(code, r, verb)
}

// rewriteEHLO puts the server's name first (RFC 5321 §4.1.1.1), offers
// STARTTLS where it is possible and AUTH only where it is allowed.
func (c *conn) rewriteEHLO(r []byte) []byte {
	lines := strings.Split(strings.TrimRight(string(r), "\r\n"), "\n")
	out := make([]string, 0, len(lines)+1)
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		if len(l) < 4 {
			continue
		}
		text := l[4:]
		switch {
		case i == 0:
			text = c.srv.domain + " " + text
		case strings.HasPrefix(text, "AUTH ") && !c.authAllowed():
			continue
		}
		out = append(out, text)
	}
	if c.srv.TLSConfig != nil && !c.tlsOn.Load() {
		out = append(out, "STARTTLS")
	}
	var b strings.Builder
	for i, t := range out {
		sep := "-"
		if i == len(out)-1 {
			sep = " "
		}
		b.WriteString("250" + sep + t + "\r\n")
	}
	return []byte(b.String())
}

// local sends a reply of the guard's own.
func (c *conn) local(code int, enhanced, text string) {
	c.emit(code, fmt.Appendf(nil, "%d %s %s\r\n", code, enhanced, text), "")
}

// emit sends a reply to a command. Every 4xx and 5xx reply counts as an
// error, and a 535 to AUTH as a failed login too: past the limits of
// Server.Limits the reply is delayed, and at the last one the session ends
// with "421 4.7.0". A 421 ends the session.
func (c *conn) emit(code int, r []byte, verb string) {
	if c.dead {
		return
	}
	var v lineproto.Verdict
	switch {
	case c.injected.Swap(false):
		// A fault's reply: not the client's error.
	case code == 535 && verb == "AUTH":
		v = c.lc.Counter.AuthFailure()
	case code >= 400:
		v = c.lc.Counter.Error()
	}
	if err := c.lc.Delay(v); err != nil {
		c.dead = true
		return
	}
	c.lc.Writer().Write(r)
	switch {
	case code == 421:
		c.lc.Flush()
		c.dead = true
	case v.Close != lineproto.ReasonNone:
		c.lc.Log.Warn("closing: "+v.Close.String(), "errors", c.lc.Counter.Errors(), "auth_failures", c.lc.Counter.AuthFailures())
		c.lc.Goodbye(v.Close)
		c.dead = true
	}
}

// hangup ends the session with line, if not "", after the replies
// buffered, and reads what the client is still sending for a moment, so
// that the client gets the last reply rather than a reset.
func (c *conn) hangup(line string) {
	if c.dead {
		return
	}
	c.lc.Hangup(line)
	c.dead = true
}

// Close sends what is buffered (the 221 to QUIT, say) and closes the
// connection. go-smtp calls it once the session is over.
func (c *conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.lc.Flush()
		close(c.done)
		err = c.raw.Close()
	})
	return err
}

func (c *conn) LocalAddr() net.Addr                { return c.raw.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr               { return c.raw.RemoteAddr() }
func (c *conn) SetDeadline(t time.Time) error      { return c.raw.SetDeadline(t) }
func (c *conn) SetReadDeadline(t time.Time) error  { return c.raw.SetReadDeadline(t) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }
