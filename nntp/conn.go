package nntp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
)

// maxSASLBytes caps a line answering an AUTHINFO SASL continuation.
const maxSASLBytes = 1024

// Replies sent in more than one place.
var (
	errInternal     = &Error{Code: 403, Message: "Internal fault"}
	errLineLong     = &Error{Code: 501, Message: "Command line too long"}
	errUnknown      = &Error{Code: 500, Message: "Unknown command"}
	errSyntax       = &Error{Code: 501, Message: "Syntax error"}
	errNoGroup      = &Error{Code: 412, Message: "No newsgroup selected"}
	errNoCurrent    = &Error{Code: 420, Message: "Current article number is invalid"}
	errNoNumber     = &Error{Code: 423, Message: "No article with that number"}
	errNoRange      = &Error{Code: 423, Message: "No articles in that range"}
	errNoID         = &Error{Code: 430, Message: "No article with that message-id"}
	errAuthRequired = &Error{Code: 480, Message: "Authentication required"}
	errEncryption   = &Error{Code: 483, Message: "Encryption required for authentication"}
	errAuthDone     = &Error{Code: 502, Message: "Already authenticated"}
)

// errClose ends a connection quietly: whatever had to be said was said.
var errClose = errors.New("nntp: connection closed")

// ServeConn serves NNTP on conn until the client quits or the connection
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
	c := &serverConn{srv: s, cfg: cfg, ctx: ctx, raw: conn, host: s.host}
	defer func() {
		if r := recover(); r != nil {
			log := s.logger().With("remote", lineproto.RemoteString(conn))
			if c.lc != nil {
				log = c.lc.Log
			}
			log.Error("panic serving connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("nntp: panic: %v", r)
		}
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

// serverConn is the server side of one connection.
type serverConn struct {
	srv  *Server
	cfg  *lineproto.Config
	ctx  context.Context
	raw  net.Conn // as accepted: MarkBusy
	lc   *lineproto.Conn
	bw   *bufio.Writer // lc.Writer()
	host string

	user    string // logged in as; "" before AUTHINFO
	pending string // AUTHINFO USER's name, for PASS
	group   string // the selected group; "" for none
	cur     int64  // the current article number; 0 if invalid
}

func (c *serverConn) serve() error {
	if c.lc.Inject(fault.MomentConnect) == lineproto.InjectedEnd {
		return errClose
	}
	if c.mayPost() {
		c.reply(200, "inetkit NNTP server ready, posting allowed")
	} else {
		c.reply(201, "inetkit NNTP server ready, no posting")
	}
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

// readFailed handles an error of a line read: nil after a line too long
// (the session goes on), errClose otherwise, with the goodbye said.
func (c *serverConn) readFailed(err error) error {
	if errors.Is(err, lineproto.ErrLineTooLong) {
		c.lc.Log.Info("command line too long")
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
	c.lc.ReadFailed(err)
	return errClose
}

// reply writes a reply line.
func (c *serverConn) reply(code int, text string) {
	c.bw.WriteString(strconv.Itoa(code))
	c.bw.WriteByte(' ')
	c.bw.WriteString(text)
	c.bw.WriteString("\r\n")
}

// line writes a line of a multi-line reply, dot-stuffed.
func (c *serverConn) line(s string) {
	if strings.HasPrefix(s, ".") {
		c.bw.WriteByte('.')
	}
	c.bw.WriteString(s)
	c.bw.WriteString("\r\n")
}

// end ends a multi-line reply.
func (c *serverConn) end() { c.bw.WriteString(".\r\n") }

// writeErr writes e as a reply, with control characters of a backend's
// text replaced.
func (c *serverConn) writeErr(e *Error) {
	code := e.Code
	if code < 400 || code > 599 {
		code = 403
	}
	c.reply(code, cleanText(e.Message))
}

func cleanText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// send writes e, a reply that tells an outcome rather than a client's
// mistake (no such group, no such article): it is not counted against the
// error limits, since readers ask for articles that are gone all the time.
func (c *serverConn) send(e *Error) error {
	c.writeErr(e)
	return nil
}

// fail writes e as a reply counted against the error limits: past
// SoftErrorLimit it is sent after ErrorDelay; at HardErrorLimit the
// connection is closed with "400 too many errors" in place of e.
func (c *serverConn) fail(e *Error) error {
	return c.verdict(c.lc.Counter.Error(), e)
}

func (c *serverConn) verdict(v lineproto.Verdict, e *Error) error {
	if err := c.lc.Delay(v); err != nil {
		return errClose
	}
	if v.Close != lineproto.ReasonTooManyErrors {
		c.writeErr(e)
	}
	if v.Close != lineproto.ReasonNone {
		c.lc.Log.Info("closing: "+v.Close.String(),
			"errors", c.lc.Counter.Errors(), "auth_failures", c.lc.Counter.AuthFailures())
		c.lc.Goodbye(v.Close)
		return errClose
	}
	return nil
}

// backendError maps an error of the Backend to the reply sent: a *Error
// (or an error wrapping one) as it is; context.Canceled closes the
// connection (nil); anything else is logged and answered with internal.
// It is the one place this mapping lives.
func (c *serverConn) backendError(op string, err error, internal *Error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) && c.ctx.Err() != nil {
		return nil
	}
	c.lc.Log.Error("backend error", "op", op, "user", c.user, "err", err)
	return internal
}

// failBackend answers err of the backend operation op.
func (c *serverConn) failBackend(op string, err error) error {
	e := c.backendError(op, err, errInternal)
	if e == nil {
		return errClose
	}
	return c.send(e)
}

// handle runs one command line. A non-nil error ends the connection.
func (c *serverConn) handle(line []byte) error {
	if lineproto.IsHTTPRequest(line) {
		c.lc.Log.Info("closing: HTTP request on the NNTP port", "line", lineproto.Quote(line))
		c.lc.Goodbye(lineproto.ReasonHTTP)
		return errClose
	}
	cmd, ok := parseCommand(line)
	if !ok {
		c.lc.Log.Info("invalid command line", "line", lineproto.Quote(line))
		return c.fail(errSyntax)
	}
	if cmd.name != "AUTHINFO" {
		c.pending = ""
	}
	if cmd.name != "POST" && cmd.name != "IHAVE" { // at the end of the article
		switch c.lc.Inject(cmd.name) {
		case lineproto.InjectedReply:
			return nil
		case lineproto.InjectedEnd:
			return errClose
		}
	}
	a := cmd.args
	switch cmd.name {
	case "CAPABILITIES":
		return c.cmdCapabilities(a)
	case "MODE":
		return c.cmdMode(a)
	case "QUIT":
		if len(a) > 0 {
			return c.fail(errSyntax)
		}
		c.reply(205, "closing connection")
		return errClose
	case "DATE":
		if len(a) > 0 {
			return c.fail(errSyntax)
		}
		c.reply(111, time.Now().UTC().Format("20060102150405"))
		return nil
	case "HELP":
		return c.cmdHelp(a)
	case "AUTHINFO":
		return c.cmdAuthinfo(a)
	case "STARTTLS":
		return c.cmdStartTLS(a)
	case "GROUP":
		return c.cmdGroup(a)
	case "LISTGROUP":
		return c.cmdListGroup(a)
	case "ARTICLE":
		return c.cmdArticle(a, 220)
	case "HEAD":
		return c.cmdArticle(a, 221)
	case "BODY":
		return c.cmdArticle(a, 222)
	case "STAT":
		return c.cmdArticle(a, 223)
	case "NEXT":
		return c.cmdNext(a)
	case "LAST":
		return c.cmdLast(a)
	case "OVER", "XOVER":
		return c.cmdOver(a)
	case "HDR":
		return c.cmdHdr(a, 225)
	case "XHDR":
		return c.cmdHdr(a, 221)
	case "LIST":
		return c.cmdList(a)
	case "NEWGROUPS":
		return c.cmdNewGroups(a)
	case "NEWNEWS":
		return c.cmdNewNews(a)
	case "POST":
		return c.cmdPost(a)
	case "IHAVE":
		return c.cmdIHave(a)
	}
	c.lc.Log.Info("unknown command", "line", lineproto.Quote(line))
	return c.fail(errUnknown)
}

// plaintextOK reports whether passwords may be sent on this connection.
func (c *serverConn) plaintextOK() bool { return c.lc.TLS() || c.srv.InsecureAuth }

// mayPost reports whether POST and IHAVE are allowed now.
func (c *serverConn) mayPost() bool { return c.srv.AllowAnonymousPost || c.user != "" }

// cmdCapabilities answers CAPABILITIES (RFC 3977 §5.2, RFC 4642 §2.1,
// RFC 4643 §2.2).
func (c *serverConn) cmdCapabilities(a []string) error {
	if len(a) > 1 {
		return c.fail(errSyntax)
	}
	c.reply(101, "Capability list:")
	c.line("VERSION 2")
	c.line("READER")
	if c.mayPost() {
		c.line("IHAVE")
		c.line("POST")
	}
	c.line("NEWNEWS")
	c.line("HDR")
	c.line("OVER MSGID")
	c.line("LIST ACTIVE NEWSGROUPS OVERVIEW.FMT HEADERS ACTIVE.TIMES DISTRIB.PATS")
	if c.user == "" {
		if c.srv.TLSConfig != nil && !c.lc.TLS() {
			c.line("STARTTLS")
		}
		if c.plaintextOK() {
			c.line("AUTHINFO USER SASL")
			c.line("SASL PLAIN")
		} else {
			c.line("AUTHINFO")
		}
	}
	c.line("IMPLEMENTATION inetkit")
	c.end()
	return nil
}

// cmdMode answers MODE READER (RFC 3977 §5.3); the server is always a
// reader server, so it only repeats the greeting's posting status.
func (c *serverConn) cmdMode(a []string) error {
	if len(a) != 1 || !strings.EqualFold(a[0], "READER") {
		return c.fail(errSyntax)
	}
	if c.mayPost() {
		c.reply(200, "Posting allowed")
	} else {
		c.reply(201, "Posting prohibited")
	}
	return nil
}

var helpText = []string{
	"ARTICLE [message-id|number]",
	"AUTHINFO USER name|PASS password|SASL PLAIN [response]",
	"BODY [message-id|number]",
	"CAPABILITIES",
	"DATE",
	"GROUP newsgroup",
	"HDR field [message-id|range]",
	"HEAD [message-id|number]",
	"HELP",
	"IHAVE message-id",
	"LAST",
	"LIST [ACTIVE|ACTIVE.TIMES|NEWSGROUPS [wildmat]|DISTRIB.PATS|HEADERS|OVERVIEW.FMT]",
	"LISTGROUP [newsgroup [range]]",
	"MODE READER",
	"NEWGROUPS [yy]yymmdd hhmmss [GMT]",
	"NEWNEWS wildmat [yy]yymmdd hhmmss [GMT]",
	"NEXT",
	"OVER [message-id|range]",
	"POST",
	"QUIT",
	"STARTTLS",
	"STAT [message-id|number]",
}

func (c *serverConn) cmdHelp(a []string) error {
	if len(a) > 0 {
		return c.fail(errSyntax)
	}
	c.reply(100, "Help text follows")
	for _, l := range helpText {
		c.line("  " + l)
	}
	c.end()
	return nil
}

// cmdStartTLS answers STARTTLS and starts TLS (RFC 4642). Whatever the
// client sent after the command line is discarded, never read as a command
// inside TLS (RFC 4642 §2.2.2).
func (c *serverConn) cmdStartTLS(a []string) error {
	switch {
	case len(a) > 0:
		return c.fail(errSyntax)
	case c.lc.TLS():
		return c.fail(&Error{Code: 502, Message: "TLS already active"})
	case c.user != "":
		return c.fail(&Error{Code: 502, Message: "Command unavailable after authentication"})
	case c.srv.TLSConfig == nil:
		return c.fail(&Error{Code: 580, Message: "Can not initiate TLS negotiation"})
	}
	c.reply(382, "Continue with TLS negotiation")
	if err := c.lc.StartTLS(); err != nil {
		return errClose // logged
	}
	c.group, c.cur = "", 0
	return nil
}
