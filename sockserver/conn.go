package sockserver

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// WrapListener returns a listener that applies s's connection limits, Verify,
// Reject, deadlines and counters to the connections accepted from l, so that a
// server from another library (go-smtp, go-imap) gets the same defences as one
// served by s. Close and Shutdown on s close the listener too, and the
// connections it accepted; Shutdown waits for them, and for the listener to be
// closed. Accept errors are returned unchanged: the other server's accept loop
// handles them.
func (s *Server) WrapListener(l net.Listener) net.Listener {
	s.setup()
	wl := s.wrap(l)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		l.Close()
		return wl
	}
	wl.tracked = true
	wl.external = true
	s.wrapped[wl] = struct{}{}
	s.wg.Add(1) // released by wl.Close, so that Reject goroutines never race with Wait
	return wl
}

func (s *Server) wrap(l net.Listener) *listener { return &listener{Listener: l, srv: s} }

type listener struct {
	net.Listener
	srv *Server

	mu      sync.Mutex
	tracked bool // made by WrapListener, holding a count in srv.wg until closed
	// external: made by WrapListener, for another server's accept loop, so
	// the connect faults are injected in Accept
	external bool
	closed   bool
}

func (l *listener) Close() error {
	l.mu.Lock()
	if l.tracked && !l.closed {
		l.srv.mu.Lock()
		delete(l.srv.wrapped, l)
		l.srv.mu.Unlock()
		l.srv.wg.Done()
	}
	l.closed = true
	l.mu.Unlock()
	return l.Listener.Close()
}

// goReject runs Reject for nc in a goroutine that srv's Close waits for.
func (l *listener) goReject(nc net.Conn, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tracked && l.closed {
		nc.Close()
		return
	}
	l.srv.wg.Go(func() { l.srv.reject(nc, err) })
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.srv.stats.accepted.Add(1)
		if c, err := l.srv.admitOrReject(nc, l); err == nil {
			if l.external && l.srv.Faults != nil && l.srv.injectConnect(c, func(f func()) { l.goFault(c, f) }) {
				continue
			}
			return c, nil
		}
	}
}

// admitOrReject admits nc, or refuses it: logs, counts, and runs Reject on a
// goroutine. l is the wrapped listener nc came from, if any.
func (s *Server) admitOrReject(nc net.Conn, l *listener) (*conn, error) {
	c, err := s.admit(nc)
	if err == nil {
		return c, nil
	}
	s.stats.rejected.Add(1)
	s.logger().Warn("connection rejected", "remote", remoteString(nc), "reason", err)
	if s.Reject == nil {
		nc.Close()
		return nil, err
	}
	if l != nil {
		l.goReject(nc, err)
	} else {
		s.wg.Go(func() { s.reject(nc, err) })
	}
	return nil, err
}

// reject runs Reject for nc and closes it.
func (s *Server) reject(nc net.Conn, err error) {
	defer nc.Close()
	defer func() {
		if r := recover(); r != nil {
			s.stats.panics.Add(1)
			s.logger().Error("panic in Reject", "panic", r)
		}
	}()
	if wt := s.writeTimeout(); wt > 0 {
		nc.SetWriteDeadline(time.Now().Add(wt))
	}
	s.Reject(nc, err)
}

