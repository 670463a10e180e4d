package pop3

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/inetkit/inetkit/lineproto"
)

// ClientOptions configures a Client. A nil *ClientOptions is equivalent to
// the zero value.
type ClientOptions struct {
	// TLSConfig is used by DialTLS, DialStartTLS and StartTLS(nil). Nil
	// means a default config; a config without ServerName gets the host of
	// the address dialled.
	TLSConfig *tls.Config
	// Timeout bounds every command: dialling and the greeting, sending a
	// command and reading its reply, and each read of a message body. Zero
	// means DefaultClientTimeout.
	Timeout time.Duration
	// DebugWriter, if non-nil, receives a copy of all traffic after TLS
	// decryption. It includes passwords.
	DebugWriter io.Writer
}

func (o *ClientOptions) timeout() time.Duration {
	if o == nil || o.Timeout <= 0 {
		return DefaultClientTimeout
	}
	return o.Timeout
}

// A Client is a POP3 client. It is synchronous and not safe for concurrent
// use. After an I/O error or a timeout the connection is in an unknown state:
// call Close.
type Client struct {
	conn       net.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
	opts       ClientOptions
	serverName string
	greeting   string
	isTLS      bool
	body       *messageReader // an open Retrieve or Top reply
}

var errBodyOpen = errors.New("pop3: the reader of the previous Retrieve or Top is not closed")

// Dial connects to the POP3 server at addr (host:port) and reads its
// greeting.
func Dial(ctx context.Context, addr string, opts *ClientOptions) (*Client, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return newClient(conn, opts, addr, false)
}

// DialTLS connects to the POP3S server at addr (implicit TLS, RFC 8314)
// and reads its greeting.
func DialTLS(ctx context.Context, addr string, opts *ClientOptions) (*Client, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	var cfg *tls.Config
	if opts != nil {
		cfg = opts.TLSConfig
	}
	d := tls.Dialer{Config: tlsConfig(cfg, hostOf(addr))}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return newClient(conn, opts, addr, true)
}

// DialStartTLS connects to the POP3 server at addr, reads its greeting and
// starts TLS with STLS (RFC 2595).
func DialStartTLS(ctx context.Context, addr string, opts *ClientOptions) (*Client, error) {
	c, err := Dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	if err := c.StartTLS(nil); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// NewClient reads the server greeting from conn and returns a Client
// using conn. A nil options pointer is equivalent to a zero options value.
func NewClient(conn net.Conn, opts *ClientOptions) (*Client, error) {
	_, isTLS := conn.(*tls.Conn)
	return newClient(conn, opts, "", isTLS)
}

func newClient(conn net.Conn, opts *ClientOptions, addr string, isTLS bool) (*Client, error) {
	c := &Client{conn: conn, serverName: hostOf(addr), isTLS: isTLS}
	if opts != nil {
		c.opts = *opts
	}
	c.setIO()
	c.conn.SetDeadline(time.Now().Add(c.opts.timeout()))
	line, err := c.readLine()
	if err == nil {
		c.greeting, err = parseStatus(line)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("pop3: greeting: %w", err)
	}
	return c, nil
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return host
}

// tlsConfig returns cfg, or a default, with ServerName set to host if it
// has none.
func tlsConfig(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}

func (c *Client) setIO() {
	var r io.Reader = c.conn
	var w io.Writer = c.conn
	if c.opts.DebugWriter != nil {
		r = io.TeeReader(r, c.opts.DebugWriter)
		w = io.MultiWriter(c.opts.DebugWriter, w)
	}
	c.br = bufio.NewReaderSize(r, MaxReplyBytes)
	c.bw = bufio.NewWriter(w)
}

// Greeting returns the text of the server's greeting, after "+OK ".
func (c *Client) Greeting() string { return c.greeting }

// readLine reads a reply line, at most MaxReplyBytes long, and returns it
// without its line ending.
func (c *Client) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", textproto.ProtocolError("pop3: reply line too long")
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
	return s, nil
}

// cmd sends a command line and reads the status line of its reply; it
// returns the text after "+OK", or a *Error for "-ERR".
func (c *Client) cmd(line string) (string, error) {
	if c.body != nil {
		return "", errBodyOpen
	}
	if strings.ContainsAny(line, "\r\n") {
		return "", errors.New("pop3: command argument holds CR or LF")
	}
	c.conn.SetDeadline(time.Now().Add(c.opts.timeout()))
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	if err := c.bw.Flush(); err != nil {
		return "", err
	}
	return c.status()
}

func (c *Client) status() (string, error) {
	line, err := c.readLine()
	if err != nil {
		return "", err
	}
	return parseStatus(line)
}

// maxListLines caps the lines of a multi-line reply read into memory.
const maxListLines = 1 << 20

