package sockserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// eventReadBytes is the read buffer of an event loop, shared by its
// connections.
const eventReadBytes = 64 << 10

// serveEvents is Serve's accept loop for an EventHandler on a TCP listener:
// connections are served by event loops, one per CPU. It reports false if
// the listener cannot be served this way.
func (s *Server) serveEvents(ctx context.Context, l net.Listener, h EventHandler) (bool, error) {
	if _, ok := l.(*net.TCPListener); !ok {
		return false, nil
	}
	loops := make([]*eventLoop, runtime.GOMAXPROCS(0))
	for i := range loops {
		el, err := newEventLoop(s)
		if err != nil {
			for _, el := range loops[:i] {
				el.discard()
			}
			return false, nil
		}
		loops[i] = el
	}
	s.mu.Lock()
	if s.closing.Load() {
		// Shutdown or Close has begun, and has told the loops it knew of to
		// stop: these would never be told.
		s.mu.Unlock()
		for _, el := range loops {
			el.discard()
		}
		return true, ErrServerClosed
	}
	s.loops = append(s.loops, loops...)
	s.mu.Unlock()
	for _, el := range loops {
		s.wg.Go(el.run)
	}
	defer func() {
		// Loops outlive the accept loop only to finish their connections:
		// Shutdown or Close, which ended it, tells them how.
		s.mu.Lock()
		closing := s.closing.Load()
		s.mu.Unlock()
		if !closing {
			for _, el := range loops {
				el.close()
			}
		}
	}()
	next := 0
	return s.serveRaw(l, nil, func(fd int, remote *net.TCPAddr) {
		if s.Verify != nil {
			if err := s.Verify(remote); err != nil {
				s.rejectFD(fd, remote, err)
				return
			}
		}
		s.mu.Lock()
		ip, err := s.admitLocked(remote)
		s.mu.Unlock()
		if err != nil {
			s.rejectFD(fd, remote, err)
			return
		}
		sess := s.newSession(h, remote)
		if sess == nil {
			s.serveAdmitted(ctx, fd, remote, ip)
			return
		}
		loops[next].add(&econn{fd: fd, remote: remote, ip: ip, sess: sess})
		next = (next + 1) % len(loops)
	})
}

// serveAdmitted serves fd, which Verify and the limits have admitted already,
// with ServeConn on a goroutine.
func (s *Server) serveAdmitted(ctx context.Context, fd int, remote net.Addr, ip netip.Addr) {
	f := os.NewFile(uintptr(fd), "")
	nc, err := net.FileConn(f)
	f.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.releaseLocked(ip)
		s.stats.errors.Add(1)
		s.logger().Warn("connection error", "remote", remote.String(), "err", err)
		return
	}
	if s.closing.Load() { // Shutdown or Close may have gone through s.conns already
		s.releaseLocked(ip)
		nc.Close()
		return
	}
	c := &conn{Conn: nc, srv: s, ip: ip, quiet: true}
	s.conns[c] = struct{}{}
	s.wg.Go(func() { s.serveConn(ctx, c) })
}

