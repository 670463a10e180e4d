package smtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

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
// guard and go-smtp always agree on where DATA ends.
const (
	dataBeginLine = iota
	dataDot
	dataDotCR
	dataCR
	dataText
	dataEOF
)

const (
	maxLineCap    = 64 << 10 // HARDENING G1: a line cap never exceeds 64 KiB
	lingerTimeout = time.Second
	lingerBytes   = 64 << 10
	readBufSize   = 4096
)

var errLineTooLong = errors.New("smtp: line too long")

// A conn sits between the client and go-smtp, which reads and writes
// through it. It reads every command line itself, answers what it refuses,
// and passes go-smtp one line at a time, so that go-smtp's buffer never
// holds bytes the guard has not seen. It watches go-smtp's replies to know
// whether DATA text, a BDAT chunk or an AUTH continuation comes next.
//
// Read and Write are called only from the connection's go-smtp goroutine;
// Close may be called from any goroutine.
type conn struct {
	srv    *Server
	raw    net.Conn // from sockserver: deadlines, limits, shutdown
	nc     net.Conn // raw, or a *tls.Conn over it
	br     *bufio.Reader
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	tlsOn  atomic.Bool
	closed atomic.Bool
	// dataBare records a bare CR, bare LF or NUL in the DATA text on the
	// wire, before go-smtp's unstuffing hides some of them.
	dataBare atomic.Bool

	mode     int
	pending  []byte // a line for go-smtp
	line     []byte
	dataSt   int
	dataPrev byte
	chunk    int64
	verb     string // the forwarded command whose reply is awaited
	heloArg  string
	greeted  bool
	wbuf     []byte
	errs     int
	authFail int
	dead     bool // the session is over: reads return EOF, writes vanish
	sess     *session
}

func newConn(srv *Server, raw net.Conn, implicitTLS bool) *conn {
	ctx, cancel := context.WithCancel(srv.baseCtx)
	c := &conn{
		srv:    srv,
		raw:    raw,
		nc:     raw,
		ctx:    ctx,
		cancel: cancel,
		log:    srv.logger().With("remote", remoteString(raw)),
	}
	if implicitTLS {
		c.nc = tls.Server(raw, srv.TLSConfig)
		c.tlsOn.Store(true)
	}
	c.br = bufio.NewReaderSize(c.reader(c.nc), readBufSize)
	return c
}

func remoteString(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

func (c *conn) reader(r io.Reader) io.Reader {
	if c.srv.debug != nil {
		return io.TeeReader(r, c.srv.debug)
	}
	return r
}

func (c *conn) maxLine() int {
	n := c.srv.MaxLineBytes
	if n <= 0 {
		n = DefaultMaxLineBytes
	}
	return min(n, maxLineCap)
}

// Read gives go-smtp its next bytes: one command line, or DATA text up to
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
		case modeSASL:
			line, err := c.readLine()
			if err != nil {
				c.readFailed(err)
				continue
			}
			c.mode = modeCommand
			c.pending = append(append(c.pending[:0], line...), '\r', '\n')
		default:
			line, err := c.readLine()
			if err != nil {
				c.readFailed(err)
				continue
			}
			c.command(string(line))
		}
	}
}

