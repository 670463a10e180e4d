package sockserver

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inetkit/inetkit/fault"
)

// A PacketHandler answers datagrams. ServePacket is called once per datagram,
// in the order they arrive, from one goroutine: it should not block. p is only
// valid until ServePacket returns. Replies written to w go to from. from may
// be kept, but not modified: the datagrams of one sender may share it.
type PacketHandler interface {
	ServePacket(ctx context.Context, w PacketWriter, p []byte, from net.Addr)
}

// PacketHandlerFunc is an adapter to allow the use of an ordinary function as a
// [PacketHandler].
type PacketHandlerFunc func(ctx context.Context, w PacketWriter, p []byte, from net.Addr)

// ServePacket calls f(ctx, w, p, from).
func (f PacketHandlerFunc) ServePacket(ctx context.Context, w PacketWriter, p []byte, from net.Addr) {
	f(ctx, w, p, from)
}

var _ PacketHandler = PacketHandlerFunc(nil)

// A PacketWriter sends reply datagrams to the sender of the datagram being
// served. Each Write is one datagram. It is valid only until ServePacket
// returns. A reply that the server's defences do not
// allow is dropped and Write returns [ErrReplyDropped].
//
// On Linux, a [PacketServer] serving a *net.UDPConn reads datagrams in
// batches and sends the replies to a batch together once it has been served:
// Write copies p, so p may be reused as soon as Write returns, and a reply
// that the kernel then refuses is counted in [PacketStats].Errors and logged
// rather than reported by Write.
type PacketWriter interface {
	Write(p []byte) (int, error)
}

// ErrReplyDropped is returned by [PacketWriter.Write] when the reply would
// exceed the amplification budget, the total reply byte rate, or the largest
// datagram.
var ErrReplyDropped = errors.New("sockserver: reply dropped")

// DefaultBlockedPorts are the source ports a [PacketServer] never answers: echo
// (7), chargen (19), DNS (53) and NTP (123), whose servers would answer back and
// start a loop, or whose users a forged request would flood. Port 0 cannot be
// answered at all.
var DefaultBlockedPorts = []int{0, 7, 19, 53, 123}

// Defaults for the zero values of [PacketServer] fields.
const (
	// DefaultMaxPacketBytes is the read buffer: every UDP datagram, up to
	// 65507 bytes over IPv4 and 65527 over IPv6, is read whole.
	DefaultMaxPacketBytes = 65535
	// DefaultAmplificationFactor caps the reply bytes for one datagram at
	// three times its size, the anti-amplification factor of QUIC (RFC 9000 §8).
	DefaultAmplificationFactor = 3
	// DefaultMaxSources caps the sources whose rate a PacketServer tracks.
	DefaultMaxSources = 65536
	// maxUDPPayload is the largest UDP payload over IPv4.
	maxUDPPayload = 65507
)

// A PacketServer serves datagrams with a PacketHandler. Its zero value, with
// Handler set, is ready to use. Fields must not be changed after Serve is
// called. A PacketServer is safe for concurrent use.
type PacketServer struct {
	// Addr is the address ListenAndServe listens on.
	Addr string
	// Network is "udp" (the default), "udp4", "udp6" or "unixgram".
	Network string
	// Handler answers each datagram. It is required.
	Handler PacketHandler
	// Logger receives read errors, dropped replies and panics. Nil means
	// slog.Default().
	Logger *slog.Logger

	// MaxPacketBytes is the size of the read buffer; longer datagrams are
	// truncated by the kernel. Zero means DefaultMaxPacketBytes.
	MaxPacketBytes int
	// AmplificationFactor caps the bytes of all replies to one datagram at
	// that many times its size. Zero means DefaultAmplificationFactor; a
	// negative value means no cap.
	AmplificationFactor float64
	// BlockedPorts are source ports never answered. Nil means
	// DefaultBlockedPorts. Datagrams from the server's own port are never
	// answered either, whatever their address: two servers cannot be made to
	// answer each other.
	BlockedPorts []int
	// RateLimit is the most datagrams per second answered for one source IP
	// address, with bursts of RateBurst. Zero means no limit.
	RateLimit float64
	// RateBurst is the burst allowed above RateLimit. Zero means 2×RateLimit.
	RateBurst int
	// ByteRateLimit is the most reply bytes per second sent in all, with a
	// burst of one second's worth. Zero means no limit.
	ByteRateLimit float64
	// MaxSources caps the number of source addresses whose rate is tracked;
	// the least recently seen is forgotten first. Zero means
	// DefaultMaxSources.
	MaxSources int

	// Faults, if not nil, are consulted for every datagram allowed (package
	// fault, moment "datagram"): a fault may drop it, or duplicate, delay
	// or reorder its replies. FaultService names the server in the rules;
	// "" means "udp". With Faults set, datagrams are read one at a time,
	// never in batches.
	Faults       *fault.Set
	FaultService string

	mu      sync.Mutex
	conns   map[net.PacketConn]func() // each socket's wake for Shutdown and Close, or nil
	wait    waitMode
	wakeup  time.Duration // if not zero, replaces blockedWakeup
	closing atomic.Bool   // set by Shutdown and Close
	killed  atomic.Bool   // set by Close: the rest of a batch is not served
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	once    sync.Once
	stop    chan struct{} // closed by Shutdown and Close
	stopped sync.Once
	stats   packetCounters
	limiter *rateLimiter
	bytes   *bucket
	held    map[netip.AddrPort]*heldReply // replies held back by a reorder fault; under mu
}

