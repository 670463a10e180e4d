package imap

import (
	"context"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// fire consults s.Faults at moment for the connection raw, of user.
func (s *Server) fire(raw net.Conn, moment, user string) (fault.Rule, bool) {
	var remote fault.Point
	if ta, ok := raw.RemoteAddr().(*net.TCPAddr); ok {
		remote.Remote = ta.AddrPort().Addr().Unmap()
	}
	return s.Faults.Fire(fault.Point{
		Service:      "imap",
		Moment:       moment,
		Remote:       remote.Remote,
		RemoteString: lineproto.RemoteString(raw),
		User:         user,
	})
}

// injectConnect injects the fault that fires as the connection raw (inner
// after TLS) opens, and reports whether it ended the connection: a reply
// (a "* BYE") in place of the greeting, a close, a reset, a hang. A delay
// holds the greeting back.
func (s *Server) injectConnect(ctx context.Context, raw, inner net.Conn) bool {
	r, ok := s.fire(raw, fault.MomentConnect, "")
	if !ok {
		return false
	}
	if lineproto.Sleep(ctx, r.Delay) != nil {
		return true
	}
	switch r.Kind {
	case fault.KindDelay:
		return false
	case fault.KindReset:
		sockserver.Reset(raw)
	case fault.KindHang:
		sockserver.Hang(raw)
	default: // a reply or a close, with its text
		if r.Text != "" {
			inner.SetWriteDeadline(writeDeadline(s.limits.WriteTimeout))
			io.WriteString(inner, untagged(r.Text)+"\r\n")
		}
	}
	return true
}

// untagged returns text as an untagged response: "* BYE ..." as it is,
// "BYE ..." with its "* ".
func untagged(text string) string {
	if strings.HasPrefix(text, "* ") {
		return text
	}
	return "* " + text
}

// injectCommand injects the fault that fires at the command being read,
// whose first line the guard has checked. It reports whether the fault
// ended the connection. A reply makes the guard answer the command
// itself, once it has been read whole; a delay holds the command back.
func (g *conn) injectCommand() bool {
	g.mu.Lock()
	user := g.user
	g.mu.Unlock()
	r, ok := g.srv.fire(g.raw, strings.TrimPrefix(g.cur.name, "UID "), user)
	if !ok {
		return false
	}
	if lineproto.Sleep(g.ctx, r.Delay) != nil {
		g.err = errClosed
		return true
	}
	switch r.Kind {
	case fault.KindDelay:
		return false
	case fault.KindDiskFull:
		r.Text = "NO [OVERQUOTA] Insufficient storage"
	case fault.KindStoreError:
		r.Text = "NO [UNAVAILABLE] Try again later"
	case fault.KindReset:
		g.end(func() { sockserver.Reset(g.raw) })
		return true
	case fault.KindHang:
		g.end(func() { sockserver.Hang(g.raw) })
		return true
	case fault.KindClose:
		var lines []string
		if r.Text != "" {
			lines = append(lines, g.tagged(r.Text))
		}
		g.fatal("", lines...)
		return true
	}
	if strings.HasPrefix(r.Text, "* BYE") {
		g.fatal("", r.Text+"\r\n")
		return true
	}
	g.cur.swallow = true
	g.cur.injected = g.tagged(r.Text)
	return false
}

// tagged returns a fault's reply text as the reply to the current
// command: with its tag, unless it is an untagged response.
func (g *conn) tagged(text string) string {
	if strings.HasPrefix(text, "* ") {
		return text + "\r\n"
	}
	return g.cur.tag + " " + text + "\r\n"
}

// end ends the connection with f (a reset, a hang): reads return
// errClosed and writes fail.
func (g *conn) end(f func()) {
	g.mu.Lock()
	g.wdead = true
	g.mu.Unlock()
	g.err = errClosed
	f()
	g.raw.Close()
}

// answerInjected sends a fault's reply to a command read whole, in place
// of imapserver's: not counted as an error of the client.
func (g *conn) answerInjected() {
	reply := g.cur.injected
	g.endCommand()
	g.reply(reply)
}

// injectLogin injects the fault that fires at the login of user, which
// the Backend accepted: a NO or BAD reply refuses the login, with the
// rule's code and text, uncounted; a "* BYE", close, reset or hang ends
// the connection; a delay holds the OK back.
func (g *conn) injectLogin(user string) error {
	r, ok := g.srv.fire(g.raw, fault.MomentLogin, user)
	if !ok {
		return nil
	}
	if lineproto.Sleep(g.ctx, r.Delay) != nil {
		return errClosed
	}
	if r.Kind == fault.KindDelay {
		return nil
	}
	if r.Kind == fault.KindReply && !strings.HasPrefix(r.Text, "* ") {
		g.mu.Lock()
		g.authCounted = true // not a failed login
		g.mu.Unlock()
		return statusError(r.Text)
	}
	switch r.Kind {
	case fault.KindReset:
		g.end(func() { sockserver.Reset(g.raw) })
	case fault.KindHang:
		g.end(func() { sockserver.Hang(g.raw) })
	default:
		var lines []string
		if r.Text != "" {
			lines = append(lines, untagged(r.Text)+"\r\n")
		}
		g.fatal("", lines...)
	}
	return errClosed
}

// statusError returns "NO [CODE] text" or "BAD text" as the error that
// imapserver answers with.
func statusError(text string) *imap.Error {
	e := &imap.Error{Type: imap.StatusResponseTypeNo}
	kind, rest, _ := strings.Cut(text, " ")
	if kind == "BAD" {
		e.Type = imap.StatusResponseTypeBad
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i > 0 {
			e.Code = imap.ResponseCode(rest[1:i])
			rest = strings.TrimLeft(rest[i+1:], " ")
		}
	}
	e.Text = rest
	if e.Text == "" {
		e.Text = "Failed"
	}
	return e
}

// writeDeadline returns the deadline of a write of the guard's own, d from
// now, or none for 0.
func writeDeadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}
