package sockserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// deferAccept is the TCP_DEFER_ACCEPT period: a connection that sends nothing
// is accepted after it, without data, and goes to ServeConn.
const deferAccept = time.Second

// serveInline is Serve's accept loop for an InlineHandler on a TCP listener.
// It reports false if the listener cannot be served this way.
func (s *Server) serveInline(ctx context.Context, l net.Listener, h InlineHandler) (bool, error) {
	size := h.InlineReadBytes()
	if size <= 0 {
		return false, nil
	}
	in := make([]byte, size)
	out := make([]byte, 0, 4*size)
	var deferred bool
	// queued counts the connections already in the accept queue when
	// TCP_DEFER_ACCEPT was set: they were not deferred.
	var queued uint32
	return s.serveRaw(l, func(lrc syscall.RawConn) {
		// With a deferred accept, a connection accepted without data has been
		// silent for deferAccept already: only worth it if that is within the
		// idle timeout.
		if idle := s.idleTimeout(); idle == 0 || idle >= 2*deferAccept {
			lrc.Control(func(fd uintptr) {
				deferred = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, int(deferAccept/time.Second)) == nil
				if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); deferred && err == nil {
					queued = ti.Unacked // for a listener, the accept queue's length
				}
			})
		}
	}, func(fd int, remote *net.TCPAddr) {
		d := deferred && queued == 0
		if queued > 0 {
			queued--
		}
		out = s.serveAccepted(ctx, h, fd, remote, in, out[:0], d)
	})
}

// serveRaw accepts connections on a TCP listener with accept4, as raw file
// descriptors, and passes each to accepted with its peer's address. setup,
// if non-nil, may set options on the listening socket first. It reports
// false if l is not a TCP listener it can serve.
//
// accept4 is made as a raw system call (the socket is non-blocking, it never
// waits), and not through unix.Accept4, which asks for the listener's
// SO_PROTOCOL after every accept (to tell L2TP addresses): a system call a
// connection more than the C reference makes.
func (s *Server) serveRaw(l net.Listener, setup func(syscall.RawConn), accepted func(fd int, remote *net.TCPAddr)) (bool, error) {
	tl, ok := l.(*net.TCPListener)
	if !ok {
		return false, nil
	}
	// A listener's own RawConn cannot wait for reads: accept on a duplicate
	// of its socket, an os.File, which can.
	lrc, err := tl.SyscallConn()
	if err != nil {
		return false, nil
	}
	dupfd := -1
	lrc.Control(func(fd uintptr) {
		if nfd, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0); err == nil && unix.SetNonblock(nfd, true) == nil {
			dupfd = nfd
		}
	})
	if dupfd < 0 {
		return false, nil
	}
	f := os.NewFile(uintptr(dupfd), "listener")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return false, nil
	}
	fl := &fileListener{Listener: l, f: f}
	if !s.trackListener(fl, true) {
		f.Close()
		return true, ErrServerClosed
	}
	defer s.wg.Done()
	defer s.trackListener(fl, false)
	defer f.Close()
	if setup != nil {
		setup(lrc)
	}
	var delay time.Duration
	var rsa unix.RawSockaddrAny
	var zones zoneNames
	for {
		var nfd int
		var aerr syscall.Errno
		err := rc.Read(func(fd uintptr) bool {
			alen := uint32(unix.SizeofSockaddrAny)
			r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, fd, uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&alen)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
			nfd, aerr = int(r), e
			return e != unix.EAGAIN
		})
		if err == nil && aerr != 0 {
			err = aerr
		}
		if err != nil {
			if s.closing.Load() {
				return true, ErrServerClosed
			}
			if errors.Is(err, unix.ECONNABORTED) || errors.Is(err, unix.EINTR) {
				continue // the client gave up before we accepted: nothing to back off from
			}
			if isTemporary(err) {
				delay = s.acceptBackoff(l, os.NewSyscallError("accept4", err), delay)
				continue
			}
			return true, err
		}
		delay = 0
		s.stats.accepted.Add(1)
		accepted(nfd, rawSockaddrAddr(&rsa, &zones))
	}
}

// serveAccepted answers one accepted connection inline, or hands it to the
// usual path when it does not fit.
func (s *Server) serveAccepted(ctx context.Context, h InlineHandler, fd int, remote *net.TCPAddr, in, out []byte, deferred bool) []byte {
	if err := s.inlineAllowed(remote); err != nil {
		s.rejectFD(fd, remote, err)
		return out
	}
	n, err := rawRead(fd, in)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		// No data yet: with a deferred accept, the client has been silent for
		// deferAccept already.
		s.handOff(ctx, fd, deferred)
		return out
	case err != nil:
		rawClose(fd)
		if err != unix.ECONNRESET { // a client that gave up is not worth a warning
			s.stats.errors.Add(1)
			s.logger().Warn("connection error", "remote", remote.String(), "err", os.NewSyscallError("read", err))
		}
		return out
	}
	s.stats.bytesRead.Add(int64(n))
	reply, ok := s.callInline(ctx, h, in[:n], remote, out)
	if !ok {
		rawClose(fd)
		return out
	}
	w, err := rawWrite(fd, reply)
	if err != nil && err != unix.EAGAIN {
		rawClose(fd)
		return reply
	}
	w = max(w, 0)
	s.stats.bytesWritten.Add(int64(w))
	if w < len(reply) || n == len(in) {
		// The rest of the reply has to wait for the client, or the client may
		// have sent more than one read: finish on a goroutine, lingering so
		// the reply arrives.
		s.finishReply(fd, reply[w:])
		return reply
	}
	// The request was read whole: a plain close sends FIN, not a reset.
	rawClose(fd)
	return reply
}