func (s *Server) newSession(h EventHandler, remote net.Addr) (sess EventSession) {
	defer func() {
		if r := recover(); r != nil {
			s.stats.panics.Add(1)
			s.logger().Error("panic in NewEventSession", "remote", remote.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			sess = nil
		}
	}()
	return h.NewEventSession(remote)
}

// rejectFD refuses a connection accepted as a file descriptor: it is logged
// and counted, and passed to Reject as a net.Conn.
func (s *Server) rejectFD(fd int, remote net.Addr, err error) {
	s.stats.rejected.Add(1)
	s.logger().Warn("connection rejected", "remote", remote.String(), "reason", err)
	if s.Reject == nil {
		unix.Close(fd)
		return
	}
	f := os.NewFile(uintptr(fd), "")
	nc, ferr := net.FileConn(f)
	f.Close()
	if ferr != nil {
		return
	}
	s.wg.Go(func() { s.reject(nc, err) })
}

// An eventLoop serves connections with epoll from one goroutine.
type eventLoop struct {
	s      *Server
	epfd   int
	wakefd int // an eventfd that add, shutdown and close write to

	mu       sync.Mutex
	ended    bool // run has returned: wakefd is closed
	incoming []*econn
	draining bool      // Shutdown: close connections once quiet, from drainBy
	drainBy  time.Time // protected by mu, copied by the loop
	hard     bool      // Close: close every connection now

	// Owned by the loop's goroutine.
	conns   []*econn // by descriptor: a slice, as a map lookup per event costs more
	nconns  int      // the connections in conns
	buf     []byte
	out     []byte
	events  []unix.EpollEvent
	drain   bool      // a copy of draining, taken when woken
	drainAt time.Time // a copy of drainBy

	// The loop's own byte counts, which Server.Stats adds up: one counter
	// shared by every loop would bounce between the CPUs at every read.
	_                       [64]byte
	bytesRead, bytesWritten atomic.Int64
	_                       [64]byte
}

// The loop's reads, writes and epoll polls never block (the descriptors are
// non-blocking and the poll's timeout is zero), so they are made as raw
// system calls: the scheduler's bookkeeping for a call that might block costs
// more than these calls do.

func rawRead(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// rawClose closes fd, a socket with no SO_LINGER, which close(2) does not
// block on, as a raw system call: unix.Close goes through the runtime's
// system call hooks, which wake sysmon when the process was idle: on one
// CPU, a thread switch per connection.
func rawClose(fd int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

// epollCtl is unix.EpollCtl as a raw system call: it never blocks.
func epollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func epollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// eventStats adds the loops' byte counts to st.
func (s *Server) eventStats(st *Stats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, el := range s.loops {
		st.BytesRead += el.bytesRead.Load()
		st.BytesWritten += el.bytesWritten.Load()
	}
}

// econn is a connection served by an event loop.
type econn struct {
	fd      int
	remote  *net.TCPAddr
	ip      netip.Addr
	sess    EventSession
	last    time.Time // last data read or reply flushed, for the idle timeout
	pending []byte    // reply bytes the socket has not taken yet
	since   time.Time // when pending began, for the write timeout
	eof     bool      // the client shut down its side: close once pending is written
	// lingerBy is set after a session error: the write side is shut down and
	// input discarded until the client closes or lingerBy passes.
	lingerBy  time.Time
	discarded int
}

func newEventLoop(s *Server) (*eventLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err := unix.SetNonblock(epfd, true); err != nil { // so that os.NewFile polls it
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(wakefd)}); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, err
	}
	return &eventLoop{
		s: s, epfd: epfd, wakefd: wakefd,
		buf:    make([]byte, eventReadBytes),
		events: make([]unix.EpollEvent, 128),
	}, nil
}

// discard releases a loop that was never run.
func (el *eventLoop) discard() {
	unix.Close(el.epfd)
	unix.Close(el.wakefd)
}

// wake wakes the loop; el.mu is held and the loop has not ended.
func (el *eventLoop) wake() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(el.wakefd, one[:])
}

// add hands a new connection to the loop.
func (el *eventLoop) add(c *econn) {
	el.mu.Lock()
	if el.ended { // it ended as Shutdown or Close began
		el.mu.Unlock()
		unix.Close(c.fd)
		el.s.mu.Lock()
		el.s.releaseLocked(c.ip)
		el.s.mu.Unlock()
		return
	}
	el.incoming = append(el.incoming, c)
	el.wake()
	el.mu.Unlock()
}

// shutdown tells the loop to close its connections once they are quiet, from
// by on, and to end when none is left.
func (el *eventLoop) shutdown(by time.Time) {
	el.mu.Lock()
	defer el.mu.Unlock()
	el.draining, el.drainBy = true, by
	if !el.ended {
		el.wake()
	}
}

// close tells the loop to close every connection and end.
func (el *eventLoop) close() {
	el.mu.Lock()
	defer el.mu.Unlock()
	el.hard = true
	if !el.ended {
		el.wake()
	}
}

