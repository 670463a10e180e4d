package ftp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// errClose ends a connection quietly: whatever had to be said was said.
var errClose = errors.New("ftp: connection closed")

// Replies sent in more than one place.
var (
	errSyntax      = &Error{Code: 501, Message: "Syntax error in parameters or arguments."}
	errUnknown     = &Error{Code: 500, Message: "Unknown command."}
	errNotLoggedIn = &Error{Code: 530, Message: "Please login with USER and PASS."}
	errReadOnly    = &Error{Code: 550, Message: "Permission denied."}
	errNotExist    = &Error{Code: 550, Message: "No such file or directory."}
	errExist       = &Error{Code: 550, Message: "File exists."}
	errInvalidName = &Error{Code: 550, Message: "Invalid file name."}
	errFailed      = &Error{Code: 550, Message: "Requested action not taken."}
	errNoSpace     = &Error{Code: 452, Message: "Insufficient storage space."}
	errLocal       = &Error{Code: 451, Message: "Requested action aborted: local error in processing."}
	errPlaintext   = &Error{Code: 530, Message: "Non-anonymous sessions must use encryption."}
)

// ServeConn serves FTP on the control connection conn until the client
// quits or the connection fails, and closes conn, the session's data
// connections and its passive listener. It implements sockserver.Handler:
// Serve calls it for every connection it accepts. Call it directly only for
// a connection accepted some other way (from inetd, or a net.Pipe in a
// test); such a connection gets the timeouts of s but is not counted
// against the connection limits, nor closed by Shutdown or Close. A
// connection that is a *tls.Conn (or wraps one, through a NetConn method)
// counts as encrypted.
//
// ctx is passed to the Backend; when it is cancelled the connection and its
// data connections end.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn) (err error) {
	cfg, _ := s.setup()
	c := &session{srv: s, cfg: cfg, ctx: ctx, raw: conn, cwd: "/", facts: defaultFacts}
	defer func() {
		if r := recover(); r != nil {
			log := s.logger().With("remote", lineproto.RemoteString(conn))
			if c.lc != nil {
				log = c.lc.Log
			}
			log.Error("panic serving connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("ftp: panic: %v", r)
		}
		conn.Close()
		c.cleanup()
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

// session is the server side of one control connection: the FTP state
// machine over a lineproto.Conn. Only the session goroutine uses it; a
// transfer runs in a goroutine of its own and a control line is read in
// one while a transfer runs (see readLine).
type session struct {
	srv *Server
	cfg *lineproto.Config
	ctx context.Context
	raw net.Conn // as accepted: MarkBusy, deadlines
	lc  *lineproto.Conn
	bw  *bufio.Writer // lc.Writer()

	user    string // from USER, for PASS
	login   string // the user logged in; "" before login
	fsys    fs.FS  // the tree of the login; nil before login
	wfs     WriteFS
	cwd     string // absolute, cleaned: "/", "/a/b"
	binary  bool   // TYPE I; RFC 959 §3.1.1.1: ASCII is the default
	rest    int64  // from REST, for the next RETR, STOR or APPE
	rnfr    string // from RNFR, for RNTO: the name in the tree
	pbsz    bool   // PBSZ was sent on the encrypted connection
	protP   bool   // PROT P: data connections use TLS
	facts   factSet
	epsvAll bool

	pasv    *passive       // listener of PASV or EPSV
	port    netip.AddrPort // address of PORT or EPRT
	xfer    *transfer      // the transfer running, if any
	pending chan readResult
}

func (c *session) serve() error {
	if c.lc.Inject(fault.MomentConnect) == lineproto.InjectedEnd {
		return errClose
	}
	c.reply(220, "inetkit FTP server ready.")
	for {
		line, err := c.readLine()
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

// cleanup ends what the session still holds when it ends: the transfer
// (its data connection is closed), the read of a control line (the control
// connection is closed first) and the passive listener.
func (c *session) cleanup() {
	if c.xfer != nil {
		c.xfer.abort()
		<-c.xfer.done
		c.xfer = nil
	}
	if c.pending != nil {
		<-c.pending
		c.pending = nil
	}
	c.closeData()
}

// readFailed handles an error of a control line read and says the goodbye
// it calls for: a line too long gets "500" and the connection is closed. It
// returns errClose.
func (c *session) readFailed(err error) error {
	if c.xfer != nil { // the control connection failed; the transfer cannot be answered
		c.xfer.abort()
		<-c.xfer.done
		c.xfer = nil
	}
	c.lc.ReadFailed(err)
	return errClose
}

// readResult is a control line read while a transfer runs.
type readResult struct {
	line []byte
	err  error
}

// readLine returns the next control line. Between transfers the session
// goroutine reads it itself. While a transfer runs, a goroutine reads it
// (one read at a time, so the lineproto.Conn is never used by two at once:
// that goroutine uses only its Reader, the session goroutine only its
// Writer) so that ABOR, STAT and QUIT can be answered during the transfer;
// the transfer's reply is sent as soon as it ends. The idle timeout does not
// end a session while a transfer runs.
func (c *session) readLine() ([]byte, error) {
	for {
		if c.xfer == nil {
			if c.pending == nil {
				return c.lc.ReadLine(MaxLineBytes)
			}
			res := c.stopRead()
			if isTimeout(res.err) {
				continue
			}
			return res.line, res.err
		}
		if err := c.flush(); err != nil {
			return nil, err
		}
		if c.pending == nil {
			c.startRead()
		}
		select {
		case res := <-c.pending:
			c.pending = nil
			switch {
			case errors.Is(res.err, sockserver.ErrServerClosed):
				c.waitTransfer() // then the session ends, as between commands
				continue
			case isTimeout(res.err) && !c.lc.Reader().InCommand():
				continue // an idle timeout: the transfer is what the session does
			}
			return res.line, res.err
		case <-c.xfer.done:
			c.finishTransfer()
		}
	}
}

// startRead starts the read of the next control line in a goroutine.
func (c *session) startRead() {
	ch := make(chan readResult, 1)
	c.pending = ch
	r := c.lc.Reader()
	go func() {
		line, err := r.ReadLine(MaxLineBytes)
		ch <- readResult{bytes.Clone(line), err}
	}()
}

// stopRead ends the pending read of a control line, after a transfer: a
// line that arrived is returned; otherwise a read deadline in the past
// interrupts it, and the session goroutine reads the next line itself, so
// that sockserver's Shutdown, which interrupts only reads that start
// between commands, sees it. The deadline is set again until the read
// returns: the reader may be about to set its own.
func (c *session) stopRead() readResult {
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		c.raw.SetReadDeadline(time.Unix(1, 0))
		select {
		case res := <-c.pending:
			c.pending = nil
			return res
		case <-time.After(wait):
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout())
}

// flush sends the buffered replies. While a transfer runs the connection
// is then marked busy again (a write ends the mark), so that Shutdown lets
// the transfer finish.
func (c *session) flush() error {
	err := c.lc.Flush()
	if c.xfer != nil {
		markBusy(c.raw)
	}
	return err
}

// markBusy marks nc busy for sockserver's Shutdown, through the wrappers
// (implicit TLS) between the handler's connection and sockserver's.
func markBusy(nc net.Conn) {
	for range 4 {
		sockserver.MarkBusy(nc)
		w, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return
		}
		nc = w.NetConn()
	}
}

// reply writes a one-line reply. Octets 0xFF are doubled, as Telnet
// requires (RFC 959 §4.2), and control characters replaced.
func (c *session) reply(code int, text string) {
	c.bw.WriteString(strconv.Itoa(code))
	c.bw.WriteByte(' ')
	c.bw.WriteString(escapeReply(text))
	c.bw.WriteString("\r\n")
}

// multi writes a multi-line reply (RFC 959 §4.2): "code-first", each line
// of body after a space, and "code last".
func (c *session) multi(code int, first string, body []string, last string) {
	c.bw.WriteString(strconv.Itoa(code) + "-" + escapeReply(first) + "\r\n")
	for _, l := range body {
		c.bw.WriteString(" " + escapeReply(l) + "\r\n")
	}
	c.reply(code, last)
}

// escapeReply replaces control characters of a reply text with spaces, so that
// no text (a backend's, a path) can end a reply line, and doubles 0xFF.
func escapeReply(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) && strings.IndexByte(s, 0xff) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == 0xff:
			b.WriteString("\xff\xff")
		case ch < 0x20 || ch == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// replyErr writes e as a reply.
func (c *session) replyErr(e *Error) { c.reply(e.Code, e.Message) }

// fail writes e, a protocol error (unknown command, bad syntax, bad
// sequence, not logged in), counted against the error limits: past
// SoftErrorLimit it is sent after ErrorDelay; at HardErrorLimit the
// connection is closed with "421" in its place. Replies about files (550)
// are not counted: a client mirroring a tree gets many.
func (c *session) fail(e *Error) error {
	return c.replyVerdict(c.lc.Counter.Error(), e)
}

// replyVerdict writes e as verdict v says: late, and followed by the close.
func (c *session) replyVerdict(v lineproto.Verdict, e *Error) error {
	if err := c.lc.Delay(v); err != nil {
		return errClose
	}
	if v.Close != lineproto.ReasonTooManyErrors {
		c.replyErr(e)
	}
	if v.Close != lineproto.ReasonNone {
		c.lc.Log.Info("closing: "+v.Close.String(),
			"errors", c.lc.Counter.Errors(), "auth_failures", c.lc.Counter.AuthFailures())
		c.lc.Goodbye(v.Close)
		return errClose
	}
	return nil
}

// toReply maps an error of the Backend or of the file tree to the reply
// sent, as fsReply does, except that context.Canceled of a session that is
// ending gives nil: the connection is closed without a reply.
func (c *session) toReply(op string, err error) *Error {
	if errors.Is(err, context.Canceled) && c.ctx.Err() != nil {
		return nil
	}
	return fsReply(c.ctx, c.lc.Log, op, err)
}

// failFS answers err of the file operation op.
func (c *session) failFS(op string, err error) error {
	e := c.toReply(op, err)
	if e == nil {
		return errClose
	}
	c.replyErr(e)
	return nil
}

// handle runs one command line. A non-nil error ends the connection.
func (c *session) handle(line []byte) error {
	if c.fsys == nil && lineproto.IsHTTPRequest(line) {
		c.lc.Log.Info("closing: HTTP request on the FTP port", "line", lineproto.Quote(line))
		c.lc.Goodbye(lineproto.ReasonHTTP)
		return errClose
	}
	verb, arg := parseCommand(line)
	cmd, ok := commands[verb]
	if !ok {
		c.lc.Log.Info("unknown command", "line", lineproto.Quote(line))
		return c.fail(errUnknown)
	}
	if c.xfer != nil && !cmd.during {
		c.waitTransfer()
	}
	if verb != "RNTO" {
		c.rnfr = ""
	}
	if verb != "PASS" {
		c.user = ""
	}
	if done, err := c.inject(verb); done {
		return err
	}
	switch {
	case cmd.login && c.fsys == nil:
		return c.fail(errNotLoggedIn)
	case cmd.arg == argNeed && arg == "":
		return c.fail(errSyntax)
	case cmd.write && c.wfs == nil:
		c.replyErr(errReadOnly)
		return nil
	}
	return cmd.run(c, arg)
}

// argRule says whether a command takes an argument.
type argRule int

const (
	argAny  argRule = iota // optional, or checked by the command
	argNeed                // required: "501" without
)

// A cmdSpec is one entry of the command table.
type cmdSpec struct {
	run    func(c *session, arg string) error
	login  bool    // needs a logged-in session: "530" before
	arg    argRule // whether it needs an argument
	write  bool    // changes the tree: "550" on a read-only one
	during bool    // answered while a transfer runs; others wait for its end
}

// commands is the command table, filled by the cmd_*.go files.
var commands = map[string]cmdSpec{}

// addCommand adds commands to the table under each name.
func addCommand(cmd cmdSpec, names ...string) {
	for _, n := range names {
		commands[n] = cmd
	}
}
