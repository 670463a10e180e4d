package lineproto

import (
	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/sockserver"
)

// Injected is what [Conn.Inject] did, and so what the protocol does next.
type Injected int

const (
	// InjectedNone: no fault, or one that only delays, paces or cuts what
	// the server sends: the protocol goes on as usual.
	InjectedNone Injected = iota
	// InjectedReply: the fault's reply was sent in place of the command's:
	// the protocol skips the command (or the login) and reads the next.
	InjectedReply
	// InjectedEnd: the fault ended the connection (closed, reset, hung
	// up, or a greeting refused): the protocol ends the session.
	InjectedEnd
)

// Fault consults the faults of the server at p, for this connection: the
// service, the client's address and the login (Conn.User) are filled in.
// It returns the rule that fired, for a protocol that injects it in its own
// way (go-smtp's reply to DATA); others call Inject.
func (c *Conn) Fault(p fault.Point) (fault.Rule, bool) {
	if c.cfg.Faults == nil {
		return fault.Rule{}, false
	}
	p.Service = c.cfg.Service
	p.Remote = addrIP(c.raw.RemoteAddr())
	p.RemoteString = RemoteString(c.raw)
	if p.User == "" {
		p.User = c.User
	}
	return c.cfg.Faults.Fire(p)
}

// Inject consults the faults of the server at moment (fault.MomentConnect,
// fault.MomentLogin, a command) for this connection, and injects the one
// that fires: see InjectRule.
func (c *Conn) Inject(moment string) Injected {
	r, ok := c.Fault(fault.Point{Moment: moment})
	if !ok {
		return InjectedNone
	}
	return c.InjectRule(r)
}

// InjectRule injects the fault of r, which fired at r's moment, on the
// connection. The replies buffered before it are sent first. Then, after
// r.Delay:
//
//   - a reply (or a failed delivery, whose text is Config.FaultReply's) is
//     buffered in place of the command's, paced if r says so, and Inject
//     returns InjectedReply; at MomentConnect the reply refuses the
//     connection: it is sent, the connection closed, and InjectedEnd
//     returned;
//   - a close sends r.Text, if any, and closes the connection cleanly; a
//     reset resets it; a hang reads and discards until the client gives up
//     or the idle timeout: InjectedEnd;
//   - a trickle paces the replies until the next command is read; a cut
//     lets r.Bytes more bytes through and then closes the connection;
//     InjectedNone.
func (c *Conn) InjectRule(r fault.Rule) Injected {
	if r.Delay > 0 || r.Kind == fault.KindReset || r.Kind == fault.KindHang {
		if c.w.Flush() != nil {
			return InjectedEnd
		}
	}
	if r.Delay > 0 && c.Sleep(r.Delay) != nil {
		return InjectedEnd
	}
	switch r.Kind {
	case fault.KindDelay:
		return InjectedNone
	case fault.KindTrickle:
		c.pace(r.Rate)
		return InjectedNone
	case fault.KindTruncate:
		c.fw.Cut(r.Bytes)
		return InjectedNone
	case fault.KindReply, fault.KindDiskFull, fault.KindStoreError:
		text := r.Text
		if r.Kind != fault.KindReply && c.cfg.FaultReply != nil {
			text = c.cfg.FaultReply(r.Kind)
		}
		if r.Rate > 0 {
			if c.w.Flush() != nil {
				return InjectedEnd
			}
			c.pace(r.Rate)
		}
		if r.Moment == fault.MomentConnect {
			c.say(text, true)
			return InjectedEnd
		}
		c.w.WriteString(text)
		c.w.WriteString("\r\n")
		return InjectedReply
	case fault.KindClose:
		if r.Rate > 0 {
			if c.w.Flush() != nil {
				return InjectedEnd
			}
			c.pace(r.Rate)
		}
		c.say(r.Text, true)
	case fault.KindReset:
		sockserver.Reset(c.raw)
	case fault.KindHang:
		sockserver.Hang(c.raw)
	}
	return InjectedEnd
}

// pace makes the replies go at rate bytes a second until the next command
// is read.
func (c *Conn) pace(rate int) {
	c.fw.Pace(rate)
	c.paced = true
}

// endPace ends the pace of the replies to the last command, once they are
// sent.
func (c *Conn) endPace() {
	if c.paced {
		c.fw.Pace(0)
		c.paced = false
	}
}
