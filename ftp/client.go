package ftp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"net/textproto"
	"path"
	"strconv"
	"strings"
	"time"
)

// DefaultClientTimeout is the Timeout of a Client whose options give none.
const DefaultClientTimeout = time.Minute

// ClientOptions configures a Client. A nil *ClientOptions is equivalent to
// the zero value.
type ClientOptions struct {
	// TLSConfig is used by DialTLS, DialStartTLS and StartTLS(nil), for
	// the control connection and the data connections alike. Nil means a
	// default config; a config without ServerName gets the host of the
	// address dialled, and one without ClientSessionCache gets a cache of
	// its own, so that data connections resume the control connection's
	// TLS session (RFC 4217 §10.2; vsftpd requires it).
	TLSConfig *tls.Config
	// Timeout bounds dialling, every command and its reply, and each read
	// or write of a data connection: a transfer may take any time, but
	// not stall for longer. Zero means DefaultClientTimeout.
	Timeout time.Duration
	// DebugWriter, if non-nil, receives a copy of the control connection's
	// traffic, after TLS decryption. It includes passwords.
	DebugWriter io.Writer
	// Active makes the client open data connections the active way: it
	// listens on the control connection's local address and sends EPRT
	// (RFC 2428), or PORT for IPv4 if the server does not know EPRT; the
	// server connects to it. By default the client is passive: EPSV, or
	// PASV if the server does not know EPSV.
	Active bool
}

func (o *ClientOptions) timeout() time.Duration {
	if o == nil || o.Timeout <= 0 {
		return DefaultClientTimeout
	}
	return o.Timeout
}

// A Client is an FTP client. It is synchronous and not safe for concurrent
// use. After an I/O error or a timeout the connection is in an unknown
// state: call Close.
type Client struct {
	conn       net.Conn // the control connection
	br         *bufio.Reader
	bw         *bufio.Writer
	opts       ClientOptions
	serverName string      // for TLS
	tlsConfig  *tls.Config // of the control and data connections, once TLS is on
	isTLS      bool
	protP      bool              // data connections use TLS (PROT P)
	feat       map[string]string // FEAT's answer; nil until asked
	noEPSV     bool              // the server does not know EPSV: use PASV
	noEPRT     bool              // the server does not know EPRT: use PORT
	transfer   *transferReader   // an open Retrieve
}

var (
	errTransferOpen = errors.New("ftp: the reader of the previous Retrieve is not closed")
	errArgCRLF      = errors.New("ftp: command argument holds CR or LF")
	errReaderClosed = errors.New("ftp: read of a closed Retrieve reader")
)

// Dial connects to the FTP server at addr (host:port) and reads its
// greeting. A nil options pointer is equivalent to a zero options value.
func Dial(ctx context.Context, addr string, opts *ClientOptions) (*Client, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return newClient(ctx, conn, opts, dialHost(addr), nil)
}

// DialTLS connects to the FTPS server at addr, with implicit TLS (the
// control connection is TLS from its start, usually on port 990), reads
// its greeting and protects data connections with PBSZ 0 and PROT P
// (RFC 4217 §9).
func DialTLS(ctx context.Context, addr string, opts *ClientOptions) (*Client, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	var cfg *tls.Config
	if opts != nil {
		cfg = opts.TLSConfig
	}
	cfg = clientTLSConfig(cfg, dialHost(addr))
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return newClient(ctx, conn, opts, dialHost(addr), cfg)
}

// DialStartTLS connects to the FTP server at addr, reads its greeting and
// starts TLS with StartTLS(nil).
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
// The host of conn's remote address is the TLS server name when the
// TLSConfig has none. If conn is a *tls.Conn, the connection is taken as
// implicit TLS, as DialTLS does; its data connections resume its session
// only if conn was made with ClientOptions.TLSConfig.
func NewClient(conn net.Conn, opts *ClientOptions) (*Client, error) {
	host := dialHost(conn.RemoteAddr().String())
	var cfg *tls.Config
	if _, ok := conn.(*tls.Conn); ok {
		if opts != nil {
			cfg = opts.TLSConfig
		}
		cfg = clientTLSConfig(cfg, host)
	}
	return newClient(context.Background(), conn, opts, host, cfg)
}

