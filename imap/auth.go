package imap

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
)

func init() {
	register("STARTTLS", stateNotAuth, cmdStartTLS)
	register("LOGIN", stateNotAuth, cmdLogin)
	register("AUTHENTICATE", stateNotAuth, cmdAuthenticate)
}

// maxSASLBytes bounds the SASL PLAIN message: authzid, authcid and
// password, each at most 255 octets (RFC 4616 §2), base64-encoded.
const maxSASLBytes = 1100

var (
	errPrivacyRequired = &Error{Code: "PRIVACYREQUIRED", Text: "Plaintext authentication disallowed on non-secure (SSL/TLS) connections."}
	errAuthAborted     = &Error{Type: "BAD", Text: "Authentication aborted by client."}
	errBadBase64       = &Error{Type: "BAD", Text: "Invalid base64 data in continued response"}
)

// plaintextOK reports whether passwords may be sent on this connection.
func (c *conn) plaintextOK() bool { return c.lc.TLS() || c.srv.InsecureAuth }

// cmdStartTLS answers STARTTLS (RFC 9051 §6.2.1) and starts TLS. What the
// client sent after the command is discarded: it was sent in plaintext,
// where an attacker may have put it.
func cmdStartTLS(c *conn, tag string) error {
	if err := c.dec.End(); err != nil {
		return err
	}
	if c.lc.TLS() {
		return &Error{Type: "BAD", Text: "TLS is already active."}
	}
	if c.srv.TLSConfig == nil || c.compressed {
		return &Error{Type: "BAD", Text: "TLS support isn't enabled."}
	}
	if err := c.enc.StatusResponse(tag, "OK", "", "Begin TLS negotiation now."); err != nil {
		return err
	}
	if err := c.lc.StartTLS(); err != nil {
		return errClose
	}
	return nil
}

// cmdLogin answers LOGIN (RFC 9051 §6.2.3).
func cmdLogin(c *conn, tag string) error {
	if err := c.dec.SP(); err != nil {
		return err
	}
	user, err := c.dec.AString()
	if err != nil {
		return err
	}
	if err := c.dec.SP(); err != nil {
		return err
	}
	pass, err := c.dec.AString()
	if err != nil {
		return err
	}
	if err := c.dec.End(); err != nil {
		return err
	}
	return c.login(tag, user, pass)
}

// cmdAuthenticate answers AUTHENTICATE PLAIN (RFC 9051 §6.2.2, RFC 4616),
// with its initial response on the command line (SASL-IR, RFC 4959) or
// after an empty continuation request.
func cmdAuthenticate(c *conn, tag string) error {
	if err := c.dec.SP(); err != nil {
		return err
	}
	mech, err := c.dec.Atom()
	if err != nil {
		return err
	}
	ir, hasIR := "", false
	if !c.dec.AtEnd() {
		if err := c.dec.SP(); err != nil {
			return err
		}
		if ir, err = c.dec.Atom(); err != nil {
			return err
		}
		hasIR = true
	}
	if err := c.dec.End(); err != nil {
		return err
	}
	if !strings.EqualFold(mech, "PLAIN") {
		return &Error{Text: "Unsupported authentication mechanism."}
	}
	if !c.plaintextOK() {
		return errPrivacyRequired
	}
	if !hasIR {
		if err := c.enc.Continuation(""); err != nil {
			return err
		}
		if ir, err = c.dec.ReadLine(); err != nil {
			return err
		}
		if ir == "*" {
			return errAuthAborted
		}
	}
	if len(ir) > maxSASLBytes {
		return &Error{Type: "BAD", Text: "Authentication response too long"}
	}
	var msg []byte
	if ir != "=" {
		if msg, err = base64.StdEncoding.DecodeString(ir); err != nil {
			return errBadBase64
		}
	}
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return &Error{Type: "BAD", Text: "Invalid PLAIN authentication message"}
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		return &Error{Code: "AUTHORIZATIONFAILED", Text: "Authorization failed."}
	}
	return c.login(tag, user, pass)
}

