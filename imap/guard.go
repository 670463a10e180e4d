package imap

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// errClosed is what imapserver reads once the guard has ended a connection;
// the guard has logged why, so imapserver need not (it does not log
// net.ErrClosed).
var errClosed = fmt.Errorf("imap: connection ended by the server: %w", net.ErrClosed)

// maxNesting is the deepest nesting of parenthesised lists the guard lets
// through, far more than any command needs (a SEARCH program, a FETCH of
// BODY[HEADER.FIELDS (...)]) and less than the depth at which go-imap's
// parser gives up, which it answers with "NO [SERVERBUG]" (maxListDepth,
// 1000).
const maxNesting = 100

// conn is the guard in front of go-imap's imapserver: the net.Conn that
// imapserver reads from. It reads the client's bytes a line at a time with
// a lineproto.Reader: a line is handed to imapserver only once it is
// complete and checked; a literal announced at the end of a line ("{N}",
// "{N+}") is checked against the limits before imapserver sees it, and then
// passed through. Because imapserver serves one command at a time and reads
// the next line only after answering the previous one, the guard can answer
// a rejected line itself when imapserver asks for more.
//
// Every read has a deadline: IdleTimeout while waiting for a command (and
// for the DONE that ends IDLE), CommandTimeout from a command's first octet
// to its last line, LiteralReadTimeout for a literal (and the command's
// deadline too, unless it is an APPEND message, after which the rest of the
// command has a new CommandTimeout), or imapserver's own deadline if sooner
// (30 seconds for a command before login).
//
// It watches imapserver's replies just enough to stay in step: a "+"
// continuation means a synchronising literal was accepted, and a tagged reply
// ends the command (and IDLE or AUTHENTICATE, whose lines are passed raw).
// It also counts the error replies, BAD, its own and imapserver's, and NO to
// LOGIN or AUTHENTICATE, with a lineproto.Counter: past SoftErrorLimit each
// is delayed by ErrorDelay, and at HardErrorLimit the connection is closed
// after the reply.
//
// It also performs STARTTLS itself: imapserver would wrap the connection in
// TLS below the guard. After the handshake a new conn, over the TLS
// connection and with the same Reader and Counter, is handed to the
// imapserver for TLS connections, and this one reports EOF.
//
// Read, SetReadDeadline and the unexported read-side state belong to the
// goroutine of imapserver that serves the connection; Write may also be
// called by a session's Idle goroutine.
type conn struct {
	net.Conn          // what imapserver reads and writes: raw, or TLS over raw
	raw      net.Conn // the connection served
	srv      *Server
	ctx      context.Context
	log      *slog.Logger
	isTLS    bool
	sess     *session // set by newSession
	done     chan struct{}
	next     *conn // the STARTTLS successor; set before done is closed

	// Read side.
	r          *lineproto.Reader
	out        []byte // a checked line, for imapserver
	outBuf     []byte // where out is kept
	lit        int64  // bytes of the current literal still to pass
	litMsg     bool   // the current literal is an APPEND message
	litPending int64  // size of a literal announced by the last line; -1 if none
	litSync    bool
	litIsMsg   bool // the announced literal is an APPEND message
	cont       bool // the next line continues the current command
	raw2       bool // IDLE or AUTHENTICATE: lines go to imapserver unchecked
	cur        command
	err        error // sticky read error
	closeOnce  sync.Once
	migrated   bool

	// Shared with Write and the session.
	mu          sync.Mutex
	handlerRD   time.Time         // read deadline set by imapserver
	counter     lineproto.Counter // error replies and failed logins
	watchTag    string            // tag of the command whose reply ends it
	ended       bool              // a reply tagged watchTag was written
	contSeen    bool              // a "+" continuation was written
	loggedInOK  bool              // the client has logged in
	user        string            // as whom, for fault rules
	bye         lineproto.Reason  // say its goodbye at the next read and close
	errTag      string            // tag of the command whose tagged reply is not yet seen
	errNO       bool              // a NO to that command counts as an error (LOGIN, AUTHENTICATE)
	authCounted bool              // the session counted that NO as a failed login already
	outLit      int64             // bytes of a literal in imapserver's output still to pass
	outMid      bool              // imapserver's output is in the middle of a line
	outTail     []byte            // the end of that line, to find a literal announced
	skipHello   bool              // drop the greeting of a STARTTLS successor
	wdead       bool              // a fatal error was reported; no more writes
}

