package smtp

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
)

// A SenderChecker is a Backend that also checks MAIL FROM, for example to
// refuse mail with ErrInsufficientStorage while the store is nearly full,
// so that the client hears 452 before it sends the message (RFC 5321
// §4.2.2). Server calls CheckSender for every MAIL command when the Backend
// implements it.
type SenderChecker interface {
	Backend
	// CheckSender is called with env.From set; a non-nil error refuses the
	// MAIL command.
	CheckSender(ctx context.Context, env *Envelope) error
}

// session adapts Backend to go-smtp's Session and AuthSession. Its methods
// are called from the connection's goroutine, except Data for BDAT, which
// go-smtp runs on a goroutine of its own: mu guards the envelope.
type session struct {
	srv *Server
	c   *conn

	mu      sync.Mutex
	env     Envelope
	hasFrom bool
	ehlo    bool
}

var (
	_ gosmtp.Session     = (*session)(nil)
	_ gosmtp.AuthSession = (*session)(nil)
)

func (s *Server) newSession(gc *gosmtp.Conn) (gosmtp.Session, error) {
	c, ok := gc.Conn().(*conn)
	if !ok {
		return nil, errors.New("smtp: connection not made by Server")
	}
	sess := &session{srv: s, c: c}
	sess.env.RemoteAddr = c.RemoteAddr()
	c.sess = sess
	return sess, nil
}

func (sess *session) setHelo(helo string, ehlo bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.env.Helo, sess.ehlo = helo, ehlo
}

// busy reports whether a mail transaction is open or the client has
// authenticated: STARTTLS is refused then.
func (sess *session) busy() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.hasFrom || sess.env.AuthUser != ""
}

func (sess *session) Reset() {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.env.From, sess.env.To, sess.env.UTF8, sess.hasFrom = "", nil, false, false
}

func (sess *session) Logout() error { return nil }

var (
	errBadAddress = &gosmtp.SMTPError{Code: 501, EnhancedCode: gosmtp.EnhancedCode{5, 1, 7}, Message: "Bad address syntax"}
	errNeedUTF8   = &gosmtp.SMTPError{Code: 553, EnhancedCode: gosmtp.EnhancedCode{5, 6, 7}, Message: "Non-ASCII address requires SMTPUTF8"}
)

func (sess *session) Mail(from string, opts *gosmtp.MailOptions) error {
	if hasBadChar(from) {
		return errBadAddress
	}
	utf8 := opts != nil && opts.UTF8
	if !utf8 && !isASCII(from) {
		return errNeedUTF8
	}
	sess.mu.Lock()
	env := sess.snapshot()
	sess.mu.Unlock()
	env.From, env.UTF8 = from, utf8
	if sc, ok := sess.srv.Backend.(SenderChecker); ok {
		if err := sc.CheckSender(sess.c.ctx, &env); err != nil {
			return sess.srv.replyError(sess.c, "check sender", err)
		}
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.env.From, sess.env.UTF8, sess.env.To, sess.hasFrom = from, utf8, nil, true
	return nil
}

func (sess *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if hasBadChar(to) {
		return errBadAddress
	}
	sess.mu.Lock()
	env := sess.snapshot()
	sess.mu.Unlock()
	if !env.UTF8 && !isASCII(to) {
		return errNeedUTF8
	}
	for _, r := range env.To {
		if r == to {
			return nil // RFC 5321 §3.3: a duplicate is accepted but delivered once
		}
	}
	if err := sess.srv.Backend.CheckRecipient(sess.c.ctx, &env, to); err != nil {
		return sess.srv.replyError(sess.c, "check recipient", err)
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.env.To = append(sess.env.To, to)
	return nil
}

// snapshot returns a copy of the envelope; sess.mu is held.
func (sess *session) snapshot() Envelope {
	env := sess.env
	env.To = append([]string(nil), env.To...)
	return env
}

var errBareLineEnding = &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 5, 2}, Message: "Message contains bare CR, LF or NUL"}

func (sess *session) Data(r io.Reader) error {
	sess.mu.Lock()
	env := sess.snapshot()
	ehlo := sess.ehlo
	sess.mu.Unlock()
	// One buffer holds the trace fields and then the message, so that the
	// Backend can take the bytes without another copy (Deliver gets the
	// *bytes.Buffer itself).
	trace := traceFields(&env, sess.srv.domain, ehlo, sess.c.tlsOn.Load(), time.Now())
	msg := getDataBuf()
	defer putDataBuf(msg)
	msg.WriteString(trace)
	if _, err := msg.ReadFrom(r); err != nil {
		var se *gosmtp.SMTPError
		if errors.As(err, &se) {
			return se // 552 5.3.4 from go-smtp's size limit
		}
		return err // the client is gone or reset the transfer: nothing is stored
	}
	body := msg.Bytes()[len(trace):]
	if sess.srv.StrictLineEndings && (sess.c.dataBare.Load() || hasBareLineEnding(body)) {
		sess.c.lc.Log.Info("message refused: bare CR, LF or NUL")
		return errBareLineEnding
	}
	if len(env.To) == 0 {
		return &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 5, 1}, Message: "No valid recipients"}
	}
	if err := sess.c.injectReply(fault.Point{Moment: "DATA"}); err != nil {
		return err
	}
	if err := sess.srv.Backend.Deliver(sess.c.ctx, &env, msg); err != nil {
		return sess.srv.replyError(sess.c, "deliver", err)
	}
	return nil
}