func (c *conn) recoverPanic(err *error) {
	if r := recover(); r != nil {
		c.log.Error("panic in SMTP connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		c.dead = true
		*err = io.EOF
	}
}

// readLine reads a line ending in LF (CRLF or bare LF, HARDENING G8) of at
// most maxLine bytes and returns it without its ending. It fails as soon
// as the cap is crossed, without waiting for the end of the line.
func (c *conn) readLine() ([]byte, error) {
	limit := c.maxLine()
	c.line = c.line[:0]
	// The first byte may take the idle timeout; the rest of the line must
	// follow within CommandTimeout (HARDENING G2).
	if c.br.Buffered() == 0 {
		if _, err := c.br.Peek(1); err != nil {
			return nil, err
		}
	}
	if i := bytes.IndexByte(c.peekBuffered(), '\n'); i < 0 {
		c.raw.SetReadDeadline(time.Now().Add(durationOr(c.srv.CommandTimeout, DefaultCommandTimeout)))
		defer c.raw.SetReadDeadline(time.Time{})
	}
	for {
		frag, err := c.br.ReadSlice('\n')
		if len(c.line)+len(frag) > limit {
			return nil, errLineTooLong
		}
		c.line = append(c.line, frag...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
	l := c.line[:len(c.line)-1]
	if len(l) > 0 && l[len(l)-1] == '\r' {
		l = l[:len(l)-1]
	}
	return l, nil
}

// peekBuffered returns the bytes already buffered, without reading.
func (c *conn) peekBuffered() []byte {
	b, _ := c.br.Peek(c.br.Buffered())
	return b
}

// readFailed ends the session after a failed read, with the goodbye the
// failure calls for.
func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, errLineTooLong):
		c.log.Warn("line too long", "limit", c.maxLine())
		c.send("500 5.5.2 Line too long\r\n")
		c.hangup(true)
	case errors.Is(err, sockserver.ErrServerClosed):
		c.send("421 4.3.2 " + c.srv.domain + " Service shutting down\r\n")
		c.hangup(false)
	case isTimeout(err):
		c.log.Info("idle timeout")
		c.send("421 4.4.2 " + c.srv.domain + " Idle timeout, closing connection\r\n")
		c.hangup(false)
	default:
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			c.log.Debug("read error", "err", err)
		}
		c.dead = true
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readData passes DATA text to go-smtp, stopping right after CRLF.CRLF.
func (c *conn) readData(p []byte) (int, error) {
	if c.br.Buffered() == 0 {
		if _, err := c.br.Peek(1); err != nil {
			c.readFailed(err)
			return 0, err
		}
	}
	buf, _ := c.br.Peek(min(len(p), c.br.Buffered()))
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
			break
		}
	}
	copy(p, buf[:i])
	c.br.Discard(i)
	return i, nil
}

// nextDataState is go-smtp's dataReader state machine: only CRLF.CRLF ends
// DATA (HARDENING S1).
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