// newClient reads the greeting; cfg is the TLS config of a conn that is
// already TLS, or nil. If ctx is done first, conn is closed and ctx's
// error returned: Dial's context bounds the greeting too, not only the
// connect.
func newClient(ctx context.Context, conn net.Conn, opts *ClientOptions, host string, cfg *tls.Config) (*Client, error) {
	c := &Client{conn: conn, serverName: host, tlsConfig: cfg, isTLS: cfg != nil}
	if opts != nil {
		c.opts = *opts
	}
	c.setIO()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err := c.greeting()
	if err == nil && c.isTLS {
		err = c.protect()
	}
	if !stop() && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// greeting reads the server's greeting: 220, maybe after 120 ("ready in
// a few minutes"), RFC 959 §5.4.
func (c *Client) greeting() error {
	for range 10 {
		c.conn.SetDeadline(time.Now().Add(c.opts.timeout()))
		code, text, err := readReply(c.br)
		switch {
		case err != nil:
			return fmt.Errorf("ftp: greeting: %w", err)
		case code == 120:
			continue
		case code == 220:
			return nil
		case code >= 400:
			return &Error{Code: code, Message: text}
		default:
			return unexpectedReply("greeting", code, text)
		}
	}
	return textproto.ProtocolError("ftp: greeting: too many 120 replies")
}

func dialHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return host
}