func (s *PacketServer) setup() {
	s.once.Do(func() {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.conns = make(map[net.PacketConn]func())
		s.stop = make(chan struct{})
		if s.RateLimit > 0 {
			burst := float64(s.RateBurst)
			if burst <= 0 {
				burst = 2 * s.RateLimit
			}
			maxSrc := s.MaxSources
			if maxSrc <= 0 {
				maxSrc = DefaultMaxSources
			}
			s.limiter = newRateLimiter(s.RateLimit, burst, maxSrc)
		}
		if s.ByteRateLimit > 0 {
			s.bytes = &bucket{tokens: s.ByteRateLimit, rate: s.ByteRateLimit, burst: s.ByteRateLimit}
		}
	})
}

func (s *PacketServer) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Listen opens the socket for s.Addr on s.Network, as ListenAndServe does,
// without serving it.
func (s *PacketServer) Listen(ctx context.Context) (net.PacketConn, error) {
	network := s.Network
	if network == "" {
		network = "udp"
	}
	var lc net.ListenConfig
	return lc.ListenPacket(ctx, network, s.Addr)
}

// ListenAndServe listens on s.Addr and serves datagrams until Shutdown or
// Close. It always returns a non-nil error: ErrServerClosed after Shutdown or
// Close.
func (s *PacketServer) ListenAndServe() error {
	if s.closing.Load() {
		return ErrServerClosed
	}
	pc, err := s.Listen(context.Background())
	if err != nil {
		return err
	}
	return s.Serve(pc)
}

// Serve reads datagrams from pc and answers them until Shutdown or Close. Serve
// closes pc when it returns. It always returns a non-nil error:
// ErrServerClosed after Shutdown or Close. On Linux, a *net.UDPConn is
// served in batches, with the socket's read lock held: pc.Close, called
// while a handler runs, returns when the batch is done; called while Serve
// waits blocked in recvmmsg (see packet_linux.go), it returns within a second,
// and Serve then returns net.ErrClosed. Shutdown and Close wake it at once.
func (s *PacketServer) Serve(pc net.PacketConn) error {
	if s.Handler == nil {
		return errors.New("sockserver: PacketServer.Handler is nil")
	}
	s.setup()
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		pc.Close()
		return ErrServerClosed
	}
	s.conns[pc] = nil
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, pc)
		s.mu.Unlock()
		pc.Close()
		s.wg.Done()
	}()

	size := s.MaxPacketBytes
	if size <= 0 {
		size = DefaultMaxPacketBytes
	}
	ownPort := addrPort(pc.LocalAddr()).Port()
	if s.Faults == nil {
		if ok, err := s.serveBatches(pc, size, ownPort); ok {
			return err
		}
	}
	return s.serveEach(pc, size, ownPort)
}

