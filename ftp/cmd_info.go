package ftp

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inetkit/inetkit/lineproto"
)

// Informational and transfer-parameter commands: RFC 959 §4.1.2 and
// §4.1.3, RFC 2389 (FEAT, OPTS), RFC 2428 (EPRT, EPSV).

func init() {
	addCommand(cmdSpec{run: (*session).cmdSyst}, "SYST")
	addCommand(cmdSpec{run: (*session).cmdFeat}, "FEAT")
	addCommand(cmdSpec{run: (*session).cmdOpts, arg: argNeed}, "OPTS")
	addCommand(cmdSpec{run: (*session).cmdHelp}, "HELP")
	addCommand(cmdSpec{run: (*session).cmdSite, login: true, arg: argNeed}, "SITE")
	addCommand(cmdSpec{run: (*session).cmdNoop}, "NOOP")
	addCommand(cmdSpec{run: (*session).cmdStat, during: true}, "STAT")
	addCommand(cmdSpec{run: (*session).cmdAllo, login: true}, "ALLO")
	addCommand(cmdSpec{run: (*session).cmdType, login: true, arg: argNeed}, "TYPE")
	addCommand(cmdSpec{run: (*session).cmdMode, login: true, arg: argNeed}, "MODE")
	addCommand(cmdSpec{run: (*session).cmdStru, login: true, arg: argNeed}, "STRU")
	addCommand(cmdSpec{run: (*session).cmdPort, login: true, arg: argNeed}, "PORT")
	addCommand(cmdSpec{run: (*session).cmdEprt, login: true, arg: argNeed}, "EPRT")
	addCommand(cmdSpec{run: (*session).cmdPasv, login: true}, "PASV")
	addCommand(cmdSpec{run: (*session).cmdEpsv, login: true}, "EPSV")
}

func (c *session) cmdSyst(string) error {
	c.reply(215, "UNIX Type: L8")
	return nil
}

// cmdFeat lists the extensions (RFC 2389 §3), each line after a space.
func (c *session) cmdFeat(string) error {
	var feats []string
	if c.srv.TLSConfig != nil {
		feats = append(feats, "AUTH TLS")
	}
	feats = append(feats, "EPRT", "EPSV", "MDTM", "MLST "+c.facts.feat(), "PASV")
	if c.srv.TLSConfig != nil {
		feats = append(feats, "PBSZ", "PROT")
	}
	feats = append(feats, "REST STREAM", "SIZE", "TVFS", "UTF8")
	c.multi(211, "Features:", feats, "End")
	return nil
}

// cmdOpts answers OPTS (RFC 2389 §4): UTF8 ON (RFC 2640 §3.2; names are
// always UTF-8 octets as sent) and MLST (RFC 3659 §7.9).
func (c *session) cmdOpts(arg string) error {
	name, value, _ := strings.Cut(arg, " ")
	switch lineproto.UpperASCII(name) {
	case "UTF8":
		if strings.EqualFold(value, "ON") || value == "" {
			c.reply(200, "Always in UTF8 mode.")
			return nil
		}
		return c.fail(&Error{Code: 501, Message: "UTF8 cannot be turned off."})
	case "MLST":
		c.facts = parseFacts(value)
		c.reply(200, "MLST OPTS "+c.facts.String())
		return nil
	}
	return c.fail(&Error{Code: 501, Message: "Option not understood."})
}

func (c *session) cmdHelp(string) error {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	var lines []string
	for i := 0; i < len(names); i += 8 {
		lines = append(lines, strings.Join(names[i:min(i+8, len(names))], " "))
	}
	c.multi(214, "The following commands are recognized.", lines, "Help OK.")
	return nil
}

// cmdSite answers SITE HELP; there are no other SITE commands.
func (c *session) cmdSite(arg string) error {
	verb, _, _ := strings.Cut(arg, " ")
	if strings.EqualFold(verb, "HELP") {
		c.reply(214, "SITE commands recognized: HELP")
		return nil
	}
	return c.fail(&Error{Code: 500, Message: "Unknown SITE command."})
}

func (c *session) cmdNoop(string) error {
	c.reply(200, "NOOP ok.")
	return nil
}

func (c *session) cmdAllo(string) error {
	c.reply(202, "ALLO command ignored.")
	return nil
}

// cmdStat answers STAT (RFC 959 §4.1.3): during a transfer its progress;
// without an argument the session's status (211); with a path its listing
// over the control connection (213).
func (c *session) cmdStat(arg string) error {
	if c.xfer != nil {
		c.reply(213, "Status: "+strconv.FormatInt(c.xfer.bytes.Load(), 10)+" bytes transferred.")
		return nil
	}
	if arg == "" {
		c.multi(211, "FTP server status:", c.status(), "End of status")
		return nil
	}
	if c.fsys == nil {
		return c.fail(errNotLoggedIn)
	}
	t, e := c.listTarget("stat", listArg(arg))
	if e != nil {
		c.replyErr(e)
		return nil
	}
	c.bw.WriteString("213-Status follows:\r\n")
	if err := c.lister(formatLIST).writeTarget(escaper{c}, t); err != nil {
		c.lc.Log.Info("STAT listing failed", "err", err)
	}
	c.reply(213, "End of status")
	return nil
}

// escaper writes listing lines on the control connection, 0xFF doubled.
type escaper struct{ c *session }

func (w escaper) Write(p []byte) (int, error) {
	s := string(p)
	_, err := w.c.bw.WriteString(strings.ReplaceAll(s, "\xff", "\xff\xff"))
	return len(p), err
}

