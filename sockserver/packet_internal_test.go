package sockserver

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

func addr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(i >> 16), byte(i >> 8), byte(i)})
}

// TestRateLimiterCap checks HARDENING U8: however many sources send, the
// limiter tracks at most MaxSources of them.
func TestRateLimiterCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		srv        *PacketServer
		sources    int
		wantMax    int
		wantBurst  float64
		wantTokens float64
	}{
		{"MaxSources", &PacketServer{RateLimit: 1, RateBurst: 5, MaxSources: 100}, 1000, 100, 5, 4},
		{"default", &PacketServer{RateLimit: 10}, 100_000, DefaultMaxSources, 20, 19},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.srv.setup()
			l := tc.srv.limiter
			if l.max != tc.wantMax || l.burst != tc.wantBurst {
				t.Fatalf("limiter max, burst = %d, %g; want %d, %g", l.max, l.burst, tc.wantMax, tc.wantBurst)
			}
			now := time.Now()
			for i := range tc.sources {
				if !l.allow(addr(i), now) {
					t.Fatalf("allow(%v) = false for a new source", addr(i))
				}
			}
			if got := l.len(); got != tc.wantMax {
				t.Errorf("len() = %d; want %d", got, tc.wantMax)
			}
			if got := len(l.byAddr); got != tc.wantMax {
				t.Errorf("len(byAddr) = %d; want %d", got, tc.wantMax)
			}
			// The newest source is tracked, with one token spent.
			e, ok := l.byAddr[addr(tc.sources-1)]
			if !ok {
				t.Fatal("the most recent source is not tracked")
			}
			if got := e.Value.(*source).b.tokens; got != tc.wantTokens {
				t.Errorf("tokens = %g; want %g", got, tc.wantTokens)
			}
			if _, ok := l.byAddr[addr(0)]; ok {
				t.Error("the oldest source is still tracked")
			}
		})
	}
}

// TestRateLimiterLRU checks that the source forgotten is the least recently
// seen: a forgotten source starts again with a full bucket, a kept one does not.
func TestRateLimiterLRU(t *testing.T) {
	t.Parallel()
	a, b, c, d := addr(1), addr(2), addr(3), addr(4)
	l := newRateLimiter(1, 1, 3)
	now := time.Now() // fixed: no refill
	steps := []struct {
		addr netip.Addr
		want bool
	}{
		{a, true},
		{a, false}, // a's bucket is empty
		{b, true},
		{c, true},
		{a, false}, // a is seen again: now the most recent
		{d, true},  // forgets b, the least recently seen
		{a, false}, // a was kept
		{b, true},  // b was forgotten: a new bucket; forgets c
		{a, false},
		{c, true}, // c was forgotten; forgets d
		{d, true}, // d was forgotten
	}
	for i, st := range steps {
		if got := l.allow(st.addr, now); got != st.want {
			t.Errorf("step %d: allow(%v) = %v; want %v", i, st.addr, got, st.want)
		}
		if n := l.len(); n > 3 {
			t.Fatalf("step %d: len() = %d; want at most 3", i, n)
		}
	}
}

func TestBucket(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	b := &bucket{tokens: 2, rate: 10, burst: 2}
	steps := []struct {
		at   time.Duration
		n    float64
		want bool
	}{
		{0, 1, true},
		{0, 1, true},
		{0, 1, false},                      // empty
		{50 * time.Millisecond, 1, false},  // half a token
		{250 * time.Millisecond, 1, true},  // refilled to the burst
		{250 * time.Millisecond, 1, true},  // the last token
		{250 * time.Millisecond, 1, false}, // no time passed
		{10 * time.Second, 3, false},       // refilled, but only to the burst
		{10 * time.Second, 2, true},
		{10 * time.Second, 0.5, false},
	}
	for i, st := range steps {
		if got := b.take(st.n, t0.Add(st.at)); got != st.want {
			t.Errorf("step %d: take(%g, +%v) = %v; want %v", i, st.n, st.at, got, st.want)
		}
	}
}

// TestZoneNames checks that an IPv6 zone is named as the net package names
// it: the interface's name, or the index for an unknown interface.
func TestZoneNames(t *testing.T) {
	t.Parallel()
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		t.Skipf("no interfaces: %v", err)
	}
	var z zoneNames
	for range 2 { // looked up, then cached
		if got, want := z.name(uint32(ifs[0].Index)), ifs[0].Name; got != want {
			t.Errorf("name(%d) = %q; want %q", ifs[0].Index, got, want)
		}
	}
	unknown := uint32(1 << 30)
	if got, want := z.name(unknown), strconv.FormatUint(uint64(unknown), 10); got != want {
		t.Errorf("name(%d) = %q; want %q", unknown, got, want)
	}
	// After a minute, names are looked up again.
	z.names[uint32(ifs[0].Index)] = "stale"
	z.looked = z.looked.Add(-2 * time.Minute)
	if got, want := z.name(uint32(ifs[0].Index)), ifs[0].Name; got != want {
		t.Errorf("name(%d) a minute later = %q; want %q", ifs[0].Index, got, want)
	}
}
