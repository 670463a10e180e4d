package imapd_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/imapd"
)

// idleCost opens n connections to s, logs each in (and sends each a
// command of longLine octets if it is not 0), and returns the heap
// and goroutine stack memory the server holds per idle connection: the
// growth of HeapAlloc (after a GC) and of StackInuse, divided by n. The
// client side's sockets are measured apart, on a listener that only
// accepts, and taken off.
func idleCost(tb testing.TB, s *testServer, n, longLine int) (heap, stack float64) {
	tb.Helper()
	base := clientCost(tb, n)
	before := memNow()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			tb.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReaderSize(c, 16)
		login := "a LOGIN alice secret\r\n"
		if longLine > 0 {
			login = "l ID (\"x\" \"" + strings.Repeat("y", longLine) + "\")\r\n" + login
		}
		if _, err := io.WriteString(c, login); err != nil {
			tb.Fatal(err)
		}
		for {
			line, err := r.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull {
				tb.Fatal(err)
			}
			if len(line) >= 5 && string(line[:5]) == "a OK " {
				break
			}
		}
		// The reply line was read in pieces; what follows its end is
		// not there: the server has sent nothing more.
	}
	after := memNow()
	if f := os.Getenv("IMAPD_HEAP_PROFILE"); f != "" {
		writeHeapProfile(tb, f)
	}
	heap = (float64(after.heap) - float64(before.heap) - base.heap) / float64(n)
	stack = (float64(after.stack) - float64(before.stack) - base.stack) / float64(n)
	return heap, stack
}

type memSample struct{ heap, stack uint64 }

type memDelta struct{ heap, stack float64 }

func memNow() memSample {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{ms.HeapAlloc, ms.StackInuse}
}

// clientCost returns what n client connections (and the accepted server
// sockets, without any handler) cost: the part of idleCost that is not the
// IMAP server's.
func clientCost(tb testing.TB, n int) memDelta {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, n)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	before := memNow()
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		conns = append(conns, c, <-accepted)
	}
	after := memNow()
	for _, c := range conns {
		c.Close()
	}
	return memDelta{float64(after.heap) - float64(before.heap), float64(after.stack) - float64(before.stack)}
}

// oneUser is a Backend whose every login gets the same User: what a
// connection costs the server, without what a backend keeps per session.
type oneUser struct{ imapd.User }

func (b oneUser) Login(ctx context.Context, user, pass string) (imapd.User, error) {
	return sharedUser(b), nil
}

// sharedUser is a User whose Close does not close the shared one.
type sharedUser struct{ imapd.User }

func (sharedUser) Close() error { return nil }

// TestMemory_idleConnection checks that an idle logged-in connection holds
// at most 10 KiB of heap, with MemBackend's session and without, and as
// much after a 40000-octet command: no line buffer of MaxLineBytes, only
// the connection's 4 KiB read buffer (lineproto.Reader lets a grown one
// go), and no write buffer (lineproto.Conn.Rest). The figures are about
// 6.2 KiB with MemBackend and 5.6 KiB without, with -race or not.
func TestMemory_idleConnection(t *testing.T) {
	n := 200
	quiet := slog.New(slog.DiscardHandler)
	s := newServer(t, func(s *imapd.Server) { s.MaxConnsPerIP, s.Logger = -1, quiet })
	heap, stack := idleCost(t, s, n, 0)
	t.Logf("idle logged-in connection, with MemBackend: %.0f B heap, %.0f B goroutine stack", heap, stack)
	if heap > 10<<10 {
		t.Errorf("an idle logged-in connection with MemBackend holds %.0f B of heap; want at most 10 KiB", heap)
	}
	heap, stack = idleCost(t, s, n, 40000)
	t.Logf("idle logged-in connection after a 40000-octet command, with MemBackend: %.0f B heap, %.0f B goroutine stack", heap, stack)
	if heap > 10<<10 {
		t.Errorf("an idle logged-in connection holds %.0f B of heap after a 40000-octet command; want at most 10 KiB (the grown read buffer let go)", heap)
	}

	u, err := s.be.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	s = newServer(t, func(s *imapd.Server) {
		s.MaxConnsPerIP, s.Logger = -1, quiet
		s.Backend = oneUser{u}
	})
	heap, stack = idleCost(t, s, n, 0)
	t.Logf("idle logged-in connection, server alone: %.0f B heap, %.0f B goroutine stack", heap, stack)
	if heap > 10<<10 {
		t.Errorf("an idle logged-in connection holds %.0f B of heap; want at most 10 KiB", heap)
	}
}

// BenchmarkIdleConnection reports the memory an idle logged-in connection
// holds: heap-B/conn and stack-B/conn.
func BenchmarkIdleConnection(b *testing.B) {
	s := newServer(b, func(s *imapd.Server) { s.MaxConnsPerIP = -1 })
	for b.Loop() {
		heap, stack := idleCost(b, s, 100, 0)
		b.ReportMetric(heap, "heap-B/conn")
		b.ReportMetric(stack, "stack-B/conn")
	}
}

// BenchmarkNoop measures the round trip of a NOOP on a logged-in
// connection.
func BenchmarkNoop(b *testing.B) {
	s := newServer(b, nil)
	c, r := s.loggedIn(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		fmt.Fprintf(c, "n%d NOOP\r\n", i)
		if _, err := r.ReadString('\n'); err != nil {
			b.Fatal(err)
		}
	}
}

// writeHeapProfile writes a heap profile to file, for a look at what idle
// connections hold (IMAPD_HEAP_PROFILE=file go test -run TestMemory
// -memprofilerate=1).
func writeHeapProfile(tb testing.TB, file string) {
	f, err := os.Create(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkIdleAfterLongCommand reports the memory an idle logged-in
// connection holds after a command of 40000 octets: the reader's buffer
// grew for it, and is released only if lineproto.Reader releases it.
func BenchmarkIdleAfterLongCommand(b *testing.B) {
	s := newServer(b, func(s *imapd.Server) { s.MaxConnsPerIP, s.Logger = -1, slog.New(slog.DiscardHandler) })
	for b.Loop() {
		heap, stack := idleCost(b, s, 100, 40000)
		b.ReportMetric(heap, "heap-B/conn")
		b.ReportMetric(stack, "stack-B/conn")
	}
}
