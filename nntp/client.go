package nntp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
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
	// command and reading its reply, and each read of an article. Zero
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

// maxClientLineBytes caps a line of a reply the client reads: longer than
// MaxReplyBytes, since overview lines can be long.
const maxClientLineBytes = 64 << 10

// A Client is an NNTP client. It is synchronous and not safe for concurrent
// use. After an I/O error or a timeout the connection is in an unknown
// state: call Close.
type Client struct {
	conn       net.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
	opts       ClientOptions
	serverName string
	isTLS      bool
	code       int    // of the greeting or the last MODE READER
	greeting   string // text of the greeting
	body       *ArticleReader
}

var errBodyOpen = errors.New("nntp: the reader of the previous article is not closed")

// Dial connects to the NNTP server at addr (host:port) and reads its
// greeting.
func Dial(ctx context.Context, addr string, opts *ClientOptions) (*Client, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return newClient(ctx, conn, opts, addr, false)
}

// DialTLS connects to the NNTPS server at addr (implicit TLS, RFC 8143)
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
	return newClient(ctx, conn, opts, addr, true)
}

// DialStartTLS connects to the NNTP server at addr, reads its greeting and
// starts TLS with STARTTLS (RFC 4642).
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
	return newClient(context.Background(), conn, opts, "", isTLS)
}

func newClient(ctx context.Context, conn net.Conn, opts *ClientOptions, addr string, isTLS bool) (*Client, error) {
	c := &Client{conn: conn, serverName: hostOf(addr), isTLS: isTLS}
	if opts != nil {
		c.opts = *opts
	}
	c.setIO()
	deadline := time.Now().Add(c.opts.timeout())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.conn.SetDeadline(deadline)
	code, text, err := c.status()
	if err == nil && code != 200 && code != 201 {
		err = textproto.ProtocolError("nntp: unexpected greeting " + strconv.Quote(truncate(strconv.Itoa(code)+" "+text, 64)))
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("nntp: greeting: %w", err)
	}
	c.code, c.greeting = code, text
	return c, nil
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return host
}

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

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (c *Client) setIO() {
	var r io.Reader = c.conn
	var w io.Writer = c.conn
	if c.opts.DebugWriter != nil {
		r = io.TeeReader(r, c.opts.DebugWriter)
		w = io.MultiWriter(c.opts.DebugWriter, w)
	}
	c.br = bufio.NewReaderSize(r, maxClientLineBytes)
	c.bw = bufio.NewWriter(w)
}

// Greeting returns the text of the server's greeting, after its code.
func (c *Client) Greeting() string { return c.greeting }

// PostingAllowed reports whether the greeting, or the reply to the last
// ModeReader, said that posting is allowed (200 rather than 201).
func (c *Client) PostingAllowed() bool { return c.code == 200 }

// readLine reads a line and returns it without its line ending.
func (c *Client) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", textproto.ProtocolError("nntp: reply line too long")
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r"), nil
}

// status reads a status line: a positive code and its text, or a *Error.
func (c *Client) status() (int, string, error) {
	line, err := c.readLine()
	if err != nil {
		return 0, "", err
	}
	if len(line) < 3 || (len(line) > 3 && line[3] != ' ') {
		return 0, "", textproto.ProtocolError("nntp: invalid reply " + strconv.Quote(truncate(line, 64)))
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil || code < 100 || code > 599 {
		return 0, "", textproto.ProtocolError("nntp: invalid reply " + strconv.Quote(truncate(line, 64)))
	}
	text := ""
	if len(line) > 4 {
		text = line[4:]
	}
	if code >= 400 {
		return code, text, &Error{Code: code, Message: text}
	}
	return code, text, nil
}

// cmd sends a command line and reads the status line of its reply, which
// must have code want (or a code in want).
func (c *Client) cmd(line string, want ...int) (int, string, error) {
	if c.body != nil {
		return 0, "", errBodyOpen
	}
	if strings.ContainsAny(line, "\r\n") {
		return 0, "", errors.New("nntp: command argument holds CR or LF")
	}
	c.conn.SetDeadline(time.Now().Add(c.opts.timeout()))
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	if err := c.bw.Flush(); err != nil {
		return 0, "", err
	}
	return c.expect(want...)
}

func (c *Client) expect(want ...int) (int, string, error) {
	code, text, err := c.status()
	if err != nil {
		return code, text, err
	}
	for _, w := range want {
		if code == w {
			return code, text, nil
		}
	}
	return code, text, textproto.ProtocolError(fmt.Sprintf("nntp: unexpected reply %d %s", code, truncate(text, 64)))
}

// maxListLines caps the lines of a multi-line reply read into memory.
const maxListLines = 1 << 22

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
			return nil, textproto.ProtocolError("nntp: too many lines in reply")
		}
		lines = append(lines, strings.TrimPrefix(line, "."))
	}
}

