package pop3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/inetkit/inetkit/sockserver"
)

const (
	// maxDiscardBytes is how much of an overlong line the server reads
	// past MaxLineBytes looking for its end; past it the connection is
	// closed (HARDENING G1: never more than 64 KiB).
	maxDiscardBytes = 64 << 10
	// maxSASLBytes caps a line answering an AUTH continuation (RFC 5034 §4
	// lets them exceed 255 octets).
	maxSASLBytes = 1024
	// readBufferBytes is the size of a connection's read buffer.
	readBufferBytes = 4096
)

// Replies sent in more than one place.
var (
	errInternal      = &Error{Code: "SYS/TEMP", Message: "internal error"}
	errLineLong      = &Error{Message: "line too long"}
	errUnknown       = &Error{Message: "unknown command"}
	errWrongState    = &Error{Message: "command not valid in this state"}
	errNoSuchMessage = &Error{Message: "no such message"}
	errBadNumber     = &Error{Message: "invalid message number"}
	errArgs          = &Error{Message: "invalid arguments"}
	errPlaintext     = &Error{Code: "AUTH", Message: "plaintext authentication disallowed on non-secure connections"}
)

// errClose ends a connection quietly: whatever had to be said was said.
var errClose = errors.New("pop3: connection closed")

// errLineTooLong is returned by lineReader.readLine for a line longer than
// its limit.
var errLineTooLong = errors.New("pop3: line too long")

// ServeConn serves POP3 on conn until the client quits or the connection
// fails, and closes conn. It implements sockserver.Handler: Serve calls it
// for every connection it accepts. Call it directly only for a connection
// accepted some other way (from inetd, or a net.Pipe in a test); such a
// connection gets the timeouts of s but is not counted against the
// connection limits, nor closed by Shutdown or Close. A connection that is a
// *tls.Conn (or wraps one, through a NetConn method) counts as encrypted.
//
// ctx is passed to the Backend; when it is cancelled the connection ends.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn) (err error) {
	c := &serverConn{srv: s, ctx: ctx, raw: conn, log: s.logger().With("remote", remoteString(conn))}
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic serving connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("pop3: panic: %v", r)
		}
		c.closeSession()
		conn.Close()
	}()
	err = c.serve()
	if errors.Is(err, errClose) {
		err = nil
	}
	return err
}

func remoteString(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// serverConn is the server side of one connection: the POP3 state machine.
type serverConn struct {
	srv *Server
	ctx context.Context
	raw net.Conn // as passed to ServeConn
	nc  net.Conn // raw, or the TLS connection over it
	log *slog.Logger

	lr *lineReader
	bw *bufio.Writer

	tls       bool
	timestamp string // of the greeting, "" without APOP
	state     ConnState
	user      string // from USER, for PASS
	authFails int
	errors    int

	sess    Session
	msgs    []MessageInfo
	deleted []bool
}

func (c *serverConn) serve() error {
	c.nc = c.raw
	if tc, implicit := findTLS(c.raw); implicit {
		tc := tls.Server(c.raw, c.srv.TLSConfig)
		if err := c.handshake(tc); err != nil {
			return err
		}
		c.nc, c.tls = tc, true
	} else if tc != nil {
		if err := c.handshake(tc); err != nil {
			return err
		}
		c.tls = true
	}
	c.setIO()
	if _, ok := c.srv.Backend.(BackendAPOP); ok {
		c.timestamp = newTimestamp()
	}
	greeting := "inetkit POP3 server ready"
	if c.timestamp != "" {
		greeting += " " + c.timestamp
	}
	c.ok(greeting)
	for {
		if !c.lr.hasLine() {
			if err := c.flush(); err != nil {
				return err
			}
		}
		line, err := c.lr.readLine(MaxLineBytes)
		if err != nil {
			if err := c.readFailed(err); err != nil {
				return err
			}
			continue
		}
		if err := c.handle(line); err != nil {
			c.flush()
			return err
		}
	}
}

// findTLS looks through the wrappers of nc (their NetConn methods) for a
// *tls.Conn, or the mark of a connection from ServeTLS.
func findTLS(nc net.Conn) (tc *tls.Conn, implicit bool) {
	for range 16 {
		switch x := nc.(type) {
		case *tls.Conn:
			return x, false
		case implicitTLSConn:
			return nil, true
		case interface{ NetConn() net.Conn }:
			nc = x.NetConn()
		default:
			return nil, false
		}
	}
	return nil, false
}

// handshake runs the TLS handshake of tc within CommandTimeout.
func (c *serverConn) handshake(tc *tls.Conn) error {
	if d := c.srv.commandTimeout(); d > 0 {
		c.raw.SetDeadline(time.Now().Add(d))
	}
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.log.Info("TLS handshake failed", "err", err)
		return errClose
	}
	c.raw.SetDeadline(time.Time{})
	return nil
}

