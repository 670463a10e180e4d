package ftp

import (
	"context"
	"errors"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
)

// Access control (RFC 959 §4.1.1) and security (RFC 4217) commands.

func init() {
	addCommand(cmdSpec{run: (*session).cmdUser, arg: argNeed}, "USER")
	addCommand(cmdSpec{run: (*session).cmdPass}, "PASS")
	addCommand(cmdSpec{run: (*session).cmdAcct}, "ACCT")
	addCommand(cmdSpec{run: (*session).cmdAuth, arg: argNeed}, "AUTH")
	addCommand(cmdSpec{run: (*session).cmdPbsz, arg: argNeed}, "PBSZ")
	addCommand(cmdSpec{run: (*session).cmdProt, arg: argNeed}, "PROT")
	addCommand(cmdSpec{run: (*session).cmdCcc}, "CCC")
	addCommand(cmdSpec{run: (*session).cmdRein}, "REIN")
	addCommand(cmdSpec{run: (*session).cmdQuit, during: true}, "QUIT")
}

// plaintextOK reports whether a password may be sent on this connection.
func (c *session) plaintextOK() bool { return c.lc.TLS() || c.srv.InsecureAuth }

func (c *session) cmdUser(arg string) error {
	if c.fsys != nil {
		c.logout()
	}
	if !IsAnonymous(arg) && !c.plaintextOK() {
		c.lc.Log.Info("refused plaintext login", "user", arg)
		return c.fail(errPlaintext)
	}
	c.user = arg
	if IsAnonymous(arg) {
		c.reply(331, "Guest login ok, send your e-mail address as password.")
	} else {
		c.reply(331, "Please specify the password.")
	}
	return nil
}

// cmdPass logs in the user of the USER before. The attempt first waits as
// long as the AuthLimiter says for the user and the client's address,
// whatever the password, so that the wait tells nothing about it. A failed
// login ("530") is counted there and by the connection's Counter, and
// answered late; the connection closes after MaxAuthFailures.
func (c *session) cmdPass(arg string) error {
	user := c.user
	c.user = ""
	if user == "" {
		return c.fail(&Error{Code: 503, Message: "Login with USER first."})
	}
	limiter, remote := c.cfg.AuthLimiter, c.lc.RemoteAddr()
	if limiter.Delay(remote, user) > 0 {
		if err := c.lc.Flush(); err != nil {
			return errClose
		}
	}
	if err := limiter.Wait(c.ctx, remote, user); err != nil {
		return errClose
	}
	fsys, err := c.srv.Backend.Login(c.ctx, user, arg)
	if err != nil {
		return c.loginFailed(user, err)
	}
	limiter.Succeeded(remote, user)
	if r, ok := c.lc.Fault(fault.Point{Moment: fault.MomentLogin, User: user}); ok {
		switch c.lc.InjectRule(r) {
		case lineproto.InjectedReply:
			return nil
		case lineproto.InjectedEnd:
			return errClose
		}
	}
	c.lc.User = user
	c.fsys, c.login, c.cwd = fsys, user, "/"
	c.wfs, _ = fsys.(WriteFS)
	c.lc.Log = c.lc.Log.With("user", user)
	c.reply(230, "Login successful.")
	return nil
}

// loginFailed answers a failed login: a "530" *Error is a failed login,
// counted and delayed; another *Error is sent as it is; any other error is
// logged and answered "421", which closes the connection.
func (c *session) loginFailed(user string, err error) error {
	var e *Error
	switch {
	case errors.As(err, &e) && e.Code == 530:
		c.cfg.AuthLimiter.Failed(c.lc.RemoteAddr(), user)
		c.lc.Log.Info("authentication failed", "user", user, "failures", c.lc.Counter.AuthFailures()+1)
		return c.replyVerdict(c.lc.Counter.AuthFailure(), e)
	case errors.As(err, &e):
		c.replyErr(e)
		return nil
	case errors.Is(err, context.Canceled) && c.ctx.Err() != nil:
		return errClose
	}
	c.lc.Log.Error("backend error", "op", "login", "user", user, "err", err)
	c.reply(421, "Service not available, closing control connection.")
	return errClose
}

// logout returns the session to the state before USER.
func (c *session) logout() {
	c.fsys, c.wfs, c.login, c.cwd = nil, nil, "", "/"
	c.rest, c.rnfr = 0, ""
}

func (c *session) cmdAcct(string) error {
	c.reply(202, "ACCT command superfluous.")
	return nil
}

// cmdAuth answers AUTH TLS (RFC 4217 §4), also spelled SSL, TLS-C or
// TLS-P, and starts TLS. Whatever the client sent after the AUTH line is
// discarded, never read as a command inside TLS.
func (c *session) cmdAuth(arg string) error {
	switch lineproto.UpperASCII(arg) {
	case "TLS", "SSL", "TLS-C", "TLS-P":
	default:
		return c.fail(&Error{Code: 504, Message: "Unsupported security mechanism."})
	}
	switch {
	case c.srv.TLSConfig == nil:
		return c.fail(&Error{Code: 504, Message: "AUTH TLS not available."})
	case c.lc.TLS():
		return c.fail(&Error{Code: 503, Message: "Already using TLS."})
	}
	c.reply(234, "Proceed with negotiation.")
	if err := c.lc.StartTLS(); err != nil {
		return errClose // logged
	}
	c.user = ""
	return nil
}

// cmdPbsz answers PBSZ (RFC 4217 §8): TLS needs no buffer, so 0.
func (c *session) cmdPbsz(string) error {
	if !c.lc.TLS() {
		return c.fail(&Error{Code: 503, Message: "PBSZ not allowed on an insecure control connection."})
	}
	c.pbsz = true
	c.reply(200, "PBSZ=0")
	return nil
}

// cmdProt answers PROT (RFC 4217 §9): P protects the data connections
// with TLS, C leaves them clear.
func (c *session) cmdProt(arg string) error {
	if !c.lc.TLS() || !c.pbsz {
		return c.fail(&Error{Code: 503, Message: "PROT needs PBSZ after AUTH TLS."})
	}
	switch lineproto.UpperASCII(arg) {
	case "P":
		c.protP = true
		c.reply(200, "PROT now Private.")
	case "C":
		c.protP = false
		c.reply(200, "PROT now Clear.")
	case "S", "E":
		return c.fail(&Error{Code: 536, Message: "PROT level not supported."})
	default:
		return c.fail(&Error{Code: 504, Message: "Unknown PROT level."})
	}
	return nil
}

// cmdCcc refuses CCC (RFC 4217 §6): the control connection stays
// encrypted.
func (c *session) cmdCcc(string) error {
	return c.fail(&Error{Code: 534, Message: "Request denied for policy reasons."})
}

// cmdRein answers REIN (RFC 959 §4.1.1): the session returns to the state
// after the greeting; TLS, if started, stays.
func (c *session) cmdRein(string) error {
	c.logout()
	c.closeData()
	c.binary, c.epsvAll, c.facts = false, false, defaultFacts
	c.reply(220, "Service ready for new user.")
	return nil
}

// cmdQuit answers QUIT after the transfer running, if any, has ended and
// been answered (RFC 959 §4.1.1).
func (c *session) cmdQuit(string) error {
	if c.xfer != nil {
		c.waitTransfer()
	}
	c.reply(221, "Goodbye.")
	return errClose
}