// lines reads the body of a multi-line reply, un-stuffed, without line
// endings.
func (c *Client) lines() ([]string, error) {
	var lines []string
	for {
		line, err := c.readLine()
		if err != nil {
			return nil, err
		}
		if line == "." {
			return lines, nil
		}
		if len(lines) >= maxListLines {
			return nil, textproto.ProtocolError("pop3: too many lines in reply")
		}
		lines = append(lines, strings.TrimPrefix(line, "."))
	}
}

// Capabilities sends a CAPA command (RFC 2449 §5) and returns the
// capabilities, upper-cased, each with its arguments: "SASL" → ["PLAIN"].
func (c *Client) Capabilities() (map[string][]string, error) {
	if _, err := c.cmd("CAPA"); err != nil {
		return nil, err
	}
	lines, err := c.lines()
	if err != nil {
		return nil, err
	}
	caps := make(map[string][]string, len(lines))
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		caps[strings.ToUpper(f[0])] = f[1:]
	}
	return caps, nil
}

// StartTLS sends an STLS command (RFC 2595) and starts TLS with cfg, or
// with ClientOptions.TLSConfig if cfg is nil. A config without ServerName
// gets the host dialled.
func (c *Client) StartTLS(cfg *tls.Config) error {
	if c.isTLS {
		return errors.New("pop3: TLS already active")
	}
	if _, err := c.cmd("STLS"); err != nil {
		return err
	}
	if c.br.Buffered() > 0 {
		// Sent before the handshake, it would be read as if it came
		// inside TLS (response injection).
		return textproto.ProtocolError("pop3: server sent data after the STLS reply")
	}
	if cfg == nil {
		cfg = c.opts.TLSConfig
	}
	tc := tls.Client(c.conn, tlsConfig(cfg, c.serverName))
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.timeout())
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	c.conn, c.isTLS = tc, true
	c.setIO()
	return nil
}

// Login sends USER and PASS commands (RFC 1939 §7).
func (c *Client) Login(user, pass string) error {
	if _, err := c.cmd("USER " + user); err != nil {
		return err
	}
	_, err := c.cmd("PASS " + pass)
	return err
}

// LoginPlain authenticates with an AUTH PLAIN command (RFC 5034, RFC 4616),
// with the credentials as the initial response, or after the server's "+"
// continuation when the command line would exceed MaxLineBytes.
func (c *Client) LoginPlain(user, pass string) error {
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	if len("AUTH PLAIN ")+len(resp)+2 <= MaxLineBytes {
		_, err := c.cmd("AUTH PLAIN " + resp)
		return err
	}
	if c.body != nil {
		return errBodyOpen
	}
	c.conn.SetDeadline(time.Now().Add(c.opts.timeout()))
	c.bw.WriteString("AUTH PLAIN\r\n")
	if err := c.bw.Flush(); err != nil {
		return err
	}
	line, err := c.readLine()
	if err != nil {
		return err
	}
	if line != "+" && !strings.HasPrefix(line, "+ ") {
		_, err := parseStatus(line)
		if err == nil {
			err = textproto.ProtocolError("pop3: AUTH PLAIN: no continuation")
		}
		return err
	}
	_, err = c.cmd(resp)
	return err
}

// APOP logs in with an APOP command (RFC 1939 §7): it sends the MD5 digest
// of the greeting's timestamp and secret, not the secret itself. It fails if
// the greeting has no timestamp.
func (c *Client) APOP(user, secret string) error {
	i := strings.IndexByte(c.greeting, '<')
	j := strings.LastIndexByte(c.greeting, '>')
	if i < 0 || j < i {
		return errors.New("pop3: the server greeting has no APOP timestamp")
	}
	sum := md5.Sum([]byte(c.greeting[i:j+1] + secret))
	_, err := c.cmd("APOP " + user + " " + hex.EncodeToString(sum[:]))
	return err
}

// Stat sends a STAT command and returns the number of messages in the
// maildrop and their total size in octets.
func (c *Client) Stat() (count int, size int64, err error) {
	text, err := c.cmd("STAT")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(text)
	if len(f) < 2 {
		return 0, 0, badReply("STAT", text)
	}
	count, err1 := strconv.Atoi(f[0])
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || count < 0 || size < 0 {
		return 0, 0, badReply("STAT", text)
	}
	return count, size, nil
}

func badReply(cmd, text string) error {
	return textproto.ProtocolError("pop3: invalid " + cmd + " reply " + strconv.Quote(truncate(text, 64)))
}

// parseMessageSize parses "n size", a line of a LIST reply.
func parseMessageSize(s string) (MessageSize, bool) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return MessageSize{}, false
	}
	n, err1 := strconv.Atoi(f[0])
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || n < 1 || size < 0 {
		return MessageSize{}, false
	}
	return MessageSize{Number: n, Size: size}, true
}