// setIO sets the reader and writer over c.nc.
func (c *serverConn) setIO() {
	var r io.Reader = c.nc
	var w io.Writer = &deadlineWriter{conn: c.nc, timeout: c.srv.writeTimeout()}
	if dw := c.srv.debugWriter(); dw != nil {
		r = io.TeeReader(r, dw)
		w = io.MultiWriter(dw, w)
	}
	c.lr = &lineReader{conn: c.nc, src: r, buf: make([]byte, readBufferBytes),
		idle: c.srv.idleTimeout(), cmd: c.srv.commandTimeout()}
	c.bw = bufio.NewWriterSize(w, readBufferBytes)
}

var lastTimestamp atomic.Int64

// newTimestamp returns a greeting timestamp for APOP, <pid.nanotime@host>,
// unique in this process (RFC 1939 §7).
func newTimestamp() string {
	now := time.Now().UnixNano()
	for {
		last := lastTimestamp.Load()
		if now <= last {
			now = last + 1
		}
		if lastTimestamp.CompareAndSwap(last, now) {
			break
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" || !validUID(host) || strings.ContainsAny(host, "<>@") {
		host = "localhost"
	}
	return fmt.Sprintf("<%d.%d@%s>", os.Getpid(), now, host)
}

// readFailed handles an error of readLine in the command loop. It returns
// nil when the session goes on, and a non-nil error to end it.
func (c *serverConn) readFailed(err error) error {
	switch {
	case errors.Is(err, errLineTooLong):
		return c.lineTooLong()
	case errors.Is(err, sockserver.ErrServerClosed):
		c.goodbye("server shutting down")
		return errClose
	case errors.Is(err, os.ErrDeadlineExceeded):
		what := "idle timeout"
		if c.lr.pending() {
			what = "command timeout"
		}
		c.log.Info("connection timed out", "state", c.state, "reason", what)
		c.goodbye(what)
		return errClose
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return errClose
	}
	return err
}

// lineTooLong answers an overlong line and discards the rest of it; if its
// end does not come within maxDiscardBytes, it closes the connection.
func (c *serverConn) lineTooLong() error {
	c.log.Info("command line too long", "state", c.state)
	if err := c.fail(errLineLong); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	if err := c.lr.discardLine(maxDiscardBytes); err != nil {
		if errors.Is(err, errLineTooLong) {
			c.log.Info("closing: no end of line within the limit", "limit", maxDiscardBytes)
			return errClose
		}
		return c.readFailed(err)
	}
	return nil
}

// goodbye sends a last "-ERR [SYS/TEMP]" reply before the server closes.
func (c *serverConn) goodbye(msg string) {
	c.writeErr(&Error{Code: "SYS/TEMP", Message: msg})
	c.flush()
}

func (c *serverConn) flush() error { return c.bw.Flush() }

// ok writes a "+OK" reply.
func (c *serverConn) ok(text string) {
	if text == "" {
		c.bw.WriteString("+OK\r\n")
		return
	}
	c.bw.WriteString("+OK " + text + "\r\n")
}

// writeErr writes e as a "-ERR" reply, with control characters of a
// backend's text replaced.
func (c *serverConn) writeErr(e *Error) {
	c.bw.WriteString("-ERR ")
	if e.Code != "" {
		c.bw.WriteString("[" + clean(e.Code) + "] ")
	}
	c.bw.WriteString(clean(e.Message))
	c.bw.WriteString("\r\n")
}

func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// fail writes e as a "-ERR" reply and counts it against the error limits
// (HARDENING G5): past SoftErrorLimit the reply waits ErrorDelay; at
// HardErrorLimit the connection is closed, with errClose.
func (c *serverConn) fail(e *Error) error {
	c.errors++
	soft := limitOr(c.srv.SoftErrorLimit, DefaultSoftErrorLimit)
	hard := limitOr(c.srv.HardErrorLimit, DefaultHardErrorLimit)
	if soft > 0 && c.errors > soft {
		c.flush()
		if err := c.sleep(durationOr(c.srv.ErrorDelay, DefaultErrorDelay)); err != nil {
			return err
		}
	}
	if hard > 0 && c.errors >= hard {
		c.log.Info("closing: too many errors", "errors", c.errors)
		c.writeErr(&Error{Message: "too many errors, closing connection"})
		return errClose
	}
	c.writeErr(e)
	return nil
}

// sleep waits for d, or returns errClose if the connection's context ends.
func (c *serverConn) sleep(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return errClose
	}
}