// command is what the guard knows of the command being read.
type command struct {
	tag        string
	name       string // upper case; "UID FETCH" for UID commands
	bytes      int    // lines and buffered literals so far
	depth      int    // parentheses open at the end of the lines so far
	swallow    bool   // answered by the guard (ID, a fault): not passed on
	injected   string // a fault's reply, the guard's answer
	appendMsg  bool   // the APPEND message literal has been seen
	idBadInput bool
}

// newConn returns the guard of raw, which imapserver reads as inner (raw,
// or TLS over raw), reading with r, or a new Reader if r is nil.
func newConn(ctx context.Context, srv *Server, raw, inner net.Conn, r *lineproto.Reader) *conn {
	g := &conn{
		Conn:       inner,
		raw:        raw,
		srv:        srv,
		ctx:        ctx,
		log:        srv.logger().With("remote", lineproto.RemoteString(raw)),
		isTLS:      lineproto.IsTLS(inner),
		done:       make(chan struct{}),
		litPending: -1,
		counter:    lineproto.NewCounter(srv.limits),
	}
	if r == nil {
		r = lineproto.NewReader(readDeadline{inner, g}, inner, srv.maxLineBytes(), srv.limits.IdleTimeout, srv.limits.CommandTimeout)
	} else {
		r.Reset(readDeadline{inner, g}, inner)
	}
	g.r = r
	return g
}

// readDeadline is the connection the guard's Reader sets its read deadlines
// on: each is the earlier of the Reader's and imapserver's.
type readDeadline struct {
	net.Conn
	g *conn
}

func (d readDeadline) SetReadDeadline(t time.Time) error {
	d.g.mu.Lock()
	h := d.g.handlerRD
	d.g.mu.Unlock()
	if !h.IsZero() && (t.IsZero() || h.Before(t)) {
		t = h
	}
	return d.Conn.SetReadDeadline(t)
}

// Close closes the connection, unless it is being handed over to TLS, and
// tells ServeConn that imapserver is done with it.
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

// SetReadDeadline records imapserver's deadline; the guard's Reader applies
// it, or its own if sooner, before each read.
func (g *conn) SetReadDeadline(t time.Time) error {
	g.mu.Lock()
	g.handlerRD = t
	g.mu.Unlock()
	return nil
}

// SetDeadline sets both deadlines.
func (g *conn) SetDeadline(t time.Time) error {
	if err := g.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return g.SetReadDeadline(t)
}

// loggedIn is called by the session after a successful login as user.
func (g *conn) loggedIn(user string) {
	g.mu.Lock()
	g.loggedInOK = true
	g.user = user
	g.mu.Unlock()
}

// byeLocked makes the next read say the goodbye for r and end the
// connection, unless a goodbye is pending already. The caller holds g.mu.
func (g *conn) byeLocked(r lineproto.Reason) {
	if g.bye == lineproto.ReasonNone {
		g.bye = r
	}
}

// countLocked applies the verdict of the counter on an error reply and
// returns how long to delay the reply. The caller holds g.mu.
func (g *conn) countLocked(v lineproto.Verdict) time.Duration {
	if v.Close != lineproto.ReasonNone {
		g.byeLocked(v.Close)
	}
	return v.Delay
}

// authFailed counts a failed login, whose NO reply is not to be counted
// again, and returns how long the reply waits: the longer of
// AuthFailureDelay and the error delay. At MaxAuthFailures (or
// HardErrorLimit) the connection ends after the reply.
func (g *conn) authFailed() (delay time.Duration, failures int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.authCounted = true
	return g.countLocked(g.counter.AuthFailure()), g.counter.AuthFailures()
}

