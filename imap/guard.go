package imap

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/inetkit/inetkit/sockserver"
)

// Errors that end a connection; imapserver logs them.
var (
	errCommandTooLong = errors.New("imap: command too long")
	errLiteralTooBig  = errors.New("imap: literal too big")
	errProtocol       = errors.New("imap: protocol violation")
	errAuthFailures   = errors.New("imap: too many authentication failures")
	errTooManyErrors  = errors.New("imap: too many errors")
)

const readChunk = 4096

// conn is the guard in front of go-imap's imapserver: the net.Conn that
// imapserver reads from. It reads the client's bytes a line at a time
// (HARDENING I1–I5, I8, G1, G6): a line is handed to imapserver only once it
// is complete and checked; a literal announced at the end of a line ("{N}",
// "{N+}") is checked against the limits before imapserver sees it, and then
// passed through without buffering. Because imapserver serves one command at
// a time and reads the next line only after answering the previous one, the
// guard can answer a rejected line itself when imapserver asks for more.
//
// It watches imapserver's replies just enough to stay in step: a "+"
// continuation means a synchronising literal was accepted, and a tagged reply
// ends the command (and IDLE or AUTHENTICATE, whose lines are passed raw).
// It also counts the error replies, BAD or NO, its own and imapserver's
// (HARDENING G5): past SoftErrorLimit each is delayed by ErrorDelay, and
// at HardErrorLimit the connection is closed after the reply.
//
// It also performs STARTTLS itself: imapserver would wrap the connection in
// TLS below the guard. After the handshake a new conn, over the TLS
// connection, is handed to the imapserver for TLS connections, and this one
// reports EOF.
//
// Read, SetReadDeadline and the unexported read-side state belong to the
// goroutine of imapserver that serves the connection; Write may also be
// called by a session's Idle goroutine.
type conn struct {
	net.Conn          // what imapserver reads and writes: raw, or TLS over raw
	raw      net.Conn // the sockserver connection
	srv      *Server
	ctx      context.Context
	log      *slog.Logger
	isTLS    bool
	sess     *session // set by newSession
	done     chan struct{}
	next     *conn // the STARTTLS successor; set before done is closed

	// Read side.
	buf         []byte // readChunk bytes, allocated on first use
	in          []byte // bytes read from Conn and not yet processed
	out         []byte // a checked line, for imapserver
	lit         int64  // bytes of the current literal still to pass
	litDeadline time.Time
	litPending  int64 // size of a literal announced by the last line; -1 if none
	litSync     bool
	cont        bool // the next line continues the current command
	raw2        bool // IDLE or AUTHENTICATE: lines go to imapserver unchecked
	cur         command
	err         error // sticky read error
	applied     time.Time
	closeOnce   sync.Once
	migrated    bool

	// Shared with Write and the session.
	mu        sync.Mutex
	handlerRD time.Time     // read deadline set by imapserver
	watchTag  string        // tag of the command whose reply ends it
	ended     bool          // a reply tagged watchTag was written
	contSeen  bool          // a "+" continuation was written
	capsPhase int           // 0: before login, 1: login reply pending, 2: after
	byeReason string        // say "* BYE byeReason" at the next read and close
	byeErr    error         // the error that ends the connection then
	errTag    string        // tag of the command whose tagged reply is not yet seen
	errNO     bool          // a NO to that command counts as an error (a failed login)
	errs      int           // error replies so far
	credit    time.Duration // delay already spent on the pending reply (a failed login)
	outLit    int64         // bytes of a literal in imapserver's output still to pass
	outMid    bool          // imapserver's output is in the middle of a line
	outTail   []byte        // the end of that line, to find a literal announced
	skipHello bool          // drop the greeting of a STARTTLS successor
	wdead     bool          // a fatal error was reported; no more writes
}

// command is what the guard knows of the command being read.
type command struct {
	tag        string
	name       string // upper case; "UID FETCH" for UID commands
	bytes      int    // lines and buffered literals so far
	swallow    bool   // answered by the guard (ID): not passed on
	appendMsg  bool   // the APPEND message literal has been seen
	idBadInput bool
}

