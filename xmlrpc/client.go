package xmlrpc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DefaultMaxResponseBytes is the largest response body a [Client] reads
// when ClientOptions.MaxResponseBytes is zero.
const DefaultMaxResponseBytes = 16 << 20

// ClientOptions configures a Client. A nil *ClientOptions is equivalent to
// the zero value.
type ClientOptions struct {
	// HTTPClient sends the requests. Nil means http.DefaultClient.
	HTTPClient *http.Client
	// Timeout bounds each call: sending the request and reading the whole
	// response. Zero means DefaultClientTimeout.
	Timeout time.Duration
	// MaxResponseBytes is the largest response body read; a call whose
	// response is longer fails. Zero means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// MaxValues is how many values (every <value> element, nested ones
	// included) a response may hold. Zero means DefaultMaxValues.
	MaxValues int
	// Username and Password, if Username is not empty, are sent with every
	// request in HTTP Basic authentication (RFC 7617). Without them, the
	// user information of the URL (http://user:password@host/), if any, is
	// used, as Python's ServerProxy does.
	Username, Password string
}

// A Client calls the methods of an XML-RPC server. It is Python's
// xmlrpc.client.ServerProxy. A Client is safe for concurrent use: each
// call is one HTTP request, over the connections of its http.Client.
type Client struct {
	url                string
	opts               ClientOptions
	username, password string
	auth               bool
}

// NewClient returns a Client for the XML-RPC server at url, an http or
// https URL. This function doesn't perform I/O; a malformed url makes every
// call fail.
func NewClient(rawURL string, opts *ClientOptions) *Client {
	c := &Client{url: rawURL}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.Username != "" {
		c.username, c.password, c.auth = c.opts.Username, c.opts.Password, true
	}
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if !c.auth {
			c.username = u.User.Username()
			c.password, _ = u.User.Password()
			c.auth = true
		}
		u.User = nil
		c.url = u.String()
	}
	return c
}

// Call calls method with args, encoded as [Marshal] does, and decodes its
// result into reply, as [Unmarshal] does. reply is a pointer (a *any
// receives the result as the package documentation describes), or nil to
// discard the result.
//
// A fault response is returned as a *Fault, an HTTP status other than 200
// as a *StatusError, and a response that is not XML-RPC as a
// *ProtocolError; a result that does not fit reply is a *TypeError.
func (c *Client) Call(ctx context.Context, method string, args []any, reply any) error {
	var buf bytes.Buffer
	if err := encodeCall(&buf, method, args); err != nil {
		return err
	}
	v, err := c.roundTrip(ctx, &buf)
	if err != nil {
		return err
	}
	if reply == nil {
		return nil
	}
	return assignTo(reply, v)
}

// A Call is one call of a [Client.Multicall].
type Call struct {
	Method string
	Args   []any
	// Reply, if not nil, is a pointer that the result is decoded into, as
	// Client.Call does.
	Reply any
}

// A Result is the outcome of one call of a [Client.Multicall].
type Result struct {
	// Value is the result, decoded as into a *any.
	Value any
	// Err is the *Fault that the call failed with, or the *TypeError of
	// decoding Value into the call's Reply.
	Err error
}

// Multicall makes calls in one request, with the system.multicall method
// (http://mirrors.talideon.com/articles/multicall.html), and returns
// their results in order. The server calls them one after another.
//
// The error is that of the request as a whole, as [Client.Call] returns
// it: a server without system.multicall answers with a *Fault.
func (c *Client) Multicall(ctx context.Context, calls []Call) ([]Result, error) {
	arg := make([]any, len(calls))
	for i, call := range calls {
		args := call.Args
		if args == nil {
			args = []any{}
		}
		arg[i] = map[string]any{"methodName": call.Method, "params": args}
	}
	var buf bytes.Buffer
	if err := encodeCall(&buf, "system.multicall", []any{arg}); err != nil {
		return nil, err
	}
	v, err := c.roundTrip(ctx, &buf)
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok || len(list) != len(calls) {
		return nil, invalid("system.multicall did not return an array of %d results", len(calls))
	}
	results := make([]Result, len(calls))
	for i, x := range list {
		switch x := x.(type) {
		case []any:
			if len(x) != 1 {
				return nil, invalid("system.multicall result %d is an array of %d values", i+1, len(x))
			}
			results[i].Value = x[0]
			if calls[i].Reply != nil {
				results[i].Err = assignTo(calls[i].Reply, x[0])
			}
		case map[string]any:
			f, err := faultOf(x)
			if err != nil {
				return nil, err
			}
			results[i].Err = f
		default:
			return nil, invalid("system.multicall result %d is a %s", i+1, typeName(x))
		}
	}
	return results, nil
}

// A StatusError is an HTTP response to a call whose status is not 200 (OK).
// It is what Python's xmlrpc.client calls a ProtocolError.
type StatusError struct {
	StatusCode int    // 404
	Status     string // "404 Not Found"
}

func (e *StatusError) Error() string { return "xmlrpc: HTTP status " + e.Status }

// roundTrip POSTs body and returns the decoded result.
func (c *Client) roundTrip(ctx context.Context, body *bytes.Buffer) (any, error) {
	timeout := c.opts.Timeout
	if timeout <= 0 {
		timeout = DefaultClientTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, body)
	if err != nil {
		return nil, fmt.Errorf("xmlrpc: %w", err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("User-Agent", "inetkit-xmlrpc")
	if c.auth {
		req.SetBasicAuth(c.username, c.password)
	}
	hc := c.opts.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	}
	maxBytes := c.opts.MaxResponseBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxResponseBytes
	}
	return newDecoder(&capReader{r: resp.Body, max: maxBytes}, c.opts.MaxValues).response()
}

// A capReader reads from r, and fails once more than max bytes are read.
type capReader struct {
	r    io.Reader
	max  int64
	read int64
}

// errTooLarge is the error of a capReader past its limit.
type errTooLarge int64

func (e errTooLarge) Error() string {
	return "xmlrpc: response larger than " + strconv.FormatInt(int64(e), 10) + " bytes"
}

func (r *capReader) Read(p []byte) (int, error) {
	if r.read > r.max {
		return 0, errTooLarge(r.max)
	}
	if left := r.max + 1 - r.read; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := r.r.Read(p)
	r.read += int64(n)
	if r.read > r.max {
		return n, errTooLarge(r.max)
	}
	return n, err
}