// backendError maps an error of the Backend or Session to the reply sent:
// a *Error (or an error wrapping one) as it is; context.Canceled closes the
// connection (nil); anything else is logged and answered with
// "-ERR [SYS/TEMP] internal error". It is the one place this mapping lives.
func (c *serverConn) backendError(op string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) && c.ctx.Err() != nil {
		return nil
	}
	c.log.Error("backend error", "op", op, "user", c.user, "err", err)
	return errInternal
}

// failBackend answers err of the backend operation op.
func (c *serverConn) failBackend(op string, err error) error {
	e := c.backendError(op, err)
	if e == nil {
		return errClose
	}
	return c.fail(e)
}

// quote returns line escaped for a log as in a Go string literal, without
// the quotes, and at most 64 octets of it.
func quote(line []byte) string {
	more := ""
	if len(line) > 64 {
		line, more = line[:64], "..."
	}
	q := strconv.QuoteToASCII(string(line))
	return q[1:len(q)-1] + more
}

// handle runs one command line. A non-nil error ends the connection.
func (c *serverConn) handle(line []byte) error {
	if isHTTPRequest(line) {
		c.log.Info("closing: HTTP request on the POP3 port", "line", quote(line))
		return errClose
	}
	cmd, err := parseCommand(line)
	if err != nil {
		c.log.Info("invalid command line", "state", c.state, "line", quote(line))
		return c.fail(errSyntax)
	}
	if cmd.name != "PASS" {
		c.user = ""
	}
	switch cmd.name {
	case "CAPA":
		return c.cmdCapa(cmd.arg)
	case "QUIT":
		return c.cmdQuit(cmd.arg)
	}
	if c.state == ConnStateAuthorization {
		switch cmd.name {
		case "USER":
			return c.cmdUser(cmd.arg)
		case "PASS":
			return c.cmdPass(cmd.arg)
		case "APOP":
			if _, ok := c.srv.Backend.(BackendAPOP); ok {
				return c.cmdAPOP(cmd.arg)
			}
		case "AUTH":
			return c.cmdAuth(cmd.arg)
		case "STLS":
			return c.cmdSTLS(cmd.arg)
		case "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL":
			return c.fail(errWrongState)
		}
	} else {
		switch cmd.name {
		case "STAT":
			return c.cmdStat(cmd.arg)
		case "LIST":
			return c.cmdList(cmd.arg)
		case "RETR":
			return c.cmdRetr(cmd.arg)
		case "TOP":
			return c.cmdTop(cmd.arg)
		case "DELE":
			return c.cmdDele(cmd.arg)
		case "NOOP":
			return c.cmdNoop(cmd.arg)
		case "RSET":
			return c.cmdRset(cmd.arg)
		case "UIDL":
			return c.cmdUIDL(cmd.arg)
		case "USER", "PASS", "APOP", "AUTH", "STLS":
			return c.fail(errWrongState)
		}
	}
	c.log.Info("unknown command", "state", c.state, "line", quote(line))
	return c.fail(errUnknown)
}