func newConn(ctx context.Context, srv *Server, raw, inner net.Conn, isTLS, skipHello bool) *conn {
	return &conn{
		Conn:       inner,
		raw:        raw,
		srv:        srv,
		ctx:        ctx,
		log:        srv.logger().With("remote", raw.RemoteAddr().String()),
		isTLS:      isTLS,
		done:       make(chan struct{}),
		litPending: -1,
		skipHello:  skipHello,
	}
}

// Close closes the connection, unless it is being handed over to TLS, and
// tells serveConn that imapserver is done with it.
func (g *conn) Close() error {
	var err error
	g.closeOnce.Do(func() {
		if !g.migrated {
			err = g.Conn.Close()
			if g.Conn != g.raw {
				g.raw.Close()
			}
		}
		close(g.done)
	})
	return err
}

// SetReadDeadline records imapserver's deadline; the guard applies it, or the
// literal deadline if sooner, before each read.
func (g *conn) SetReadDeadline(t time.Time) error {
	g.mu.Lock()
	g.handlerRD = t
	g.mu.Unlock()
	return g.applyDeadline()
}

// SetDeadline sets both deadlines.
func (g *conn) SetDeadline(t time.Time) error {
	if err := g.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return g.SetReadDeadline(t)
}

func (g *conn) applyDeadline() error {
	g.mu.Lock()
	d := g.handlerRD
	g.mu.Unlock()
	if g.lit > 0 && (d.IsZero() || g.litDeadline.Before(d)) {
		d = g.litDeadline
	}
	if d.Equal(g.applied) {
		return nil
	}
	g.applied = d
	return g.Conn.SetReadDeadline(d)
}

// loggedIn is called by the session after a successful login.
func (g *conn) loggedIn() {
	g.mu.Lock()
	g.capsPhase = 1
	g.mu.Unlock()
}

// byeAfterReply makes the next read say "* BYE reason" and end the
// connection with err, unless a BYE is pending already.
func (g *conn) byeAfterReply(reason string, err error) {
	g.mu.Lock()
	g.byeAfterReplyLocked(reason, err)
	g.mu.Unlock()
}

func (g *conn) byeAfterReplyLocked(reason string, err error) {
	if g.byeReason == "" {
		g.byeReason, g.byeErr = reason, err
	}
}

// credited records that the reply to the current command has already been
// delayed by d (a failed login, by AuthFailureDelay): an error delay is
// shortened by as much, so that the reply waits the longer of the two, not
// their sum.
func (g *conn) credited(d time.Duration) {
	g.mu.Lock()
	g.credit += d
	g.mu.Unlock()
}

// countErrorLocked counts an error reply (HARDENING G5) and returns how long
// to delay it. At HardErrorLimit it arranges for the connection to end after
// the reply. The caller holds g.mu.
func (g *conn) countErrorLocked() time.Duration {
	g.errs++
	var d time.Duration
	if soft := g.srv.softErrorLimit(); soft > 0 && g.errs > soft {
		d = max(g.srv.errorDelay()-g.credit, 0)
	}
	g.credit = 0
	if hard := g.srv.hardErrorLimit(); hard > 0 && g.errs >= hard {
		g.byeAfterReplyLocked("Too many errors", errTooManyErrors)
	}
	return d
}

// sleep waits for d, or until the connection's context ends.
func (g *conn) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-g.ctx.Done():
	}
}

// setErrTag notes the tag of a command handed to imapserver, whose tagged
// reply Write looks for. BAD always counts as an error; NO only for a login
// (a NO such as [TRYCREATE] is an ordinary answer, and a long-lived client
// collects many).
func (g *conn) setErrTag(tag, name string) {
	g.mu.Lock()
	g.errTag = tag
	g.errNO = name == "LOGIN" || name == "AUTHENTICATE"
	g.credit = 0
	g.mu.Unlock()
}

func (g *conn) authenticated() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.capsPhase > 0
}