// initialDataBuf is the room made for a message before it arrives; the
// buffer grows from there.
const initialDataBuf = 32 << 10

// maxPooledDataBuf is the largest DATA buffer kept for the next message:
// a rare huge message does not pin its memory.
const maxPooledDataBuf = 1 << 20

// dataBufs holds DATA buffers between messages. A Backend must not keep
// the bytes after Deliver returns (Backend's contract), so they can be
// reused.
var dataBufs = sync.Pool{New: func() any {
	b := new(bytes.Buffer)
	b.Grow(initialDataBuf)
	return b
}}

func getDataBuf() *bytes.Buffer { return dataBufs.Get().(*bytes.Buffer) }

func putDataBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledDataBuf {
		b.Reset()
		dataBufs.Put(b)
	}
}

// hasBareLineEnding reports whether b holds a CR not followed by LF, an
// LF not preceded by CR, or a NUL.
func hasBareLineEnding(b []byte) bool {
	for i, c := range b {
		switch c {
		case 0:
			return true
		case '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return true
			}
		case '\n':
			if i == 0 || b[i-1] != '\r' {
				return true
			}
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// traceFields returns the Return-Path and Received header fields
// (RFC 5321 §4.4) for a message; the protocol name follows RFC 3848 and
// RFC 6531 §3.7.3 (ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP...).
func traceFields(env *Envelope, domain string, ehlo, tls bool, now time.Time) string {
	proto := "SMTP"
	switch {
	case env.UTF8:
		proto = "UTF8SMTP"
	case ehlo:
		proto = "ESMTP"
	}
	if tls {
		proto += "S"
	}
	if env.AuthUser != "" {
		proto += "A"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", env.From)
	fmt.Fprintf(&b, "Received: from %s (%s)\r\n\tby %s (inetkit) with %s id %s", headerToken(env.Helo), addressLiteral(env.RemoteAddr), domain, proto, newID())
	if len(env.To) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", env.To[0])
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", now.Format(time.RFC1123Z))
	return b.String()
}

// headerToken makes a client-chosen word safe inside a Received field.
func headerToken(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x21, r == 0x7f, r == '(', r == ')', r == '\\', r == ';', r == '<', r == '>':
			return '_'
		}
		return r
	}, s)
}

func addressLiteral(a net.Addr) string {
	host := ""
	if a != nil {
		host = a.String()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	if strings.Contains(host, ":") {
		return "[IPv6:" + host + "]"
	}
	return "[" + host + "]"
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// replyError turns an error of the Backend in operation op into the reply
// go-smtp sends. It is the only place that maps errors to replies:
//
//   - a *Error with a 4xx or 5xx code, or an error wrapping one, is sent as
//     it is, its text kept on one line;
//   - the cancellation of the connection's context (the server closing) is
//     "421 4.3.2";
//   - anything else is logged, and the client gets a temporary failure, so
//     that a message is never acknowledged and then lost: "454 4.7.0" to
//     AUTH (RFC 4954 §6), "451 4.3.0" to the other commands.
func (s *Server) replyError(c *conn, op string, err error) *gosmtp.SMTPError {
	var e *Error
	if errors.As(err, &e) && e.Code >= 400 && e.Code <= 599 {
		return &gosmtp.SMTPError{Code: e.Code, EnhancedCode: gosmtp.EnhancedCode(e.EnhancedCode), Message: replyText(e.Message)}
	}
	if errors.Is(err, context.Canceled) && c.ctx.Err() != nil {
		return &gosmtp.SMTPError{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down"}
	}
	c.lc.Log.Error("backend error", "op", op, "err", err)
	if op == opLogin {
		return &gosmtp.SMTPError{Code: 454, EnhancedCode: gosmtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}
	}
	return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "Internal server error, try again later"}
}

// opLogin is the operation of Backend.Login, for replyError.
const opLogin = "login"

// replyText keeps a reply on one line.
func replyText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if strings.TrimSpace(s) == "" {
		return "Error"
	}
	return s
}

// mechCRAMMD5 is the SASL name of CRAM-MD5 (RFC 2195).
const mechCRAMMD5 = "CRAM-MD5"

func (sess *session) AuthMechanisms() []string {
	if sess.cramMD5() != nil {
		return []string{sasl.Plain, sasl.Login, mechCRAMMD5}
	}
	return []string{sasl.Plain, sasl.Login}
}

// cramMD5 returns the Backend as a BackendCRAMMD5 if it takes CRAM-MD5
// logins now, or nil.
func (sess *session) cramMD5() BackendCRAMMD5 {
	if be, ok := sess.srv.Backend.(BackendCRAMMD5); ok && be.CRAMMD5Available(sess.c.ctx) {
		return be
	}
	return nil
}

func (sess *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			return sess.login(identity, username, password)
		}), nil
	case sasl.Login:
		return &loginServer{authenticate: func(username, password string) error {
			return sess.login("", username, password)
		}}, nil
	case mechCRAMMD5:
		if be := sess.cramMD5(); be != nil {
			return &cramMD5Server{challenge: cramMD5Challenge(sess.srv.domain), authenticate: func(username, challenge, digest string) error {
				return sess.check(username, func(ctx context.Context) error {
					if !isMD5Hex(digest) {
						return ErrAuthFailed
					}
					return be.LoginCRAMMD5(ctx, username, challenge, digest)
				})
			}}, nil
		}
	}
	return nil, gosmtp.ErrAuthUnknownMechanism
}

