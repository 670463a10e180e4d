package lineproto

import "time"

// CommandDeadline returns when the command being read must have ended: the
// arrival of its first octet plus the command timeout. It is zero when no
// command is being read (after ReadLine returned a command's last line, and
// until the first octet of the next), and when there is no command timeout.
// After ReadLine and Continue it is the deadline of the command that goes
// on, so that a raw read inside the command (an IMAP literal) can be bounded
// by it too. This function doesn't perform I/O.
func (r *Reader) CommandDeadline() time.Time {
	if r.command <= 0 || r.cmdFrom.IsZero() {
		return time.Time{}
	}
	return r.cmdFrom.Add(r.command)
}

// ContinueAnew is Continue with a new command clock: the next line belongs
// to the command whose line was read last, and the command timeout runs
// again from now. It is for a command that goes on after a raw read with a
// deadline of its own, which may rightly take far longer than the command
// timeout (an IMAP APPEND message, RFC 3501 §6.3.11, is a literal of up to
// megabytes followed by the end of the command line).
func (r *Reader) ContinueAnew() { r.cont, r.cmdFrom = true, time.Now() }
