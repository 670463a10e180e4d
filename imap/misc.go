package imap

import (
	"strconv"
	"strings"

	"github.com/inetkit/inetkit/internal/imapwire"
)

func init() {
	register("CAPABILITY", stateAny, cmdCapability)
	register("NOOP", stateAny, cmdNoop)
	register("CHECK", stateSelected, cmdNoop)
	register("LOGOUT", stateAny, cmdLogout)
	register("ID", stateAny, cmdID)
	register("ENABLE", stateLoggedIn, cmdEnable)
	register("NAMESPACE", stateLoggedIn, cmdNamespace)
}

// baseCaps are the capabilities offered in every state. RFC 9051 §7.2.2
// lets a server offer IMAP4rev1 and IMAP4rev2 together; a client that
// wants rev2's behaviour ENABLEs it.
const baseCaps = "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT " +
	"CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH SEARCHRES " +
	"CONTEXT=SEARCH SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES " +
	"CONDSTORE QRESYNC BINARY CATENATE MULTIAPPEND NOTIFY STATUS=SIZE UTF8=ACCEPT"

// capabilities returns the capability list of the connection in its
// current state (RFC 9051 §7.2.2): the same before and after login but for
// STARTTLS and the authentication ones.
func (c *conn) capabilities() string {
	var b strings.Builder
	b.Grow(len(baseCaps) + 64)
	b.WriteString(baseCaps)
	b.WriteString(" APPENDLIMIT=")
	b.WriteString(strconv.FormatInt(c.appendLimit(), 10))
	if c.srv.Compress && !c.compressed {
		b.WriteString(" COMPRESS=DEFLATE")
	}
	if c.state == stateNotAuth {
		if c.srv.TLSConfig != nil && !c.lc.TLS() {
			b.WriteString(" STARTTLS")
		}
		if c.plaintextOK() {
			b.WriteString(" AUTH=PLAIN")
		} else {
			b.WriteString(" LOGINDISABLED")
		}
	}
	return b.String()
}

// appendLimit returns the largest message APPEND accepts (RFC 7889).
func (c *conn) appendLimit() int64 { return min(c.srv.maxLiteralBytes(), 1<<32-1) }

// cmdCapability answers CAPABILITY (RFC 9051 §6.1.1).
func cmdCapability(c *conn, tag string) error {
	if err := c.dec.End(); err != nil {
		return err
	}
	if err := c.untagged("CAPABILITY " + c.capabilities()); err != nil {
		return err
	}
	return c.ok(tag, "", "Capability completed.")
}

// cmdNoop answers NOOP (RFC 9051 §6.1.2), and CHECK (RFC 3501 §6.4.1),
// which IMAP4rev2 dropped and Dovecot answers as NOOP: the OK carries the
// updates of the selected mailbox.
func cmdNoop(c *conn, tag string) error {
	if err := c.dec.End(); err != nil {
		return err
	}
	return c.ok(tag, "", strings.ToUpper(c.cmd[:1])+strings.ToLower(c.cmd[1:])+" completed.")
}

// cmdLogout answers LOGOUT (RFC 9051 §6.1.3): "* BYE", the OK, the close.
func cmdLogout(c *conn, tag string) error {
	if err := c.dec.End(); err != nil {
		return err
	}
	c.state = stateLogout
	if err := c.untagged("BYE Logging out"); err != nil {
		return err
	}
	return c.enc.StatusResponse(tag, "OK", "", "Logout completed.")
}

// cmdID answers ID (RFC 2971): the client's parameters, a list of field
// and value pairs or NIL, are read and ignored.
func cmdID(c *conn, tag string) error {
	args, err := c.dec.Args()
	if err != nil {
		return err
	}
	if len(args) != 1 || !validID(args[0]) {
		return &Error{Type: "BAD", Code: "CLIENTBUG", Text: "Syntax error: expected ID parameter list or NIL"}
	}
	if err := c.untagged(`ID ("name" "inetkit")`); err != nil {
		return err
	}
	return c.ok(tag, "", "ID completed.")
}

// validID reports whether a is an ID parameter list: NIL, or a list of
// string and nstring pairs of at most 30 (RFC 2971 §3.3).
func validID(a imapwire.Arg) bool {
	switch a.Kind {
	case imapwire.ArgAtom:
		return strings.EqualFold(a.Value, "NIL")
	case imapwire.ArgList:
		if len(a.List)%2 != 0 || len(a.List) > 60 {
			return false
		}
		for i, v := range a.List {
			if v.Kind == imapwire.ArgList ||
				(v.Kind == imapwire.ArgAtom && (i%2 == 0 || !strings.EqualFold(v.Value, "NIL"))) {
				return false
			}
		}
		return true
	}
	return false
}

// cmdEnable answers ENABLE (RFC 5161): CONDSTORE, QRESYNC (which implies
// CONDSTORE, RFC 7162 §3.2.3), UTF8=ACCEPT (RFC 6855) and IMAP4rev2 (RFC
// 9051 §6.3.1) are known; others are ignored. Only those newly enabled are
// listed in "* ENABLED".
func cmdEnable(c *conn, tag string) error {
	var names []string
	for !c.dec.AtEnd() {
		if err := c.dec.SP(); err != nil {
			return err
		}
		a, err := c.dec.Atom()
		if err != nil {
			return err
		}
		names = append(names, a)
	}
	if err := c.dec.End(); err != nil {
		return err
	}
	if len(names) == 0 {
		return &Error{Type: "BAD", Text: "Missing parameters"}
	}
	var done []string
	for _, n := range names {
		for _, ext := range enableOf(n) {
			if c.enable(ext) {
				done = append(done, ext)
			}
		}
	}
	line := "ENABLED"
	for _, ext := range done {
		line += " " + ext
	}
	if err := c.untagged(line); err != nil {
		return err
	}
	return c.ok(tag, "", "Enabled.")
}

// enableOf returns the extensions ENABLE name turns on, each in its name's
// usual case.
func enableOf(name string) []string {
	switch strings.ToUpper(name) {
	case "CONDSTORE":
		return []string{"CONDSTORE"}
	case "QRESYNC":
		return []string{"CONDSTORE", "QRESYNC"}
	case "UTF8=ACCEPT":
		return []string{"UTF8=ACCEPT"}
	case "IMAP4REV2":
		return []string{"IMAP4rev2"}
	}
	return nil
}

// enable turns ext on, and reports whether it was off.
func (c *conn) enable(ext string) bool {
	key := strings.ToUpper(ext)
	if c.enabled[key] {
		return false
	}
	if c.enabled == nil {
		c.enabled = make(map[string]bool, 2)
	}
	c.enabled[key] = true
	switch key {
	case "UTF8=ACCEPT", "IMAP4REV2":
		c.setUTF8()
	}
	return true
}

// cmdNamespace answers NAMESPACE (RFC 2342, RFC 9051 §6.3.10): one
// personal namespace, "", with "/" as the hierarchy delimiter.
func cmdNamespace(c *conn, tag string) error {
	if err := c.dec.End(); err != nil {
		return err
	}
	if err := c.untagged(`NAMESPACE (("" "/")) NIL NIL`); err != nil {
		return err
	}
	return c.ok(tag, "", "Namespace completed.")
}
