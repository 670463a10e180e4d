package ftp

import (
	"net"
	"slices"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// faultReply is the reply to an upload that a fault fails.
func faultReply(k fault.Kind) string {
	if k == fault.KindDiskFull {
		return "452 " + errNoSpace.Message
	}
	return "451 " + errLocal.Message
}

// transferCommands open a data connection.
var transferCommands = []string{"RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD"}

// inject injects the fault that fires at the command verb, if any. done
// reports that the fault answered or ended the command; err ends the
// session. A transfer command answered by a fault releases the data
// connection its client set up.
func (c *session) inject(verb string) (done bool, err error) {
	switch c.lc.Inject(verb) {
	case lineproto.InjectedReply:
		if slices.Contains(transferCommands, verb) {
			c.closeData()
		}
		return true, nil
	case lineproto.InjectedEnd:
		return true, errClose
	}
	return false, nil
}

// dataFault consults the faults at the opening of a data connection, and
// waits the delay of the rule that fired. It returns a rule that acts
// further: a reply, a reset or a close.
func (c *session) dataFault() (fault.Rule, bool) {
	r, ok := c.lc.Fault(fault.Point{Moment: fault.MomentData})
	if !ok {
		return r, false
	}
	if r.Delay > 0 {
		c.lc.Sleep(r.Delay)
		r.Delay = 0
	}
	return r, r.Kind != fault.KindDelay
}

// isReply reports whether r answers in place of the data connection.
func isReply(r fault.Rule) bool { return r.Kind == fault.KindReply }

// breakData answers a transfer whose data connection tc a fault breaks:
// "150", then tc reset or closed before a byte is sent, then "426".
func (c *session) breakData(tc *net.TCPConn, text string, r fault.Rule) error {
	c.reply(150, text)
	if err := c.lc.Flush(); err != nil {
		tc.Close()
		return errClose
	}
	if r.Kind == fault.KindReset {
		sockserver.Reset(tc)
	} else {
		tc.Close()
	}
	c.replyErr(errAborted)
	return nil
}