// plaintextOK reports whether passwords may be sent on this connection.
func (c *serverConn) plaintextOK() bool { return c.tls || c.srv.InsecureAuth }

// cmdCapa answers CAPA (RFC 2449 §5).
func (c *serverConn) cmdCapa(arg string) error {
	if arg != "" {
		return c.fail(errArgs)
	}
	c.ok("Capability list follows")
	c.bw.WriteString("TOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n")
	if c.state == ConnStateAuthorization {
		if c.plaintextOK() {
			c.bw.WriteString("USER\r\nSASL PLAIN\r\n")
		}
		if c.srv.TLSConfig != nil && !c.tls {
			c.bw.WriteString("STLS\r\n")
		}
	}
	c.bw.WriteString("IMPLEMENTATION inetkit\r\n.\r\n")
	return nil
}

// closeSession closes the session, if there is one, which releases the
// maildrop.
func (c *serverConn) closeSession() {
	if c.sess == nil {
		return
	}
	if err := c.sess.Close(); err != nil {
		c.log.Warn("closing session", "err", err)
	}
	c.sess = nil
}

// cmdQuit answers QUIT: in TRANSACTION it enters UPDATE and commits the
// deletions (RFC 1939 §6). The maildrop is released before the reply, so a
// client that logs in again as soon as it has it finds it free.
func (c *serverConn) cmdQuit(arg string) error {
	if arg != "" {
		return c.fail(errArgs)
	}
	if c.state == ConnStateTransaction {
		c.state = ConnStateUpdate
		var nums []int
		for i, d := range c.deleted {
			if d {
				nums = append(nums, i+1)
			}
		}
		err := c.sess.Commit(c.ctx, nums)
		c.closeSession()
		if err != nil {
			e := c.backendError("commit", err)
			if e == nil {
				return errClose
			}
			c.writeErr(e)
			return errClose
		}
		c.ok(fmt.Sprintf("inetkit POP3 server signing off (%d messages left)", len(c.msgs)-len(nums)))
		return errClose
	}
	c.ok("inetkit POP3 server signing off")
	return errClose
}

func (c *serverConn) cmdUser(arg string) error {
	if !c.plaintextOK() {
		return c.fail(errPlaintext)
	}
	if arg == "" || strings.ContainsAny(arg, " \t") {
		return c.fail(errArgs)
	}
	c.user = arg
	c.ok("send PASS")
	return nil
}

func (c *serverConn) cmdPass(arg string) error {
	user := c.user
	c.user = ""
	if !c.plaintextOK() {
		return c.fail(errPlaintext)
	}
	if user == "" {
		return c.fail(&Error{Message: "USER first"})
	}
	if arg == "" {
		return c.fail(errArgs)
	}
	sess, err := c.srv.Backend.Login(c.ctx, user, arg)
	return c.loggedIn(user, sess, err)
}

func (c *serverConn) cmdAPOP(arg string) error {
	user, digest, ok := strings.Cut(arg, " ")
	digest = strings.ToLower(digest)
	if !ok || user == "" || len(digest) != 2*md5.Size || strings.Trim(digest, "0123456789abcdef") != "" {
		return c.fail(errArgs)
	}
	sess, err := c.srv.Backend.(BackendAPOP).LoginAPOP(c.ctx, user, c.timestamp, digest)
	return c.loggedIn(user, sess, err)
}

