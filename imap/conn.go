package imap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strings"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/internal/imapwire"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// A state is a connection state (RFC 9051 §3), as a bit so that a command
// can name the states it is valid in.
type state uint8

const (
	stateNotAuth state = 1 << iota
	stateAuth
	stateSelected
	stateLogout

	stateAny      = stateNotAuth | stateAuth | stateSelected
	stateLoggedIn = stateAuth | stateSelected
)

// A handler runs one command. It is called after the command's name has
// been read, and not the SP after it: it reads the arguments with c.dec
// (c.dec.SP first, then ending with c.dec.End or a ReadX method that reads
// the end), runs the command, writes its untagged
// responses and its tagged OK (c.ok), and returns nil. It returns an error
// instead of writing a tagged NO or BAD; conn.answer is the one place
// errors become responses:
//
//   - a *imapwire.CommandError from the decoder: answered as it says (a
//     tagged BAD or NO, or, if Fatal, "* BYE" and the close), and the rest
//     of the command discarded;
//   - an *Error (or an error wrapping one), from the handler or the
//     backend: a tagged NO or BAD with its code;
//   - errClose: the connection ends at once, whatever had to be said said;
//   - an I/O error of the connection (a read or write that failed or timed
//     out): the connection ends, with the "* BYE" its reason calls for;
//   - any other error, from the backend: logged, and answered with
//     "NO [SERVERBUG]"; the session goes on.
//
// A BAD counts against the error limits of the connection.
type handler func(c *conn, tag string) error

type command struct {
	states state // the states the command is valid in
	run    handler
}

// commands are the commands the server knows, by name as
// imapwire.Decoder.ReadCommand returns it ("UID FETCH"). Each file
// registers its own in an init function.
var commands = map[string]command{}

func register(name string, states state, run handler) {
	if _, dup := commands[name]; dup {
		panic("imapd: command registered twice: " + name)
	}
	commands[name] = command{states, run}
}

// errClose ends a connection quietly: whatever had to be said was said.
var errClose = errors.New("imap: connection closed")

// errServerBug answers an error of the backend that is not an *Error.
var errServerBug = &Error{Code: "SERVERBUG", Text: "Internal error occurred. Refer to server log for more information."}

// conn is the server side of one connection.
type conn struct {
	srv *Server
	ctx context.Context
	lc  *lineproto.Conn
	dec *imapwire.Decoder
	enc *imapwire.Encoder

	state    state
	cmd      string          // the name of the command being run
	username string          // once logged in
	user     User            // once logged in
	enabled  map[string]bool // ENABLEd extensions (RFC 5161), upper case: CONDSTORE, QRESYNC, UTF8=ACCEPT, IMAP4REV2
	sel      *selected       // the selected mailbox, nil unless state is stateSelected
	notify   *notifyState    // what NOTIFY SET asked for (RFC 5465), nil if none

	commands   int  // commands read so far
	compressed bool // COMPRESS=DEFLATE is on (RFC 4978)
}

// ServeConn serves IMAP on conn until the client logs out or the connection
// fails, and closes conn. It implements sockserver.Handler: Serve calls it
// for every connection it accepts. Call it directly only for a connection
// accepted some other way (from inetd, or a net.Pipe in a test); such a
// connection gets the timeouts of s but is not counted against the
// connection limits, nor closed by Shutdown or Close. A connection that is
// a *tls.Conn (or wraps one, through a NetConn method) counts as
// encrypted; one from a lineproto.ImplicitTLS listener starts with a TLS
// handshake, with s.TLSConfig. Either handshake must end within
// CommandTimeout.
//
// ctx is passed to the Backend; when it is cancelled the connection ends.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) (err error) {
	if s.Backend == nil {
		nc.Close()
		return errors.New("imap: Server.Backend is nil")
	}
	cfg, _ := s.setup()
	c := &conn{srv: s, ctx: ctx, state: stateNotAuth}
	defer func() {
		if r := recover(); r != nil {
			log := s.logger().With("remote", lineproto.RemoteString(nc))
			if c.lc != nil {
				log = c.lc.Log
			}
			log.Error("panic serving connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("imap: panic: %v", r)
		}
		c.release()
		nc.Close()
	}()
	if c.lc, err = lineproto.NewConn(ctx, nc, cfg); err != nil {
		return nil // a failed TLS handshake, logged
	}
	// IMAP sessions idle for hours (RFC 9051 §5.4): no read buffer is held
	// while one waits for a command.
	c.lc.Reader().SetIdleRelease(true)
	c.enc = imapwire.NewEncoder(c.lc.Writer())
	c.dec = imapwire.NewDecoder(c.lc.Reader(), &imapwire.Options{
		MaxLineBytes:        s.maxLineBytes(),
		MaxMessageBytes:     s.maxLiteralBytes(),
		ContinuationRequest: c.continueLiteral,
	})
	err = c.serve()
	if errors.Is(err, errClose) {
		err = nil
	}
	return err
}

