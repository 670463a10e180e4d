package nntp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
)

// cmdAuthinfo answers AUTHINFO USER, PASS and SASL (RFC 4643).
func (c *serverConn) cmdAuthinfo(a []string) error {
	if len(a) == 0 {
		return c.fail(errSyntax)
	}
	sub := lineproto.UpperASCII(a[0])
	if sub != "USER" && sub != "PASS" && sub != "SASL" {
		return c.fail(errSyntax)
	}
	if c.user != "" {
		return c.fail(errAuthDone)
	}
	if !c.plaintextOK() {
		return c.fail(errEncryption)
	}
	switch sub {
	case "USER":
		if len(a) != 2 {
			return c.fail(errSyntax)
		}
		c.pending = a[1]
		c.reply(381, "Password required")
		return nil
	case "PASS":
		user := c.pending
		c.pending = ""
		if user == "" {
			return c.fail(&Error{Code: 482, Message: "Authentication commands issued out of sequence"})
		}
		if len(a) != 2 {
			return c.fail(errSyntax)
		}
		return c.login(user, a[1])
	}
	return c.sasl(a[1:])
}

// sasl runs AUTHINFO SASL PLAIN (RFC 4643 §2.4, RFC 4616).
func (c *serverConn) sasl(a []string) error {
	if len(a) == 0 || len(a) > 2 {
		return c.fail(errSyntax)
	}
	if !strings.EqualFold(a[0], "PLAIN") {
		return c.fail(&Error{Code: 503, Message: "Mechanism not recognized"})
	}
	var resp string
	if len(a) == 2 {
		resp = a[1]
	} else {
		c.reply(383, "=")
		line, err := c.lc.ReadLine(maxSASLBytes)
		if err != nil {
			return c.readFailed(err)
		}
		resp = strings.TrimSpace(string(line))
	}
	if resp == "*" {
		return c.fail(&Error{Code: 481, Message: "Authentication cancelled"})
	}
	if resp == "=" {
		resp = ""
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return c.fail(&Error{Code: 504, Message: "Base64 encoding error"})
	}
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return c.fail(&Error{Code: 481, Message: "Invalid PLAIN response"})
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		return c.verdict(c.lc.Counter.AuthFailure(), &Error{Code: 481, Message: "Authorization identity not allowed"})
	}
	return c.login(user, pass)
}

// login makes a login attempt. It first waits as long as the AuthLimiter
// says for user and the client's address, whatever the credentials; a
// failed login is counted there and by the connection's Counter, and
// answered late.
func (c *serverConn) login(user, pass string) error {
	limiter, remote := c.cfg.AuthLimiter, c.lc.RemoteAddr()
	if limiter.Delay(remote, user) > 0 {
		if err := c.lc.Flush(); err != nil {
			return errClose
		}
	}
	if err := limiter.Wait(c.ctx, remote, user); err != nil {
		return errClose
	}
	err := c.srv.Backend.Login(c.ctx, user, pass)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == 481 {
			limiter.Failed(remote, user)
			c.lc.Log.Info("authentication failed", "user", user, "failures", c.lc.Counter.AuthFailures()+1)
			return c.verdict(c.lc.Counter.AuthFailure(), e)
		}
		return c.failBackend("login", err)
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
	c.user = user
	c.lc.User = user
	c.lc.Log = c.lc.Log.With("user", user)
	c.reply(281, "Authentication accepted")
	return nil
}