// cmdAuth answers AUTH (RFC 5034) with the PLAIN mechanism (RFC 4616).
// Without a mechanism it lists the mechanisms, as many servers do.
func (c *serverConn) cmdAuth(arg string) error {
	mech, resp, hasResp := strings.Cut(arg, " ")
	if mech == "" {
		c.ok("")
		if c.plaintextOK() {
			c.bw.WriteString("PLAIN\r\n")
		}
		c.bw.WriteString(".\r\n")
		return nil
	}
	if !strings.EqualFold(mech, "PLAIN") {
		return c.fail(&Error{Message: "unsupported authentication mechanism"})
	}
	if !c.plaintextOK() {
		return c.fail(errPlaintext)
	}
	if !hasResp {
		c.bw.WriteString("+ \r\n")
		if err := c.flush(); err != nil {
			return err
		}
		line, err := c.lr.readLine(maxSASLBytes)
		if err != nil {
			return c.readFailed(err)
		}
		resp = string(line)
	}
	if resp == "*" {
		return c.fail(&Error{Message: "authentication cancelled"})
	}
	if resp == "=" {
		resp = ""
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return c.fail(&Error{Message: "invalid base64 in response"})
	}
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return c.fail(&Error{Message: "invalid PLAIN response"})
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		return c.loggedIn(user, nil, &Error{Code: "AUTH", Message: "authorization identity not allowed"})
	}
	sess, err := c.srv.Backend.Login(c.ctx, user, pass)
	return c.loggedIn(user, sess, err)
}

// loggedIn completes a login attempt with what the Backend returned.
func (c *serverConn) loggedIn(user string, sess Session, err error) error {
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == "AUTH" {
			return c.authFailed(user, e)
		}
		return c.failBackend("login", err)
	}
	msgs, err := sess.List(c.ctx)
	if err != nil {
		if cerr := sess.Close(); cerr != nil {
			c.log.Warn("closing session", "err", cerr)
		}
		return c.failBackend("list", err)
	}
	c.sess, c.msgs, c.deleted = sess, msgs, make([]bool, len(msgs))
	c.state = ConnStateTransaction
	c.user = ""
	c.log = c.log.With("user", user)
	n, size := c.count()
	c.ok(fmt.Sprintf("maildrop has %d messages (%d octets)", n, size))
	return nil
}

// authFailed answers a failed login after AuthFailureDelay, and closes the
// connection at MaxAuthFailures (HARDENING P7).
func (c *serverConn) authFailed(user string, e *Error) error {
	c.authFails++
	c.log.Info("authentication failed", "user", user, "failures", c.authFails)
	c.flush()
	if err := c.sleep(durationOr(c.srv.AuthFailureDelay, DefaultAuthFailureDelay)); err != nil {
		return err
	}
	if err := c.fail(e); err != nil {
		return err
	}
	if max := limitOr(c.srv.MaxAuthFailures, DefaultMaxAuthFailures); max > 0 && c.authFails >= max {
		c.log.Info("closing: too many authentication failures", "failures", c.authFails)
		return errClose
	}
	return nil
}

// cmdSTLS answers STLS and starts TLS (RFC 2595 §4). Whatever the client
// sent after the STLS line is discarded, never read as a command inside TLS
// (HARDENING P5/G13).
func (c *serverConn) cmdSTLS(arg string) error {
	switch {
	case arg != "":
		return c.fail(errArgs)
	case c.tls:
		return c.fail(&Error{Message: "command not permitted when TLS active"})
	case c.srv.TLSConfig == nil:
		return c.fail(&Error{Message: "STLS not supported"})
	}
	c.ok("Begin TLS negotiation")
	if err := c.flush(); err != nil {
		return err
	}
	if n := c.lr.discardBuffered(); n > 0 {
		c.log.Info("discarded data sent after STLS", "bytes", n)
	}
	tc := tls.Server(c.nc, c.srv.TLSConfig)
	if err := c.handshake(tc); err != nil {
		return err
	}
	c.nc, c.tls = tc, true
	c.setIO()
	return nil
}