// serveEach is the loop of Serve for any PacketConn: one ReadFrom and one
// handler call per datagram, one WriteTo per reply.
func (s *PacketServer) serveEach(pc net.PacketConn, size int, ownPort uint16) error {
	buf := make([]byte, size)
	w := &packetWriter{pc: pc, srv: s}
	var delay time.Duration
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if stop, err := s.readFailed(pc, err, &delay); stop {
				return err
			}
			continue
		}
		delay = 0
		s.stats.packets.Add(1)
		s.stats.bytesRead.Add(int64(n))
		if !s.allowed(from, ownPort) {
			continue
		}
		w.to = from
		w.budget = s.budget(n)
		if s.Faults != nil {
			s.serveFaults(pc, w, buf[:n], from)
			continue
		}
		s.serve(w, buf[:n], from)
	}
}

// readFailed handles err, returned by a read from pc. If Serve is to return,
// it returns true and the error for Serve. Otherwise it has waited a little,
// longer at each consecutive error (reset delay after a good read), so that a
// persistent error cannot spin.
func (s *PacketServer) readFailed(pc net.PacketConn, err error, delay *time.Duration) (bool, error) {
	if s.closing.Load() {
		return true, ErrServerClosed
	}
	if errors.Is(err, net.ErrClosed) {
		return true, err
	}
	// Errors such as ECONNREFUSED left by an ICMP message, or ENOBUFS, are
	// about one datagram; wait a little so that a persistent one can't spin.
	s.stats.errors.Add(1)
	*delay = nextDelay(*delay)
	s.logger().Warn("read error; retrying", "addr", pc.LocalAddr().String(), "err", err, "delay", *delay)
	t := time.NewTimer(*delay)
	select {
	case <-t.C:
	case <-s.stop:
		t.Stop()
	}
	return false, nil
}

func (s *PacketServer) allowed(from net.Addr, ownPort uint16) bool {
	return s.allowedAddrPort(addrPort(from), ownPort)
}

// allowedAddrPort reports whether a datagram from ap is to be served, counting
// it in the Stats if not. An invalid ap is a Unix socket's.
func (s *PacketServer) allowedAddrPort(ap netip.AddrPort, ownPort uint16) bool {
	if !ap.IsValid() {
		return true // a Unix datagram socket: no ports, no spoofing
	}
	blocked := s.BlockedPorts
	if blocked == nil {
		blocked = DefaultBlockedPorts
	}
	if ap.Port() == ownPort || slices.Contains(blocked, int(ap.Port())) {
		s.stats.droppedPort.Add(1)
		return false
	}
	if s.limiter != nil && !s.limiter.allow(ap.Addr(), time.Now()) {
		s.stats.droppedRate.Add(1)
		return false
	}
	return true
}

func (s *PacketServer) budget(n int) int {
	f := s.AmplificationFactor
	switch {
	case f == 0:
		f = DefaultAmplificationFactor
	case f < 0:
		return maxUDPPayload
	}
	return min(int(f*float64(n)), maxUDPPayload)
}