// Write passes imapserver's output on, noting the replies the read side
// waits for, adding ID to the capabilities before login, and dropping the
// greeting of a connection that continues after STARTTLS.
func (g *conn) Write(p []byte) (int, error) {
	g.mu.Lock()
	if g.wdead {
		g.mu.Unlock()
		return 0, net.ErrClosed
	}
	n := len(p)
	if g.skipHello {
		g.skipHello = false
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			p = p[i+1:]
		}
	}
	if len(p) > 0 && p[0] == '+' {
		g.contSeen = true
	}
	if g.watchTag != "" && len(p) > len(g.watchTag) && p[len(g.watchTag)] == ' ' && string(p[:len(g.watchTag)]) == g.watchTag {
		g.ended = true
	}
	var delay time.Duration
	if g.scanOutputLocked(p) {
		delay = g.countErrorLocked()
	}
	if g.capsPhase < 2 {
		if q, ok := addIDCap(p); ok {
			p = q
		}
		if g.capsPhase == 1 { // the reply to LOGIN or AUTHENTICATE
			g.capsPhase = 2
		}
	}
	g.mu.Unlock()
	if len(p) == 0 {
		return n, nil
	}
	// imapserver writes one response at a time, and flushes at each line
	// end: a tagged reply starts a Write, and nothing else is written while
	// it waits here.
	g.sleep(delay)
	if _, err := g.Conn.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// maxOutTail is how much of the end of an output line scanOutputLocked
// keeps: enough for a literal announcement, "{4294967295}\r\n".
const maxOutTail = 32

// scanOutputLocked follows imapserver's output line by line, passing over
// the literals it announces (so that message text is never taken for a
// reply), and reports whether p has the tagged BAD reply (or NO to a login)
// to the command being served. The caller holds g.mu.
func (g *conn) scanOutputLocked(p []byte) (isErr bool) {
	for len(p) > 0 {
		if g.outLit > 0 {
			k := min(int64(len(p)), g.outLit)
			p = p[k:]
			g.outLit -= k
			continue
		}
		if !g.outMid && g.errTag != "" {
			if rest, ok := bytes.CutPrefix(p, []byte(g.errTag+" ")); ok {
				g.errTag = ""
				isErr = bytes.HasPrefix(rest, []byte("BAD")) || g.errNO && bytes.HasPrefix(rest, []byte("NO"))
			}
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			g.keepTail(p)
			g.outMid = true
			return isErr
		}
		g.keepTail(p[:i+1])
		p = p[i+1:]
		g.outMid = false
		if size, ok := literalAnnounced(g.outTail); ok {
			g.outLit = size
			g.outMid = true // the line goes on after the literal
		}
		g.outTail = g.outTail[:0]
	}
	return isErr
}

// keepTail appends b to outTail, keeping its last maxOutTail bytes.
func (g *conn) keepTail(b []byte) {
	if len(b) >= maxOutTail {
		g.outTail = append(g.outTail[:0], b[len(b)-maxOutTail:]...)
		return
	}
	g.outTail = append(g.outTail, b...)
	if n := len(g.outTail); n > maxOutTail {
		g.outTail = append(g.outTail[:0], g.outTail[n-maxOutTail:]...)
	}
}