// List sends a LIST command and returns the number and size of every
// message not deleted.
func (c *Client) List() ([]MessageSize, error) {
	if _, err := c.cmd("LIST"); err != nil {
		return nil, err
	}
	lines, err := c.lines()
	if err != nil {
		return nil, err
	}
	list := make([]MessageSize, 0, len(lines))
	for _, l := range lines {
		m, ok := parseMessageSize(l)
		if !ok {
			return nil, badReply("LIST", l)
		}
		list = append(list, m)
	}
	return list, nil
}

// ListOne sends a LIST command for message n and returns its size.
func (c *Client) ListOne(n int) (MessageSize, error) {
	text, err := c.cmd("LIST " + strconv.Itoa(n))
	if err != nil {
		return MessageSize{}, err
	}
	m, ok := parseMessageSize(text)
	if !ok {
		return MessageSize{}, badReply("LIST", text)
	}
	return m, nil
}

// parseMessageUID parses "n uid", a line of a UIDL reply.
func parseMessageUID(s string) (MessageUID, bool) {
	num, uid, ok := strings.Cut(strings.TrimSpace(s), " ")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 1 || uid == "" {
		return MessageUID{}, false
	}
	return MessageUID{Number: n, UID: strings.TrimSpace(uid)}, true
}

// UIDL sends a UIDL command (RFC 1939 §7) and returns the unique-id of
// every message not deleted.
func (c *Client) UIDL() ([]MessageUID, error) {
	if _, err := c.cmd("UIDL"); err != nil {
		return nil, err
	}
	lines, err := c.lines()
	if err != nil {
		return nil, err
	}
	list := make([]MessageUID, 0, len(lines))
	for _, l := range lines {
		m, ok := parseMessageUID(l)
		if !ok {
			return nil, badReply("UIDL", l)
		}
		list = append(list, m)
	}
	return list, nil
}

// UIDLOne sends a UIDL command for message n and returns its unique-id.
func (c *Client) UIDLOne(n int) (string, error) {
	text, err := c.cmd("UIDL " + strconv.Itoa(n))
	if err != nil {
		return "", err
	}
	m, ok := parseMessageUID(text)
	if !ok {
		return "", badReply("UIDL", text)
	}
	return m.UID, nil
}

// Retrieve sends a RETR command and returns a reader of message n, with
// the dot-stuffing removed and line endings as the server sent them (CRLF).
// The caller must Close the reader before the next call on c; Close reads
// what is left of the message. Each read of the reader must make progress
// within the Timeout.
func (c *Client) Retrieve(n int) (io.ReadCloser, error) {
	return c.multiline("RETR " + strconv.Itoa(n))
}

// Top sends a TOP command (RFC 1939 §7) and returns a reader of the header
// of message n, the blank line after it, and the first lines of its body, as
// Retrieve does.
func (c *Client) Top(n, lines int) (io.ReadCloser, error) {
	return c.multiline("TOP " + strconv.Itoa(n) + " " + strconv.Itoa(lines))
}

func (c *Client) multiline(cmd string) (io.ReadCloser, error) {
	if _, err := c.cmd(cmd); err != nil {
		return nil, err
	}
	timeout := c.opts.timeout()
	dr := lineproto.NewDotReader(c.br)
	dr.Before = func() { c.conn.SetReadDeadline(time.Now().Add(timeout)) }
	c.body = &messageReader{c: c, dr: dr}
	return c.body, nil
}

// messageReader is the reader Retrieve and Top return.
type messageReader struct {
	c      *Client
	dr     *lineproto.DotReader
	closed bool
}

func (m *messageReader) Read(p []byte) (int, error) {
	if m.closed {
		return 0, errors.New("pop3: read of a closed message reader")
	}
	return m.dr.Read(p)
}

// Close reads the rest of the message, up to its terminating line, and
// frees the Client for the next command.
func (m *messageReader) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	_, err := io.Copy(io.Discard, m.dr)
	m.c.body = nil
	return err
}

// Delete sends a DELE command: the server marks message n as deleted, and
// removes it at Quit.
func (c *Client) Delete(n int) error {
	_, err := c.cmd("DELE " + strconv.Itoa(n))
	return err
}

// Reset sends an RSET command: the server unmarks the messages marked as
// deleted.
func (c *Client) Reset() error {
	_, err := c.cmd("RSET")
	return err
}

// Noop sends a NOOP command.
func (c *Client) Noop() error {
	_, err := c.cmd("NOOP")
	return err
}

// Quit sends a QUIT command, which makes the server remove the messages
// marked as deleted, and closes the connection. A *Error reports that the
// server could not remove them.
func (c *Client) Quit() error {
	_, err := c.cmd("QUIT")
	if cerr := c.conn.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

// Close closes the connection without QUIT: the server deletes nothing.
func (c *Client) Close() error {
	return c.conn.Close()
}
