package pop3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
)

// maxSASLBytes caps a line answering an AUTH continuation (RFC 5034 §4
// lets them exceed 255 octets).
const maxSASLBytes = 1024

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
	cfg, _ := s.setup()
	c := &serverConn{srv: s, cfg: cfg, ctx: ctx}
	defer func() {
		if r := recover(); r != nil {
			log := s.logger().With("remote", lineproto.RemoteString(conn))
			if c.lc != nil {
				log = c.lc.Log
			}
			log.Error("panic serving connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("pop3: panic: %v", r)
		}
		c.closeSession()
		conn.Close()
	}()
	if c.lc, err = lineproto.NewConn(ctx, conn, cfg); err != nil {
		return nil // a failed TLS handshake, logged
	}
	c.bw = c.lc.Writer()
	err = c.serve()
	if errors.Is(err, errClose) {
		err = nil
	}
	return err
}

// serverConn is the server side of one connection: the POP3 state machine
// over a lineproto.Conn.
type serverConn struct {
	srv *Server
	cfg *lineproto.Config
	ctx context.Context
	lc  *lineproto.Conn
	bw  *bufio.Writer // lc.Writer()

	timestamp string // of the greeting, "" without APOP
	state     ConnState
	user      string // from USER, for PASS

	sess    Session
	msgs    []MessageInfo
	deleted []bool
}

