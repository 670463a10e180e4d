package gopher

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Defaults for the zero values of Client fields.
const (
	// DefaultClientTimeout bounds a whole request: dialling, sending the
	// selector and reading the answer.
	DefaultClientTimeout = time.Minute
	// DefaultMaxBytes caps an answer.
	DefaultMaxBytes = 64 << 20
)

// ErrTooLarge is returned by Client.Do for an answer longer than
// Client.MaxBytes.
var ErrTooLarge = errors.New("gopher: answer too large")

// A ServerError is an answer that is an error item (type 3): what a server
// sends for a selector it cannot serve.
type ServerError struct {
	Message string
}

func (e *ServerError) Error() string { return "gopher: server error: " + e.Message }

// A Client fetches Gopher resources. Its zero value is ready to use. A
// Client is safe for concurrent use: each request has its own connection.
type Client struct {
	// Timeout bounds each request, from dialling to the end of the answer.
	// Zero means DefaultClientTimeout; a negative value means none (the
	// context still applies).
	Timeout time.Duration
	// MaxBytes caps an answer; a longer one fails with ErrTooLarge. Zero
	// means DefaultMaxBytes; a negative value means no cap.
	MaxBytes int64
	// DialContext dials the server; nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DefaultClient is the Client used by Get.
var DefaultClient = &Client{}

// A Response is the answer to a request.
type Response struct {
	// URL is what was requested.
	URL *URL
	// Type is the type of the item requested, from the URL.
	Type Type
	// Body is the answer as the server sent it, up to the end of the
	// connection: for a menu, its lines and the "." line; for a file, the
	// file.
	Body []byte
}

// Menu parses the body as a menu, with ParseMenu.
func (r *Response) Menu() ([]Item, error) { return ParseMenu(bytes.NewReader(r.Body)) }

// Get fetches the resource at rawURL, a gopher URL, with DefaultClient.
func Get(ctx context.Context, rawURL string) (*Response, error) {
	return DefaultClient.Get(ctx, rawURL)
}

// Get fetches the resource at rawURL, a gopher URL (RFC 4266).
func (c *Client) Get(ctx context.Context, rawURL string) (*Response, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, u)
}

// Do fetches the resource at u: it connects to u.Addr(), sends the
// selector, and the search string after a TAB if there is one, and reads
// the answer until the server closes the connection. An answer that is an
// error item (a menu whose first item is of type 3, or, for other types,
// an answer of that form naming error.host, as servers send them) returns
// a *ServerError with the Response.
func (c *Client) Do(ctx context.Context, u *URL) (*Response, error) {
	if unsafeField(u.Selector) || unsafeField(u.Search) {
		return nil, errors.New("gopher: TAB, CR, LF or NUL in the selector or search string")
	}
	if d := c.timeout(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	dial := c.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", u.Addr())
	if err != nil {
		return nil, fmt.Errorf("gopher: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	req := u.Selector
	if u.Search != "" {
		req += "\t" + u.Search
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		return nil, c.ioError(ctx, err)
	}
	var r io.Reader = conn
	max := c.maxBytes()
	if max > 0 {
		r = io.LimitReader(conn, max+1)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, c.ioError(ctx, err)
	}
	if max > 0 && int64(len(body)) > max {
		return nil, ErrTooLarge
	}
	typ := u.Type
	if typ == 0 {
		typ = TypeMenu
	}
	resp := &Response{URL: u, Type: typ, Body: body}
	if msg, ok := errorAnswer(typ, body); ok {
		return resp, &ServerError{Message: msg}
	}
	return resp, nil
}

// errorAnswer reports whether body is an error item, and its message.
func errorAnswer(typ Type, body []byte) (string, bool) {
	if len(body) == 0 || body[0] != byte(TypeError) {
		return "", false
	}
	line, _, _ := bytes.Cut(body, []byte("\n"))
	it := parseItem(string(bytes.TrimRight(line, "\r")))
	if typ.IsMenu() || it.Host == "error.host" {
		return it.Display, true
	}
	return "", false
}

func (c *Client) ioError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("gopher: %w", context.Cause(ctx))
	}
	return fmt.Errorf("gopher: %w", err)
}

func (c *Client) timeout() time.Duration {
	switch {
	case c.Timeout < 0:
		return 0
	case c.Timeout == 0:
		return DefaultClientTimeout
	}
	return c.Timeout
}

func (c *Client) maxBytes() int64 {
	switch {
	case c.MaxBytes < 0:
		return 0
	case c.MaxBytes == 0:
		return DefaultMaxBytes
	}
	return c.MaxBytes
}

// Text returns the body of a text file without the "." line that RFC 1436
// §3.8 servers end it with, undoing their dot-stuffing, if the body ends
// with that line; otherwise (as most servers send text today) it returns
// the body as it is.
func (r *Response) Text() []byte {
	b := r.Body
	var end int
	switch {
	case bytes.Equal(b, []byte(".\r\n")), bytes.Equal(b, []byte(".\n")), bytes.Equal(b, []byte(".")):
		return nil
	case bytes.HasSuffix(b, []byte("\r\n.\r\n")):
		end = len(b) - 3
	case bytes.HasSuffix(b, []byte("\n.\n")):
		end = len(b) - 2
	case bytes.HasSuffix(b, []byte("\r\n.")):
		end = len(b) - 1
	default:
		return b
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b[:end]))
	sc.Buffer(nil, len(b)+1)
	sc.Split(scanLinesKeep)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "..") {
			line = line[1:]
		}
		out.WriteString(line)
	}
	return out.Bytes()
}

// scanLinesKeep is bufio.ScanLines keeping the line endings.
func scanLinesKeep(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