func (el *eventLoop) run() {
	s := el.s
	defer func() {
		el.mu.Lock()
		el.ended = true
		incoming := el.incoming
		el.incoming = nil
		unix.Close(el.wakefd)
		el.mu.Unlock()
		// closeConn takes s.mu, which Shutdown and Close hold while they
		// take el.mu: not under el.mu.
		for _, c := range el.conns {
			if c != nil {
				el.closeConn(c)
			}
		}
		for _, c := range incoming {
			el.closeConn(c)
		}
	}()
	idle, wt := s.idleTimeout(), s.writeTimeout()
	sweepEvery := time.Second
	for _, d := range []time.Duration{idle, wt} {
		if d > 0 {
			sweepEvery = min(max(d/10, 50*time.Millisecond), sweepEvery)
		}
	}
	// The loop waits in Go's poller, on the epoll descriptor itself, rather
	// than in a blocking epoll_wait: a goroutine blocked in a system call
	// keeps the runtime's monitor waking every 20 µs to take its processor
	// back. Measured side by side (stream, 64 B, 10 connections): 272 ns of
	// server CPU per request with 16 pipelined this way, 455 ns blocking.
	ep := os.NewFile(uintptr(el.epfd), "epoll")
	defer ep.Close()
	rc, err := ep.SyscallConn()
	if err != nil {
		s.logger().Error("event loop failed", "err", err)
		return
	}
	nextSweep := time.Now().Add(sweepEvery)
	var armed time.Time
	for {
		if !armed.Equal(nextSweep) {
			ep.SetReadDeadline(nextSweep)
			armed = nextSweep
		}
		var n int
		var werr error
		// RawConn.Read forgets a readiness Go's poller saw before the call,
		// so it must always ask epoll first.
		err := rc.Read(func(fd uintptr) bool {
			n, werr = epollPoll(int(fd), el.events)
			return n > 0 || (werr != nil && werr != unix.EINTR)
		})
		if werr != nil {
			s.logger().Error("event loop failed", "err", os.NewSyscallError("epoll_wait", werr))
			return
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			s.logger().Error("event loop failed", "err", err)
			return
		}
		now := time.Now()
		for _, ev := range el.events[:max(n, 0)] {
			fd := int(ev.Fd)
			if fd == el.wakefd {
				var b [8]byte
				unix.Read(el.wakefd, b[:])
				el.takeIncoming(now)
				el.mu.Lock()
				el.drain, el.drainAt = el.draining, el.drainBy
				el.mu.Unlock()
				nextSweep = now // state may have changed: look at once
				continue
			}
			if fd >= len(el.conns) || el.conns[fd] == nil {
				continue
			}
			c := el.conns[fd]
			if ev.Events&unix.EPOLLOUT != 0 && len(c.pending) > 0 {
				el.flush(c, now)
			} else if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				el.read(c, now, ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0)
			}
		}
		if now.Before(nextSweep) {
			continue
		}
		nextSweep = now.Add(sweepEvery)
		el.mu.Lock()
		draining, drainBy, hard := el.draining, el.drainBy, el.hard
		el.mu.Unlock()
		if draining && drainBy.After(now) && drainBy.Before(nextSweep) {
			nextSweep = drainBy
		}
		for _, c := range el.conns {
			if c == nil {
				continue
			}
			switch {
			case hard:
				el.closeConn(c)
			case !c.lingerBy.IsZero() && now.After(c.lingerBy):
				el.closeConn(c)
			case len(c.pending) > 0 && wt > 0 && now.Sub(c.since) > wt,
				len(c.pending) == 0 && idle > 0 && now.Sub(c.last) > idle:
				s.stats.timeouts.Add(1)
				s.logger().Info("connection timed out", "remote", c.remote.String())
				el.closeConn(c)
			case draining && !now.Before(drainBy) && c.quiet():
				el.closeConn(c)
			}
		}
		if (draining || hard) && el.nconns == 0 {
			el.mu.Lock()
			empty := len(el.incoming) == 0
			el.mu.Unlock()
			if empty {
				return
			}
		}
	}
}

// quiet reports whether c is waiting for a new request with nothing to send.
// A session whose Busy panics is taken as quiet, so that Shutdown ends it.
func (c *econn) quiet() (q bool) {
	defer func() {
		if recover() != nil {
			q = true
		}
	}()
	return len(c.pending) == 0 && c.lingerBy.IsZero() && !c.sess.Busy()
}

func (el *eventLoop) takeIncoming(now time.Time) {
	el.mu.Lock()
	in := el.incoming
	el.incoming = nil
	el.mu.Unlock()
	for _, c := range in {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(c.fd)}
		if err := epollCtl(el.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
			el.s.stats.errors.Add(1)
			el.s.logger().Warn("connection error", "remote", c.remote.String(), "err", os.NewSyscallError("epoll_ctl", err))
			el.closeConn(c)
			continue
		}
		c.last = now
		if c.fd >= len(el.conns) {
			el.conns = append(el.conns, make([]*econn, c.fd+1-len(el.conns))...)
		}
		el.conns[c.fd] = c
		el.nconns++
	}
}

// read reads what c's client sent. Connections are registered edge-triggered:
// a read that fills the buffer may have left more, so it reads again; and once
// the client has shut down its side (hup), it reads until it sees the end,
// which no further edge would announce.
func (el *eventLoop) read(c *econn, now time.Time, hup bool) {
	for el.readOnce(c, now, hup) {
	}
}