// Capabilities sends CAPABILITIES (RFC 3977 §5.2) and returns the
// capabilities, upper-cased, each with its arguments: "LIST" → ["ACTIVE",
// "NEWSGROUPS", ...].
func (c *Client) Capabilities() (map[string][]string, error) {
	if _, _, err := c.cmd("CAPABILITIES", 101); err != nil {
		return nil, err
	}
	lines, err := c.lines()
	if err != nil {
		return nil, err
	}
	caps := make(map[string][]string, len(lines))
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 0 {
			caps[strings.ToUpper(f[0])] = f[1:]
		}
	}
	return caps, nil
}

// ModeReader sends MODE READER (RFC 3977 §5.3) and reports whether posting
// is allowed.
func (c *Client) ModeReader() (postingAllowed bool, err error) {
	code, _, err := c.cmd("MODE READER", 200, 201)
	if err != nil {
		return false, err
	}
	c.code = code
	return code == 200, nil
}

// StartTLS sends STARTTLS (RFC 4642) and starts TLS with cfg, or with
// ClientOptions.TLSConfig if cfg is nil.
func (c *Client) StartTLS(cfg *tls.Config) error {
	if c.isTLS {
		return errors.New("nntp: TLS already active")
	}
	if _, _, err := c.cmd("STARTTLS", 382); err != nil {
		return err
	}
	if c.br.Buffered() > 0 {
		return textproto.ProtocolError("nntp: server sent data after the STARTTLS reply")
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

// Login authenticates with AUTHINFO USER and PASS (RFC 4643 §2.3).
func (c *Client) Login(user, pass string) error {
	code, _, err := c.cmd("AUTHINFO USER "+user, 281, 381)
	if err != nil || code == 281 {
		return err
	}
	_, _, err = c.cmd("AUTHINFO PASS "+pass, 281)
	return err
}

// List sends LIST ACTIVE with wildmat ("" for every group) and returns the
// groups, with their water marks and status.
func (c *Client) List(wildmat string) ([]Group, error) {
	cmd := "LIST ACTIVE"
	if wildmat != "" {
		cmd += " " + wildmat
	}
	return c.groupList(cmd, 215)
}

// NewGroups sends NEWGROUPS and returns the groups created since then.
func (c *Client) NewGroups(since time.Time) ([]Group, error) {
	return c.groupList("NEWGROUPS "+since.UTC().Format("20060102 150405")+" GMT", 231)
}

func (c *Client) groupList(cmd string, code int) ([]Group, error) {
	if _, _, err := c.cmd(cmd, code); err != nil {
		return nil, err
	}
	lines, err := c.lines()
	if err != nil {
		return nil, err
	}
	groups := make([]Group, 0, len(lines))
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 4 || len(f[3]) == 0 {
			return nil, badReply(cmd, l)
		}
		high, err1 := strconv.ParseInt(f[1], 10, 64)
		low, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, badReply(cmd, l)
		}
		groups = append(groups, Group{Name: f[0], High: high, Low: low, Status: f[3][0]})
	}
	return groups, nil
}

func badReply(cmd, text string) error {
	return textproto.ProtocolError("nntp: invalid reply to " + cmd + ": " + strconv.Quote(truncate(text, 64)))
}

// Newsgroups sends LIST NEWSGROUPS with wildmat ("" for every group) and
// returns the descriptions by group name.
func (c *Client) Newsgroups(wildmat string) (map[string]string, error) {
	cmd := "LIST NEWSGROUPS"
	if wildmat != "" {
		cmd += " " + wildmat
	}
	if _, _, err := c.cmd(cmd, 215); err != nil {
		return nil, err
	}
	lines, err := c.lines()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(lines))
	for _, l := range lines {
		name, desc, _ := strings.Cut(l, "\t")
		if name, d, ok := strings.Cut(name, " "); ok && desc == "" {
			out[name] = strings.TrimSpace(d)
			continue
		}
		out[name] = strings.TrimSpace(desc)
	}
	return out, nil
}

// parseGroupReply parses "count low high name" of a 211 reply.
func parseGroupReply(text string) (Group, bool) {
	f := strings.Fields(text)
	if len(f) < 4 {
		return Group{}, false
	}
	var n [3]int64
	for i := range n {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return Group{}, false
		}
		n[i] = v
	}
	return Group{Count: n[0], Low: n[1], High: n[2], Name: f[3]}, true
}

// Group sends GROUP and returns the group's count and water marks; it
// becomes the selected group.
func (c *Client) Group(name string) (Group, error) {
	_, text, err := c.cmd("GROUP "+name, 211)
	if err != nil {
		return Group{}, err
	}
	g, ok := parseGroupReply(text)
	if !ok {
		return Group{}, badReply("GROUP", text)
	}
	return g, nil
}