// setErrTag notes the tag of a command handed to imapserver, whose tagged
// reply Write looks for. BAD always counts as an error; NO only for a login
// (a NO such as [TRYCREATE] is an ordinary answer, and a long-lived client
// collects many).
func (g *conn) setErrTag(tag, name string) {
	g.mu.Lock()
	g.errTag = tag
	g.errNO = name == "LOGIN" || name == "AUTHENTICATE"
	g.authCounted = false
	g.mu.Unlock()
}

func (g *conn) authenticated() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.loggedInOK
}

// Write passes imapserver's output on, noting the replies the read side
// waits for, rewriting its capability lists (see rewriteCaps), and dropping
// the greeting of a connection that continues after STARTTLS.
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
	// A response starts here, not text inside a literal.
	atResponse := g.outLit == 0 && !g.outMid
	var delay time.Duration
	if g.scanOutputLocked(p) {
		delay = g.countLocked(g.counter.Error())
	}
	if atResponse {
		if q, ok := rewriteCaps(p); ok {
			p = q
		}
	}
	g.mu.Unlock()
	if len(p) == 0 {
		return n, nil
	}
	// imapserver writes one response at a time, and flushes at each line
	// end: a tagged reply starts a Write, and nothing else is written while
	// it waits here.
	lineproto.Sleep(g.ctx, delay)
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
// reply), and reports whether p has the tagged BAD reply (or NO to a login
// not counted as a failed login already) to the command being served. The
// caller holds g.mu.
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
				isErr = bytes.HasPrefix(rest, []byte("BAD")) ||
					g.errNO && !g.authCounted && bytes.HasPrefix(rest, []byte("NO"))
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