// admit counts nc against the limits and returns it wrapped, or the reason it
// is refused.
func (s *Server) admit(nc net.Conn) (*conn, error) {
	if s.Verify != nil {
		if err := s.Verify(nc.RemoteAddr()); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ip, err := s.admitLocked(nc.RemoteAddr())
	if err != nil {
		return nil, err
	}
	c := &conn{Conn: nc, srv: s, ip: ip, quiet: true}
	s.conns[c] = struct{}{}
	return c, nil
}

// admitLocked applies the limits to a connection from remote, which Verify
// has accepted, and counts it; s.mu is held.
func (s *Server) admitLocked(remote net.Addr) (netip.Addr, error) {
	if s.closing.Load() { // Close or Shutdown would miss the connection
		return netip.Addr{}, ErrServerClosed
	}
	max := s.MaxConns
	if max == 0 {
		max = DefaultMaxConns
	}
	if max > 0 && s.stats.active.Load() >= int64(max) {
		return netip.Addr{}, ErrTooManyConns
	}
	ip := remoteIP(remote)
	if s.connRate != nil && ip.IsValid() && !s.connRate.allow(ip, time.Now()) {
		return netip.Addr{}, ErrConnRate
	}
	if s.MaxConnsPerIP > 0 && ip.IsValid() {
		if s.perIP[ip] >= s.MaxConnsPerIP {
			return netip.Addr{}, ErrTooManyConnsPerIP
		}
		s.perIP[ip]++
	}
	s.stats.active.Add(1)
	return ip, nil
}

func (s *Server) release(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	s.releaseLocked(c.ip)
}

// releaseLocked undoes admitLocked; s.mu is held.
func (s *Server) releaseLocked(ip netip.Addr) {
	if s.MaxConnsPerIP > 0 && ip.IsValid() {
		if s.perIP[ip]--; s.perIP[ip] <= 0 {
			delete(s.perIP, ip)
		}
	}
	s.stats.active.Add(-1)
}

func remoteIP(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// conn is a server-side connection: it applies the server's deadlines to
// every read and write, counts bytes, and knows whether it is waiting for a
// new request, so that Shutdown can interrupt it then and only then.
type conn struct {
	net.Conn
	srv *Server
	ip  netip.Addr

	mu        sync.Mutex
	reading   bool      // a Read is blocked in the kernel
	rcur      time.Time // the deadline of that Read
	quiet     bool      // everything read so far has been answered
	draining  bool      // Shutdown has begun
	drainBy   time.Time // when draining, reads for a new request end then
	closed    bool
	rdeadline time.Time // set by the handler; zero means none
	// firstReadBy, if set, ends the first read: the client of a deferred
	// accept has been silent for a while already.
	firstReadBy time.Time
	wdeadline   time.Time
	// idle, if not zero, is this connection's idle timeout (negative:
	// none), set by SetIdleTimeout.
	idle time.Duration
	// fw, if not nil, delays, paces or cuts what is written, as a fault
	// injected when the connection opened asks; set before the handler
	// has the connection.
	fw *FaultWriter
}

// rawWriter writes to a conn past its FaultWriter.
type rawWriter struct{ c *conn }

func (w rawWriter) Write(p []byte) (int, error) { return w.c.write(p) }

// earliest returns the sooner of the handler's deadline and now+timeout.
func earliest(explicit time.Time, timeout time.Duration) time.Time {
	if timeout <= 0 {
		return explicit
	}
	d := time.Now().Add(timeout)
	if !explicit.IsZero() && explicit.Before(d) {
		return explicit
	}
	return d
}

func (c *conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	idle := c.idle
	if idle == 0 {
		idle = c.srv.idleTimeout()
	}
	deadline := earliest(c.rdeadline, idle)
	if !c.firstReadBy.IsZero() {
		if deadline.IsZero() || c.firstReadBy.Before(deadline) {
			deadline = c.firstReadBy
		}
		c.firstReadBy = time.Time{}
	}
	if c.draining && c.quiet {
		if !time.Now().Before(c.drainBy) {
			c.mu.Unlock()
			return 0, ErrServerClosed
		}
		if deadline.IsZero() || c.drainBy.Before(deadline) {
			deadline = c.drainBy
		}
	}
	c.reading, c.rcur = true, deadline
	err := c.Conn.SetReadDeadline(deadline)
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.reading = false
	if n > 0 {
		c.quiet = false
	}
	interrupted := c.draining && c.quiet
	c.mu.Unlock()
	if n > 0 {
		c.srv.stats.bytesRead.Add(int64(n))
	}
	if err != nil && interrupted && errors.Is(err, os.ErrDeadlineExceeded) {
		err = ErrServerClosed
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	if c.fw != nil {
		return c.fw.Write(p)
	}
	return c.write(p)
}

// write is Write without the fault of the connection, if any.
func (c *conn) write(p []byte) (int, error) {
	c.mu.Lock()
	err := c.Conn.SetWriteDeadline(earliest(c.wdeadline, c.srv.writeTimeout()))
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.srv.stats.bytesWritten.Add(int64(n))
	}
	if err == nil {
		c.mu.Lock()
		c.quiet = true
		c.mu.Unlock()
	}
	return n, err
}

// drainGrace is how long Shutdown still lets a request already on its way
// arrive at a connection that was waiting for one: a client that sent its
// request just before the signal gets its reply.
const drainGrace = 100 * time.Millisecond

// drain is called by Shutdown: a connection waiting for a new request gets
// drainGrace for one to arrive and is then stopped; a connection in the middle
// of an exchange finishes it and is stopped at its next wait for a request.
func (c *conn) drain(by time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	c.drainBy = by
	if c.reading && c.quiet {
		if c.rcur.IsZero() || by.Before(c.rcur) {
			c.Conn.SetReadDeadline(by)
		}
	}
}

// MarkBusy tells the server that the connection is in the middle of an
// exchange even though everything it has read has been answered (an SMTP
// session between "354" and the end of DATA, say), so that Shutdown lets it
// finish. The mark lasts until the next write. nc must be a connection
// passed to a Handler; other connections are ignored.
func MarkBusy(nc net.Conn) {
	if c, ok := nc.(*conn); ok {
		c.mu.Lock()
		c.quiet = false
		c.mu.Unlock()
	}
}

// SetIdleTimeout sets the idle timeout of connection nc alone, in place of
// the server's: a positive d bounds every read from the next one on, a
// negative d removes the bound, and zero restores the server's. It is for an
// exchange that legitimately waits on a silent client for longer than the
// server allows (an HTTP long poll or event stream, whose server reads the
// connection in the background). nc must be a connection passed to a
// Handler; other connections are ignored.
func SetIdleTimeout(nc net.Conn, d time.Duration) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle = d
	if c.reading && !(c.draining && c.quiet) {
		// A read blocked now (HTTP's background read) gets the new
		// bound at once.
		idle := d
		if idle == 0 {
			idle = c.srv.idleTimeout()
		}
		c.rcur = earliest(c.rdeadline, idle)
		c.Conn.SetReadDeadline(c.rcur)
	}
}

func (c *conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdeadline, c.wdeadline = t, t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdeadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdeadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

// CloseWrite shuts down the writing side of the connection, if the underlying
// connection supports it (TCP and Unix sockets do).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// CloseRead shuts down the reading side of the connection, if the underlying
// connection supports it.
func (c *conn) CloseRead() error {
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		return cr.CloseRead()
	}
	return errors.ErrUnsupported
}

// NetConn returns the underlying connection, for socket options the wrapper
// does not offer. Reads and writes on it bypass the deadlines and counters.
func (c *conn) NetConn() net.Conn { return c.Conn }

func (c *conn) Close() error {
	c.mu.Lock()
	closed := c.closed
	c.closed = true
	c.mu.Unlock()
	if closed {
		return nil
	}
	err := c.Conn.Close()
	c.srv.release(c)
	return err
}