// rangeArg formats a range: "low-high", or "low-" when high is 0.
func rangeArg(low, high int64) string {
	if high == 0 {
		return strconv.FormatInt(low, 10) + "-"
	}
	return strconv.FormatInt(low, 10) + "-" + strconv.FormatInt(high, 10)
}

// ListGroup sends LISTGROUP for group (selecting it) and returns the
// numbers of its articles from low to high (0 for no upper bound).
func (c *Client) ListGroup(group string, low, high int64) ([]int64, error) {
	if _, _, err := c.cmd("LISTGROUP "+group+" "+rangeArg(low, high), 211); err != nil {
		return nil, err
	}
	lines, err := c.lines()
	if err != nil {
		return nil, err
	}
	nums := make([]int64, 0, len(lines))
	for _, l := range lines {
		n, err := strconv.ParseInt(strings.TrimSpace(l), 10, 64)
		if err != nil {
			return nil, badReply("LISTGROUP", l)
		}
		nums = append(nums, n)
	}
	return nums, nil
}

// Over sends OVER for the articles of the selected group from low to high
// (0 for no upper bound) and returns their overviews. Xref holds the
// field's value without "Xref: " and the server's name.
func (c *Client) Over(low, high int64) ([]Overview, error) {
	if _, _, err := c.cmd("OVER "+rangeArg(low, high), 224); err != nil {
		return nil, err
	}
	lines, err := c.lines()
	if err != nil {
		return nil, err
	}
	out := make([]Overview, 0, len(lines))
	for _, l := range lines {
		o, ok := parseOverview(l)
		if !ok {
			return nil, badReply("OVER", l)
		}
		out = append(out, o)
	}
	return out, nil
}

func parseOverview(l string) (Overview, bool) {
	f := strings.Split(l, "\t")
	if len(f) < 8 {
		return Overview{}, false
	}
	var o Overview
	var err error
	if o.Number, err = strconv.ParseInt(f[0], 10, 64); err != nil {
		return o, false
	}
	o.Subject, o.From, o.Date, o.MessageID, o.References = f[1], f[2], f[3], f[4], f[5]
	o.Bytes, _ = strconv.ParseInt(f[6], 10, 64)
	o.Lines, _ = strconv.ParseInt(f[7], 10, 64)
	if len(f) > 8 {
		x := f[8]
		if len(x) >= 5 && strings.EqualFold(x[:5], "Xref:") {
			x = strings.TrimSpace(x[5:])
			if _, rest, ok := strings.Cut(x, " "); ok {
				x = rest
			}
			o.Xref = x
		}
	}
	return o, true
}

// An ArticleReader reads an article, or its header or body, as the server
// sent it, dot-stuffing removed, with CRLF line endings. The caller must
// Close it before the next call on the Client.
type ArticleReader struct {
	// Number is the article's number in the selected group, 0 when asked
	// for by message-id.
	Number int64
	// MessageID is the article's message-id.
	MessageID string

	c      *Client
	dr     *lineproto.DotReader
	closed bool
}

// Read implements io.Reader.
func (a *ArticleReader) Read(p []byte) (int, error) {
	if a.closed {
		return 0, errors.New("nntp: read of a closed article reader")
	}
	return a.dr.Read(p)
}

// Close reads the rest of the article, up to its terminating line, and
// frees the Client for the next command.
func (a *ArticleReader) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	_, err := io.Copy(io.Discard, a.dr)
	a.c.body = nil
	return err
}