// readOnce reads and serves one buffer of c's input, and reports whether the
// socket may hold more that it can take now.
func (el *eventLoop) readOnce(c *econn, now time.Time, hup bool) (more bool) {
	s := el.s
	n, err := rawRead(c.fd, el.buf)
	full := n == len(el.buf) || (hup && n > 0)
	switch {
	case err == unix.EINTR:
		return true
	case err == unix.EAGAIN:
		return false
	case err != nil:
		if err != unix.ECONNRESET {
			s.stats.errors.Add(1)
			s.logger().Warn("connection error", "remote", c.remote.String(), "err", os.NewSyscallError("read", err))
		}
		el.closeConn(c)
		return false
	}
	el.bytesRead.Add(int64(n)) // before the reply, so a client that has it sees it counted
	if !c.lingerBy.IsZero() {
		c.discarded += n
		if n == 0 || c.discarded >= LingerBytes {
			el.closeConn(c)
			return false
		}
		return true // discard until the socket is empty
	}
	if n == 0 {
		c.eof = true
		if out, ok := el.call(c, nil); ok {
			el.write(c, out, now)
		}
		if len(c.pending) == 0 {
			el.closeConn(c)
		}
		return false
	}
	c.last = now
	out, ok := el.call(c, el.buf[:n])
	if !ok {
		return false
	}
	el.write(c, out, now)
	if c.fd < 0 { // closed by write
		return false
	}
	if !c.lingerBy.IsZero() {
		// A session error: end the reply, then discard input until the
		// client closes (flush does this when the reply had to wait).
		if len(c.pending) == 0 {
			unix.Shutdown(c.fd, unix.SHUT_WR)
			return true // discard what the client sent meanwhile
		}
		return false
	}
	if el.drain && !now.Before(el.drainAt) && c.quiet() {
		el.closeConn(c)
		return false
	}
	return full && len(c.pending) == 0
}

// call gives data to the session (nil: the client has ended), recovering a
// panic (the connection is closed) and turning an error into a lingering
// close after the reply. It reports whether the reply should be written.
func (el *eventLoop) call(c *econn, data []byte) (out []byte, ok bool) {
	s := el.s
	defer func() {
		if r := recover(); r != nil {
			s.stats.panics.Add(1)
			s.logger().Error("panic serving connection", "remote", c.remote.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			el.closeConn(c)
			ok = false
		}
	}()
	var err error
	if data == nil {
		out = c.sess.End(el.out[:0])
	} else {
		out, err = c.sess.Data(data, el.out[:0])
	}
	if cap(out) > cap(el.out) {
		el.out = out[:0] // keep the larger scratch buffer
	}
	if err != nil {
		s.stats.errors.Add(1)
		s.logger().Warn("connection error", "remote", c.remote.String(), "err", err)
		c.lingerBy = time.Now().Add(LingerTimeout)
	}
	return out, true
}

func (el *eventLoop) write(c *econn, p []byte, now time.Time) {
	if len(p) == 0 || c.fd < 0 {
		return
	}
	if len(c.pending) > 0 {
		c.pending = append(c.pending, p...)
		return
	}
	w, err := rawWrite(c.fd, p)
	if err == unix.EAGAIN {
		w, err = 0, nil
	}
	if err != nil {
		el.closeConn(c)
		return
	}
	el.bytesWritten.Add(int64(w))
	if w < len(p) {
		// Wait for the client to read: stop reading from it meanwhile, so
		// what it sends cannot pile up replies here.
		c.pending = append([]byte(nil), p[w:]...)
		c.since = now
		el.modify(c, unix.EPOLLOUT|unix.EPOLLRDHUP|unix.EPOLLET)
	}
}

func (el *eventLoop) flush(c *econn, now time.Time) {
	for len(c.pending) > 0 { // edge-triggered: write until the socket is full
		w, err := rawWrite(c.fd, c.pending)
		if err == unix.EAGAIN {
			return
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			el.closeConn(c)
			return
		}
		el.bytesWritten.Add(int64(w))
		c.pending = c.pending[w:]
	}
	c.pending, c.last = nil, now
	switch {
	case c.eof:
		el.closeConn(c)
	default:
		if !c.lingerBy.IsZero() {
			unix.Shutdown(c.fd, unix.SHUT_WR)
		}
		el.modify(c, unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLET)
	}
}

func (el *eventLoop) modify(c *econn, events uint32) {
	ev := unix.EpollEvent{Events: events, Fd: int32(c.fd)}
	if err := epollCtl(el.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		el.closeConn(c)
	}
}

func (el *eventLoop) closeConn(c *econn) {
	if c.fd < 0 {
		return
	}
	if c.fd < len(el.conns) && el.conns[c.fd] == c {
		el.conns[c.fd] = nil
		el.nconns--
	}
	rawClose(c.fd) // also removes it from the epoll set
	c.fd = -1
	el.s.mu.Lock()
	el.s.releaseLocked(c.ip)
	el.s.mu.Unlock()
}
