package sockserver

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/inetkit/inetkit/fault"
)

// Reset ends nc with a TCP reset: it sets SO_LINGER to 0 on the TCP
// connection under nc (through TLS and the wrappers that have a NetConn
// method) and closes it, so that the client's next read fails with
// ECONNRESET. A connection that is not TCP is just closed.
func Reset(nc net.Conn) error {
	for c := nc; c != nil; {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
			break
		}
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = w.NetConn()
	}
	return closeAll(nc)
}

// closeAll closes nc and the connections it wraps, so that a wrapper's
// Close that writes (a TLS close_notify) cannot get in the way.
func closeAll(nc net.Conn) error {
	var first error
	for c := nc; c != nil; {
		if err := c.Close(); err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
		}
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = w.NetConn()
	}
	return first
}

// Hang answers nothing more on nc: it reads and discards what the client
// sends until a read fails, as the idle timeout of a connection served by
// a Server makes it. A client that shuts down its side (a half-close) may
// still wait for a reply: on a connection served by a Server, Hang then
// waits for the idle timeout, or for the server to shut down, before it
// returns. It returns fault.ErrInjected; the caller closes nc.
func Hang(nc net.Conn) error {
	buf := make([]byte, 512)
	for {
		_, err := nc.Read(buf)
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			if c := serverConn(nc); c != nil {
				c.waitIdle()
			}
		}
		return fault.ErrInjected
	}
}

// serverConn returns the connection of a Server under nc, or nil.
func serverConn(nc net.Conn) *conn {
	for range 4 {
		if c, ok := nc.(*conn); ok {
			return c
		}
		w, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		nc = w.NetConn()
	}
	return nil
}

// waitIdle waits for c's idle timeout, or until its server shuts down.
func (c *conn) waitIdle() {
	c.mu.Lock()
	idle := c.idle
	c.mu.Unlock()
	if idle == 0 {
		idle = c.srv.idleTimeout()
	}
	var timeout <-chan time.Time
	if idle > 0 {
		t := time.NewTimer(idle)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
	case <-c.srv.done():
	}
}

// A FaultWriter writes to W as a fault asks: after a delay, at a pace, or
// cut short. Its zero value, with W set, writes straight through. It is
// safe for concurrent use.
type FaultWriter struct {
	// W receives what is written.
	W io.Writer
	// Conn, if not nil, is closed when the cut comes.
	Conn net.Conn
	// Context, if not nil, ends the waits when it is done.
	Context context.Context

	mu      sync.Mutex
	delay   time.Duration // before the next write
	rate    int           // bytes a second; 0: at once
	cutting bool          // a cut is coming
	left    int           // bytes until the cut
	cut     bool          // the cut was made
}

// Delay makes the next write wait d first.
func (w *FaultWriter) Delay(d time.Duration) {
	w.mu.Lock()
	w.delay = d
	w.mu.Unlock()
}

// Pace makes the writes go at rate bytes a second from now on; 0 stops the
// pacing.
func (w *FaultWriter) Pace(rate int) {
	w.mu.Lock()
	w.rate = rate
	w.mu.Unlock()
}

// Cut lets n more bytes through, then closes Conn: later writes fail with
// fault.ErrInjected. A negative n removes a cut not yet made.
func (w *FaultWriter) Cut(n int) {
	w.mu.Lock()
	w.cutting, w.left = n >= 0, n
	w.mu.Unlock()
}

// paceTick is the interval between the pieces of a paced write.
const paceTick = 100 * time.Millisecond

func (w *FaultWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	delay, rate, left, cut := w.delay, w.rate, w.left, w.cut
	if !w.cutting {
		left = -1
	}
	w.delay = 0
	w.mu.Unlock()
	if cut {
		return 0, fault.ErrInjected
	}
	if delay > 0 {
		if err := w.sleep(delay); err != nil {
			return 0, err
		}
	}
	n := 0
	for n < len(p) {
		chunk := p[n:]
		if left >= 0 && len(chunk) > left {
			chunk = chunk[:left]
		}
		if rate > 0 {
			chunk = chunk[:min(len(chunk), max(1, rate*int(paceTick/time.Millisecond)/1000))]
		}
		if len(chunk) > 0 {
			m, err := w.W.Write(chunk)
			n += m
			if left >= 0 {
				left -= m
			}
			if err != nil {
				w.save(left)
				return n, err
			}
		}
		if left == 0 {
			w.mu.Lock()
			w.cutting, w.cut = false, true
			w.mu.Unlock()
			if w.Conn != nil {
				w.Conn.Close()
			}
			return n, fault.ErrInjected
		}
		if rate > 0 && n < len(p) {
			if err := w.sleep(paceTick); err != nil {
				w.save(left)
				return n, err
			}
		}
	}
	w.save(left)
	return n, nil
}

// save records what is left before the cut, if a cut is coming.
func (w *FaultWriter) save(left int) {
	w.mu.Lock()
	if w.cutting && left >= 0 {
		w.left = left
	}
	w.mu.Unlock()
}

func (w *FaultWriter) sleep(d time.Duration) error {
	ctx := w.Context
	if ctx == nil {
		time.Sleep(d)
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// faultService is the service that names s in fault rules.
func (s *Server) faultService() string {
	if s.FaultService != "" {
		return s.FaultService
	}
	return "tcp"
}

// injectConnect consults s.Faults as c opens. It reports whether the
// fault ended c; the caller then closes it. A fault that ends c only later
// (a hang) runs with wait, which must return at once: Serve passes a
// function that runs it in place, WrapListener's Accept one that starts a
// goroutine Close waits for.
func (s *Server) injectConnect(c *conn, wait func(func())) bool {
	r, ok := s.Faults.Fire(fault.Point{
		Service:      s.faultService(),
		Moment:       fault.MomentConnect,
		Remote:       c.ip,
		RemoteString: remoteString(c),
	})
	if !ok {
		return false
	}
	if r.Delay > 0 && r.Kind != fault.KindDelay && r.Kind != fault.KindTrickle && r.Kind != fault.KindTruncate {
		// An end after a delay: the wait must not hold the caller.
		wait(func() {
			time.Sleep(r.Delay)
			s.endConn(c, r.Kind)
		})
		return true
	}
	switch r.Kind {
	case fault.KindDelay, fault.KindTrickle, fault.KindTruncate:
		fw := &FaultWriter{W: rawWriter{c}, Conn: c.Conn}
		fw.Delay(r.Delay)
		fw.Pace(r.Rate)
		if r.Kind == fault.KindTruncate {
			fw.Cut(r.Bytes)
		}
		c.mu.Lock()
		c.fw = fw
		c.mu.Unlock()
		return false
	case fault.KindHang:
		wait(func() { s.endConn(c, r.Kind) })
		return true
	}
	s.endConn(c, r.Kind)
	return true
}

// endConn ends c as a fault of kind k asks, and closes it.
func (s *Server) endConn(c *conn, k fault.Kind) {
	switch k {
	case fault.KindReset:
		Reset(c.Conn)
	case fault.KindHang:
		Hang(c)
	}
	c.Close()
}

// goFault runs f, a fault that ends c, accepted from l, in a goroutine that
// srv's Close waits for; if l is closed already, it closes c instead.
func (l *listener) goFault(c *conn, f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tracked && l.closed {
		c.Close()
		return
	}
	l.srv.wg.Go(f)
}
