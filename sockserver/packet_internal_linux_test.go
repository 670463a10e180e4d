package sockserver

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A sender's datagrams share one from, allocated once; a from once given is
// never changed, even when another sender takes its slot.
func TestFromCache(t *testing.T) {
	var c fromCache
	a := netip.MustParseAddrPort("127.0.0.1:5000")
	first := c.get(a)
	if got := first.String(); got != "127.0.0.1:5000" {
		t.Fatalf("from = %s, want 127.0.0.1:5000", got)
	}
	if len(first.IP) != net.IPv4len {
		t.Errorf("from.IP has %d bytes, want %d, as ReadFrom gives", len(first.IP), net.IPv4len)
	}
	if again := c.get(a); again != first {
		t.Errorf("a second datagram from %s got another from", a)
	}
	if n := testing.AllocsPerRun(100, func() { c.get(a) }); n != 0 {
		t.Errorf("a known sender's from: %v allocations, want 0", n)
	}

	// Another sender with the same slot.
	var b netip.AddrPort
	for port := uint16(5001); ; port++ {
		b = netip.AddrPortFrom(a.Addr(), port)
		if fromSlot(b) == fromSlot(a) {
			break
		}
	}
	if got := c.get(b); got == first || got.Port != int(b.Port()) {
		t.Errorf("from for %s = %p %v; the one for %s was %p", b, got, got, a, first)
	}
	if first.String() != "127.0.0.1:5000" {
		t.Errorf("a from given out changed to %s", first)
	}
	if c.get(a) == first {
		t.Errorf("%s got back a from whose slot was taken", a)
	}

	zoned := netip.MustParseAddrPort("[fe80::1%lo]:53")
	if got := c.get(zoned); got.Zone != "lo" || got.IP.String() != "fe80::1" || got.Port != 53 {
		t.Errorf("from for %s = %v", zoned, got)
	}
	mapped := netip.MustParseAddrPort("[::ffff:127.0.0.1]:53")
	if got := c.get(mapped); len(got.IP) != net.IPv6len || got.AddrPort() != mapped {
		t.Errorf("from for %s = %v (%d bytes)", mapped, got, len(got.IP))
	}
}

// A socket's goroutine waits blocked in recvmmsg only while that leaves a P
// for the rest of the program: with GOMAXPROCS 2, one socket of two; with 1,
// none. Not parallel: it sets GOMAXPROCS, and counts blocked loops.
func TestBlockedBudget(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tc := range []struct{ procs, blocked int }{{1, 0}, {2, 1}, {3, 2}} {
		runtime.GOMAXPROCS(tc.procs)
		var servers []*PacketServer
		for range 3 {
			s := &PacketServer{Handler: PacketHandlerFunc(func(_ context.Context, w PacketWriter, p []byte, _ net.Addr) { w.Write(p) })}
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.Serve(pc) }()
			t.Cleanup(func() { s.Close(); <-done })
			// One exchange: the server has chosen.
			c, err := net.Dial("udp", pc.LocalAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 10)
			if _, err := c.Write([]byte("hi")); err != nil {
				t.Fatal(err)
			}
			if n, err := c.Read(buf); err != nil || string(buf[:n]) != "hi" {
				t.Fatalf("reply = %q, %v", buf[:n], err)
			}
			c.Close()
			servers = append(servers, s)
		}
		if n := int(blockedLoops.Load()); n != tc.blocked {
			t.Errorf("GOMAXPROCS %d: %d of 3 sockets wait blocked; want %d", tc.procs, n, tc.blocked)
		}
		for _, s := range servers {
			s.Close()
		}
		if n := blockedLoops.Load(); n != 0 {
			t.Errorf("GOMAXPROCS %d: %d sockets still counted as blocked after Close", tc.procs, n)
		}
	}
}

// rawSockaddrAddr decodes what accept4 writes: IPv4 with a 4-byte IP, as the
// net package gives it, IPv6 with its zone's name, nothing for others.
func TestRawSockaddrAddr(t *testing.T) {
	var zones zoneNames
	var rsa unix.RawSockaddrAny
	sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
	sa4.Family = unix.AF_INET
	sa4.Addr = [4]byte{192, 0, 2, 7}
	p := (*[2]byte)(unsafe.Pointer(&sa4.Port))
	p[0], p[1] = 0x1f, 0x90 // 8080, network byte order
	if a := rawSockaddrAddr(&rsa, &zones); a.String() != "192.0.2.7:8080" || len(a.IP) != net.IPv4len {
		t.Errorf("IPv4: %v (%d-byte IP); want 192.0.2.7:8080, 4 bytes", a, len(a.IP))
	}

	rsa = unix.RawSockaddrAny{}
	sa6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
	sa6.Family = unix.AF_INET6
	sa6.Addr = netip.MustParseAddr("fe80::1").As16()
	p = (*[2]byte)(unsafe.Pointer(&sa6.Port))
	p[0], p[1] = 0, 53
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	sa6.Scope_id = uint32(lo.Index)
	if a := rawSockaddrAddr(&rsa, &zones); a.String() != "[fe80::1%lo]:53" {
		t.Errorf("IPv6 with a zone: %v; want [fe80::1%%lo]:53", a)
	}

	rsa = unix.RawSockaddrAny{}
	rsa.Addr.Family = unix.AF_UNIX
	if a := rawSockaddrAddr(&rsa, &zones); a.IP != nil || a.Port != 0 {
		t.Errorf("AF_UNIX: %v; want the zero address", a)
	}
}