// continueLiteral sends the continuation request of a synchronizing
// literal (RFC 9051 §7.5).
func (c *conn) continueLiteral() error { return c.enc.Continuation("Ready for literal data") }

// release closes the selected mailbox and the user, if any.
func (c *conn) release() {
	if c.sel != nil {
		if err := c.sel.mbox.Close(); err != nil && c.lc != nil {
			c.lc.Log.Warn("closing mailbox", "err", err)
		}
		c.sel = nil
	}
	if c.user != nil {
		if err := c.user.Close(); err != nil && c.lc != nil {
			c.lc.Log.Warn("closing user", "err", err)
		}
		c.user = nil
	}
}

func (c *conn) serve() error {
	if c.injectConnect() {
		return errClose
	}
	c.enc.Star().Atom("OK [CAPABILITY ").Atom(c.capabilities()).Atom("] inetkit IMAP server ready")
	if err := c.enc.CRLF(); err != nil {
		return errClose
	}
	for {
		if err := c.next(); err != nil {
			c.lc.Flush()
			return err
		}
		if c.state == stateLogout {
			c.lc.Flush()
			return errClose
		}
	}
}

// next reads and runs one command. A non-nil error ends the connection.
func (c *conn) next() error {
	r := c.lc.Reader()
	if !r.HasLine() {
		// An idle connection holds no write buffer.
		if err := c.lc.Rest(); err != nil {
			return errClose
		}
	}
	c.cmd = ""
	c.commands++
	if c.commands == 1 {
		http, err := c.httpRequest()
		if err != nil {
			c.lc.ReadFailed(err)
			return errClose
		}
		if http {
			c.lc.Log.Info("closing: HTTP request on the IMAP port")
			c.lc.Goodbye(lineproto.ReasonHTTP)
			return errClose
		}
	}
	tag, name, err := c.dec.ReadCommand()
	c.lc.Wake()
	if err != nil {
		return c.answer(tag, err)
	}
	c.cmd = name
	cmd, ok := commands[name]
	if !ok {
		c.lc.Log.Info("unknown command", "command", lineproto.Quote([]byte(name)))
		return c.answer(tag, &Error{Type: "BAD", Text: "Error in IMAP command " + name + ": Unknown command."})
	}
	if cmd.states&c.state == 0 {
		return c.answer(tag, c.wrongState(name))
	}
	if answered, err := c.injectCommand(tag, name); answered {
		return err
	}
	return c.answer(tag, cmd.run(c, tag))
}

// httpRequest reports whether the first line the client sent, if it came
// whole in the first read, is an HTTP request: a browser or proxy on the
// wrong port, or a cross-protocol attack.
func (c *conn) httpRequest() (bool, error) {
	b, err := c.lc.Reader().Peek()
	if err != nil {
		return false, err
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return false, nil
	}
	return lineproto.IsHTTPRequest(bytes.TrimSuffix(b[:i], []byte("\r"))), nil
}

// wrongState is the answer to a known command sent in a state it is not
// valid in, in Dovecot's words.
func (c *conn) wrongState(name string) error {
	switch c.state {
	case stateNotAuth:
		return &Error{Type: "BAD", Text: "Error in IMAP command " + name + ": Not logged in."}
	case stateAuth:
		if commands[name].states&stateSelected != 0 {
			return &Error{Type: "BAD", Text: "Error in IMAP command " + name + ": No mailbox selected."}
		}
	}
	return &Error{Type: "BAD", Text: "Error in IMAP command " + name + ": Already logged in."}
}

// answer answers err, the outcome of the command tag: see handler. It
// returns a non-nil error when the connection must end.
func (c *conn) answer(tag string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errClose) {
		return errClose
	}
	var ce *imapwire.CommandError
	if errors.As(err, &ce) {
		if ce.Fatal {
			return c.fatal(ce)
		}
		c.lc.Log.Info("command refused", "command", c.cmd, "type", ce.Type, "code", ce.Code, "text", ce.Text)
		if err := c.reply(tag, &Error{Type: ce.Type, Code: ce.Code, Text: ce.Text}); err != nil {
			return err
		}
		return c.discard()
	}
	var e *Error
	if errors.As(err, &e) {
		if err := c.reply(tag, e); err != nil {
			return err
		}
		return c.discard()
	}
	if c.ioError(err) {
		c.lc.ReadFailed(err)
		return errClose
	}
	c.lc.Log.Error("backend error", "command", c.cmd, "user", c.username, "err", err)
	if err := c.reply(tag, errServerBug); err != nil {
		return err
	}
	return c.discard()
}

// discard skips what the client sent of a refused command.
func (c *conn) discard() error {
	err := c.dec.Discard()
	if err == nil {
		return nil
	}
	var ce *imapwire.CommandError
	if errors.As(err, &ce) {
		return c.fatal(ce)
	}
	c.lc.ReadFailed(err)
	return errClose
}