// status returns the lines of STAT without an argument.
func (c *session) status() []string {
	lines := []string{"Connected to " + c.peerIP().String()}
	if c.login != "" {
		lines = append(lines, "Logged in as "+c.login)
	} else {
		lines = append(lines, "Not logged in")
	}
	lines = append(lines, "TYPE: "+c.modeName()+", STRU: File, MODE: Stream")
	if c.lc.TLS() {
		lines = append(lines, "Control connection is encrypted")
	}
	if c.protP {
		lines = append(lines, "Data connections are encrypted")
	}
	if d := c.cfg.Limits.IdleTimeout; d > 0 {
		lines = append(lines, "Session timeout in seconds is "+strconv.Itoa(int(d/time.Second)))
	}
	return lines
}

// cmdType answers TYPE (RFC 959 §3.1.1): A (with N, the only format), I
// and L 8 are supported.
func (c *session) cmdType(arg string) error {
	switch lineproto.UpperASCII(strings.Join(strings.Fields(arg), " ")) {
	case "A", "A N":
		c.binary = false
		c.reply(200, "Switching to ASCII mode.")
	case "I", "L 8":
		c.binary = true
		c.reply(200, "Switching to Binary mode.")
	default:
		return c.fail(&Error{Code: 504, Message: "Command not implemented for that parameter."})
	}
	return nil
}

func (c *session) cmdMode(arg string) error {
	if !strings.EqualFold(arg, "S") {
		return c.fail(&Error{Code: 504, Message: "Only stream mode is supported."})
	}
	c.reply(200, "Mode set to S.")
	return nil
}

func (c *session) cmdStru(arg string) error {
	if !strings.EqualFold(arg, "F") {
		return c.fail(&Error{Code: 504, Message: "Only file structure is supported."})
	}
	c.reply(200, "Structure set to F.")
	return nil
}

var errEPSVAll = &Error{Code: 503, Message: "Only EPSV is allowed after EPSV ALL."}

// cmdPort answers PORT (RFC 959 §4.1.2): only the client's own address,
// at a port not below 1024 (RFC 2577).
func (c *session) cmdPort(arg string) error {
	if c.epsvAll {
		return c.fail(errEPSVAll)
	}
	ap, err := parsePORT(arg)
	if err != nil {
		return c.fail(errSyntax)
	}
	if !c.peerIP().Is4() {
		return c.fail(&Error{Code: 522, Message: "Network protocol not supported, use (2)."})
	}
	return c.setPort(ap, "PORT command successful. Consider using PASV.")
}

func (c *session) setPort(ap netip.AddrPort, text string) error {
	if e := c.checkActive(ap); e != nil {
		return c.fail(e)
	}
	c.closeData()
	c.port = ap
	c.reply(200, text)
	return nil
}

// family returns the network protocol number of RFC 2428 §2 of the
// control connection: 1 for IPv4, 2 for IPv6.
func (c *session) family() int {
	if c.peerIP().Is4() {
		return protoIPv4
	}
	return protoIPv6
}

func (c *session) errFamily() *Error {
	return &Error{Code: 522, Message: "Network protocol not supported, use (" + strconv.Itoa(c.family()) + ")."}
}

// cmdEprt answers EPRT (RFC 2428 §2): only the client's own address, of
// the control connection's family, at a port not below 1024.
func (c *session) cmdEprt(arg string) error {
	if c.epsvAll {
		return c.fail(errEPSVAll)
	}
	ap, err := parseEPRT(arg)
	if err != nil {
		if f := strings.Split(arg+"||", arg[:1]); len(f) > 1 && f[1] != "" && f[1] != "1" && f[1] != "2" && strings.Trim(f[1], "0123456789") == "" {
			return c.fail(c.errFamily())
		}
		return c.fail(errSyntax)
	}
	if ap.Addr().Is4() != (c.family() == protoIPv4) {
		return c.fail(c.errFamily())
	}
	return c.setPort(ap, "EPRT command successful. Consider using EPSV.")
}

// cmdPasv answers PASV (RFC 959 §4.1.2), which can only announce an IPv4
// address: on an IPv6 control connection the client should use EPSV.
func (c *session) cmdPasv(string) error {
	if c.epsvAll {
		return c.fail(errEPSVAll)
	}
	ip := c.srv.publicIP
	if !ip.IsValid() || !ip.Is4() {
		ip = c.localIP()
	}
	if !ip.Is4() {
		return c.fail(&Error{Code: 500, Message: "PASV is IPv4 only; use EPSV."})
	}
	port, e := c.openPassive()
	if e != nil {
		c.replyErr(e)
		return nil
	}
	c.reply(227, "Entering Passive Mode ("+formatPORT(netip.AddrPortFrom(ip, uint16(port)))+").")
	return nil
}

// cmdEpsv answers EPSV (RFC 2428 §3), with a family that must be the
// control connection's, or ALL, after which no other command sets up a
// data connection.
func (c *session) cmdEpsv(arg string) error {
	switch lineproto.UpperASCII(arg) {
	case "":
	case "ALL":
		c.epsvAll = true
		c.reply(200, "EPSV ALL ok.")
		return nil
	case "1", "2":
		if arg != strconv.Itoa(c.family()) {
			return c.fail(c.errFamily())
		}
	default:
		return c.fail(c.errFamily())
	}
	port, e := c.openPassive()
	if e != nil {
		c.replyErr(e)
		return nil
	}
	c.reply(229, "Entering Extended Passive Mode (|||"+strconv.Itoa(port)+"|).")
	return nil
}
