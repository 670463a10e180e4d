package smtp

import (
	"strconv"
	"strings"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
)

// faultReply is the reply to a message that a fault fails to deliver.
func faultReply(k fault.Kind) string {
	if k == fault.KindDiskFull {
		return "452 4.3.1 Insufficient system storage"
	}
	return "451 4.3.0 Internal server error, try again later"
}

// inject injects the fault that fires at cmd, if any, and reports whether
// it answered or ended the command, which is then not passed to go-smtp.
// A RCPT rule may name the recipient.
func (c *conn) inject(cmd command) bool {
	if c.srv.Faults == nil || cmd.verb == "DATA" || cmd.verb == "BDAT" {
		return false // DATA's moment is the end of the message: see session.Data
	}
	p := fault.Point{Moment: cmd.verb}
	if cmd.verb == "RCPT" {
		p.Rcpt = rcptAddress(cmd.arg)
	}
	r, ok := c.lc.Fault(p)
	if !ok {
		return false
	}
	switch c.lc.InjectRule(r) {
	case lineproto.InjectedReply:
		return true
	case lineproto.InjectedEnd:
		c.dead = true
		return true
	}
	return false
}

// rcptAddress returns the address of a RCPT argument, "TO:<a@b> ...".
func rcptAddress(arg string) string {
	if len(arg) < 3 || !strings.EqualFold(arg[:3], "TO:") {
		return ""
	}
	a := strings.TrimLeft(arg[3:], " ")
	if strings.HasPrefix(a, "<") {
		if i := strings.IndexByte(a, '>'); i > 0 {
			return a[1:i]
		}
		return ""
	}
	a, _, _ = strings.Cut(a, " ")
	return a
}

// injectReply injects the fault that fires at p, if any, where go-smtp
// writes the reply (a login, the end of a message): a reply, or a failed
// delivery, is returned as the error go-smtp answers with; a fault that
// ends the connection returns a 421, which closes the session; a delay,
// pace or cut returns nil, and the session goes on.
func (c *conn) injectReply(p fault.Point) error {
	r, ok := c.lc.Fault(p)
	if !ok {
		return nil
	}
	switch r.Kind {
	case fault.KindReply, fault.KindDiskFull, fault.KindStoreError:
		text := r.Text
		if r.Kind != fault.KindReply {
			text = faultReply(r.Kind)
		}
		if r.Delay > 0 && (c.lc.Flush() != nil || c.lc.Sleep(r.Delay) != nil) {
			return errFaultEnded
		}
		c.injected.Store(true)
		return replyError(text)
	}
	if c.lc.InjectRule(r) == lineproto.InjectedEnd {
		c.injected.Store(true)
		return errFaultEnded
	}
	return nil
}

// errFaultEnded is go-smtp's reply on a connection that a fault ended: the
// 421 closes the session, if a write still gets through.
var errFaultEnded = &gosmtp.SMTPError{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "Connection ended"}

// replyError returns the reply text "451 4.3.0 try later" as go-smtp's
// error; the rule's check made sure it starts with a code.
func replyError(text string) *gosmtp.SMTPError {
	code, _ := strconv.Atoi(text[:3])
	e := &gosmtp.SMTPError{Code: code, EnhancedCode: gosmtp.NoEnhancedCode, Message: strings.TrimLeft(text[3:], " -")}
	if enh, rest, ok := strings.Cut(e.Message, " "); ok || enh != "" {
		parts := strings.Split(enh, ".")
		var ec gosmtp.EnhancedCode
		valid := len(parts) == 3
		for i := 0; valid && i < 3; i++ {
			n, err := strconv.Atoi(parts[i])
			valid = err == nil && n >= 0 && n < 1000
			ec[i] = n
		}
		if valid {
			e.EnhancedCode, e.Message = ec, rest
		}
	}
	if e.Message == "" {
		e.Message = "Error"
	}
	return e
}