// fatal ends the connection after a command that cannot be told apart
// from what follows it (a line too long, a literal too large to skip).
func (c *conn) fatal(ce *imapwire.CommandError) error {
	if ce.Code == "TOOBIG" {
		c.lc.Log.Warn("closing: " + ce.Text)
	} else {
		c.lc.Log.Info("closing: " + ce.Text)
	}
	line := "* BYE "
	if ce.Code != "" {
		line += "[" + ce.Code + "] "
	}
	c.lc.Hangup(line + ce.Text)
	return errClose
}

// ioError reports whether err is a failure of the connection itself: a
// read or write that failed or timed out, or the server shutting down.
func (c *conn) ioError(err error) bool {
	var ne net.Error
	switch {
	case c.enc.Err() != nil,
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, sockserver.ErrServerClosed), errors.Is(err, lineproto.ErrLineTooLong),
		errors.As(err, &ne):
		return true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return c.ctx.Err() != nil
	}
	return false
}

// reply writes e as the tagged response to tag (untagged if tag is ""),
// counted against the error limits if it is a BAD: past SoftErrorLimit it
// is sent after ErrorDelay; at HardErrorLimit the connection is closed with
// "* BYE Too many errors" in its place.
func (c *conn) reply(tag string, e *Error) error {
	typ := e.Type
	if typ == "" {
		typ = "NO"
	}
	if typ == "BAD" {
		v := c.lc.Counter.Error()
		if err := c.lc.Delay(v); err != nil {
			return errClose
		}
		if v.Close != lineproto.ReasonNone {
			c.lc.Log.Info("closing: "+v.Close.String(), "errors", c.lc.Counter.Errors())
			c.lc.Goodbye(v.Close)
			return errClose
		}
	}
	if tag == "" && typ != "BYE" {
		typ = "BAD"
	}
	c.enc.StatusResponse(tag, typ, e.Code, e.Text)
	return nil
}

// ok writes the tagged OK of the command tag, with a response code (such as
// "READ-WRITE", written in brackets) if code is not "": first what the
// client has not been told of (c.writeUpdates): the updates of the
// selected mailbox, if any, and NOTIFY's events, in any state.
func (c *conn) ok(tag, code, text string) error {
	if err := c.writeUpdates(); err != nil {
		return err
	}
	return c.enc.StatusResponse(tag, "OK", code, text)
}

// untagged writes "* " line CRLF: an untagged response whose text needs no
// encoding.
func (c *conn) untagged(line string) error {
	return c.enc.Star().Atom(line).CRLF()
}

// setUTF8 switches mailbox names and strings to UTF-8, after ENABLE
// UTF8=ACCEPT or IMAP4rev2 (RFC 6855 §3, RFC 9051 §6.3.1).
func (c *conn) setUTF8() {
	c.dec.SetUTF8(true)
	c.enc.SetUTF8(true)
}

// fire consults the server's faults at moment for this connection.
func (c *conn) fire(moment string) (fault.Rule, bool) {
	return c.lc.Fault(fault.Point{Moment: moment, User: c.username})
}

// injectConnect injects the fault that fires as the connection opens, and
// reports whether it ended the connection: a reply (a "* BYE") in place of
// the greeting, a close, a reset, a hang. A delay holds the greeting back.
func (c *conn) injectConnect() bool {
	r, ok := c.fire(fault.MomentConnect)
	if !ok {
		return false
	}
	if r.Text != "" && !strings.HasPrefix(r.Text, "* ") {
		r.Text = "* " + r.Text
	}
	return c.lc.InjectRule(r) == lineproto.InjectedEnd
}

// injectCommand injects the fault that fires at command name (without
// "UID "), whose tag and name have been read. A reply is the tagged
// response to the command, which is read and discarded first; an
// untagged "* BYE" reply ends the connection, as a close does. It reports
// whether the fault answered the command; a non-nil error ends the
// connection.
func (c *conn) injectCommand(tag, name string) (bool, error) {
	r, ok := c.fire(strings.TrimPrefix(name, "UID "))
	if !ok {
		return false, nil
	}
	switch r.Kind {
	case fault.KindDiskFull, fault.KindStoreError:
		r.Kind, r.Text = fault.KindReply, faultReply(r.Kind)
	}
	switch r.Kind {
	case fault.KindReply, fault.KindClose:
		if err := c.discard(); err != nil {
			return true, err
		}
		if strings.HasPrefix(r.Text, "* ") {
			r.Kind = fault.KindClose
		} else if r.Text != "" {
			r.Text = tag + " " + r.Text
		}
	}
	switch c.lc.InjectRule(r) {
	case lineproto.InjectedEnd:
		return true, errClose
	case lineproto.InjectedReply:
		return true, nil
	}
	return false, nil
}
