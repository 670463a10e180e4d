package lineproto

// Hangup ends a session for a reason of the protocol's own, one that no
// Reason names (SMTP's "554 5.5.0" to a client that sent its message before
// the 354, or a BDAT whose size cannot be parsed, after which the octets that
// follow cannot be told from commands): it sends line, without its line
// ending, unless it is "", and lingers as Goodbye does for the reasons that
// call for it, since the client may still be sending. The caller closes the
// connection.
func (c *Conn) Hangup(line string) { c.say(line, true) }
