package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// DefaultClientTimeout is the default per-command timeout of a Client:
// RFC 5321 §4.5.3.2 asks clients to wait 5 minutes for most replies.
const DefaultClientTimeout = 5 * time.Minute

// ErrPlaintextAuth is returned by SendMail when it has credentials but no
// TLS: the server offered no STARTTLS. Only TLSPolicyNone sends a password
// without TLS.
var ErrPlaintextAuth = errors.New("smtp: the server offers no TLS; not sending the password in clear (TLSPolicyNone allows it)")

// TLSPolicy says how SendMail uses TLS.
type TLSPolicy int

const (
	// TLSPolicyOpportunistic uses STARTTLS when the server offers it and
	// plaintext otherwise, but never sends a password without TLS
	// (ErrPlaintextAuth). It is the zero value.
	TLSPolicyOpportunistic TLSPolicy = iota
	// TLSPolicyStartTLS requires STARTTLS (RFC 3207).
	TLSPolicyStartTLS
	// TLSPolicyImplicit starts TLS with the connection (RFC 8314, smtps).
	TLSPolicyImplicit
	// TLSPolicyNone never uses TLS.
	TLSPolicyNone
)

// String returns the policy's name.
func (p TLSPolicy) String() string {
	switch p {
	case TLSPolicyOpportunistic:
		return "opportunistic"
	case TLSPolicyStartTLS:
		return "starttls"
	case TLSPolicyImplicit:
		return "implicit"
	case TLSPolicyNone:
		return "none"
	}
	return fmt.Sprintf("TLSPolicy(%d)", int(p))
}

// ClientOptions configures a Client. A nil *ClientOptions is equivalent to
// the zero value.
type ClientOptions struct {
	// TLSConfig is used by DialTLS, DialStartTLS and StartTLS; nil means
	// a default config for the host of the address dialled.
	TLSConfig *tls.Config
	// TLSPolicy says how SendMail uses TLS; Dial, DialTLS and
	// DialStartTLS ignore it.
	TLSPolicy TLSPolicy
	// Timeout bounds every read and write; zero means
	// DefaultClientTimeout.
	Timeout time.Duration
	// LocalName is the name sent with EHLO; "" means "localhost".
	LocalName string
	// Username and Password, if Username is not empty, make SendMail
	// authenticate with AUTH PLAIN or LOGIN.
	Username, Password string
	// DebugWriter, if non-nil, receives a copy of all traffic (it may
	// include passwords).
	DebugWriter io.Writer
}

func (o *ClientOptions) timeout() time.Duration {
	if o == nil || o.Timeout <= 0 {
		return DefaultClientTimeout
	}
	return o.Timeout
}

// A Client is an SMTP client connection, a thin layer over go-smtp's
// client that returns *Error for negative replies, applies a deadline to
// every read and write, and normalises message text. It is not safe for
// concurrent use.
type Client struct {
	c          *gosmtp.Client
	conn       *clientConn
	opts       ClientOptions
	serverName string
}

// Dial connects to the SMTP server at addr (host:port), reads its greeting
// and sends EHLO. The connection stays in plaintext; use DialStartTLS or
// StartTLS for TLS, or SendMail, which uses STARTTLS when offered.
func Dial(ctx context.Context, addr string, opts *ClientOptions) (*Client, error) {
	return dial(ctx, addr, opts, false)
}

// DialTLS connects to the SMTP server at addr with implicit TLS (RFC 8314,
// port 465), reads its greeting and sends EHLO.
func DialTLS(ctx context.Context, addr string, opts *ClientOptions) (*Client, error) {
	return dial(ctx, addr, opts, true)
}

// DialStartTLS is Dial followed by StartTLS. It fails if the server does
// not offer STARTTLS.
func DialStartTLS(ctx context.Context, addr string, opts *ClientOptions) (*Client, error) {
	c, err := Dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	defer stop()
	if err := c.StartTLS(nil); err != nil {
		c.Close()
		return nil, ctxErr(ctx, err)
	}
	return c, nil
}

