package lineproto_test

import (
	"net"
	"testing"
	"time"

	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

func TestLimits_Resolve(t *testing.T) {
	def := lineproto.Limits{IdleTimeout: 10 * time.Minute}
	got := lineproto.Limits{
		CommandTimeout:  time.Second,
		MaxAuthFailures: -1,
		ErrorDelay:      -1,
		MaxConns:        -1,
	}.Resolve(def)
	want := lineproto.Limits{
		IdleTimeout:      10 * time.Minute, // the protocol's default
		CommandTimeout:   time.Second,      // set
		WriteTimeout:     lineproto.DefaultWriteTimeout,
		MaxConns:         0, // -1: none
		AuthFailureDelay: lineproto.DefaultAuthFailureDelay,
		MaxAuthFailures:  0, // -1: none
		SoftErrorLimit:   lineproto.DefaultSoftErrorLimit,
		HardErrorLimit:   lineproto.DefaultHardErrorLimit,
		ErrorDelay:       0, // -1: none
	}
	if got != want {
		t.Errorf("Resolve:\n got %+v\nwant %+v", got, want)
	}
	if got := (lineproto.Limits{}).Resolve(lineproto.Limits{}).MaxConns; got != sockserver.DefaultMaxConns {
		t.Errorf("zero MaxConns resolves to %d; want sockserver.DefaultMaxConns", got)
	}
	// A protocol default of -1 means none too.
	if got := (lineproto.Limits{}).Resolve(lineproto.Limits{IdleTimeout: -1}).IdleTimeout; got != 0 {
		t.Errorf("IdleTimeout with a default of -1 resolves to %v; want 0", got)
	}
}

func TestLimits_SockServer(t *testing.T) {
	ss := lineproto.Limits{MaxConns: -1, IdleTimeout: -1}.Resolve(lineproto.Limits{}).SockServer(nil, nil, nil)
	if ss.MaxConns != -1 || ss.IdleTimeout != -1 {
		t.Errorf("SockServer of no limits: MaxConns %d, IdleTimeout %v; want -1, -1 (none)", ss.MaxConns, ss.IdleTimeout)
	}
}

func TestCounter(t *testing.T) {
	c := lineproto.NewCounter(lineproto.Limits{SoftErrorLimit: 2, HardErrorLimit: 4, ErrorDelay: time.Second, AuthFailureDelay: 300 * time.Millisecond, MaxAuthFailures: 10}.Resolve(lineproto.Limits{}))
	want := []lineproto.Verdict{
		{Delay: 0},
		{Delay: 0},
		{Delay: time.Second},
		{Delay: time.Second, Close: lineproto.ReasonTooManyErrors},
	}
	for i, w := range want {
		if got := c.Error(); got != w {
			t.Errorf("Error() #%d = %+v; want %+v", i+1, got, w)
		}
	}
}

// A failed login waits the longer of the two delays, never their sum, and
// -1 means no limit on failures.
func TestCounter_AuthFailure(t *testing.T) {
	c := lineproto.NewCounter(lineproto.Limits{SoftErrorLimit: 1, HardErrorLimit: -1, ErrorDelay: 200 * time.Millisecond, AuthFailureDelay: 500 * time.Millisecond, MaxAuthFailures: -1}.Resolve(lineproto.Limits{}))
	for i := range 50 {
		v := c.AuthFailure()
		if v.Close != lineproto.ReasonNone {
			t.Fatalf("AuthFailure #%d closes (%v) with MaxAuthFailures -1 and HardErrorLimit -1", i+1, v.Close)
		}
		if v.Delay != 500*time.Millisecond {
			t.Fatalf("AuthFailure #%d: delay %v; want 500ms, the longer of the two", i+1, v.Delay)
		}
	}
	c = lineproto.NewCounter(lineproto.Limits{MaxAuthFailures: 3}.Resolve(lineproto.Limits{}))
	c.AuthFailure()
	c.AuthFailure()
	if v := c.AuthFailure(); v.Close != lineproto.ReasonTooManyAuthFailures {
		t.Errorf("third AuthFailure with MaxAuthFailures 3: Close = %v", v.Close)
	}
}

func addr(s string) net.Addr { return net.TCPAddrFromAddrPort(netipMust(s)) }

func TestAuthLimiter(t *testing.T) {
	a := &lineproto.AuthLimiter{Base: time.Second, Max: 4 * time.Second, FreeFailures: 2}
	attacker := addr("192.0.2.1:1000")
	if d := a.Delay(attacker, "alice"); d != 0 {
		t.Fatalf("Delay before any failure = %v", d)
	}
	a.Failed(attacker, "alice")
	a.Failed(addr("192.0.2.1:2000"), "bob") // another connection, same address
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, w := range want {
		if d := a.Delay(attacker, "carol"); d != w {
			t.Errorf("after %d failures from the address: Delay = %v; want %v", i+2, d, w)
		}
		a.Failed(attacker, "dave")
	}
	// The account is counted from every address: a distributed guesser.
	b := &lineproto.AuthLimiter{Base: time.Second, Max: time.Minute, FreeFailures: 2}
	b.Failed(addr("198.51.100.1:1"), "Alice")
	b.Failed(addr("198.51.100.2:1"), "alice")
	if d := b.Delay(addr("203.0.113.9:1"), "ALICE"); d != time.Second {
		t.Errorf("Delay for an account that failed from two addresses = %v; want 1s", d)
	}
	if d := b.Delay(addr("203.0.113.9:1"), "bob"); d != 0 {
		t.Errorf("Delay for another account from a fresh address = %v; want 0", d)
	}
	b.Succeeded(addr("203.0.113.9:1"), "alice")
	if d := b.Delay(addr("203.0.113.9:1"), "alice"); d != 0 {
		t.Errorf("Delay after a success = %v; want 0", d)
	}
}

// IPv6 clients are counted by /64: a client that owns a /64 cannot rotate
// its way out.
func TestAuthLimiter_ipv6Prefix(t *testing.T) {
	a := &lineproto.AuthLimiter{Base: time.Second, Max: time.Minute, FreeFailures: 1}
	a.Failed(addr("[2001:db8:1:2::1]:1"), "")
	if d := a.Delay(addr("[2001:db8:1:2:ffff::9]:1"), ""); d != time.Second {
		t.Errorf("Delay from the same /64 = %v; want 1s", d)
	}
	if d := a.Delay(addr("[2001:db8:1:3::1]:1"), ""); d != 0 {
		t.Errorf("Delay from another /64 = %v; want 0", d)
	}
}

func TestAuthLimiter_bounded(t *testing.T) {
	a := &lineproto.AuthLimiter{Base: time.Second, Max: time.Minute, MaxEntries: 100}
	for i := range 10000 {
		a.Failed(addr("10.0."+itoa(i/256)+"."+itoa(i%256)+":1"), "")
	}
	if n := a.Len(); n > 100 {
		t.Errorf("%d entries after 10000 addresses with MaxEntries 100", n)
	}
}

func TestAuthLimiter_nil(t *testing.T) {
	var a *lineproto.AuthLimiter
	a.Failed(addr("192.0.2.1:1"), "x")
	if d := a.Delay(addr("192.0.2.1:1"), "x"); d != 0 {
		t.Errorf("nil AuthLimiter: Delay = %v", d)
	}
}

// Observe hears every outcome, outside the lock: it may call the limiter.
func TestAuthLimiter_Observe(t *testing.T) {
	a := lineproto.NewAuthLimiter(time.Millisecond)
	type outcome struct {
		user string
		ok   bool
	}
	var got []outcome
	a.Observe = func(remote net.Addr, user string, ok bool) {
		a.Len() // would deadlock under the lock
		got = append(got, outcome{user, ok})
	}
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	a.Failed(remote, "a@x")
	a.Succeeded(remote, "b@x")
	want := []outcome{{"a@x", false}, {"b@x", true}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("observed %v; want %v", got, want)
	}
}