// login logs in as user with pass and answers the command tag. First it
// waits as long as the AuthLimiter says, for right and wrong passwords
// alike. A failure with the code AUTHENTICATIONFAILED (ErrAuthFailed) is
// counted by the AuthLimiter and by the connection's counter, and its
// reply waits the longer of AuthFailureDelay and the error delay; at
// MaxAuthFailures the connection is closed after the reply. Another error
// is answered as any other.
func (c *conn) login(tag, user, pass string) error {
	if !c.plaintextOK() {
		return errPrivacyRequired
	}
	remote := c.lc.RemoteAddr()
	lim := c.srv.authLimiter()
	if err := lim.Wait(c.ctx, remote, user); err != nil {
		return errClose
	}
	u, err := c.backendLogin(user, pass)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Code != "AUTHENTICATIONFAILED" {
			return err
		}
		lim.Failed(remote, user)
		return c.loginFailed(tag, e, user)
	}
	if u == nil {
		return errors.New("imap: Backend.Login returned no User and no error")
	}
	lim.Succeeded(remote, user)
	if err := c.injectLogin(user); err != nil {
		u.Close()
		return err
	}
	c.user, c.username, c.state = u, user, stateAuth
	c.lc.User = user
	return c.enc.StatusResponse(tag, "OK", "CAPABILITY "+c.capabilities(), "Logged in")
}

// loginFailed answers a failed login with e, late, and closes the
// connection at the last failure allowed.
func (c *conn) loginFailed(tag string, e *Error, user string) error {
	v := c.lc.Counter.AuthFailure()
	c.lc.Log.Info("login failed", "user", user, "failures", c.lc.Counter.AuthFailures())
	if err := c.lc.Delay(v); err != nil {
		return errClose
	}
	c.enc.StatusResponse(tag, "NO", e.Code, e.Text)
	if v.Close != lineproto.ReasonNone {
		c.lc.Log.Info("closing: "+v.Close.String(), "auth_failures", c.lc.Counter.AuthFailures())
		c.lc.Goodbye(v.Close)
		return errClose
	}
	return nil
}

// injectLogin injects the fault that fires at the login of user, which
// the Backend accepted: a NO or BAD reply refuses the login, with the
// rule's code and text, uncounted; a "* BYE", close, reset or hang ends
// the connection; a delay holds the OK back.
func (c *conn) injectLogin(user string) error {
	r, ok := c.lc.Fault(fault.Point{Moment: fault.MomentLogin, User: user})
	if !ok {
		return nil
	}
	if r.Kind == fault.KindReply && !strings.HasPrefix(r.Text, "* ") {
		if r.Delay > 0 && c.lc.Sleep(r.Delay) != nil {
			return errClose
		}
		return statusError(r.Text)
	}
	if r.Kind == fault.KindReply {
		r.Kind = fault.KindClose
	}
	if c.lc.InjectRule(r) == lineproto.InjectedEnd {
		return errClose
	}
	return nil
}

// statusError returns "NO [CODE] text" or "BAD text" as an *Error.
func statusError(text string) *Error {
	e := &Error{Type: "NO"}
	kind, rest, _ := strings.Cut(text, " ")
	if kind == "BAD" {
		e.Type = "BAD"
	} else if kind != "NO" {
		rest = text
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i > 0 {
			e.Code = rest[1:i]
			rest = strings.TrimLeft(rest[i+1:], " ")
		}
	}
	e.Text = rest
	if e.Text == "" {
		e.Text = "Failed"
	}
	return e
}

// backendLogin calls Backend.Login on a goroutine of its own: a backend's
// login can be deep (a SQL engine written in Go grows a stack to tens of
// KiB), and the connection's goroutine, which then waits idle for hours,
// would keep a stack of that size (the runtime shrinks a stack only while
// less than a quarter of it is in use).
func (c *conn) backendLogin(user, pass string) (User, error) {
	type result struct {
		u   User
		err error
	}
	done := make(chan result, 1)
	go func() {
		u, err := c.srv.Backend.Login(c.ctx, user, pass)
		done <- result{u, err}
	}()
	r := <-done
	return r.u, r.err
}