func dial(ctx context.Context, addr string, opts *ClientOptions, implicitTLS bool) (*Client, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	d := net.Dialer{Timeout: opts.timeout()}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if implicitTLS {
		tc := tls.Client(nc, tlsConfig(opts, host))
		tc.SetDeadline(time.Now().Add(opts.timeout()))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		tc.SetDeadline(time.Time{})
		nc = tc
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	c, err := NewClient(nc, opts)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	c.serverName = host
	return c, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func tlsConfig(opts *ClientOptions, host string) *tls.Config {
	var cfg *tls.Config
	if opts != nil && opts.TLSConfig != nil {
		cfg = opts.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}

// NewClient reads the server greeting from conn, sends EHLO (or HELO to a
// server that refuses EHLO) and returns a Client that owns conn.
func NewClient(conn net.Conn, opts *ClientOptions) (*Client, error) {
	c := &Client{conn: &clientConn{Conn: conn, timeout: opts.timeout()}}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.LocalName == "" {
		c.opts.LocalName = "localhost"
	}
	if err := c.start(c.conn); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// start makes a go-smtp client on nc and greets the server.
func (c *Client) start(nc net.Conn) error {
	c.c = gosmtp.NewClient(nc)
	c.c.DebugWriter = c.opts.DebugWriter
	c.c.CommandTimeout = c.conn.timeout
	c.c.SubmissionTimeout = c.conn.timeout
	return convErr(c.c.Hello(c.opts.LocalName))
}

// convErr turns go-smtp's reply errors into *Error.
func convErr(err error) error {
	var se *gosmtp.SMTPError
	if errors.As(err, &se) {
		return &Error{Code: se.Code, EnhancedCode: EnhancedCode(se.EnhancedCode), Message: se.Message}
	}
	return err
}

// Hello sends RSET, then EHLO (or HELO) as localName: NewClient has
// already greeted the server with ClientOptions.LocalName.
func (c *Client) Hello(localName string) error {
	if err := c.c.Reset(); err != nil {
		return convErr(err)
	}
	c.opts.LocalName = localName
	return convErr(c.c.Hello(localName))
}

// Extension reports whether the server offers the extension ext (case
// insensitive), and its parameters.
func (c *Client) Extension(ext string) (bool, string) { return c.c.Extension(ext) }

// TLS reports whether the connection uses TLS.
func (c *Client) TLS() bool {
	_, ok := c.conn.Conn.(*tls.Conn)
	return ok
}

// StartTLS sends STARTTLS (RFC 3207), performs the TLS handshake with
// config (nil means ClientOptions.TLSConfig, or a default config for the
// server's host) and greets the server again with EHLO.
func (c *Client) StartTLS(config *tls.Config) error {
	if c.TLS() {
		return errors.New("smtp: TLS already active")
	}
	if ok, _ := c.c.Extension("STARTTLS"); !ok {
		return errors.New("smtp: server does not offer STARTTLS")
	}
	// go-smtp can start TLS only as it connects, so the command is sent
	// here and a new go-smtp client is made over the TLS connection.
	tp := textproto.NewConn(debugConn{c.conn, c.opts.DebugWriter})
	if err := tp.PrintfLine("STARTTLS"); err != nil {
		return err
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		var te *textproto.Error
		if errors.As(err, &te) {
			return convErr(&gosmtp.SMTPError{Code: te.Code, Message: te.Msg})
		}
		return err
	}
	if config == nil {
		config = tlsConfig(&c.opts, c.serverName)
	} else if config.ServerName == "" {
		config = config.Clone()
		config.ServerName = c.serverName
	}
	tc := tls.Client(c.conn.Conn, config)
	tc.SetDeadline(time.Now().Add(c.conn.timeout))
	if err := tc.Handshake(); err != nil {
		return err
	}
	tc.SetDeadline(time.Time{})
	c.conn.Conn = tc
	// The new go-smtp client expects a greeting: it gets this one, made
	// up here, and then sends EHLO over TLS.
	c.conn.replay = []byte("220 TLS started\r\n")
	return c.start(c.conn)
}

// Auth authenticates with AUTH PLAIN, or AUTH LOGIN if the server offers
// only that (RFC 4954).
func (c *Client) Auth(username, password string) error {
	var a sasl.Client
	switch {
	case c.c.SupportsAuth(sasl.Plain):
		a = sasl.NewPlainClient("", username, password)
	case c.c.SupportsAuth(sasl.Login):
		a = sasl.NewLoginClient(username, password)
	default:
		return errors.New("smtp: server offers neither AUTH PLAIN nor AUTH LOGIN")
	}
	return convErr(c.c.Auth(a))
}

// MailOptions are the parameters of a MAIL command.
type MailOptions struct {
	// UTF8 adds SMTPUTF8 (RFC 6531), needed for non-ASCII addresses.
	UTF8 bool
	// Size announces the message size (RFC 1870), if not zero.
	Size int64
}

// Mail sends a MAIL FROM command; from "" is the null sender. A nil opts
// is equivalent to a zero one.
func (c *Client) Mail(from string, opts *MailOptions) error {
	var o *gosmtp.MailOptions
	if opts != nil {
		o = &gosmtp.MailOptions{UTF8: opts.UTF8, Size: opts.Size}
	}
	return convErr(c.c.Mail(from, o))
}

// Rcpt sends a RCPT TO command.
func (c *Client) Rcpt(to string) error { return convErr(c.c.Rcpt(to, nil)) }

// Data sends DATA and returns a writer for the message. The writer turns
// every bare CR and bare LF into CRLF (RFC 5321 §2.3.8), so that no server
// can read the message's end differently, and dot-stuffs lines (RFC 5321
// §4.5.2); its Close sends the final dot and returns the server's verdict.
// Close it before calling any other method.
func (c *Client) Data() (*DataWriter, error) {
	dc, err := c.c.Data()
	if err != nil {
		return nil, convErr(err)
	}
	return &DataWriter{dc: dc}, nil
}

// Reset sends RSET, aborting the mail transaction.
func (c *Client) Reset() error {
	if err := c.c.Reset(); err != nil {
		return convErr(err)
	}
	return convErr(c.c.Hello(c.opts.LocalName))
}

// Noop sends NOOP.
func (c *Client) Noop() error { return convErr(c.c.Noop()) }

// Verify sends VRFY for addr. It returns nil for 250 and for 252 ("cannot
// verify, but will accept"), *Error for negative replies.
func (c *Client) Verify(addr string) error {
	err := convErr(c.c.Verify(addr))
	var e *Error
	if errors.As(err, &e) && e.Code == 252 {
		return nil
	}
	return err
}

// Quit sends QUIT and closes the connection.
func (c *Client) Quit() error {
	err := convErr(c.c.Quit())
	c.conn.Close()
	return err
}

// Close closes the connection without QUIT.
func (c *Client) Close() error { return c.conn.Close() }

// A DataWriter writes the text of a message after DATA. See Client.Data.
type DataWriter struct {
	dc    *gosmtp.DataCommand
	cr    bool
	buf   []byte
	reply string
}

// Write writes message text, turning bare CR and bare LF into CRLF.
func (w *DataWriter) Write(p []byte) (int, error) {
	w.buf = w.buf[:0]
	for _, b := range p {
		if w.cr && b != '\n' {
			w.buf = append(w.buf, '\n')
		}
		w.cr = b == '\r'
		w.buf = append(w.buf, b)
	}
	// go-smtp's writer (textproto's DotWriter) adds the CR of bare LFs
	// and dot-stuffs.
	if _, err := w.dc.Write(w.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close ends the message and waits for the server's reply: nil for 250,
// or *Error.
func (w *DataWriter) Close() error {
	if w.cr {
		w.cr = false
		if _, err := w.dc.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
	resp, err := w.dc.CloseWithResponse()
	if err != nil {
		return convErr(err)
	}
	w.reply = "250 " + resp.StatusText
	return nil
}

// Reply returns the server's final reply line to the message, as
// "250 2.0.0 OK: queued", once Close has returned nil.
func (w *DataWriter) Reply() string { return w.reply }

// SendResult reports what happened to a message sent with SendMail.
type SendResult struct {
	// Accepted lists the recipients the server accepted.
	Accepted []string
	// Refused maps each refused recipient to the server's reply.
	Refused map[string]*Error
	// Reply is the server's final reply to the message, as
	// "250 2.0.0 OK: queued"; "" if it was not sent.
	Reply string
}

// SendMail connects to addr, uses TLS as opts.TLSPolicy says,
// authenticates if opts.Username is set, and sends msg from from to the
// recipients to. Refused recipients are reported in the result; the
// message is sent if at least one was accepted, and an error is returned
// if none was or if the message was refused. Line endings in msg are
// normalised to CRLF.
func SendMail(ctx context.Context, addr string, opts *ClientOptions, from string, to []string, msg io.Reader) (*SendResult, error) {
	if opts == nil {
		opts = &ClientOptions{}
	}
	var (
		c   *Client
		err error
	)
	switch opts.TLSPolicy {
	case TLSPolicyImplicit:
		c, err = DialTLS(ctx, addr, opts)
	case TLSPolicyStartTLS:
		c, err = DialStartTLS(ctx, addr, opts)
	default:
		c, err = Dial(ctx, addr, opts)
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	defer stop()
	res, err := c.sendMail(opts, from, to, msg)
	return res, ctxErr(ctx, err)
}

func (c *Client) sendMail(opts *ClientOptions, from string, to []string, msg io.Reader) (*SendResult, error) {
	if opts.TLSPolicy == TLSPolicyOpportunistic && !c.TLS() {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(nil); err != nil {
				return nil, err
			}
		}
	}
	if opts.Username != "" {
		if !c.TLS() && opts.TLSPolicy != TLSPolicyNone {
			// A server that offers no STARTTLS (or an attacker who struck
			// it from the EHLO reply) would get the password in clear.
			return nil, ErrPlaintextAuth
		}
		if err := c.Auth(opts.Username, opts.Password); err != nil {
			return nil, err
		}
	}
	res := &SendResult{Refused: make(map[string]*Error)}
	utf8 := !isASCII(from)
	for _, r := range to {
		utf8 = utf8 || !isASCII(r)
	}
	if err := c.Mail(from, &MailOptions{UTF8: utf8}); err != nil {
		return res, err
	}
	var first error
	for _, r := range to {
		err := c.Rcpt(r)
		var e *Error
		switch {
		case err == nil:
			res.Accepted = append(res.Accepted, r)
		case errors.As(err, &e):
			res.Refused[r] = e
			if first == nil {
				first = e
			}
		default:
			return res, err
		}
	}
	if len(res.Accepted) == 0 {
		c.c.Reset()
		if first == nil {
			first = errors.New("no recipients")
		}
		return res, fmt.Errorf("smtp: every recipient refused: %w", first)
	}
	w, err := c.Data()
	if err != nil {
		return res, err
	}
	if _, err := io.Copy(w, msg); err != nil {
		return res, err
	}
	if err := w.Close(); err != nil {
		return res, err
	}
	res.Reply = w.Reply()
	c.c.Quit()
	return res, nil
}

// clientConn applies the client's timeout to every read and write, and
// first returns replay, a made-up greeting for a go-smtp client started
// after STARTTLS.
type clientConn struct {
	net.Conn
	timeout time.Duration
	replay  []byte
}

func (c *clientConn) Read(p []byte) (int, error) {
	if len(c.replay) > 0 {
		n := copy(p, c.replay)
		c.replay = c.replay[n:]
		return n, nil
	}
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(p)
}

func (c *clientConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(p)
}

// SetDeadline and friends are no-ops: go-smtp sets and clears deadlines
// around commands, but the DATA text is written without one; clientConn
// sets its own before every read and write instead.
func (c *clientConn) SetDeadline(time.Time) error      { return nil }
func (c *clientConn) SetReadDeadline(time.Time) error  { return nil }
func (c *clientConn) SetWriteDeadline(time.Time) error { return nil }

// debugConn copies traffic to w, if not nil.
type debugConn struct {
	rw io.ReadWriter
	w  io.Writer
}

func (d debugConn) Read(p []byte) (int, error) {
	n, err := d.rw.Read(p)
	if d.w != nil && n > 0 {
		d.w.Write(p[:n])
	}
	return n, err
}

func (d debugConn) Write(p []byte) (int, error) {
	if d.w != nil {
		d.w.Write(p)
	}
	return d.rw.Write(p)
}

func (d debugConn) Close() error { return nil }