// rewriteCaps rewrites the capability list in p, if p is exactly one
// "* CAPABILITY" line or one status line with a [CAPABILITY] code (the
// greeting, the reply to LOGIN or AUTHENTICATE): imapserver writes each as
// one Write, and Write calls rewriteCaps only where a response starts, never
// inside a literal. It adds ID, which the guard answers in every state, and
// makes the literal capability LITERAL+ in every state. imapserver says
// LITERAL- before login and both after, which RFC 7888 §5 forbids; and the
// guard treats literals alike before and after login: any literal but an
// APPEND message (which needs a login) is capped at 4096 octets, a larger
// one is refused with TOOBIG, and a non-synchronising one with "* BYE
// [TOOBIG]" (RFC 7888 §4, second choice), as LITERAL+ allows.
func rewriteCaps(p []byte) ([]byte, bool) {
	if len(p) < 2 || bytes.IndexByte(p, '\n') != len(p)-1 || !bytes.HasSuffix(p, []byte("\r\n")) {
		return nil, false
	}
	var start, end int // of the list of capabilities in p
	if bytes.HasPrefix(p, []byte("* CAPABILITY ")) {
		start, end = len("* CAPABILITY "), len(p)-2
	} else {
		i := bytes.Index(p, []byte(" [CAPABILITY "))
		if i < 0 || bytes.IndexByte(p[:i], '[') >= 0 {
			return nil, false
		}
		j := bytes.IndexByte(p[i:], ']')
		if j < 0 {
			return nil, false
		}
		start, end = i+len(" [CAPABILITY "), i+j
	}
	caps := strings.Fields(string(p[start:end]))
	out := make([]string, 0, len(caps)+1)
	hasPlus := slices.Contains(caps, "LITERAL+")
	for _, c := range caps {
		switch {
		case c == "LITERAL-" && hasPlus, c == "ID":
			continue
		case c == "LITERAL-":
			c = "LITERAL+"
		}
		out = append(out, c)
	}
	out = append(out, "ID")
	q := make([]byte, 0, len(p)+16)
	q = append(q, p[:start]...)
	q = append(q, strings.Join(out, " ")...)
	return append(q, p[end:]...), true
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

// byeText returns the text of the "* BYE" with which the server ends a
// session for r (RFC 3501 §7.1.5), or "" to close it without one.
func byeText(r lineproto.Reason) string {
	switch r {
	case lineproto.ReasonShutdown:
		return "[UNAVAILABLE] Server shutting down"
	case lineproto.ReasonIdleTimeout:
		return "Autologout; idle for too long"
	case lineproto.ReasonCommandTimeout:
		return "Timed out waiting for the rest of the command"
	case lineproto.ReasonLineTooLong:
		return "[TOOBIG] Command too long"
	case lineproto.ReasonTooManyErrors:
		return "Too many errors"
	case lineproto.ReasonTooManyAuthFailures:
		return "Too many authentication failures"
	}
	return ""
}

// goodbye ends the connection for r, with its "* BYE".
func (g *conn) goodbye(r lineproto.Reason) {
	var lines []string
	if text := byeText(r); text != "" {
		lines = append(lines, "* BYE "+text+"\r\n")
	}
	logMsg := r.String()
	if r == lineproto.ReasonShutdown {
		logMsg = ""
	}
	g.fatal(logMsg, lines...)
}

// fatal says "* BYE" (after the optional tagged reply), logs, and ends the
// connection: reads return errClosed, writes fail, and the socket is closed
// so that the client sees EOF at once.
func (g *conn) fatal(logMsg string, lines ...string) {
	if len(lines) > 0 {
		g.reply(lines...)
	}
	g.mu.Lock()
	g.wdead = true
	g.mu.Unlock()
	g.err = errClosed
	if logMsg != "" {
		g.log.Info("imap: closing connection: " + logMsg)
	}
	g.raw.Close()
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
		limit := g.srv.maxLineBytes()
		if g.cont {
			limit -= g.cur.bytes
		}
		line, err := g.r.ReadLine(limit)
		if err != nil {
			g.readError(err)
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
	bye, ended, contSeen := g.bye, g.ended, g.contSeen
	g.mu.Unlock()
	if bye != lineproto.ReasonNone {
		g.goodbye(bye)
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
		g.startLiteral(size, g.litIsMsg)
		return size > 0
	}
	if g.raw2 && ended {
		g.endCommand()
	}
	return false
}

// startLiteral starts passing a literal of size octets: within
// LiteralReadTimeout, and within the command's deadline unless it is an
// APPEND message.
func (g *conn) startLiteral(size int64, msg bool) {
	g.cont = true
	g.r.Continue()
	if size == 0 {
		g.literalDone(msg)
		return
	}
	g.lit, g.litMsg = size, msg
	d := time.Now().Add(g.srv.literalReadTimeout())
	if cd := g.r.CommandDeadline(); !msg && !cd.IsZero() && cd.Before(d) {
		d = cd
	}
	g.r.SetDeadline(d)
}

// literalDone is called once a literal has been passed: the rest of the
// command has what is left of its CommandTimeout, or a new one after an
// APPEND message.
func (g *conn) literalDone(msg bool) {
	g.r.SetDeadline(time.Time{})
	if msg {
		g.r.ContinueAnew()
	}
}

func (g *conn) endCommand() {
	g.cont = false
	g.raw2 = false
	g.cur = command{}
	g.r.EndCommand()
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
			b, err := g.r.Peek()
			if err != nil {
				g.readError(err)
				return 0, g.err
			}
			k := min(int64(len(b)), g.lit)
			g.r.Skip(int(k))
			g.lit -= k
		}
		g.literalDone(false)
		return 0, nil
	}
	if int64(len(p)) > g.lit {
		p = p[:g.lit]
	}
	n, err := g.r.Read(p)
	if n == 0 && err != nil {
		g.readError(err)
		return 0, g.err
	}
	g.lit -= int64(n)
	if g.lit == 0 {
		g.literalDone(g.litMsg)
	}
	return n, nil
}