// literalAnnounced reports whether an output line ends with a literal
// announcement, "{N}" (or "~{N}"), and returns N.
func literalAnnounced(line []byte) (int64, bool) {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if !bytes.HasSuffix(line, []byte("}")) {
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	info := parseLine(line[i:])
	if info.literal < 0 {
		return 0, false
	}
	return info.literal, true
}

// addIDCap adds ID to a capability list in p, if p is exactly one
// "* CAPABILITY" line or one status line with a [CAPABILITY] code. It is used
// only before login, when the server sends no literals, so p is always a
// whole response.
func addIDCap(p []byte) ([]byte, bool) {
	if len(p) < 2 || bytes.IndexByte(p, '\n') != len(p)-1 || !bytes.HasSuffix(p, []byte("\r\n")) {
		return nil, false
	}
	if bytes.HasPrefix(p, []byte("* CAPABILITY ")) {
		q := make([]byte, 0, len(p)+3)
		q = append(q, p[:len(p)-2]...)
		return append(q, " ID\r\n"...), true
	}
	i := bytes.Index(p, []byte(" [CAPABILITY "))
	if i < 0 || bytes.IndexByte(p[:i], '[') >= 0 {
		return nil, false
	}
	j := bytes.IndexByte(p[i:], ']')
	if j < 0 {
		return nil, false
	}
	j += i
	q := make([]byte, 0, len(p)+3)
	q = append(q, p[:j]...)
	q = append(q, " ID"...)
	return append(q, p[j:]...), true
}

// reply writes the guard's own response lines.
func (g *conn) reply(lines ...string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.wdead {
		return net.ErrClosed
	}
	_, err := io.WriteString(g.Conn, strings.Join(lines, ""))
	return err
}

// fatal says "* BYE" (after the optional tagged reply), logs, and ends the
// connection: reads return err, writes fail, and the socket is closed so that
// the client sees EOF at once.
func (g *conn) fatal(err error, logMsg string, lines ...string) error {
	if len(lines) > 0 {
		g.reply(lines...)
	}
	g.mu.Lock()
	g.wdead = true
	g.mu.Unlock()
	g.err = err
	if logMsg != "" {
		g.log.Info("imap: closing connection: " + logMsg)
	}
	g.raw.Close()
	return err
}

// Read hands imapserver the next checked line, or literal bytes.
func (g *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if g.err != nil {
			return 0, g.err
		}
		if len(g.out) > 0 {
			n := copy(p, g.out)
			g.out = g.out[n:]
			return n, nil
		}
		if g.lit > 0 {
			if n, err := g.readLiteral(p); n > 0 || err != nil {
				return n, err
			}
			continue
		}
		if g.settle() {
			continue
		}
		atStart := len(g.in) == 0
		line, err := g.readLine()
		if err != nil {
			g.readError(err, atStart)
			continue
		}
		g.handleLine(line)
	}
}

// settle resolves what the replies written since the last line decided: a
// pending BYE, whether an announced literal follows, whether IDLE or
// AUTHENTICATE is over. It reports whether a literal now follows.
func (g *conn) settle() bool {
	g.mu.Lock()
	bye, byeErr, ended, contSeen := g.byeReason, g.byeErr, g.ended, g.contSeen
	g.mu.Unlock()
	if bye != "" {
		g.fatal(byeErr, bye, "* BYE "+bye+"\r\n")
		return true
	}
	if g.litPending >= 0 {
		size := g.litPending
		g.litPending = -1
		if ended || (g.litSync && !contSeen) {
			// imapserver refused the command before its literal: a
			// synchronising literal will not come, and the bytes of a
			// non-synchronising one will be read as commands, as
			// imapserver does.
			g.endCommand()
			return false
		}
		g.startLiteral(size)
		return size > 0
	}
	if g.raw2 && ended {
		g.endCommand()
	}
	return false
}

func (g *conn) startLiteral(size int64) {
	g.cont = true
	if size == 0 {
		return
	}
	g.lit = size
	g.litDeadline = time.Now().Add(g.srv.literalReadTimeout())
}

func (g *conn) endCommand() {
	g.cont = false
	g.raw2 = false
	g.cur = command{}
	g.mu.Lock()
	g.watchTag = ""
	g.ended = false
	g.mu.Unlock()
}

// watch starts waiting for the replies to the current command.
func (g *conn) watch(tag string) {
	g.mu.Lock()
	g.watchTag = tag
	g.ended = false
	g.contSeen = false
	g.mu.Unlock()
}