// login checks AUTH credentials with the Backend. An identity other than
// the user name (RFC 4616 §2) is refused: the server does not act for
// another user.
func (sess *session) login(identity, username, password string) error {
	return sess.check(username, func(ctx context.Context) error {
		if identity != "" && identity != username {
			return ErrAuthFailed
		}
		return sess.srv.Backend.Login(ctx, username, password)
	})
}

// check runs the Backend's check of a login as username, whatever the
// mechanism. Before the check it waits as long as the server's AuthLimiter
// says, for the client's address and the account, whatever the
// credentials; a failure counts there, and a success forgives both.
func (sess *session) check(username string, backendCheck func(ctx context.Context) error) error {
	c, lim := sess.c, sess.srv.authLimiter
	if err := lim.Wait(c.ctx, c.RemoteAddr(), username); err != nil {
		return sess.srv.replyError(c, opLogin, err)
	}
	err := backendCheck(c.ctx)
	var e *Error
	switch {
	case err == nil:
		lim.Succeeded(c.RemoteAddr(), username)
		if err := c.injectReply(fault.Point{Moment: fault.MomentLogin, User: username}); err != nil {
			return err
		}
		c.lc.User = username
		sess.mu.Lock()
		sess.env.AuthUser = username
		sess.mu.Unlock()
		return nil
	case errors.As(err, &e) && e.Code >= 500 && e.Code <= 599:
		// The guard delays the reply and counts it against
		// MaxAuthFailures.
		lim.Failed(c.RemoteAddr(), username)
		c.lc.Log.Info("authentication failed", "user", lineproto.Quote([]byte(username)))
	}
	return sess.srv.replyError(c, opLogin, err)
}

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login), which go-sasl offers only as a client.
type loginServer struct {
	authenticate func(username, password string) error
	state        int
	username     string
}

func (a *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch a.state {
	case 0:
		if response == nil {
			a.state = 1
			return []byte("Username:"), false, nil
		}
		a.username, a.state = string(response), 2
		return []byte("Password:"), false, nil
	case 1:
		a.username, a.state = string(response), 2
		return []byte("Password:"), false, nil
	case 2:
		a.state = 3
		return nil, true, a.authenticate(a.username, string(response))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}

// cramMD5Server is the server side of CRAM-MD5 (RFC 2195), which go-sasl
// offers only as a client: the server sends challenge, and the client
// answers with its user name, a space, and the hex HMAC-MD5 of the
// challenge keyed with its password. CRAM-MD5 has no initial response.
type cramMD5Server struct {
	challenge    string
	authenticate func(username, challenge, digest string) error
	state        int
}

func (a *cramMD5Server) Next(response []byte) (challenge []byte, done bool, err error) {
	switch a.state {
	case 0:
		if len(response) > 0 {
			return nil, false, errCRAMMD5InitialResponse
		}
		a.state = 1
		return []byte(a.challenge), false, nil
	case 1:
		a.state = 2
		// The user name may hold spaces; the digest does not.
		i := bytes.LastIndexByte(response, ' ')
		if i < 0 {
			return nil, true, a.authenticate(string(response), a.challenge, "")
		}
		return nil, true, a.authenticate(string(response[:i]), a.challenge, strings.ToLower(string(response[i+1:])))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}

var errCRAMMD5InitialResponse = &gosmtp.SMTPError{Code: 501, EnhancedCode: gosmtp.EnhancedCode{5, 5, 2}, Message: "CRAM-MD5 takes no initial response"}

// cramMD5Challenge returns a new challenge in the form of RFC 2195's
// example, a message ID: <random.time@domain>.
func cramMD5Challenge(domain string) string {
	return fmt.Sprintf("<%s.%d@%s>", newID(), time.Now().Unix(), domain)
}

// isMD5Hex reports whether s is an MD5 digest in lower-case hex, as RFC
// 2195 §2 writes it.
func isMD5Hex(s string) bool {
	if len(s) != 2*md5.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