func (c *serverConn) serve() error {
	if _, ok := c.srv.Backend.(BackendAPOP); ok {
		c.timestamp = newTimestamp()
	}
	if c.lc.Inject(fault.MomentConnect) == lineproto.InjectedEnd {
		return errClose
	}
	greeting := "inetkit POP3 server ready"
	if c.timestamp != "" {
		greeting += " " + c.timestamp
	}
	c.ok(greeting)
	for {
		line, err := c.lc.ReadLine(MaxLineBytes)
		if err != nil {
			if err := c.readFailed(err); err != nil {
				return err
			}
			continue
		}
		if err := c.handle(line); err != nil {
			c.lc.Flush()
			return err
		}
	}
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

// readFailed handles an error of a line read. It returns nil when the
// session goes on (after a line too long), and errClose to end it, with
// the goodbye the error calls for said.
func (c *serverConn) readFailed(err error) error {
	if errors.Is(err, lineproto.ErrLineTooLong) {
		return c.lineTooLong()
	}
	c.lc.ReadFailed(err)
	return errClose
}

// lineTooLong answers an overlong line and discards the rest of it. If its
// end does not come within lineproto.MaxDiscardBytes the connection is
// closed at once: the -ERR has been sent, and reading on for a goodbye
// would only read more in vain.
func (c *serverConn) lineTooLong() error {
	c.lc.Log.Info("command line too long", "state", c.state)
	if err := c.fail(errLineLong); err != nil {
		return err
	}
	if err := c.lc.Flush(); err != nil {
		return errClose
	}
	if err := c.lc.Reader().DiscardLine(lineproto.MaxDiscardBytes); err != nil {
		if errors.Is(err, lineproto.ErrLineTooLong) {
			c.lc.Log.Warn("closing: no end of line within the limit", "limit", lineproto.MaxDiscardBytes)
			return errClose
		}
		c.lc.ReadFailed(err)
		return errClose
	}
	return nil
}

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

// fail writes e as a "-ERR" reply, counted against the error limits: past
// SoftErrorLimit the reply is sent after ErrorDelay; at HardErrorLimit the
// connection is closed, with "-ERR too many errors" in place of e.
func (c *serverConn) fail(e *Error) error {
	return c.reply(c.lc.Counter.Error(), e)
}

// reply writes the error reply e as verdict v says: late, and followed by
// the close. Every command gets one reply, so a verdict of too many errors
// replaces e with its goodbye.
func (c *serverConn) reply(v lineproto.Verdict, e *Error) error {
	if err := c.lc.Delay(v); err != nil {
		return errClose
	}
	if v.Close != lineproto.ReasonTooManyErrors {
		c.writeErr(e)
	}
	if v.Close != lineproto.ReasonNone {
		c.lc.Log.Info("closing: "+v.Close.String(), "state", c.state,
			"errors", c.lc.Counter.Errors(), "auth_failures", c.lc.Counter.AuthFailures())
		c.lc.Goodbye(v.Close)
		return errClose
	}
	return nil
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
	c.lc.Log.Error("backend error", "op", op, "user", c.user, "err", err)
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

// handle runs one command line. A non-nil error ends the connection.
func (c *serverConn) handle(line []byte) error {
	if lineproto.IsHTTPRequest(line) {
		c.lc.Log.Info("closing: HTTP request on the POP3 port", "line", lineproto.Quote(line))
		c.lc.Goodbye(lineproto.ReasonHTTP)
		return errClose
	}
	cmd, err := parseCommand(line)
	if err != nil {
		c.lc.Log.Info("invalid command line", "state", c.state, "line", lineproto.Quote(line))
		return c.fail(errSyntax)
	}
	if cmd.name != "PASS" {
		c.user = ""
	}
	switch c.lc.Inject(cmd.name) {
	case lineproto.InjectedReply:
		return nil
	case lineproto.InjectedEnd:
		return errClose
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
	c.lc.Log.Info("unknown command", "state", c.state, "line", lineproto.Quote(line))
	return c.fail(errUnknown)
}

// plaintextOK reports whether passwords may be sent on this connection.
func (c *serverConn) plaintextOK() bool { return c.lc.TLS() || c.srv.InsecureAuth }

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
		if c.srv.TLSConfig != nil && !c.lc.TLS() {
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
		c.lc.Log.Warn("closing session", "err", err)
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
	return c.login(user, func() (Session, error) {
		return c.srv.Backend.Login(c.ctx, user, arg)
	})
}

func (c *serverConn) cmdAPOP(arg string) error {
	user, digest, ok := strings.Cut(arg, " ")
	digest = strings.ToLower(digest)
	if !ok || user == "" || len(digest) != 2*md5.Size || strings.Trim(digest, "0123456789abcdef") != "" {
		return c.fail(errArgs)
	}
	return c.login(user, func() (Session, error) {
		return c.srv.Backend.(BackendAPOP).LoginAPOP(c.ctx, user, c.timestamp, digest)
	})
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
		line, err := c.lc.ReadLine(maxSASLBytes)
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
	return c.login(user, func() (Session, error) {
		if authz != "" && authz != user {
			return nil, &Error{Code: "AUTH", Message: "authorization identity not allowed"}
		}
		return c.srv.Backend.Login(c.ctx, user, pass)
	})
}

// login makes a login attempt as user, with check testing the
// credentials. The attempt first waits as long as the AuthLimiter says for
// user and the client's address, whatever the credentials, so that the wait
// tells nothing about them. A failed login (an *Error with the AUTH code) is
// counted there and by the connection's Counter, and answered late; on
// success the session enters the TRANSACTION state.
func (c *serverConn) login(user string, check func() (Session, error)) error {
	limiter, remote := c.cfg.AuthLimiter, c.lc.RemoteAddr()
	if limiter.Delay(remote, user) > 0 {
		if err := c.lc.Flush(); err != nil { // the replies before the attempt are not held up
			return errClose
		}
	}
	if err := limiter.Wait(c.ctx, remote, user); err != nil {
		return errClose
	}
	sess, err := check()
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == "AUTH" {
			limiter.Failed(remote, user)
			c.lc.Log.Info("authentication failed", "user", user, "failures", c.lc.Counter.AuthFailures()+1)
			return c.reply(c.lc.Counter.AuthFailure(), e)
		}
		return c.failBackend("login", err)
	}
	limiter.Succeeded(remote, user)
	if r, ok := c.lc.Fault(fault.Point{Moment: fault.MomentLogin, User: user}); ok {
		if did := c.lc.InjectRule(r); did != lineproto.InjectedNone {
			if err := sess.Close(); err != nil {
				c.lc.Log.Warn("closing session", "err", err)
			}
			if did == lineproto.InjectedEnd {
				return errClose
			}
			return nil
		}
	}
	msgs, err := sess.List(c.ctx)
	if err != nil {
		if cerr := sess.Close(); cerr != nil {
			c.lc.Log.Warn("closing session", "err", cerr)
		}
		return c.failBackend("list", err)
	}
	c.sess, c.msgs, c.deleted = sess, msgs, make([]bool, len(msgs))
	c.state = ConnStateTransaction
	c.user = ""
	c.lc.User = user
	c.lc.Log = c.lc.Log.With("user", user)
	n, size := c.count()
	c.ok(fmt.Sprintf("maildrop has %d messages (%d octets)", n, size))
	return nil
}

// cmdSTLS answers STLS and starts TLS (RFC 2595 §4). Whatever the client
// sent after the STLS line is discarded, never read as a command inside TLS
// (RFC 2595 §3.1).
func (c *serverConn) cmdSTLS(arg string) error {
	switch {
	case arg != "":
		return c.fail(errArgs)
	case c.lc.TLS():
		return c.fail(&Error{Message: "command not permitted when TLS active"})
	case c.srv.TLSConfig == nil:
		return c.fail(&Error{Message: "STLS not supported"})
	}
	c.ok("Begin TLS negotiation")
	if err := c.lc.StartTLS(); err != nil {
		return errClose // logged
	}
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
// negative, else its header and that many body lines. The message is
// copied in chunks of at most copyBufferBytes, each written to the
// connection under its own write deadline: a large message, or one long
// line, is never held whole in memory, and a client that reads slowly but
// steadily gets all of it.
func (c *serverConn) send(n, lines int, text string) error {
	rc, err := c.sess.Open(c.ctx, n)
	if err != nil {
		return c.failBackend("open", err)
	}
	defer rc.Close()
	c.ok(text)
	dw := lineproto.NewDotWriter(c.bw)
	dw.LimitBody(lines)
	// Only Read: a WriteTo method would hand over the message in one
	// piece, written to the connection under one deadline.
	bp := copyBuffers.Get().(*[]byte)
	_, err = io.CopyBuffer(dw, struct{ io.Reader }{rc}, *bp)
	copyBuffers.Put(bp)
	if err != nil && !errors.Is(err, lineproto.ErrBodyLinesDone) {
		// The +OK is out: the client can only learn of it by the
		// connection closing before the terminating line.
		if e := c.backendError("read message", err); e != nil {
			return fmt.Errorf("pop3: sending message %d: %w", n, err)
		}
		return errClose
	}
	return dw.Close()
}

// copyBufferBytes is the largest piece of a message that RETR and TOP write
// to the connection at once.
const copyBufferBytes = 32 << 10

// copyBuffers holds the buffers of RETR and TOP, shared by the connections.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferBytes); return &b }}

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