// parseArticleReply parses "n <message-id>" of a 22x reply.
func parseArticleReply(text string) (int64, string, bool) {
	f := strings.Fields(text)
	if len(f) < 2 {
		return 0, "", false
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	return n, f[1], err == nil
}

func (c *Client) article(cmd, spec string, code int) (*ArticleReader, error) {
	if spec != "" {
		cmd += " " + spec
	}
	_, text, err := c.cmd(cmd, code)
	if err != nil {
		return nil, err
	}
	n, id, ok := parseArticleReply(text)
	if !ok {
		return nil, badReply(cmd, text)
	}
	timeout := c.opts.timeout()
	dr := lineproto.NewDotReader(c.br)
	dr.Before = func() { c.conn.SetReadDeadline(time.Now().Add(timeout)) }
	c.body = &ArticleReader{Number: n, MessageID: id, c: c, dr: dr}
	return c.body, nil
}

// Article sends ARTICLE for spec (a message-id, a number in the selected
// group, or "" for the current article) and returns a reader of the
// article.
func (c *Client) Article(spec string) (*ArticleReader, error) {
	return c.article("ARTICLE", spec, 220)
}

// Head is Article for the header only (HEAD).
func (c *Client) Head(spec string) (*ArticleReader, error) {
	return c.article("HEAD", spec, 221)
}

// Body is Article for the body only (BODY).
func (c *Client) Body(spec string) (*ArticleReader, error) {
	return c.article("BODY", spec, 222)
}

// Stat sends STAT for spec, as Article does, and returns the article's
// number and message-id.
func (c *Client) Stat(spec string) (int64, string, error) {
	cmd := "STAT"
	if spec != "" {
		cmd += " " + spec
	}
	return c.moved(cmd)
}

// Next sends NEXT and returns the number and message-id of the article it
// moved to.
func (c *Client) Next() (int64, string, error) { return c.moved("NEXT") }

// Last sends LAST and returns the number and message-id of the article it
// moved to.
func (c *Client) Last() (int64, string, error) { return c.moved("LAST") }

func (c *Client) moved(cmd string) (int64, string, error) {
	_, text, err := c.cmd(cmd, 223)
	if err != nil {
		return 0, "", err
	}
	n, id, ok := parseArticleReply(text)
	if !ok {
		return 0, "", badReply(cmd, text)
	}
	return n, id, nil
}

// headerCapture keeps the first octets of an article, to find its
// Message-ID field.
type headerCapture struct {
	buf bytes.Buffer
}

func (h *headerCapture) Write(p []byte) (int, error) {
	if room := 64<<10 - h.buf.Len(); room > 0 {
		h.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// messageIDOf finds the Message-ID field in the header of an article.
func messageIDOf(head []byte) string {
	header, _ := splitArticle(normalizeCRLF(head))
	fields, _ := parseHeader(header)
	id, _ := fieldValue(fields, "Message-ID")
	return id
}

// sendArticle writes an article dot-stuffed, with CRLF line endings, and
// the terminating line, and reads the final reply.
func (c *Client) sendArticle(r io.Reader, want int) (string, *headerCapture, error) {
	var h headerCapture
	dw := lineproto.NewDotWriter(c.bw)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			c.conn.SetWriteDeadline(time.Now().Add(c.opts.timeout()))
			if _, werr := dw.Write(buf[:n]); werr != nil {
				return "", nil, werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, err // the connection is left mid-article: Close it
		}
	}
	dw.Close()
	c.conn.SetDeadline(time.Now().Add(c.opts.timeout()))
	if err := c.bw.Flush(); err != nil {
		return "", nil, err
	}
	_, text, err := c.expect(want)
	return text, &h, err
}

// Post sends POST and the article read from r (RFC 3977 §6.3.1) and
// returns its message-id: the one the server's 240 reply names, else the
// article's own. An error reading r leaves the connection in the middle of
// the article: Close the Client then.
func (c *Client) Post(r io.Reader) (string, error) {
	if _, _, err := c.cmd("POST", 340); err != nil {
		return "", err
	}
	text, h, err := c.sendArticle(r, 240)
	if err != nil {
		return "", err
	}
	if i := strings.IndexByte(text, '<'); i >= 0 {
		if j := strings.IndexByte(text[i:], '>'); j > 0 && validMessageID(text[i:i+j+1]) {
			return text[i : i+j+1], nil
		}
	}
	return messageIDOf(h.buf.Bytes()), nil
}

// IHave offers the article with message-id id with IHAVE (RFC 3977
// §6.3.2) and sends it, read from r, if the server wants it. A server that
// does not want it returns a *Error with code 435; one that refuses it
// after the transfer, 437.
func (c *Client) IHave(id string, r io.Reader) error {
	if _, _, err := c.cmd("IHAVE "+id, 335); err != nil {
		return err
	}
	_, _, err := c.sendArticle(r, 235)
	return err
}

// NewNews sends NEWNEWS for the groups matching wildmat and the time
// since, in GMT, and returns the message-ids of the articles that arrived
// since then.
func (c *Client) NewNews(wildmat string, since time.Time) ([]string, error) {
	if _, _, err := c.cmd("NEWNEWS "+wildmat+" "+since.UTC().Format("20060102 150405")+" GMT", 230); err != nil {
		return nil, err
	}
	return c.lines()
}

// Date sends DATE (RFC 3977 §7.1) and returns the server's time, in UTC.
func (c *Client) Date() (time.Time, error) {
	_, text, err := c.cmd("DATE", 111)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse("20060102150405", strings.TrimSpace(text))
	if err != nil {
		return time.Time{}, badReply("DATE", text)
	}
	return t, nil
}

// Quit sends QUIT and closes the connection.
func (c *Client) Quit() error {
	_, _, err := c.cmd("QUIT", 205)
	if cerr := c.conn.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

// Close closes the connection without QUIT.
func (c *Client) Close() error {
	return c.conn.Close()
}