func (c *conn) readChunk(p []byte) (int, error) {
	if c.br.Buffered() == 0 {
		if _, err := c.br.Peek(1); err != nil {
			c.readFailed(err)
			return 0, err
		}
	}
	n := int(min(int64(len(p)), int64(c.br.Buffered()), c.chunk))
	n, _ = c.br.Read(p[:n])
	c.chunk -= int64(n)
	if c.chunk == 0 {
		c.mode = modeCommand
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
		c.log.Warn("control character or invalid UTF-8 in command", "line", strconv.Quote(line))
		if cmd.verb == "MAIL" || cmd.verb == "RCPT" {
			c.local(501, "5.1.7", "Bad address syntax: control character or invalid UTF-8")
		} else {
			c.local(501, "5.5.2", "Syntax error: control character or invalid UTF-8")
		}
		return
	case problemHTTP:
		c.log.Warn("HTTP request on the SMTP port", "line", strconv.Quote(line))
		c.send("221 2.7.0 Error: this is not an HTTP server, closing connection\r\n")
		c.hangup(true)
		return
	case problemEmpty:
		c.local(500, "5.5.2", "Syntax error: empty command")
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
			c.forward(cmd)
		}
	case "BDAT":
		size, ok := parseBDAT(cmd.arg)
		switch {
		case !ok:
			// The size of the chunk that follows is unknown, so its octets
			// could only be taken for commands: end the session instead.
			c.local(501, "5.5.4", "Syntax: BDAT size [LAST], closing connection")
			c.hangup(true)
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
		c.log.Info("unknown command", "line", strconv.Quote(line))
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
	if _, err := io.CopyN(io.Discard, c.br, n); err != nil {
		c.readFailed(err)
	}
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
	sockserver.MarkBusy(c.raw)
	// HARDENING S3/G13: whatever the client sent behind STARTTLS was sent
	// in plaintext and must not be answered inside TLS.
	if n := c.br.Buffered(); n > 0 {
		c.log.Warn("discarding plaintext pipelined after STARTTLS", "bytes", n)
	}
	tc := tls.Server(c.raw, c.srv.TLSConfig)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.log.Info("TLS handshake failed", "err", err)
		c.dead = true
		return
	}
	c.nc = tc
	c.br.Reset(c.reader(tc))
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
			if len(c.wbuf) > maxLineCap {
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
		i := indexByte(b[start:], '\n')
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

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
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
		if n := c.br.Buffered(); n > 0 {
			// HARDENING S2: text sent before 354 must never become the
			// message.
			c.log.Warn("unauthorized pipelining: text sent before 354", "bytes", n)
			c.send("554 5.5.0 Error: SMTP protocol synchronization\r\n")
			c.hangup(true)
			return
		}
		c.mode, c.dataSt, c.dataPrev = modeData, dataBeginLine, '\n'
		c.dataBare.Store(false)
		c.emit(code, r, verb)
		sockserver.MarkBusy(c.raw) // Shutdown lets the transfer finish
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
	c.emit(code, []byte(fmt.Sprintf("%d %s %s\r\n", code, enhanced, text)), "")
}

// emit sends a reply to a command, counting errors (HARDENING G5) and
// failed logins (S10), and ends the session when they reach their limits or
// when the reply is a 421.
func (c *conn) emit(code int, r []byte, verb string) {
	if code >= 400 {
		c.errs++
		if soft := intOr(c.srv.SoftErrorLimit, DefaultSoftErrorLimit); soft > 0 && c.errs > soft {
			c.sleep(durationOr(c.srv.ErrorDelay, DefaultErrorDelay))
		}
	}
	c.send(string(r))
	if c.dead {
		return
	}
	if code == 421 {
		c.hangup(false)
		return
	}
	if code == 535 && verb == "AUTH" {
		c.authFail++
		if c.authFail >= intOr(c.srv.MaxAuthFailures, DefaultMaxAuthFailures) {
			c.log.Warn("too many authentication failures", "failures", c.authFail)
			c.send("421 4.7.0 " + c.srv.domain + " Too many authentication failures, closing connection\r\n")
			c.hangup(true)
			return
		}
	}
	if hard := intOr(c.srv.HardErrorLimit, DefaultHardErrorLimit); hard > 0 && c.errs >= hard {
		c.log.Warn("too many errors", "errors", c.errs)
		c.send("421 4.7.0 " + c.srv.domain + " Too many errors, closing connection\r\n")
		c.hangup(true)
	}
}

func (c *conn) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.ctx.Done():
	}
}

func (c *conn) send(s string) {
	if c.dead {
		return
	}
	if c.srv.debug != nil {
		io.WriteString(c.srv.debug, s)
	}
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.log.Debug("write error", "err", err)
		c.dead = true
	}
}

// hangup ends the session. With linger, it first half-closes and reads
// what the client is still sending for a moment, so that the client gets
// the last reply rather than a reset (HARDENING T3).
func (c *conn) hangup(linger bool) {
	c.dead = true
	if !linger {
		return
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		tc.CloseWrite()
	} else if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.raw.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.CopyN(io.Discard, c.br, lingerBytes)
}

// Close closes the connection. It may be called from any goroutine.
func (c *conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.cancel()
	return c.raw.Close()
}

func (c *conn) LocalAddr() net.Addr                { return c.raw.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr               { return c.raw.RemoteAddr() }
func (c *conn) SetDeadline(t time.Time) error      { return c.raw.SetDeadline(t) }
func (c *conn) SetReadDeadline(t time.Time) error  { return c.raw.SetReadDeadline(t) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }
