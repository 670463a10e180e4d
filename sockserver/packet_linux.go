package sockserver

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The batch path: a UDP socket is read with recvmmsg, up to batchDatagrams
// datagrams a system call, and the replies to a batch are sent with sendmmsg
// once it has been served, as bench/ref/mmsg_udp.c does.
//
// Between batches the goroutine waits in one of two ways:
//
//   - blocked in recvmmsg itself, the socket in blocking mode, as the C
//     reference waits: two system calls a batch, and no trip through the
//     scheduler and the poller (epoll_pwait, often twice, and the
//     scheduler's search for work each time the server goes idle). That
//     costs about 4 % less CPU per datagram with one datagram in flight per
//     client. But a goroutine blocked in a system call keeps its P until
//     sysmon takes it back, so this is done only while another P is left
//     for the rest of the program (blockedLoops);
//   - in the poller, the socket non-blocking, with recvmmsg made with
//     RawSyscall6 (it never waits): with GOMAXPROCS 1, and for the sockets
//     beyond GOMAXPROCS-1.
//
// sendmmsg is made with RawSyscall6 and MSG_DONTWAIT in both; rc.Write waits
// in the poller if the socket's buffer is full. A call through Syscall6 that
// does not block would wake the runtime's sysmon thread whenever it sleeps,
// as it does each time the server goes idle, and sysmon then polls every
// 20µs for a while: that cost about a tenth of the server's CPU at 150,000
// datagrams a second.
const (
	// batchDatagrams is the most datagrams one recvmmsg reads.
	batchDatagrams = 32
	// batchBufferBytes caps the read buffers: a larger MaxPacketBytes means
	// fewer datagrams a batch. Pages of a buffer that no datagram reached are
	// never touched.
	batchBufferBytes = batchDatagrams * DefaultMaxPacketBytes
	// batchReplies is the most replies one sendmmsg sends.
	batchReplies = 64
	// replyArenaBytes holds the replies waiting to be sent: at least the
	// largest datagram, so that any reply fits once the arena is flushed.
	replyArenaBytes = 2 * maxUDPPayload

	// blockedWakeup bounds a wait in recvmmsg (SO_RCVTIMEO), so that a
	// socket closed by its owner, not by Shutdown or Close, which wake the
	// wait at once, stops Serve soon.
	blockedWakeup = time.Second
	// yieldEvery is how often a goroutine that waits blocked lets the
	// scheduler run: see yield.
	yieldEvery = 5 * time.Millisecond
	// pollEvery is how many batches in a row a goroutine that waits in the
	// poller serves before it waits there all the same: see recvmmsg.
	pollEvery = 16
)

// blockedLoops counts the sockets whose goroutine waits blocked in recvmmsg.
var blockedLoops atomic.Int32

// serveBatches serves pc in batches if it is a UDP socket, and then reports
// true and the error for Serve. It reports false for other sockets, which
// Serve reads one datagram at a time.
func (s *PacketServer) serveBatches(pc net.PacketConn, size int, ownPort uint16) (bool, error) {
	uc, ok := pc.(*net.UDPConn)
	if !ok || uc.RemoteAddr() != nil {
		// Not a UDP socket, or a connected one, which WriteTo refuses to
		// write to: Serve's loop keeps that.
		return false, nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return false, nil
	}
	b := newBatchConn(s, rc, size, ownPort)
	if b.block(pc) {
		defer b.unblock()
	}
	var delay time.Duration
	for {
		b.rerr, b.served = 0, false
		err := rc.Read(b.recv)
		if b.served {
			delay = 0
		}
		if err == nil && b.rerr == 0 {
			// A blocked wait ended without a datagram: Shutdown or Close
			// woke it, or it timed out, and rc.Read fails next if the
			// socket was closed.
			if s.closing.Load() {
				return true, ErrServerClosed
			}
			continue
		}
		if err == nil {
			err = &net.OpError{Op: "read", Net: uc.LocalAddr().Network(), Source: uc.LocalAddr(), Err: os.NewSyscallError("recvmmsg", b.rerr)}
		}
		if stop, err := s.readFailed(pc, err, &delay); stop {
			return true, err
		}
	}
}

// A batchConn is the state of serveBatches: the messages, addresses and
// buffers of one batch of datagrams and of the replies to them.
type batchConn struct {
	s       *PacketServer
	rc      syscall.RawConn
	size    int // read buffer per datagram
	ownPort uint16

	// Receiving: slot i holds datagram i of the batch.
	msgs    []unix.Mmsghdr
	iovs    []unix.Iovec
	names   []unix.RawSockaddrInet6 // large enough for an IPv4 address too
	bufs    []byte
	froms   []*net.UDPAddr // the handler's from, by slot
	yielded time.Time      // when a blocked loop last let the scheduler run
	batches int            // batches served since (polled: since the last wait)
	known   fromCache
	n       int           // datagrams read by the last recvmmsg
	rerr    syscall.Errno // its error
	served  bool          // a batch was served since rc.Read was called
	used    int           // msgs whose Namelen the kernel has changed
	recv    func(fd uintptr) bool

	// Sending: the replies queued, each to the address of a slot.
	out   []unix.Mmsghdr
	oiovs []unix.Iovec
	oslot []int // the slot each reply answers
	arena []byte
	off   int           // bytes of arena used
	nout  int           // replies queued
	sent  int           // replies sent (or given up) of those
	werr  syscall.Errno // the error sending out[sent]
	send  func(fd uintptr) bool

	w     batchWriter
	zones zoneNames
}

// A fromCache keeps the *net.UDPAddr last given to the handler as the from
// of each of the senders seen lately, so that a sender's datagrams share one
// and serving them allocates nothing. The handler may keep a from, so one is
// never changed once given: a sender whose slot holds another address gets a
// new one. Direct-mapped, with no eviction to get wrong: many senders only
// mean more allocation.
type fromCache struct {
	keys  [fromCacheSlots]netip.AddrPort
	addrs [fromCacheSlots]*net.UDPAddr
}

const (
	fromCacheBits  = 8
	fromCacheSlots = 1 << fromCacheBits
)

// get returns the from for a datagram from ap.
func (c *fromCache) get(ap netip.AddrPort) *net.UDPAddr {
	i := fromSlot(ap)
	if a := c.addrs[i]; a != nil && c.keys[i] == ap {
		return a
	}
	a := net.UDPAddrFromAddrPort(ap)
	c.keys[i], c.addrs[i] = ap, a
	return a
}

// fromSlot returns ap's slot: the top bits of a multiplicative hash of its
// address and port.
func fromSlot(ap netip.AddrPort) int {
	a16 := ap.Addr().As16()
	h := binary.LittleEndian.Uint64(a16[:8]) ^ binary.LittleEndian.Uint64(a16[8:]) ^ uint64(ap.Port())<<48
	h *= 0x9e3779b97f4a7c15
	return int(h >> (64 - fromCacheBits))
}

func newBatchConn(s *PacketServer, rc syscall.RawConn, size int, ownPort uint16) *batchConn {
	n := max(1, min(batchDatagrams, batchBufferBytes/size))
	b := &batchConn{
		s:       s,
		rc:      rc,
		size:    size,
		ownPort: ownPort,
		msgs:    make([]unix.Mmsghdr, n),
		iovs:    make([]unix.Iovec, n),
		names:   make([]unix.RawSockaddrInet6, n),
		froms:   make([]*net.UDPAddr, n),
		bufs:    make([]byte, n*size),
		out:     make([]unix.Mmsghdr, batchReplies),
		oiovs:   make([]unix.Iovec, batchReplies),
		oslot:   make([]int, batchReplies),
		arena:   make([]byte, replyArenaBytes),
	}
	for i := range b.msgs {
		b.iovs[i].Base = &b.bufs[i*size]
		b.iovs[i].SetLen(size)
		h := &b.msgs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
	}
	for i := range b.out {
		h := &b.out[i].Hdr
		h.Iov = &b.oiovs[i]
		h.SetIovlen(1)
	}
	b.recv = b.recvmmsg
	b.send = b.sendmmsg
	b.w.b = b
	return b
}

// block makes b wait for datagrams blocked in recvmmsg, if a P is left for
// the rest of the program (or s.wait asks for it), and reports whether it
// does. Shutdown and Close then wake the wait with shutdown(SHUT_RD), which
// makes a wait in recvmmsg return at once, now and later.
func (b *batchConn) block(pc net.PacketConn) bool {
	s := b.s
	switch s.wait {
	case waitPolled:
		return false
	case waitAuto:
		if int(blockedLoops.Add(1)) >= runtime.GOMAXPROCS(0) {
			blockedLoops.Add(-1)
			return false
		}
	default:
		blockedLoops.Add(1)
	}
	wakeup := blockedWakeup
	if s.wakeup > 0 {
		wakeup = s.wakeup
	}
	tv := unix.NsecToTimeval(wakeup.Nanoseconds())
	var err error
	cerr := b.rc.Control(func(fd uintptr) {
		err = unix.SetsockoptTimeval(int(fd), unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		if err == nil {
			err = unix.SetNonblock(int(fd), false)
		}
	})
	if err != nil || cerr != nil {
		blockedLoops.Add(-1)
		return false
	}
	s.mu.Lock()
	if _, ok := s.conns[pc]; ok {
		s.conns[pc] = func() {
			b.rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RD) })
		}
	}
	s.mu.Unlock()
	b.recv = b.recvBlocked
	b.yielded = time.Now()
	return true
}