// count returns the number and total size of the messages not deleted.
func (c *serverConn) count() (n int, size int64) {
	for i, m := range c.msgs {
		if !c.deleted[i] {
			n++
			size += m.Size
		}
	}
	return n, size
}

func (c *serverConn) cmdStat(arg string) error {
	if arg != "" {
		return c.fail(errArgs)
	}
	n, size := c.count()
	c.ok(fmt.Sprintf("%d %d", n, size))
	return nil
}

// message parses a message number argument and checks that the message
// exists and is not deleted.
func (c *serverConn) message(arg string) (int, *Error) {
	n, ok := parseNumber(arg)
	switch {
	case !ok:
		return 0, errBadNumber
	case n < 1 || n > len(c.msgs):
		return 0, errNoSuchMessage
	case c.deleted[n-1]:
		return 0, &Error{Message: "message " + strconv.Itoa(n) + " already deleted"}
	}
	return n, nil
}

func (c *serverConn) cmdList(arg string) error {
	if arg != "" {
		n, e := c.message(arg)
		if e != nil {
			return c.fail(e)
		}
		c.ok(fmt.Sprintf("%d %d", n, c.msgs[n-1].Size))
		return nil
	}
	n, size := c.count()
	c.ok(fmt.Sprintf("%d messages (%d octets)", n, size))
	for i, m := range c.msgs {
		if !c.deleted[i] {
			fmt.Fprintf(c.bw, "%d %d\r\n", i+1, m.Size)
		}
	}
	c.bw.WriteString(".\r\n")
	return nil
}

func (c *serverConn) cmdUIDL(arg string) error {
	if arg != "" {
		n, e := c.message(arg)
		if e != nil {
			return c.fail(e)
		}
		uid := c.msgs[n-1].UID
		if !validUID(uid) {
			return c.failBackend("uidl", fmt.Errorf("invalid unique-id %q of message %d", uid, n))
		}
		c.ok(strconv.Itoa(n) + " " + uid)
		return nil
	}
	for i, m := range c.msgs {
		if !validUID(m.UID) {
			return c.failBackend("uidl", fmt.Errorf("invalid unique-id %q of message %d", m.UID, i+1))
		}
	}
	c.ok("")
	for i, m := range c.msgs {
		if !c.deleted[i] {
			c.bw.WriteString(strconv.Itoa(i+1) + " " + m.UID + "\r\n")
		}
	}
	c.bw.WriteString(".\r\n")
	return nil
}

func (c *serverConn) cmdRetr(arg string) error {
	n, e := c.message(arg)
	if e != nil {
		return c.fail(e)
	}
	return c.send(n, -1, fmt.Sprintf("%d octets", c.msgs[n-1].Size))
}

func (c *serverConn) cmdTop(arg string) error {
	num, lines, ok := strings.Cut(arg, " ")
	k, kok := parseNumber(lines)
	if !ok || !kok {
		return c.fail(errArgs)
	}
	n, e := c.message(num)
	if e != nil {
		return c.fail(e)
	}
	return c.send(n, k, "top of message follows")
}

// send sends message n as a multi-line reply: all of it if lines is
// negative, else its header and that many body lines.
func (c *serverConn) send(n, lines int, text string) error {
	rc, err := c.sess.Open(c.ctx, n)
	if err != nil {
		return c.failBackend("open", err)
	}
	defer rc.Close()
	c.ok(text)
	dw := newDotWriter(c.bw, lines)
	if _, err := io.Copy(dw, rc); err != nil && !errors.Is(err, errTopDone) {
		// The +OK is out: the client can only learn of it by the
		// connection closing before the terminating line.
		if e := c.backendError("read message", err); e != nil {
			return fmt.Errorf("pop3: sending message %d: %w", n, err)
		}
		return errClose
	}
	return dw.Close()
}

