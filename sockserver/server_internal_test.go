package sockserver

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"testing"
	"time"
)

// waitFor polls cond until it holds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestServerPerIPReleased checks the per-address counts behind MaxConnsPerIP:
// they follow the open connections and leave no entry behind.
func TestServerPerIPReleased(t *testing.T) {
	t.Parallel()
	s := &Server{
		MaxConnsPerIP: 2,
		Logger:        slog.New(slog.DiscardHandler),
		Handler: HandlerFunc(func(ctx context.Context, conn net.Conn) error {
			_, err := io.Copy(io.Discard, conn)
			return err
		}),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})

	perIP := func() map[netip.Addr]int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return maps.Clone(s.perIP)
	}
	var conns []net.Conn
	for _, ip := range []string{"127.0.0.1", "127.0.0.1", "127.0.0.2"} {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	waitFor(t, "3 connections admitted", func() bool { return s.Stats().Active == 3 })
	want := map[netip.Addr]int{netip.MustParseAddr("127.0.0.1"): 2, netip.MustParseAddr("127.0.0.2"): 1}
	if got := perIP(); !maps.Equal(got, want) {
		t.Errorf("perIP = %v; want %v", got, want)
	}

	conns[0].Close()
	waitFor(t, "Stats().Active == 2", func() bool { return s.Stats().Active == 2 })
	want[netip.MustParseAddr("127.0.0.1")] = 1
	if got := perIP(); !maps.Equal(got, want) {
		t.Errorf("perIP after one close = %v; want %v", got, want)
	}

	for _, c := range conns[1:] {
		c.Close()
	}
	waitFor(t, "Stats().Active == 0", func() bool { return s.Stats().Active == 0 })
	if got := perIP(); len(got) != 0 {
		t.Errorf("perIP after all closed = %v; want empty", got)
	}
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	if n != 0 {
		t.Errorf("len(conns) = %d after all closed; want 0", n)
	}
}