func (s *PacketServer) serve(w PacketWriter, p []byte, from net.Addr) {
	defer func() {
		if r := recover(); r != nil {
			s.stats.panics.Add(1)
			s.logger().Error("panic serving datagram", "remote", addrString(from), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	s.Handler.ServePacket(s.ctx, w, p, from)
}

type packetWriter struct {
	pc     net.PacketConn
	srv    *PacketServer
	to     net.Addr
	budget int // reply bytes still allowed for the datagram being served
}

func (w *packetWriter) Write(p []byte) (int, error) {
	s := w.srv
	if len(p) > w.budget {
		s.stats.droppedAmp.Add(1)
		s.logger().Warn("reply dropped: over the amplification budget", "remote", addrString(w.to), "bytes", len(p), "budget", w.budget)
		return 0, ErrReplyDropped
	}
	if s.bytes != nil && !s.bytes.take(float64(len(p)), time.Now()) {
		s.stats.droppedRate.Add(1)
		return 0, ErrReplyDropped
	}
	w.budget -= len(p)
	n, err := w.pc.WriteTo(p, w.to)
	if err != nil {
		s.stats.errors.Add(1)
		return n, err
	}
	s.stats.replies.Add(1)
	s.stats.bytesWritten.Add(int64(n))
	return n, nil
}

// addrString returns a.String(), or "" for the nil address of a sender that
// did not bind its socket (a Unix datagram client may not).
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func addrPort(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.AddrPort()
	}
	return netip.AddrPort{}
}

// Shutdown stops reading new datagrams, lets the ones being answered finish
// (on Linux, the whole batch read last from a UDP socket), and closes the
// sockets. If ctx expires first, it closes them at once and
// returns ctx.Err().
func (s *PacketServer) Shutdown(ctx context.Context) error {
	s.setup()
	s.mu.Lock()
	s.closing.Store(true)
	s.stopped.Do(func() { close(s.stop) })
	for pc, wake := range s.conns {
		pc.SetReadDeadline(time.Unix(1, 0))
		if wake != nil {
			wake()
		}
	}
	s.mu.Unlock()
	wait := make(chan struct{})
	go func() { s.wg.Wait(); close(wait) }()
	select {
	case <-wait:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes every socket at once, cancels the handler's context and waits
// for Serve to return; datagrams read but not yet served (the rest of a batch)
// get no reply. It must not be called from a handler.
func (s *PacketServer) Close() error {
	s.setup()
	s.mu.Lock()
	s.closing.Store(true)
	s.killed.Store(true)
	s.stopped.Do(func() { close(s.stop) })
	conns := slices.Collect(maps.Keys(s.conns))
	for _, wake := range s.conns {
		if wake != nil {
			wake()
		}
	}
	s.mu.Unlock()
	// The handler's context first: on Linux a socket's Close waits for a
	// batch being served to finish.
	s.cancel()
	for _, pc := range conns {
		pc.Close()
	}
	s.wg.Wait()
	return nil
}

// Stats returns a snapshot of the server's counters.
func (s *PacketServer) Stats() PacketStats { return s.stats.snapshot() }

// bucket is a token bucket, safe for concurrent use.
type bucket struct {
	tokens, rate, burst float64
	last                time.Time
	mu                  sync.Mutex
}

func (b *bucket) take(n float64, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// rateLimiter keeps a token bucket per source address, forgetting the least
// recently seen source when it tracks max of them, so that spoofed
// sources cannot grow it without bound.
type rateLimiter struct {
	rate, burst float64
	max         int
	mu          sync.Mutex
	lru         *list.List // of *source, most recent at the front
	byAddr      map[netip.Addr]*list.Element
}

type source struct {
	addr netip.Addr
	b    bucket
}

func newRateLimiter(rate, burst float64, max int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: burst, max: max, lru: list.New(), byAddr: make(map[netip.Addr]*list.Element)}
}

func (l *rateLimiter) allow(a netip.Addr, now time.Time) bool {
	l.mu.Lock()
	e, ok := l.byAddr[a]
	if ok {
		l.lru.MoveToFront(e)
	} else {
		if l.lru.Len() >= l.max {
			old := l.lru.Back()
			delete(l.byAddr, old.Value.(*source).addr)
			l.lru.Remove(old)
		}
		e = l.lru.PushFront(&source{addr: a, b: bucket{tokens: l.burst, rate: l.rate, burst: l.burst}})
		l.byAddr[a] = e
	}
	src := e.Value.(*source)
	l.mu.Unlock()
	return src.b.take(1, now)
}

func (l *rateLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// zoneNames names IPv6 zones by interface index, as the net package does,
// and like it looks the names up again after a minute.
type zoneNames struct {
	names  map[uint32]string
	looked time.Time
}

func (z *zoneNames) name(index uint32) string {
	if now := time.Now(); z.names == nil || now.Sub(z.looked) > time.Minute {
		z.names = make(map[uint32]string)
		z.looked = now
	}
	if name, ok := z.names[index]; ok {
		return name
	}
	name := strconv.FormatUint(uint64(index), 10)
	if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
		name = ifi.Name
	}
	z.names[index] = name
	return name
}

// A waitMode is how a UDP socket served in batches waits for datagrams; see
// packet_linux.go. Tests set it to try both.
type waitMode int

const (
	waitAuto    waitMode = iota // blocked in recvmmsg while a P is to spare, else polled
	waitBlocked                 // blocked in recvmmsg
	waitPolled                  // in the poller
)