// readError ends the connection after a failed read, with the BYE that
// suits it.
func (g *conn) readError(err error) {
	r := lineproto.Classify(err, g.cont || g.r.InCommand())
	switch {
	case r == lineproto.ReasonClosed:
		g.err = err
	case g.lit > 0 && (r == lineproto.ReasonIdleTimeout || r == lineproto.ReasonCommandTimeout):
		g.fatal("literal timed out", "* BYE Timed out waiting for literal data\r\n")
	default:
		g.goodbye(r)
	}
}

// pass hands line, and a CRLF, to imapserver.
func (g *conn) pass(line []byte) {
	g.outBuf = append(append(g.outBuf[:0], line...), '\r', '\n')
	g.out = g.outBuf
}

// handleLine checks a line, without its line ending, and hands it to
// imapserver, or answers it.
func (g *conn) handleLine(line []byte) {
	if g.raw2 {
		g.pass(line)
		if g.cur.name == "AUTHENTICATE" {
			g.r.Continue() // the SASL exchange is one command
		}
		return
	}
	first := !g.cont
	if first {
		g.cur = command{}
	}
	g.cur.bytes += len(line) + len("\r\n")
	if first {
		tag, name, ok := parseCommand(line)
		// Before login only: "a1 DELETE HTTP/old" is a command.
		if !g.authenticated() && lineproto.IsHTTPRequest(line) {
			g.fatal("HTTP request " + clip(line))
			return
		}
		if !ok {
			g.refuse(line, "* BAD [CLIENTBUG] Invalid tag\r\n")
			return
		}
		g.cur.tag, g.cur.name = tag, name
	}
	if bytes.IndexByte(line, 0) >= 0 {
		g.refuse(line, g.cur.tag+" BAD [CLIENTBUG] NUL byte in command\r\n")
		return
	}
	// RFC 3501 §9: CR only ends a line, but in a literal; go-imap's parser
	// would take it into a quoted string, or lose its place in the line.
	if bytes.IndexByte(line, '\r') >= 0 {
		g.refuse(line, g.cur.tag+" BAD [CLIENTBUG] CR not followed by LF\r\n")
		return
	}
	// RFC 3501 §9, RFC 9051 §9: octets above 127 outside a literal only as
	// UTF-8 in a quoted string; go-imap's parser takes others into a
	// mailbox name and then answers "NO [SERVERBUG]".
	if !utf8.Valid(line) {
		g.refuse(line, g.cur.tag+" BAD [CLIENTBUG] Invalid UTF-8 in command\r\n")
		return
	}
	info := parseLine(line)
	switch {
	case info.unterminated:
		g.refuse(line, g.cur.tag+" BAD [CLIENTBUG] Unterminated quoted string\r\n")
		return
	case info.malformed:
		g.refuse(line, g.cur.tag+" BAD [CLIENTBUG] Invalid literal\r\n")
		return
	case g.cur.depth+info.deepest > maxNesting:
		g.refuse(line, g.cur.tag+" BAD [CLIENTBUG] Parentheses nested too deeply\r\n")
		return
	}
	g.cur.depth = max(g.cur.depth+info.depth, 0)
	isMsg := false
	if info.literal >= 0 || info.tooBig {
		limit := int64(min(maxBufferedLiteral, g.srv.maxLineBytes()-g.cur.bytes))
		if g.cur.name == "APPEND" && !g.cur.appendMsg && !(first && appendMailboxLiteral(line, g.cur.tag)) {
			isMsg = true
			limit = g.srv.maxLiteralBytes()
			if g.sess != nil {
				limit = g.sess.appendLimit()
			}
		}
		if info.tooBig || info.literal > limit {
			if info.nonSync {
				g.log.Info("imap: non-synchronizing literal too big", "line", clip(line))
				g.fatal("literal too big",
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
		case g.cur.name == "STARTTLS" && len(line) == len(g.cur.tag)+len(" STARTTLS"):
			if g.srv.TLSConfig != nil && !g.isTLS && !g.authenticated() {
				g.startTLS()
				return
			}
		case g.cur.name == "ID":
			g.cur.swallow = true
			rest := strings.ToUpper(string(line[len(g.cur.tag)+len(" ID"):]))
			g.cur.idBadInput = !strings.HasPrefix(rest, " (") && rest != " NIL"
		case g.cur.name == "IDLE" || g.cur.name == "AUTHENTICATE":
			g.raw2 = true
			g.watch(g.cur.tag)
		}
	}
	if first && g.srv.Faults != nil && g.injectCommand() {
		return
	}
	if g.cur.swallow {
		if info.literal >= 0 {
			if !info.nonSync {
				g.reply("+ Ready for literal data\r\n")
			}
			g.startLiteral(info.literal, false)
			return
		}
		if g.cur.injected != "" {
			g.answerInjected()
			return
		}
		g.answerID()
		return
	}
	if first {
		g.setErrTag(g.cur.tag, g.cur.name)
	}
	g.pass(line)
	if info.literal >= 0 {
		g.litPending = info.literal
		g.litSync = !info.nonSync
		g.litIsMsg = isMsg
		if !g.raw2 {
			g.watch(g.cur.tag)
		}
		return
	}
	switch {
	case g.raw2 && g.cur.name == "AUTHENTICATE":
		g.r.Continue() // the SASL exchange is one command
	case !g.raw2:
		g.endCommand()
	}
}

// refuse answers a line that imapserver must not see. A line in the middle
// of a command cannot be answered alone: the connection ends.
func (g *conn) refuse(line []byte, reply string) {
	if g.cont {
		g.log.Info("imap: bad command continuation", "line", clip(line))
		g.fatal("protocol violation", "* BYE [CLIENTBUG] "+strings.TrimSpace(reply[strings.Index(reply, "]")+1:])+"\r\n")
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
	d := g.countLocked(g.counter.Error())
	g.mu.Unlock()
	lineproto.Sleep(g.ctx, d)
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

// startTLS answers STARTTLS, discards any plaintext sent after it (RFC 3501
// §6.2.1 says that the client waits for the reply, so that it can only be an
// injection, CVE-2011-0411), performs the handshake within CommandTimeout
// and hands a new conn over the TLS connection to the imapserver for TLS
// connections; this one then reports EOF.
func (g *conn) startTLS() {
	tag := g.cur.tag
	g.endCommand()
	if err := g.reply(tag + " OK Begin TLS negotiation now\r\n"); err != nil {
		g.err = err
		return
	}
	sockserver.MarkBusy(g.raw) // the handshake finishes even during Shutdown
	g.mu.Lock()
	g.handlerRD = time.Time{}
	counter := g.counter
	g.mu.Unlock()
	tc, n, err := lineproto.StartTLS(g.ctx, g.r, g.Conn, g.srv.TLSConfig, g.srv.limits.CommandTimeout, nil)
	if n > 0 {
		g.log.Warn("imap: discarded plaintext sent after STARTTLS", "bytes", n)
	}
	if err != nil {
		g.fatal("STARTTLS handshake failed: " + err.Error())
		return
	}
	next := newConn(g.ctx, g.srv, g.raw, tc, g.r)
	next.skipHello = true
	next.counter = counter
	if !g.srv.secureL.deliver(g.ctx, next) {
		g.fatal("")
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

// lineInfo is what parseLine finds in a line.
type lineInfo struct {
	literal      int64 // size of the literal announced at the end; -1 if none
	nonSync      bool  // "{N+}"
	tooBig       bool  // a literal whose size does not fit in an int64
	malformed    bool  // "{}", "{-1}", "{1a}"
	unterminated bool  // a quoted string runs to the end of the line
	depth        int   // parentheses opened and not closed (negative if more closed)
	deepest      int   // the most parentheses open at any point
}

// parseLine scans a line (without its line end) for quoted strings,
// parentheses outside them, and a literal announced at its end: a "{"
// outside quotes whose text runs to a "}" ending the line, with no space in
// between.
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
		case quoted:
		case c == '{':
			brace = i
		case c == ' ':
			brace = -1
		case c == '(':
			info.depth++
			info.deepest = max(info.deepest, info.depth)
		case c == ')':
			info.depth--
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