// unblock undoes block, once Serve is done with the socket.
func (b *batchConn) unblock() {
	b.rc.Control(func(fd uintptr) { unix.SetNonblock(int(fd), true) })
	blockedLoops.Add(-1)
}

// recvBlocked serves the datagrams that arrive, a batch at a time, for
// rc.Read, waiting for them in recvmmsg. It returns true, for serveBatches
// to see to, after an error (in rerr), after Shutdown or Close, and when a
// wait times out.
func (b *batchConn) recvBlocked(fd uintptr) bool {
	for {
		b.resetNames()
		if b.s.closing.Load() {
			return true
		}
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])), uintptr(len(b.msgs)), unix.MSG_WAITFORONE, 0, 0)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return true // timed out
		default:
			b.rerr = e
			return true
		}
		b.used = int(r)
		if b.s.closing.Load() {
			// Woken by Shutdown or Close (SHUT_RD reads as empty
			// datagrams from no address): what was read is new.
			return true
		}
		b.n = int(r)
		b.served = true
		b.serve()
		b.yield()
	}
}

// yield lets the scheduler run now and then. A goroutine that never leaves
// its P but for system calls looks to sysmon like one running for too long:
// after 10ms it is preempted, and its P taken away in its next wait, and then
// sysmon polls every 20µs for a while; that cost 2,000 wakeups a second.
func (b *batchConn) yield() {
	if b.batches++; b.batches%32 != 0 {
		return
	}
	if now := time.Now(); now.Sub(b.yielded) >= yieldEvery {
		b.yielded = now
		runtime.Gosched()
	}
}

// resetNames resets the address lengths the kernel changed in the datagrams
// it returned last, and only those.
func (b *batchConn) resetNames() {
	for i := range b.used {
		b.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
	}
	b.used = 0
}

// recvmmsg serves the datagrams queued, a batch at a time, for rc.Read, with
// the socket non-blocking. It reports false, to wait in the poller for more,
// when none is queued, and true only for an error, in rerr: rc.Read then
// returns, and serveBatches sees to it.
//
// It reads until the socket is empty, as a C server on a non-blocking socket
// does, rather than waiting in the poller as soon as a batch does not fill the
// buffers: under load a datagram has nearly always arrived while the last
// batch was served, and a read that finds it costs less than a wait (the
// scheduler's search for work, and epoll_pwait) that would at once find the
// socket ready. Measured on one CPU (bench/run --cpus 1, 10 clients with one
// datagram in flight each, 8 rounds): 5 % less CPU per datagram. The reads are made in
// rc.Read's callback, so that rc.Read does not forget the poller's readiness
// between them (the poller is edge-triggered: any datagram queued after a read
// that found none wakes it). After pollEvery batches in a row it waits in the
// poller all the same, which finds the socket ready at once if datagrams are
// queued: with GOMAXPROCS 1, that is when the scheduler looks for the
// program's other work, which a flood must not keep waiting.
func (b *batchConn) recvmmsg(fd uintptr) bool {
	for {
		b.resetNames()
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])), uintptr(len(b.msgs)), 0, 0, 0)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			b.batches = 0
			return false
		default:
			b.rerr = e
			return true
		}
		b.n = int(r)
		b.used = b.n
		b.served = true
		b.serve()
		if b.batches++; b.batches >= pollEvery || b.s.closing.Load() {
			b.batches = 0
			return false // after Shutdown, waiting returns at once: the deadline has passed
		}
	}
}

// serve answers the batch just read.
func (b *batchConn) serve() {
	s := b.s
	var read int64
	for i := range b.n {
		read += int64(min(int(b.msgs[i].Len), b.size))
	}
	s.stats.packets.Add(int64(b.n))
	s.stats.bytesRead.Add(read)
	for i := range b.n {
		if s.killed.Load() {
			break // Close: the rest of the batch goes unanswered
		}
		ap := b.addrPort(i)
		if !s.allowedAddrPort(ap, b.ownPort) {
			continue
		}
		from := b.known.get(ap)
		b.froms[i] = from
		n := min(int(b.msgs[i].Len), b.size)
		b.w.slot = i
		b.w.budget = s.budget(n)
		s.serve(&b.w, b.bufs[i*b.size:i*b.size+n], from)
	}
	if b.nout > 0 {
		b.flush()
	}
}