// readLiteral passes literal bytes, or discards them for a command the guard
// answers itself.
func (g *conn) readLiteral(p []byte) (int, error) {
	if g.cur.swallow {
		for g.lit > 0 {
			if len(g.in) == 0 {
				if err := g.fill(); err != nil {
					g.readError(err, false)
					return 0, g.err
				}
			}
			k := min(int64(len(g.in)), g.lit)
			g.in = g.in[k:]
			g.lit -= k
		}
		return 0, nil
	}
	if int64(len(p)) > g.lit {
		p = p[:g.lit]
	}
	var n int
	if len(g.in) > 0 {
		n = copy(p, g.in)
		g.in = g.in[n:]
	} else {
		if err := g.applyDeadline(); err != nil {
			return 0, err
		}
		var err error
		n, err = g.Conn.Read(p)
		if n == 0 && err != nil {
			g.readError(err, false)
			return 0, g.err
		}
	}
	g.lit -= int64(n)
	if g.lit == 0 {
		g.applyDeadline()
	}
	return n, nil
}

// fill reads more bytes from the client into g.in.
func (g *conn) fill() error {
	if g.buf == nil {
		g.buf = make([]byte, readChunk)
	}
	if cap(g.in)-len(g.in) < readChunk/4 {
		if len(g.in) <= len(g.buf)/2 {
			n := copy(g.buf, g.in)
			g.in = g.buf[:n]
		} else {
			nb := make([]byte, len(g.in), 2*len(g.in)+readChunk)
			copy(nb, g.in)
			g.in = nb
		}
	}
	if err := g.applyDeadline(); err != nil {
		return err
	}
	n, err := g.Conn.Read(g.in[len(g.in):cap(g.in)])
	g.in = g.in[:len(g.in)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// readLine returns the next line, LF included, within what is left of the
// command's budget.
func (g *conn) readLine() ([]byte, error) {
	limit := g.srv.maxLineBytes()
	if g.cont {
		limit -= g.cur.bytes
	}
	for {
		if i := bytes.IndexByte(g.in, '\n'); i >= 0 {
			if i+1 > limit {
				return nil, errCommandTooLong
			}
			line := g.in[:i+1]
			g.in = g.in[i+1:]
			return line, nil
		}
		if len(g.in) >= limit {
			return nil, errCommandTooLong
		}
		if err := g.fill(); err != nil {
			return nil, err
		}
	}
}

// readError ends the connection after a failed read, with the BYE that
// suits it.
func (g *conn) readError(err error, atStart bool) {
	var ne net.Error
	switch {
	case errors.Is(err, errCommandTooLong):
		g.fatal(err, "command longer than the limit", "* BYE [TOOBIG] Command too long\r\n")
	case errors.Is(err, sockserver.ErrServerClosed):
		g.fatal(ErrServerClosed, "", "* BYE [UNAVAILABLE] Server shutting down\r\n")
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		switch {
		case g.lit > 0:
			g.fatal(err, "literal timed out", "* BYE Timed out waiting for literal data\r\n")
		case atStart && !g.cont:
			g.fatal(err, "", "* BYE Autologout; idle for too long\r\n")
		default:
			g.fatal(err, "command timed out", "* BYE Timed out waiting for the rest of the command\r\n")
		}
	default:
		g.err = err
	}
}

// handleLine checks a line and hands it to imapserver, or answers it.
func (g *conn) handleLine(line []byte) {
	if g.raw2 {
		g.out = line
		return
	}
	first := !g.cont
	if first {
		g.cur = command{}
	}
	g.cur.bytes += len(line)
	body := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if first {
		tag, name, ok := parseCommand(body)
		if isHTTPRequest(body) {
			g.fatal(errProtocol, "HTTP request "+clip(body))
			return
		}
		if !ok {
			g.refuse(line, "* BAD [CLIENTBUG] Invalid tag\r\n")
			return
		}
		g.cur.tag, g.cur.name = tag, name
	}
	if bytes.IndexByte(body, 0) >= 0 {
		g.refuse(line, g.cur.tag+" BAD [CLIENTBUG] NUL byte in command\r\n")
		return
	}
	info := parseLine(body)
	switch {
	case info.unterminated:
		g.refuse(line, g.cur.tag+" BAD [CLIENTBUG] Unterminated quoted string\r\n")
		return
	case info.malformed:
		g.refuse(line, g.cur.tag+" BAD [CLIENTBUG] Invalid literal\r\n")
		return
	}
	if info.literal >= 0 || info.tooBig {
		limit := int64(min(maxBufferedLiteral, g.srv.maxLineBytes()-g.cur.bytes))
		isMsg := false
		if g.cur.name == "APPEND" && !g.cur.appendMsg && !(first && appendMailboxLiteral(body, g.cur.tag)) {
			isMsg = true
			limit = g.srv.maxLiteralBytes()
			if g.sess != nil {
				limit = g.sess.appendLimit()
			}
		}
		if info.tooBig || info.literal > limit {
			if info.nonSync {
				g.fatal(errLiteralTooBig, "non-synchronizing literal too big: "+clip(body),
					g.cur.tag+" BAD [TOOBIG] Literal too big\r\n",
					"* BYE [TOOBIG] Literal too big\r\n")
				return
			}
			g.refuse(line, g.cur.tag+" NO [TOOBIG] Literal too big\r\n")
			return
		}
		if isMsg {
			g.cur.appendMsg = true
		} else {
			g.cur.bytes += int(info.literal)
		}
	}
	if first {
		switch {
		case g.cur.name == "STARTTLS" && len(body) == len(g.cur.tag)+len(" STARTTLS"):
			if g.srv.TLSConfig != nil && !g.isTLS && !g.authenticated() {
				g.startTLS()
				return
			}
		case g.cur.name == "ID":
			g.cur.swallow = true
			rest := strings.ToUpper(string(body[len(g.cur.tag)+len(" ID"):]))
			g.cur.idBadInput = !strings.HasPrefix(rest, " (") && rest != " NIL"
		case g.cur.name == "IDLE" || g.cur.name == "AUTHENTICATE":
			g.raw2 = true
			g.watch(g.cur.tag)
		}
	}
	if g.cur.swallow {
		if info.literal >= 0 {
			if !info.nonSync {
				g.reply("+ Ready for literal data\r\n")
			}
			g.startLiteral(info.literal)
			return
		}
		g.answerID()
		return
	}
	if first {
		g.setErrTag(g.cur.tag, g.cur.name)
	}
	g.out = line
	if info.literal >= 0 {
		g.litPending = info.literal
		g.litSync = !info.nonSync
		if !g.raw2 {
			g.watch(g.cur.tag)
		}
		return
	}
	if !g.raw2 {
		g.endCommand()
	}
}

// refuse answers a line that imapserver must not see. A line in the middle
// of a command cannot be answered alone: the connection ends.
func (g *conn) refuse(line []byte, reply string) {
	if g.cont {
		g.fatal(errProtocol, "bad command continuation: "+clip(line), "* BYE [CLIENTBUG] "+strings.TrimSpace(reply[strings.Index(reply, "]")+1:])+"\r\n")
		return
	}
	g.log.Info("imap: refused command", "line", clip(line), "reply", strings.TrimSpace(reply))
	g.errorReply(reply)
	g.endCommand()
}

// errorReply sends an error reply of the guard's own, counted and delayed
// as imapserver's are.
func (g *conn) errorReply(reply string) {
	g.mu.Lock()
	d := g.countErrorLocked()
	g.mu.Unlock()
	g.sleep(d)
	g.reply(reply)
}

// clip returns the start of a client's line for a log message; the log
// handler escapes it.
func clip(b []byte) string {
	const max = 80
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// answerID answers the ID command (RFC 2971), which imapserver lacks.
func (g *conn) answerID() {
	tag, bad := g.cur.tag, g.cur.idBadInput
	g.endCommand()
	if bad {
		g.errorReply(tag + " BAD [CLIENTBUG] Syntax error: expected ID parameter list or NIL\r\n")
		return
	}
	g.reply("* ID (\"name\" \"inetkit\")\r\n", tag+" OK ID completed\r\n")
}

// startTLS answers STARTTLS, discards any plaintext sent after it (HARDENING
// I6), performs the handshake and hands a new conn over the TLS connection to
// the imapserver for TLS connections; this one then reports EOF.
func (g *conn) startTLS() {
	tag := g.cur.tag
	g.endCommand()
	if err := g.reply(tag + " OK Begin TLS negotiation now\r\n"); err != nil {
		g.err = err
		return
	}
	if len(g.in) > 0 {
		g.log.Warn("imap: discarding plaintext sent after STARTTLS", "bytes", len(g.in))
		g.in = nil
	}
	g.mu.Lock()
	g.handlerRD = time.Time{}
	g.mu.Unlock()
	g.applyDeadline()
	tc := tls.Server(g.Conn, g.srv.TLSConfig)
	hctx, cancel := context.WithTimeout(g.ctx, handshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		g.fatal(err, "STARTTLS handshake failed: "+err.Error())
		return
	}
	next := newConn(g.ctx, g.srv, g.raw, tc, true, true)
	if !g.srv.secureL.deliver(g.ctx, next) {
		g.fatal(ErrServerClosed, "")
		return
	}
	g.next = next
	g.migrated = true
	g.err = io.EOF
}

// parseCommand returns the tag and the upper-case command name of a first
// line ("UID FETCH" for UID commands). ok is false if the tag is not a valid
// tag (RFC 9051 §9: 1*<any ASTRING-CHAR except "+">), which makes it unsafe
// to echo.
func parseCommand(body []byte) (tag, name string, ok bool) {
	i := bytes.IndexByte(body, ' ')
	if i <= 0 {
		return "", "", false
	}
	for _, c := range body[:i] {
		if !isTagChar(c) {
			return "", "", false
		}
	}
	tag = string(body[:i])
	rest := body[i+1:]
	name = strings.ToUpper(string(rest[:wordEnd(rest)]))
	if name == "UID" && wordEnd(rest) < len(rest) {
		rest = rest[wordEnd(rest)+1:]
		name += " " + strings.ToUpper(string(rest[:wordEnd(rest)]))
	}
	return tag, name, true
}

func wordEnd(b []byte) int {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return i
	}
	return len(b)
}

func isTagChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', '%', '*', '"', '\\', '+':
		return false
	}
	return true
}