func (s *Server) callInline(ctx context.Context, h InlineHandler, req []byte, remote net.Addr, out []byte) (reply []byte, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			s.stats.panics.Add(1)
			s.logger().Error("panic serving connection", "remote", remote.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			ok = false
		}
	}()
	return h.ServeInline(ctx, req, remote, out), true
}

// inlineAllowed applies Verify and the limits to a connection about to be
// served inline. An exchange served inline ends before the next is accepted,
// so it is checked against the connections open, not counted among them.
func (s *Server) inlineAllowed(remote *net.TCPAddr) error {
	if s.Verify != nil {
		if err := s.Verify(remote); err != nil {
			return err
		}
	}
	if s.closing.Load() {
		return ErrServerClosed
	}
	max := s.MaxConns
	if max == 0 {
		max = DefaultMaxConns
	}
	if max > 0 && s.stats.active.Load() >= int64(max) {
		return ErrTooManyConns
	}
	if s.MaxConnsPerIP > 0 {
		ip := remoteIP(remote)
		s.mu.Lock()
		n := s.perIP[ip]
		s.mu.Unlock()
		if n >= s.MaxConnsPerIP {
			return ErrTooManyConnsPerIP
		}
	}
	return nil
}

// fileConn turns fd into a net.Conn, or closes it.
func (s *Server) fileConn(fd int) (net.Conn, bool) {
	f := os.NewFile(uintptr(fd), "")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		s.stats.errors.Add(1)
		s.logger().Warn("connection error", "err", err)
		return nil, false
	}
	return nc, true
}

// finishReply writes pending, the rest of a reply computed inline (possibly
// none), on a goroutine, and lingers so that the reply arrives. The
// connection counts as active until it ends, and Close closes it.
func (s *Server) finishReply(fd int, pending []byte) {
	nc, ok := s.fileConn(fd)
	if !ok {
		return
	}
	c, ok := s.track(nc)
	if !ok {
		nc.Close()
		return
	}
	rest := append([]byte(nil), pending...)
	s.wg.Go(func() {
		defer c.Close()
		if wt := s.writeTimeout(); wt > 0 {
			nc.SetWriteDeadline(time.Now().Add(wt))
		}
		if len(rest) > 0 {
			n, err := nc.Write(rest)
			s.stats.bytesWritten.Add(int64(n))
			if err != nil {
				return
			}
		}
		Linger(nc, nil)
	})
}

// track registers nc, admitted already, so that Close closes it and Stats
// counts it. It reports false once Close has begun: Close would miss it.
func (s *Server) track(nc net.Conn) (*conn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.baseCtx.Err() != nil {
		return nil, false
	}
	c := &conn{Conn: nc, srv: s, ip: remoteIP(nc.RemoteAddr())}
	if s.MaxConnsPerIP > 0 && c.ip.IsValid() {
		s.perIP[c.ip]++ // for releaseLocked
	}
	s.conns[c] = struct{}{}
	s.stats.active.Add(1)
	return c, true
}

// handOff turns fd into a net.Conn and serves it on a goroutine, through
// admit and ServeConn.
func (s *Server) handOff(ctx context.Context, fd int, silent bool) {
	nc, ok := s.fileConn(fd)
	if !ok {
		return
	}
	c, err := s.admitOrReject(nc, nil)
	if err != nil {
		return
	}
	if silent {
		c.firstReadBy = time.Now().Add(s.idleTimeout() - deferAccept)
	}
	s.wg.Go(func() { s.serveConn(ctx, c) })
}

// A tcpAddr is a *net.TCPAddr with room for its IP: one allocation.
type tcpAddr struct {
	addr net.TCPAddr
	ip   [16]byte
}

// rawSockaddrAddr returns the address accept4 wrote to rsa, with its zone
// named by zones.
func rawSockaddrAddr(rsa *unix.RawSockaddrAny, zones *zoneNames) *net.TCPAddr {
	a := new(tcpAddr)
	ap := sockaddrAddrPort((*unix.RawSockaddrInet6)(unsafe.Pointer(rsa)), zones)
	if !ap.IsValid() {
		return &a.addr
	}
	ip := ap.Addr()
	a.ip = ip.As16()
	a.addr = net.TCPAddr{IP: a.ip[:], Port: int(ap.Port()), Zone: ip.Zone()}
	if ip.Is4() {
		a.addr.IP = a.ip[12:]
	}
	return &a.addr
}

// fileListener closes the duplicate socket that serveInline accepts on, with
// the listener it duplicates.
type fileListener struct {
	net.Listener
	f *os.File
}

func (l *fileListener) Close() error {
	l.f.Close()
	return l.Listener.Close()
}