func (c *serverConn) cmdDele(arg string) error {
	n, e := c.message(arg)
	if e != nil {
		return c.fail(e)
	}
	c.deleted[n-1] = true
	c.ok(fmt.Sprintf("message %d deleted", n))
	return nil
}

func (c *serverConn) cmdNoop(arg string) error {
	if arg != "" {
		return c.fail(errArgs)
	}
	c.ok("")
	return nil
}

func (c *serverConn) cmdRset(arg string) error {
	if arg != "" {
		return c.fail(errArgs)
	}
	clear(c.deleted)
	n, size := c.count()
	c.ok(fmt.Sprintf("maildrop has %d messages (%d octets)", n, size))
	return nil
}

// lineReader reads command lines, each within a size cap, with deadlines:
// IdleTimeout while it waits for a line to start, and CommandTimeout from
// the first octet of a line to its end (HARDENING G2).
type lineReader struct {
	conn     net.Conn  // where the deadlines are set
	src      io.Reader // conn, or a tee of it
	buf      []byte
	r, w     int
	lineFrom time.Time // when the pending partial line started
	idle     time.Duration
	cmd      time.Duration
}

// hasLine reports whether a complete line is buffered.
func (lr *lineReader) hasLine() bool { return bytes.IndexByte(lr.buf[lr.r:lr.w], '\n') >= 0 }

// pending reports whether part of a line is buffered.
func (lr *lineReader) pending() bool { return lr.r < lr.w }

// readLine returns the next line without its line ending (LF or CRLF,
// HARDENING G8). The line is valid until the next call. A line of more than
// max octets, line ending included, returns errLineTooLong; the part of it
// read is then still buffered, for discardLine.
func (lr *lineReader) readLine(max int) ([]byte, error) {
	for {
		if i := bytes.IndexByte(lr.buf[lr.r:lr.w], '\n'); i >= 0 {
			if i+1 > max {
				return nil, errLineTooLong
			}
			line := lr.buf[lr.r : lr.r+i]
			lr.r += i + 1
			lr.lineFrom = time.Now()
			return bytes.TrimSuffix(line, []byte("\r")), nil
		}
		if lr.w-lr.r >= max {
			return nil, errLineTooLong
		}
		if err := lr.fill(); err != nil {
			return nil, err
		}
	}
}

// discardLine discards input up to and including the next LF. It returns
// errLineTooLong if none comes within max more octets.
func (lr *lineReader) discardLine(max int) error {
	for n := 0; ; {
		if i := bytes.IndexByte(lr.buf[lr.r:lr.w], '\n'); i >= 0 {
			lr.r += i + 1
			lr.lineFrom = time.Now()
			return nil
		}
		n += lr.w - lr.r
		lr.r, lr.w = 0, 0
		if n > max {
			return errLineTooLong
		}
		lr.w = 0
		if err := lr.readMore(); err != nil {
			return err
		}
	}
}

// discardBuffered drops everything buffered and returns its length.
func (lr *lineReader) discardBuffered() int {
	n := lr.w - lr.r
	lr.r, lr.w = 0, 0
	return n
}

// fill reads more input into the buffer, after what is there.
func (lr *lineReader) fill() error {
	if lr.r > 0 {
		lr.w = copy(lr.buf, lr.buf[lr.r:lr.w])
		lr.r = 0
	}
	return lr.readMore()
}

func (lr *lineReader) readMore() error {
	var deadline time.Time
	empty := lr.r == lr.w
	switch {
	case empty && lr.idle > 0:
		deadline = time.Now().Add(lr.idle)
	case !empty && lr.cmd > 0:
		deadline = lr.lineFrom.Add(lr.cmd)
	}
	if err := lr.conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	n, err := lr.src.Read(lr.buf[lr.w:])
	if n > 0 && empty {
		lr.lineFrom = time.Now()
	}
	lr.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// deadlineWriter sets a write deadline before every write.
type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		if err := w.conn.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
			return 0, err
		}
	}
	return w.conn.Write(p)
}