// appendMailboxLiteral reports whether the literal at the end of an APPEND
// command's first line is the mailbox name: "tag APPEND {N}".
func appendMailboxLiteral(body []byte, tag string) bool {
	rest := body[len(tag)+len(" APPEND"):]
	return len(rest) > 1 && rest[0] == ' ' && rest[1] == '{'
}

// isHTTPRequest reports whether a first line looks like an HTTP request line
// (HARDENING G6).
func isHTTPRequest(body []byte) bool {
	i := bytes.IndexByte(body, ' ')
	if i < 0 {
		return false
	}
	switch string(body[:i]) {
	case "GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE":
		return bytes.Contains(body[i:], []byte(" HTTP/"))
	}
	return false
}

// lineInfo is what parseLine finds in a line.
type lineInfo struct {
	literal      int64 // size of the literal announced at the end; -1 if none
	nonSync      bool  // "{N+}"
	tooBig       bool  // a literal whose size does not fit in an int64
	malformed    bool  // "{}", "{-1}", "{1a}"
	unterminated bool  // a quoted string runs to the end of the line
}

// parseLine scans a line (without its line end) for quoted strings and a
// literal announced at its end: a "{" outside quotes whose text runs to a
// "}" ending the line, with no space in between.
func parseLine(body []byte) lineInfo {
	info := lineInfo{literal: -1}
	quoted, brace := false, -1
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '{':
			brace = i
		case !quoted && c == ' ':
			brace = -1
		}
	}
	if quoted {
		info.unterminated = true
		return info
	}
	if brace < 0 || body[len(body)-1] != '}' {
		return info
	}
	digits := body[brace+1 : len(body)-1]
	if n := len(digits); n > 0 && digits[n-1] == '+' {
		info.nonSync = true
		digits = digits[:n-1]
	}
	if len(digits) == 0 {
		info.malformed = true
		return info
	}
	var size int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			info.malformed = true
			return info
		}
		if size > (math.MaxInt64-int64(c-'0'))/10 {
			info.tooBig = true
			return info
		}
		size = size*10 + int64(c-'0')
	}
	info.literal = size
	return info
}
