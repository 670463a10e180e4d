package gopher

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/inetkit/inetkit/lineproto"
)

// ServeConn serves one Gopher request on conn and closes it. It implements
// sockserver.Handler: Serve calls it for every connection it accepts. Call
// it directly only for a connection accepted some other way (from inetd,
// or a net.Pipe in a test); such a connection gets the timeouts of s but is
// not counted against the connection limits, nor closed by Shutdown or
// Close.
//
// The request line must arrive within the request timeout (IdleTimeout)
// and hold at most 2048 octets. A selector of more than MaxSelectorBytes,
// or a request line holding NUL or a CR before its end, is answered with an
// error item; an HTTP request (a browser or proxy on the wrong port) is
// closed without an answer. ctx becomes the request's context.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn) (err error) {
	cfg, _ := s.setup()
	rc := &requestConn{Conn: conn}
	if d := cfg.Limits.IdleTimeout; d > 0 {
		rc.by = time.Now().Add(d)
	}
	var lc *lineproto.Conn
	defer func() {
		if r := recover(); r != nil {
			log := s.logger().With("remote", lineproto.RemoteString(conn))
			if lc != nil {
				log = lc.Log
			}
			log.Error("panic serving connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("gopher: panic: %v", r)
		}
		conn.Close()
	}()
	if lc, err = lineproto.NewConn(ctx, rc, cfg); err != nil {
		return nil
	}
	line, err := lc.ReadLine(maxRequestBytes)
	rc.unbound()
	if err != nil {
		if errors.Is(err, lineproto.ErrLineTooLong) {
			lc.Log.Info("request refused: line too long")
			lc.Hangup(errorLine("Request too long"))
			return nil
		}
		lc.ReadFailed(err)
		return nil
	}
	if lineproto.IsHTTPRequest(line) {
		lc.Log.Info("closing: HTTP request", "request", lineproto.Quote(line))
		lc.Hangup("")
		return nil
	}
	req, msg := parseRequest(line)
	if msg != "" {
		lc.Log.Info("request refused: "+msg, "request", lineproto.Quote(line))
		io.WriteString(lc.Writer(), errorMenu(msg))
	} else {
		req.RemoteAddr = conn.RemoteAddr()
		req.Host, req.Port = s.announce(conn)
		req.ctx = ctx
		lc.Log.Debug("request", "selector", lineproto.Quote([]byte(req.Selector)))
		s.Handler.ServeGopher(&response{w: lc.Writer()}, req)
	}
	if err := lc.Flush(); err != nil {
		lc.Log.Debug("write error", "err", err)
		return nil
	}
	if lc.Reader().Buffered() > 0 {
		// The client sent more than its request: closing with input unread
		// would reset the connection and could destroy the answer.
		lc.Hangup("")
	}
	return nil
}

// errorLine is an error item without its line ending, and the "." line.
func errorLine(msg string) string {
	m := errorMenu(msg)
	return m[:len(m)-2]
}

// parseRequest splits a request line into selector, search string and
// Gopher+ fields, or returns why it is refused.
func parseRequest(line []byte) (*Request, string) {
	if bytes.ContainsAny(line, "\x00\r\n") {
		return nil, "Invalid selector"
	}
	sel, rest, _ := bytes.Cut(line, []byte("\t"))
	search, plus, _ := bytes.Cut(rest, []byte("\t"))
	if len(sel) > MaxSelectorBytes {
		return nil, "Selector too long"
	}
	return &Request{Selector: string(sel), Search: string(search), GopherPlus: string(plus)}, ""
}

// announce returns the host and port that menus name for this server.
func (s *Server) announce(conn net.Conn) (string, int) {
	host, port := s.Host, s.Port
	if host != "" && port != 0 {
		return host, port
	}
	if a, ok := conn.LocalAddr().(*net.TCPAddr); ok {
		if host == "" {
			host = a.IP.String()
		}
		if port == 0 {
			port = a.Port
		}
	}
	if host == "" {
		host = "localhost"
	}
	if port == 0 {
		port = DefaultPort
	}
	return host, port
}

// requestConn bounds every read deadline by the end of the request
// timeout, so that the request line must arrive whole within it whatever
// the pace of its octets.
type requestConn struct {
	net.Conn
	mu sync.Mutex
	by time.Time // zero: no bound
}

func (c *requestConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	if !c.by.IsZero() && (t.IsZero() || c.by.Before(t)) {
		t = c.by
	}
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *requestConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// unbound lifts the bound once the request has been read.
func (c *requestConn) unbound() {
	c.mu.Lock()
	c.by = time.Time{}
	c.mu.Unlock()
}

// NetConn returns the connection accepted, for sockserver and lineproto.
func (c *requestConn) NetConn() net.Conn { return c.Conn }

// CloseWrite shuts down the writing side, for sockserver.Linger.
func (c *requestConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// response is the ResponseWriter of one request.
type response struct{ w *bufio.Writer }

func (r *response) Write(p []byte) (int, error)       { return r.w.Write(p) }
func (r *response) WriteString(s string) (int, error) { return r.w.WriteString(s) }
func (r *response) Flush() error                      { return r.w.Flush() }