// clientTLSConfig returns a copy of cfg, or a default, with ServerName set to
// host if it has none and a session cache if it has none: data connections
// share it to resume the control connection's session.
func clientTLSConfig(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.ClientSessionCache == nil {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
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
	c.br = bufio.NewReader(r)
	c.bw = bufio.NewWriter(w)
}

// unexpectedReply returns the error for a positive reply that is not the one
// the command expects. Only the verb of the command is quoted: its
// argument may be a password.
func unexpectedReply(cmd string, code int, text string) error {
	verb, _, _ := strings.Cut(cmd, " ")
	if len(text) > 80 {
		text = text[:80] + "..."
	}
	return textproto.ProtocolError(fmt.Sprintf("ftp: unexpectedReply reply to %s: %d %q", verb, code, text))
}

// send writes a command line; it refuses one holding CR or LF, which
// would smuggle in a second command.
func (c *Client) send(line string) error {
	if strings.ContainsAny(line, "\r\n") {
		return errArgCRLF
	}
	c.conn.SetDeadline(time.Now().Add(c.opts.timeout()))
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	return c.bw.Flush()
}

// reply reads a reply within the Timeout.
func (c *Client) reply() (int, string, error) {
	c.conn.SetDeadline(time.Now().Add(c.opts.timeout()))
	return readReply(c.br)
}

// Cmd sends a command line and returns the code and text of its reply, as
// they are: a negative reply is not an error. The error reports I/O
// failures, a malformed reply, a line holding CR or LF, and a Retrieve
// whose reader is still open. Cmd is for tests and tools; a command that
// opens a data connection needs more than Cmd.
func (c *Client) Cmd(line string) (code int, text string, err error) {
	if c.transfer != nil {
		return 0, "", errTransferOpen
	}
	if err := c.send(line); err != nil {
		return 0, "", err
	}
	return c.reply()
}

// expect sends a command line and reads its reply: a negative reply is a
// *Error, and a positive one for which ok is false a ProtocolError.
func (c *Client) expect(line string, ok func(code int) bool) (string, error) {
	code, text, err := c.Cmd(line)
	if err != nil {
		return "", err
	}
	if code >= 400 {
		return "", &Error{Code: code, Message: text}
	}
	if !ok(code) {
		return "", unexpectedReply(line, code, text)
	}
	return text, nil
}

func replyIs(want int) func(int) bool { return func(code int) bool { return code == want } }

func replyIs2xx(code int) bool { return code >= 200 && code < 300 }

// simple sends a command whose reply must be positive completion (2xx).
func (c *Client) simple(line string) error {
	_, err := c.expect(line, replyIs2xx)
	return err
}

// cmdWithArg returns verb, and arg after a space if arg is not empty.
func cmdWithArg(verb, arg string) string {
	if arg == "" {
		return verb
	}
	return verb + " " + arg
}

// StartTLS sends AUTH TLS (RFC 4217 §4) and starts TLS with config, or
// with ClientOptions.TLSConfig if config is nil, then sends PBSZ 0 and
// PROT P, so that data connections use TLS too, resuming the control
// connection's session. A config without ServerName gets the host
// dialled. The features are asked again after it.
func (c *Client) StartTLS(config *tls.Config) error {
	if c.isTLS {
		return errors.New("ftp: TLS already active")
	}
	if _, err := c.expect("AUTH TLS", replyIs(234)); err != nil {
		return err
	}
	if c.br.Buffered() > 0 {
		// Sent before the handshake, it would be read as if it came
		// inside TLS (response injection).
		return textproto.ProtocolError("ftp: server sent data after the AUTH TLS reply")
	}
	if config == nil {
		config = c.opts.TLSConfig
	}
	cfg := clientTLSConfig(config, c.serverName)
	tc := tls.Client(c.conn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.timeout())
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	c.conn, c.tlsConfig, c.isTLS, c.feat = tc, cfg, true, nil
	c.setIO()
	return c.protect()
}

// protect sends PBSZ 0 and PROT P (RFC 4217 §8, §9).
func (c *Client) protect() error {
	if err := c.simple("PBSZ 0"); err != nil {
		return err
	}
	if err := c.simple("PROT P"); err != nil {
		return err
	}
	c.protP = true
	return nil
}

// TLS reports whether the control connection uses TLS.
func (c *Client) TLS() bool { return c.isTLS }

// Features returns the features of the server, by upper-case name, each
// with the rest of its line ("MLST" → "type*;size*;modify*;"), from a FEAT
// command (RFC 2389) sent the first time they are needed, and again after
// StartTLS and Login. The map is empty if the server does not know FEAT or
// the command failed. The caller may change the map.
func (c *Client) Features() map[string]string {
	feat, _ := c.features()
	return maps.Clone(feat)
}

func (c *Client) features() (map[string]string, error) {
	if c.feat != nil {
		return c.feat, nil
	}
	code, text, err := c.Cmd("FEAT")
	if err != nil {
		return map[string]string{}, err
	}
	feat := map[string]string{}
	if code == 211 {
		lines := strings.Split(text, "\n")
		for _, l := range lines[1 : len(lines)-1] {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			name, value, _ := strings.Cut(l, " ")
			feat[strings.ToUpper(name)] = strings.TrimSpace(value)
		}
	}
	c.feat = feat
	return feat, nil
}

// Login sends USER and PASS (RFC 959 §4.1.1). A server that asks for an
// account (332) is an error: the client has none to give. After logging
// in it asks for the features, sends OPTS UTF8 ON if the server lists
// UTF8 (RFC 2640 §3.2), and sets TYPE I.
func (c *Client) Login(user, pass string) error {
	code, text, err := c.Cmd("USER " + user)
	if err != nil {
		return err
	}
	switch {
	case code == 331:
		code, text, err = c.Cmd("PASS " + pass)
		if err != nil {
			return err
		}
		switch {
		case code == 230 || code == 202:
		case code >= 300:
			return &Error{Code: code, Message: text}
		default:
			return unexpectedReply("PASS", code, text)
		}
	case code == 230:
	case code >= 300:
		return &Error{Code: code, Message: text}
	default:
		return unexpectedReply("USER", code, text)
	}
	c.feat = nil
	feat, err := c.features()
	if err != nil {
		return err
	}
	if _, ok := feat["UTF8"]; ok {
		if _, _, err := c.Cmd("OPTS UTF8 ON"); err != nil {
			return err
		}
	}
	return c.Type(true)
}

// Type sends TYPE I (binary, the default after Login) or TYPE A (ASCII,
// where the server converts line endings).
func (c *Client) Type(binary bool) error {
	if binary {
		return c.simple("TYPE I")
	}
	return c.simple("TYPE A")
}

// ChangeDir sends CWD.
func (c *Client) ChangeDir(path string) error { return c.simple("CWD " + path) }

// CurrentDir sends PWD and returns the directory of its 257 reply, quoted
// as RFC 959 Appendix II says: `"/a ""b"" c" is current directory.`
func (c *Client) CurrentDir() (string, error) {
	text, err := c.expect("PWD", replyIs(257))
	if err != nil {
		return "", err
	}
	dir, ok := unquote257(text)
	if !ok {
		return "", unexpectedReply("PWD", 257, text)
	}
	return dir, nil
}

// unquote257 returns the quoted path name that starts the text of a 257
// reply, where a quote in the name is doubled.
func unquote257(text string) (string, bool) {
	if !strings.HasPrefix(text, `"`) {
		return "", false
	}
	var sb strings.Builder
	for i := 1; i < len(text); i++ {
		if text[i] != '"' {
			sb.WriteByte(text[i])
			continue
		}
		if i+1 < len(text) && text[i+1] == '"' {
			sb.WriteByte('"')
			i++
			continue
		}
		return sb.String(), true
	}
	return "", false
}

// MakeDir sends MKD.
func (c *Client) MakeDir(path string) error { return c.simple("MKD " + path) }

// RemoveDir sends RMD.
func (c *Client) RemoveDir(path string) error { return c.simple("RMD " + path) }

// Delete sends DELE.
func (c *Client) Delete(path string) error { return c.simple("DELE " + path) }

// Rename sends RNFR and RNTO.
func (c *Client) Rename(from, to string) error {
	if strings.ContainsAny(to, "\r\n") {
		return errArgCRLF
	}
	if _, err := c.expect("RNFR "+from, replyIs(350)); err != nil {
		return err
	}
	return c.simple("RNTO " + to)
}

// Noop sends NOOP.
func (c *Client) Noop() error { return c.simple("NOOP") }

// Size sends SIZE (RFC 3659 §4) and returns the size of the file in octets,
// as it would be transferred in the current TYPE.
func (c *Client) Size(path string) (int64, error) {
	text, err := c.expect("SIZE "+path, replyIs(213))
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil || n < 0 {
		return 0, unexpectedReply("SIZE", 213, text)
	}
	return n, nil
}

// ModTime sends MDTM (RFC 3659 §3) and returns the time the file was last
// modified, in UTC.
func (c *Client) ModTime(path string) (time.Time, error) {
	text, err := c.expect("MDTM "+path, replyIs(213))
	if err != nil {
		return time.Time{}, err
	}
	t, err := parseFactTime(strings.TrimSpace(text))
	if err != nil {
		return time.Time{}, unexpectedReply("MDTM", 213, text)
	}
	return t, nil
}

// Stat returns the Entry of the file or directory path, and its Name is
// the last element of path. It sends MLST (RFC 3659 §7) when the server
// lists it in its features; otherwise it sends SIZE and MDTM, and, if
// SIZE fails, PWD and CWD to find whether path is a directory (its Size is
// then -1) and CWD again to come back.
func (c *Client) Stat(p string) (Entry, error) {
	feat, err := c.features()
	if err != nil {
		return Entry{}, err
	}
	if _, ok := feat["MLST"]; ok {
		text, err := c.expect(cmdWithArg("MLST", p), replyIs(250))
		if err != nil {
			return Entry{}, err
		}
		for _, l := range strings.Split(text, "\n") {
			if !strings.HasPrefix(l, " ") {
				continue
			}
			e, err := parseMLSxEntry(strings.TrimSuffix(l[1:], "\r"))
			if err != nil {
				return Entry{}, unexpectedReply("MLST", 250, l)
			}
			e.Name = path.Base(e.Name)
			return e, nil
		}
		return Entry{}, unexpectedReply("MLST", 250, text)
	}
	name := path.Base(p)
	size, sizeErr := c.Size(p)
	if sizeErr == nil {
		e := Entry{Name: name, Type: EntryFile, Size: size}
		if t, err := c.ModTime(p); err == nil {
			e.ModTime = t
		} else if !isReplyError(err) {
			return Entry{}, err
		}
		return e, nil
	}
	if !isReplyError(sizeErr) {
		return Entry{}, sizeErr
	}
	dir, err := c.CurrentDir()
	if err != nil {
		return Entry{}, err
	}
	if err := c.ChangeDir(p); err != nil {
		if isReplyError(err) {
			return Entry{}, sizeErr
		}
		return Entry{}, err
	}
	if err := c.ChangeDir(dir); err != nil {
		return Entry{}, err
	}
	return Entry{Name: name, Type: EntryDir, Size: -1}, nil
}

// isReplyError reports whether err is a reply of the server: a *Error.
func isReplyError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Quit sends QUIT and closes the connection. It first closes the reader
// of a Retrieve left open, which aborts the transfer if it is not at EOF.
func (c *Client) Quit() error {
	if c.transfer != nil {
		c.transfer.Close()
	}
	err := c.simple("QUIT")
	if cerr := c.conn.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

// Close closes the connection, and the data connection of an open
// Retrieve, without QUIT.
func (c *Client) Close() error {
	if c.transfer != nil {
		c.transfer.raw.Close()
		c.transfer = nil
	}
	return c.conn.Close()
}

// netAddrPort returns the IP address and port of a, unmapped from IPv6.
func netAddrPort(a net.Addr) (netip.AddrPort, bool) {
	if tcp, ok := a.(*net.TCPAddr); ok {
		ap := tcp.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}
