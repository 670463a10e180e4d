package sockserver

import (
	"net"
	"net/netip"
	"testing"
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