// addrPort returns the address of slot i's sender.
func (b *batchConn) addrPort(i int) netip.AddrPort {
	return sockaddrAddrPort(&b.names[i], &b.zones)
}

// sockaddrAddrPort returns the address in sa, an IPv4 or IPv6 socket address
// the kernel wrote (a RawSockaddrInet6 has room for either), with its zone
// named by zones; the zero AddrPort for another family.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6, zones *zoneNames) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port(&sa4.Port))
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			a = a.WithZone(zones.name(sa.Scope_id))
		}
		return netip.AddrPortFrom(a, port(&sa.Port))
	}
	return netip.AddrPort{}
}

// port returns a sockaddr's port, in network byte order.
func port(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// queue adds p, a reply to slot's sender, to the replies to send.
func (b *batchConn) queue(slot int, p []byte) {
	if b.nout == len(b.out) || len(b.arena)-b.off < len(p) {
		b.flush()
	}
	iov := &b.oiovs[b.nout]
	iov.Base = nil
	if len(p) > 0 {
		copy(b.arena[b.off:], p)
		iov.Base = &b.arena[b.off]
		b.off += len(p)
	}
	iov.SetLen(len(p))
	h := &b.out[b.nout].Hdr
	h.Name = (*byte)(unsafe.Pointer(&b.names[slot]))
	h.Namelen = b.msgs[slot].Hdr.Namelen
	b.oslot[b.nout] = slot
	b.nout++
}

// flush sends the replies queued. A reply the kernel refuses (its address, a
// full buffer) is counted as an error and skipped, as WriteTo's error would
// be; if the socket is closed, so are all those not sent.
func (b *batchConn) flush() {
	s := b.s
	if s.killed.Load() {
		// Close has begun: the socket may not be closed yet (it is
		// closed after the handlers' context is cancelled), but a reply
		// written after Close is not sent, whichever comes first.
		s.stats.errors.Add(int64(b.nout - b.sent))
		b.nout, b.sent, b.off = 0, 0, 0
		return
	}
	for b.sent < b.nout {
		b.werr = 0
		if err := b.rc.Write(b.send); err != nil {
			s.stats.errors.Add(int64(b.nout - b.sent))
			if !s.closing.Load() {
				s.logger().Warn("replies lost", "remote", addrString(b.froms[b.oslot[b.sent]]), "replies", b.nout-b.sent, "err", err)
			}
			break
		}
		if b.werr != 0 {
			s.stats.errors.Add(1)
			s.logger().Warn("reply failed", "remote", addrString(b.froms[b.oslot[b.sent]]), "bytes", b.oiovs[b.sent].Len, "err", os.NewSyscallError("sendmmsg", b.werr))
			b.sent++
		}
	}
	b.nout, b.sent, b.off = 0, 0, 0
}

// sendmmsg sends the replies queued from out[sent], for rc.Write. It reports
// false, to wait, if the socket's buffer is full; it stops at an error, in
// werr, about out[sent].
func (b *batchConn) sendmmsg(fd uintptr) bool {
	for b.sent < b.nout {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.out[b.sent])), uintptr(b.nout-b.sent), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			b.werr = e
			return true
		}
		n := int(r)
		if n <= 0 { // cannot happen: sendmmsg sends one or fails
			b.werr = unix.EIO
			return true
		}
		var written int64
		for _, iov := range b.oiovs[b.sent : b.sent+n] {
			written += int64(iov.Len)
		}
		b.s.stats.replies.Add(int64(n))
		b.s.stats.bytesWritten.Add(written)
		b.sent += n
	}
	return true
}

// A batchWriter is the PacketWriter of serveBatches.
type batchWriter struct {
	b      *batchConn
	slot   int
	budget int // reply bytes still allowed for the datagram being served
}

func (w *batchWriter) Write(p []byte) (int, error) {
	b := w.b
	s := b.s
	if len(p) > w.budget {
		s.stats.droppedAmp.Add(1)
		s.logger().Warn("reply dropped: over the amplification budget", "remote", addrString(b.froms[w.slot]), "bytes", len(p), "budget", w.budget)
		return 0, ErrReplyDropped
	}
	if s.bytes != nil && !s.bytes.take(float64(len(p)), time.Now()) {
		s.stats.droppedRate.Add(1)
		return 0, ErrReplyDropped
	}
	w.budget -= len(p)
	b.queue(w.slot, p)
	return len(p), nil
}
