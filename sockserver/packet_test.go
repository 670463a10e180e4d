package sockserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inetkit/inetkit/sockserver"
)

// maxUDP is the largest UDP payload over IPv4.
const maxUDP = 65507

func listenUDP(t testing.TB) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// servePacket runs s.Serve(pc) in the background, with a quiet logger if s
// has none.
func servePacket(t testing.TB, s *sockserver.PacketServer, pc net.PacketConn) *serving {
	t.Helper()
	if s.Logger == nil {
		s.Logger = quiet
	}
	return background(t, pc.LocalAddr(), s, func() error { return s.Serve(pc) })
}

// startPacket serves s on a loopback UDP port.
func startPacket(t testing.TB, s *sockserver.PacketServer) *serving {
	t.Helper()
	return servePacket(t, s, listenUDP(t))
}

// udpClient binds a UDP socket to ip and port (0 for any).
func udpClient(t testing.TB, ip string, port int) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sendTo(t testing.TB, c net.PacketConn, to net.Addr, p []byte) {
	t.Helper()
	if _, err := c.WriteTo(p, to); err != nil {
		t.Fatalf("sending %d bytes: %v", len(p), err)
	}
}

// recvFrom returns the next datagram c receives.
func recvFrom(t testing.TB, c net.PacketConn) ([]byte, net.Addr) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	buf := make([]byte, 70000)
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("waiting for a reply: %v", err)
	}
	return buf[:n], from
}

// exchange sends p and returns the reply.
func exchange(t testing.TB, c net.PacketConn, to net.Addr, p []byte) []byte {
	t.Helper()
	sendTo(t, c, to, p)
	b, _ := recvFrom(t, c)
	return b
}

// drain returns the datagrams c receives within d.
func drain(t testing.TB, c net.PacketConn, d time.Duration) [][]byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	var got [][]byte
	buf := make([]byte, 70000)
	for {
		n, _, err := c.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return got
		}
		if err != nil {
			t.Fatalf("reading replies: %v", err)
		}
		got = append(got, bytes.Clone(buf[:n]))
	}
}

// expectSilence checks that c receives nothing within d.
func expectSilence(t testing.TB, c net.PacketConn, d time.Duration) {
	t.Helper()
	if got := drain(t, c, d); len(got) > 0 {
		t.Errorf("received %d unexpected datagrams, the first %q", len(got), trim(got[0]))
	}
}

func trim(b []byte) []byte {
	if len(b) > 20 {
		return b[:20]
	}
	return b
}

// forEachWait runs test once for each way a UDP socket served in batches
// waits for datagrams (on Linux; elsewhere both run the same), in parallel;
// test calls wait with its server. A blocked wait never times out.
func forEachWait(t *testing.T, test func(t *testing.T, wait func(*sockserver.PacketServer))) {
	t.Parallel()
	for _, mode := range []string{"blocked", "polled"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			test(t, func(s *sockserver.PacketServer) {
				sockserver.SetPacketWait(s, mode)
				// Shutdown and Close must wake a blocked wait at once.
				sockserver.SetBlockedWakeup(s, time.Hour)
			})
		})
	}
}

// echoPacket answers every datagram with a copy.
func echoPacket(_ context.Context, w sockserver.PacketWriter, p []byte, _ net.Addr) {
	w.Write(p)
}

func TestPacketRoundTrip(t *testing.T) {
	t.Parallel()
	froms := make(chan string, 1)
	s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		froms <- from.String()
		w.Write(append([]byte("re: "), p...))
	})}
	sv := startPacket(t, s)
	c := udpClient(t, "127.0.0.1", 0)
	sendTo(t, c, sv.addr, []byte("hello"))
	got, src := recvFrom(t, c)
	if string(got) != "re: hello" {
		t.Errorf("reply = %q; want %q", got, "re: hello")
	}
	if src.String() != sv.addr.String() {
		t.Errorf("reply from %v; want %v", src, sv.addr)
	}
	if got, want := recv(t, froms, "the handler"), c.LocalAddr().String(); got != want {
		t.Errorf("handler's from = %s; want %s", got, want)
	}
	want := sockserver.PacketStats{Packets: 1, Replies: 1, BytesRead: 5, BytesWritten: 9}
	waitFor(t, "the reply to be counted", func() bool { return s.Stats().Replies == 1 })
	if got := s.Stats(); got != want {
		t.Errorf("Stats() = %+v; want %+v", got, want)
	}
}

func TestPacketDatagramSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		maxPacket int
		send      int
		want      int
	}{
		{"largest UDP datagram read whole", 0, maxUDP, maxUDP},
		{"MaxPacketBytes truncates", 1024, 4096, 1024},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			payload := make([]byte, tc.send)
			for i := range payload {
				payload[i] = byte(i % 251)
			}
			type seen struct {
				n      int
				intact bool
			}
			seens := make(chan seen, 1)
			s := &sockserver.PacketServer{MaxPacketBytes: tc.maxPacket, Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
				seens <- seen{len(p), bytes.Equal(p, payload[:len(p)])}
				w.Write([]byte(strconv.Itoa(len(p))))
			})}
			sv := startPacket(t, s)
			c := udpClient(t, "127.0.0.1", 0)
			if got := string(exchange(t, c, sv.addr, payload)); got != strconv.Itoa(tc.want) {
				t.Errorf("reply = %q; want %d", got, tc.want)
			}
			sn := recv(t, seens, "the handler")
			if sn.n != tc.want || !sn.intact {
				t.Errorf("handler saw %d bytes (intact: %v); want %d intact bytes", sn.n, sn.intact, tc.want)
			}
		})
	}
}

func TestPacketEmptyDatagram(t *testing.T) {
	t.Parallel()
	type seen struct {
		n   int
		err error
	}
	seens := make(chan seen, 1)
	s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		_, err := w.Write(p)
		seens <- seen{len(p), err}
	})}
	sv := startPacket(t, s)
	c := udpClient(t, "127.0.0.1", 0)
	sendTo(t, c, sv.addr, nil)
	got, src := recvFrom(t, c)
	if len(got) != 0 || src.String() != sv.addr.String() {
		t.Errorf("reply = %q from %v; want an empty datagram from %v", got, src, sv.addr)
	}
	if sn := recv(t, seens, "the handler"); sn.n != 0 || sn.err != nil {
		t.Errorf("handler saw %d bytes, Write() error %v; want 0, nil", sn.n, sn.err)
	}
	// The server is still answering.
	if got := exchange(t, c, sv.addr, []byte("x")); string(got) != "x" {
		t.Errorf("reply = %q; want %q", got, "x")
	}
}

func TestPacketAmplification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		factor  float64
		request int
		writes  []int  // reply sizes, written in order
		arrive  []bool // whether each is sent
	}{
		{"3×len", 0, 100, []int{300}, []bool{true}},
		{"3×len+1", 0, 100, []int{301}, []bool{false}},
		{"split within the budget", 0, 100, []int{200, 100}, []bool{true, true}},
		{"split over the budget", 0, 100, []int{200, 101, 100}, []bool{true, false, true}},
		{"factor 1", 1, 100, []int{100, 1}, []bool{true, false}},
		{"no factor, largest datagram", -1, 1, []int{maxUDP}, []bool{true}},
		{"no factor, over the largest datagram", -1, 1, []int{maxUDP + 1}, []bool{false}},
		{"largest request, largest reply", 0, maxUDP, []int{maxUDP}, []bool{true}},
		{"largest request, over the largest datagram", 0, maxUDP, []int{maxUDP + 1}, []bool{false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			type result struct {
				n   int
				err error
			}
			results := make(chan []result, 1)
			s := &sockserver.PacketServer{AmplificationFactor: tc.factor, Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
				if string(p) == "ctl" {
					w.Write(p)
					return
				}
				var rs []result
				for i, size := range tc.writes {
					reply := bytes.Repeat([]byte{byte('a' + i)}, size)
					n, err := w.Write(reply)
					rs = append(rs, result{n, err})
				}
				results <- rs
			})}
			sv := startPacket(t, s)
			c := udpClient(t, "127.0.0.1", 0)
			sendTo(t, c, sv.addr, make([]byte, tc.request))
			sendTo(t, c, sv.addr, []byte("ctl"))

			rs := recv(t, results, "the handler")
			dropped := 0
			for i, r := range rs {
				if tc.arrive[i] {
					if r.n != tc.writes[i] || r.err != nil {
						t.Errorf("Write(%d bytes) = %d, %v; want %d, nil", tc.writes[i], r.n, r.err, tc.writes[i])
					}
					continue
				}
				dropped++
				if r.n != 0 || !errors.Is(r.err, sockserver.ErrReplyDropped) {
					t.Errorf("Write(%d bytes) = %d, %v; want 0, ErrReplyDropped", tc.writes[i], r.n, r.err)
				}
			}
			// The replies that were sent arrive, in order, then "ctl".
			for i, size := range tc.writes {
				if !tc.arrive[i] {
					continue
				}
				got, _ := recvFrom(t, c)
				if len(got) != size || got[0] != byte('a'+i) {
					t.Fatalf("received %d bytes of %q; want reply %d, %d bytes", len(got), got[:1], i, size)
				}
			}
			if got, _ := recvFrom(t, c); string(got) != "ctl" {
				t.Errorf("received %d bytes starting %q; want %q (a dropped reply arrived?)", len(got), trim(got), "ctl")
			}
			if got := s.Stats().DroppedAmplification; got != int64(dropped) {
				t.Errorf("Stats().DroppedAmplification = %d; want %d", got, dropped)
			}
		})
	}
}

// TestPacketBlockedPorts checks that datagrams from reflection ports and from
// the server's own port get no reply. Each case sends from the blocked socket,
// then exchanges a control datagram from another: the server answers in order,
// so by the time the control reply arrives the first datagram has been dropped.
func TestPacketBlockedPorts(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, s *sockserver.PacketServer, sv *serving, from *net.UDPConn) {
		t.Helper()
		control := udpClient(t, "127.0.0.3", 0)
		sendTo(t, from, sv.addr, []byte("reflect me"))
		if got := exchange(t, control, sv.addr, []byte("control")); string(got) != "control" {
			t.Fatalf("control reply = %q; want %q", got, "control")
		}
		expectSilence(t, from, 50*time.Millisecond)
		if st := s.Stats(); st.Packets != 2 || st.DroppedPort != 1 {
			t.Errorf("Stats() Packets, DroppedPort = %d, %d; want 2, 1", st.Packets, st.DroppedPort)
		}
	}

	t.Run("BlockedPorts", func(t *testing.T) {
		t.Parallel()
		from := udpClient(t, "127.0.0.1", 0)
		s := &sockserver.PacketServer{
			BlockedPorts: []int{from.LocalAddr().(*net.UDPAddr).Port},
			Handler:      sockserver.PacketHandlerFunc(echoPacket),
		}
		check(t, s, startPacket(t, s), from)
	})

	t.Run("own port", func(t *testing.T) {
		t.Parallel()
		s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(echoPacket)}
		sv := startPacket(t, s)
		// Another server on the same port number at another address.
		from := udpClient(t, "127.0.0.2", sv.addr.(*net.UDPAddr).Port)
		check(t, s, sv, from)
	})

	for _, port := range []int{7, 19, 53, 123} {
		t.Run(fmt.Sprintf("default port %d", port), func(t *testing.T) {
			if os.Geteuid() != 0 {
				t.Skip("binding a privileged port needs root")
			}
			t.Parallel()
			from, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.4"), Port: port})
			if err != nil {
				t.Skipf("binding port %d: %v", port, err)
			}
			t.Cleanup(func() { from.Close() })
			s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(echoPacket)}
			check(t, s, startPacket(t, s), from)
		})
	}
}

// sendPaced sends n datagrams, letting the server catch up every 20 so
// that none is lost to a full socket buffer.
func sendPaced(t testing.TB, s *sockserver.PacketServer, to net.Addr, n int, from func(i int) net.PacketConn, p []byte) {
	t.Helper()
	base := s.Stats().Packets
	for i := range n {
		sendTo(t, from(i), to, p)
		if (i+1)%20 == 0 || i == n-1 {
			want := base + int64(i+1)
			waitFor(t, "the server to read the datagrams", func() bool { return s.Stats().Packets >= want })
		}
	}
}

func TestPacketRateLimit(t *testing.T) {
	t.Parallel()
	const (
		rate  = 10
		burst = 20
		n     = 200
	)
	s := &sockserver.PacketServer{RateLimit: rate, RateBurst: burst, Handler: sockserver.PacketHandlerFunc(echoPacket)}
	sv := startPacket(t, s)
	flood := udpClient(t, "127.0.0.2", 0)
	other := udpClient(t, "127.0.0.3", 0)

	start := time.Now()
	sendPaced(t, s, sv.addr, n, func(int) net.PacketConn { return flood }, []byte("ping"))
	elapsed := time.Since(start)

	// Another source is not affected.
	for i := range 5 {
		msg := fmt.Sprintf("other %d", i)
		if got := exchange(t, other, sv.addr, []byte(msg)); string(got) != msg {
			t.Fatalf("reply to 127.0.0.3 = %q; want %q", got, msg)
		}
	}
	got := len(drain(t, flood, 100*time.Millisecond))
	most := burst + int(elapsed.Seconds()*rate) + 1
	if got < burst || got > most {
		t.Errorf("127.0.0.2 got %d replies to %d datagrams in %v; want %d to %d", got, n, elapsed, burst, most)
	}
	if dropped := s.Stats().DroppedRate; dropped != int64(n-got) {
		t.Errorf("Stats().DroppedRate = %d; want %d", dropped, n-got)
	}
}

// TestPacketMaxSources checks that a source forgotten to make room for
// another starts again with a full burst.
func TestPacketMaxSources(t *testing.T) {
	t.Parallel()
	s := &sockserver.PacketServer{RateLimit: 0.1, RateBurst: 1, MaxSources: 1, Handler: sockserver.PacketHandlerFunc(echoPacket)}
	sv := startPacket(t, s)
	a := udpClient(t, "127.0.0.2", 0)
	b := udpClient(t, "127.0.0.3", 0)

	if got := exchange(t, a, sv.addr, []byte("a1")); string(got) != "a1" {
		t.Fatalf("reply = %q; want %q", got, "a1")
	}
	sendTo(t, a, sv.addr, []byte("a2")) // over the limit
	waitFor(t, "the datagram to be dropped", func() bool { return s.Stats().DroppedRate == 1 })
	if got := exchange(t, b, sv.addr, []byte("b1")); string(got) != "b1" {
		t.Fatalf("reply = %q; want %q", got, "b1")
	}
	// b took a's place, so a has a new bucket.
	if got := exchange(t, a, sv.addr, []byte("a3")); string(got) != "a3" {
		t.Errorf("reply = %q; want %q", got, "a3")
	}
}

func TestPacketByteRateLimit(t *testing.T) {
	t.Parallel()
	const (
		limit = 1000
		size  = 100
		n     = 50
	)
	var dropped atomic.Int64
	s := &sockserver.PacketServer{ByteRateLimit: limit, Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		if _, err := w.Write(p); errors.Is(err, sockserver.ErrReplyDropped) {
			dropped.Add(1)
		}
	})}
	sv := startPacket(t, s)
	// The limit is on all replies, whatever their source.
	clients := []net.PacketConn{udpClient(t, "127.0.0.2", 0), udpClient(t, "127.0.0.3", 0)}

	start := time.Now()
	sendPaced(t, s, sv.addr, n, func(i int) net.PacketConn { return clients[i%2] }, make([]byte, size))
	elapsed := time.Since(start)
	// Shutdown, unlike Close, lets every datagram read be answered: on Linux,
	// the replies to a batch are sent once it has been served.
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}

	total := 0
	for _, c := range clients {
		for _, d := range drain(t, c, 100*time.Millisecond) {
			total += len(d)
		}
	}
	most := limit + int(elapsed.Seconds()*limit) + size
	if total < limit || total > most {
		t.Errorf("%d bytes of replies in %v; want %d to %d", total, elapsed, limit, most)
	}
	wantDropped := int64(n - total/size)
	if got := dropped.Load(); got != wantDropped {
		t.Errorf("Write returned ErrReplyDropped %d times; want %d", got, wantDropped)
	}
	if got := s.Stats().DroppedRate; got != wantDropped {
		t.Errorf("Stats().DroppedRate = %d; want %d", got, wantDropped)
	}
}

func TestPacketStats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		tweak func(s *sockserver.PacketServer, c *net.UDPConn)
		sends []string
		want  sockserver.PacketStats // before the control exchange
	}{
		{
			name:  "answered",
			sends: []string{"hi"},
			want:  sockserver.PacketStats{Packets: 1, Replies: 1, BytesRead: 2, BytesWritten: 2},
		},
		{
			name: "blocked port",
			tweak: func(s *sockserver.PacketServer, c *net.UDPConn) {
				s.BlockedPorts = []int{c.LocalAddr().(*net.UDPAddr).Port}
			},
			sends: []string{"hi"},
			want:  sockserver.PacketStats{Packets: 1, BytesRead: 2, DroppedPort: 1},
		},
		{
			name:  "per-source rate",
			tweak: func(s *sockserver.PacketServer, _ *net.UDPConn) { s.RateLimit, s.RateBurst = 0.1, 1 },
			sends: []string{"a", "b"},
			want:  sockserver.PacketStats{Packets: 2, Replies: 1, BytesRead: 2, BytesWritten: 1, DroppedRate: 1},
		},
		{
			name:  "byte rate",
			tweak: func(s *sockserver.PacketServer, _ *net.UDPConn) { s.ByteRateLimit = 10 },
			sends: []string{"12345678", "12345678"},
			want:  sockserver.PacketStats{Packets: 2, Replies: 1, BytesRead: 16, BytesWritten: 8, DroppedRate: 1},
		},
		{
			name:  "amplification",
			sends: []string{"big"},
			want:  sockserver.PacketStats{Packets: 1, BytesRead: 3, DroppedAmplification: 1},
		},
		{
			name:  "panic",
			sends: []string{"panic"},
			want:  sockserver.PacketStats{Packets: 1, BytesRead: 5, Panics: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
				switch string(p) {
				case "panic":
					panic("handler bug")
				case "big":
					w.Write(make([]byte, 3*len(p)+1))
				default:
					w.Write(p)
				}
			})}
			c := udpClient(t, "127.0.0.1", 0)
			if tc.tweak != nil {
				tc.tweak(s, c)
			}
			sv := startPacket(t, s)
			for _, msg := range tc.sends {
				sendTo(t, c, sv.addr, []byte(msg))
			}
			control := udpClient(t, "127.0.0.3", 0)
			if got := exchange(t, control, sv.addr, []byte("ok")); string(got) != "ok" {
				t.Fatalf("control reply = %q; want %q", got, "ok")
			}
			s.Close() // so that the counters are final
			want := tc.want
			want.Packets++
			want.Replies++
			want.BytesRead += 2
			want.BytesWritten += 2
			if got := s.Stats(); got != want {
				t.Errorf("Stats() = %+v; want %+v", got, want)
			}
			if got := drain(t, c, 50*time.Millisecond); int64(len(got)) != tc.want.Replies {
				t.Errorf("client received %d replies; want %d", len(got), tc.want.Replies)
			}
		})
	}
}

func TestPacketPanic(t *testing.T) {
	t.Parallel()
	s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		if string(p) == "panic" {
			panic("handler bug")
		}
		w.Write(p)
	})}
	sv := startPacket(t, s)
	c := udpClient(t, "127.0.0.1", 0)
	sendTo(t, c, sv.addr, []byte("panic"))
	if got := exchange(t, c, sv.addr, []byte("still there?")); string(got) != "still there?" {
		t.Errorf("reply = %q; want %q", got, "still there?")
	}
	if got := s.Stats().Panics; got != 1 {
		t.Errorf("Stats().Panics = %d; want 1", got)
	}
}

func TestPacketShutdown(t *testing.T) { forEachWait(t, testPacketShutdown) }

func testPacketShutdown(t *testing.T, wait func(*sockserver.PacketServer)) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		started <- struct{}{}
		<-release
		if ctx.Err() != nil {
			w.Write([]byte("cancelled"))
			return
		}
		w.Write([]byte("done"))
	})}
	wait(s)
	sv := startPacket(t, s)
	c := udpClient(t, "127.0.0.1", 0)
	sendTo(t, c, sv.addr, []byte("slow"))
	recv(t, started, "the handler")

	shut := shutdownAsync(s, waitTimeout)
	select {
	case err := <-shut:
		t.Fatalf("Shutdown() = %v while a handler was running", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if got, _ := recvFrom(t, c); string(got) != "done" {
		t.Errorf("reply = %q; want %q", got, "done")
	}
	if err := recv(t, shut, "Shutdown"); err != nil {
		t.Errorf("Shutdown() = %v; want nil", err)
	}
	if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("Serve() = %v; want ErrServerClosed", err)
	}
	sendTo(t, c, sv.addr, []byte("after"))
	expectSilence(t, c, 100*time.Millisecond)
}

func TestPacketShutdownTimeout(t *testing.T) { forEachWait(t, testPacketShutdownTimeout) }

func testPacketShutdownTimeout(t *testing.T, wait func(*sockserver.PacketServer)) {
	started := make(chan struct{}, 1)
	ctxErr := make(chan error, 1)
	s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		started <- struct{}{}
		<-ctx.Done()
		ctxErr <- ctx.Err()
	})}
	wait(s)
	sv := startPacket(t, s)
	c := udpClient(t, "127.0.0.1", 0)
	sendTo(t, c, sv.addr, []byte("stuck"))
	recv(t, started, "the handler")

	const timeout = 200 * time.Millisecond
	start := time.Now() // before the context's deadline is set
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.Shutdown(ctx)
	if elapsed := time.Since(start); elapsed < timeout {
		t.Errorf("Shutdown returned after %v; want at least %v", elapsed, timeout)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown() = %v; want context.DeadlineExceeded", err)
	}
	if err := recv(t, ctxErr, "the handler"); err != context.Canceled {
		t.Errorf("handler's ctx.Err() = %v; want context.Canceled", err)
	}
	if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("Serve() = %v; want ErrServerClosed", err)
	}
}

func TestPacketClose(t *testing.T) { forEachWait(t, testPacketClose) }

func testPacketClose(t *testing.T, wait func(*sockserver.PacketServer)) {
	started := make(chan struct{}, 1)
	ctxErr := make(chan error, 1)
	s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		started <- struct{}{}
		<-ctx.Done()
		ctxErr <- ctx.Err()
	})}
	wait(s)
	sv := startPacket(t, s)
	c := udpClient(t, "127.0.0.1", 0)
	sendTo(t, c, sv.addr, []byte("wait"))
	recv(t, started, "the handler")
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v; want nil", err)
	}
	select {
	case err := <-ctxErr:
		if err != context.Canceled {
			t.Errorf("handler's ctx.Err() = %v; want context.Canceled", err)
		}
	default:
		t.Error("Close returned before the handler")
	}
	if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("Serve() = %v; want ErrServerClosed", err)
	}
}

func TestPacketStopped(t *testing.T) { forEachWait(t, testPacketStopped) }

func testPacketStopped(t *testing.T, wait func(*sockserver.PacketServer)) {
	tests := []struct {
		name string
		stop func(*sockserver.PacketServer) error
	}{
		{"Shutdown", func(s *sockserver.PacketServer) error { return s.Shutdown(context.Background()) }},
		{"Close", func(s *sockserver.PacketServer) error { return s.Close() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &sockserver.PacketServer{Addr: "127.0.0.1:0", Handler: sockserver.PacketHandlerFunc(echoPacket)}
			wait(s)
			sv := startPacket(t, s)
			c := udpClient(t, "127.0.0.1", 0)
			if got := exchange(t, c, sv.addr, []byte("hi")); string(got) != "hi" {
				t.Fatalf("reply = %q; want %q", got, "hi")
			}
			if err := tc.stop(s); err != nil {
				t.Errorf("%s() = %v; want nil", tc.name, err)
			}
			if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
				t.Errorf("Serve() = %v; want ErrServerClosed", err)
			}
			sendTo(t, c, sv.addr, []byte("anyone?"))
			expectSilence(t, c, 100*time.Millisecond)

			pc := listenUDP(t)
			if err := s.Serve(pc); !errors.Is(err, sockserver.ErrServerClosed) {
				t.Errorf("Serve() after %s = %v; want ErrServerClosed", tc.name, err)
			}
			if _, _, err := pc.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("ReadFrom() on the socket given to Serve after %s = %v; want net.ErrClosed", tc.name, err)
			}
			if err := s.ListenAndServe(); !errors.Is(err, sockserver.ErrServerClosed) {
				t.Errorf("ListenAndServe() after %s = %v; want ErrServerClosed", tc.name, err)
			}
		})
	}
}

func TestPacketUnixgram(t *testing.T) {
	t.Parallel()
	type seen struct {
		from net.Addr
		err  error
	}
	seens := make(chan seen, 4)
	s := &sockserver.PacketServer{Network: "unixgram", Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		var err error
		switch string(p) {
		case "panic":
			seens <- seen{from, nil}
			panic("handler bug")
		case "":
			_, err = w.Write([]byte("a reply to an empty datagram"))
		default:
			_, err = w.Write(append([]byte("re: "), p...))
		}
		seens <- seen{from, err}
	})}
	dir := t.TempDir()
	s.Addr = filepath.Join(dir, "server.sock")
	pc, err := s.Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sv := servePacket(t, s, pc)

	clientAddr := &net.UnixAddr{Name: filepath.Join(dir, "client.sock"), Net: "unixgram"}
	bound, err := net.ListenUnixgram("unixgram", clientAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bound.Close() })

	t.Run("bound client", func(t *testing.T) {
		if got := exchange(t, bound, sv.addr, []byte("hello")); string(got) != "re: hello" {
			t.Errorf("reply = %q; want %q", got, "re: hello")
		}
		sn := recv(t, seens, "the handler")
		if sn.err != nil || sn.from == nil || sn.from.String() != clientAddr.Name {
			t.Errorf("handler saw from %v, Write() error %v; want %s, nil", sn.from, sn.err, clientAddr.Name)
		}
	})

	// A sender that did not bind its socket has no address: nothing can be
	// sent back, and the server must survive trying.
	t.Run("unbound client", func(t *testing.T) {
		unbound, err := net.DialUnix("unixgram", nil, sv.addr.(*net.UnixAddr))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unbound.Close() })
		tests := []struct {
			name    string
			msg     string
			wantErr error // nil: any error
		}{
			{"reply", "hello", nil},
			{"reply over the budget", "", sockserver.ErrReplyDropped},
			{"panic", "panic", nil},
		}
		for _, tc := range tests {
			if _, err := unbound.Write([]byte(tc.msg)); err != nil {
				t.Fatal(err)
			}
			sn := recv(t, seens, "the handler")
			if sn.from != nil {
				t.Errorf("%s: handler saw from %v; want nil", tc.name, sn.from)
			}
			if tc.msg == "panic" {
				continue
			}
			if sn.err == nil || tc.wantErr != nil && !errors.Is(sn.err, tc.wantErr) {
				t.Errorf("%s: Write() error = %v; want %v", tc.name, sn.err, tc.wantErr)
			}
		}
		// Still serving.
		if got := exchange(t, bound, sv.addr, []byte("again")); string(got) != "re: again" {
			t.Errorf("reply = %q; want %q", got, "re: again")
		}
		recv(t, seens, "the handler")
		st := s.Stats()
		if st.Panics != 1 || st.Errors != 1 || st.DroppedAmplification != 1 {
			t.Errorf("Stats() Panics, Errors, DroppedAmplification = %d, %d, %d; want 1, 1, 1",
				st.Panics, st.Errors, st.DroppedAmplification)
		}
	})
}

// queueBurst sends each datagram of msgs from its client to pc before it is
// served, so that they wait in its buffer and Serve reads them together: on
// Linux, in one batch.
func queueBurst(t testing.TB, pc net.PacketConn, msgs []burstMsg) {
	t.Helper()
	for _, m := range msgs {
		sendTo(t, m.from, pc.LocalAddr(), m.p)
	}
	// Loopback delivers as it sends; this covers a delivery left to ksoftirqd.
	time.Sleep(20 * time.Millisecond)
}

type burstMsg struct {
	from net.PacketConn
	p    []byte
}

// TestPacketBatch checks a burst of datagrams from several sources, read
// together: each is answered to its own sender, in order, with its own
// amplification budget, while one from a blocked port is dropped.
func TestPacketBatch(t *testing.T) { forEachWait(t, testPacketBatch) }

func testPacketBatch(t *testing.T, wait func(*sockserver.PacketServer)) {
	clients := []*net.UDPConn{
		udpClient(t, "127.0.0.1", 0),
		udpClient(t, "127.0.0.2", 0),
		udpClient(t, "127.0.0.3", 0),
		udpClient(t, "127.0.0.1", 0),
	}
	blocked := udpClient(t, "127.0.0.1", 0)
	type result struct {
		kept       net.Addr // from, kept past ServePacket
		from, want string
		errFull    error // writing 3×len(p)
		errMore    error // then one byte more
	}
	results := make(chan result, 100)
	s := &sockserver.PacketServer{
		BlockedPorts: []int{blocked.LocalAddr().(*net.UDPAddr).Port},
		Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
			// p is "client index:sequence:padding".
			i, _ := strconv.Atoi(string(p[:bytes.IndexByte(p, ':')]))
			var r result
			r.kept, r.from, r.want = from, from.String(), clients[i].LocalAddr().String()
			reply := bytes.Repeat(p, 3)
			_, r.errFull = w.Write(reply)
			clear(reply) // Write has copied it
			_, r.errMore = w.Write([]byte("!"))
			results <- r
		}),
	}
	wait(s)
	pc := listenUDP(t)
	var msgs []burstMsg
	var sent [][][]byte // by client
	readBytes := 0
	for seq, size := range []int{5, 50, 500} {
		for i, c := range clients {
			p := fmt.Appendf(nil, "%d:%d:", i, seq)
			p = append(p, bytes.Repeat([]byte{'a' + byte(i)}, size)...)
			msgs = append(msgs, burstMsg{c, p})
			for len(sent) <= i {
				sent = append(sent, nil)
			}
			sent[i] = append(sent[i], p)
			readBytes += len(p)
		}
		if seq == 1 {
			msgs = append(msgs, burstMsg{blocked, []byte("0:9:from a blocked port")})
			readBytes += len("0:9:from a blocked port")
		}
	}
	queueBurst(t, pc, msgs)
	servePacket(t, s, pc)

	answered := len(msgs) - 1
	var rs []result
	for range answered {
		r := recv(t, results, "the handler")
		rs = append(rs, r)
		if r.from != r.want {
			t.Errorf("handler's from = %s; want %s", r.from, r.want)
		}
		if r.errFull != nil {
			t.Errorf("Write(3×len(p)) = %v; want nil", r.errFull)
		}
		if !errors.Is(r.errMore, sockserver.ErrReplyDropped) {
			t.Errorf("Write(one byte over the budget) = %v; want ErrReplyDropped", r.errMore)
		}
	}
	written := 0
	for i, c := range clients {
		for _, p := range sent[i] {
			got, _ := recvFrom(t, c)
			if want := bytes.Repeat(p, 3); !bytes.Equal(got, want) {
				t.Errorf("client %d received %q; want %q", i, trim(got), trim(want))
			}
			written += len(got)
		}
	}
	for _, c := range clients {
		expectSilence(t, c, 20*time.Millisecond)
	}
	expectSilence(t, blocked, 20*time.Millisecond)
	// A handler may keep from: later datagrams, read into the same places,
	// do not change it.
	last := []byte("1:9:another batch")
	if got, want := exchange(t, clients[1], pc.LocalAddr(), last), bytes.Repeat(last, 3); !bytes.Equal(got, want) {
		t.Errorf("client 1 received %q; want %q", got, want)
	}
	recv(t, results, "the handler")
	msgs = append(msgs, burstMsg{clients[1], last})
	readBytes += len(last)
	written += 3 * len(last)
	answered++
	for _, r := range rs {
		if got := r.kept.String(); got != r.want {
			t.Errorf("a from kept by the handler became %s; want %s", got, r.want)
		}
	}
	s.Close()
	want := sockserver.PacketStats{
		Packets:              int64(len(msgs)),
		Replies:              int64(answered),
		BytesRead:            int64(readBytes),
		BytesWritten:         int64(written),
		DroppedPort:          1,
		DroppedAmplification: int64(answered),
	}
	if got := s.Stats(); got != want {
		t.Errorf("Stats() = %+v; want %+v", got, want)
	}
}

// TestPacketManyReplies checks replies that do not fit in one send: more
// replies than a batch sends at once, and more bytes than it holds.
func TestPacketManyReplies(t *testing.T) { forEachWait(t, testPacketManyReplies) }

func testPacketManyReplies(t *testing.T, wait func(*sockserver.PacketServer)) {
	s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		switch {
		case string(p) == "many":
			// A budget of 12 bytes: 12 one-byte replies, then empty ones.
			for i := range 12 {
				w.Write([]byte{'a' + byte(i)})
			}
			for range 100 {
				w.Write(nil)
			}
		default:
			// Three replies of len(p) each.
			for i := range 3 {
				reply := bytes.Repeat([]byte{p[0] + byte(i)}, len(p))
				if _, err := w.Write(reply); err != nil {
					t.Errorf("Write(%d bytes) = %v", len(reply), err)
				}
			}
		}
	})}
	wait(s)
	pc := listenUDP(t)
	many := udpClient(t, "127.0.0.1", 0)
	big := []*net.UDPConn{udpClient(t, "127.0.0.1", 0), udpClient(t, "127.0.0.2", 0), udpClient(t, "127.0.0.3", 0)}
	msgs := []burstMsg{{many, []byte("many")}}
	const size = 20000
	for i, c := range big {
		msgs = append(msgs, burstMsg{c, bytes.Repeat([]byte{'A' + 3*byte(i)}, size)})
	}
	queueBurst(t, pc, msgs)
	servePacket(t, s, pc)

	for i := range 12 {
		if got, _ := recvFrom(t, many); string(got) != string(rune('a'+i)) {
			t.Fatalf("reply %d = %q; want %q", i, got, string(rune('a'+i)))
		}
	}
	for i := range 100 {
		if got, _ := recvFrom(t, many); len(got) != 0 {
			t.Fatalf("reply %d = %q; want an empty datagram", 12+i, trim(got))
		}
	}
	for i, c := range big {
		for j := range 3 {
			got, _ := recvFrom(t, c)
			if want := bytes.Repeat([]byte{'A' + 3*byte(i) + byte(j)}, size); !bytes.Equal(got, want) {
				t.Errorf("client %d, reply %d: %d bytes of %q; want %d of %q", i, j, len(got), trim(got), size, want[:1])
			}
		}
	}
	waitFor(t, "the replies to be counted", func() bool { return s.Stats().Replies == 112+9 })
	if got, want := s.Stats().BytesWritten, int64(12+9*size); got != want {
		t.Errorf("Stats().BytesWritten = %d; want %d", got, want)
	}
}

// TestPacketBatchPanic checks that a handler's panic costs only its own
// datagram, and that the replies it wrote before panicking are sent.
func TestPacketBatchPanic(t *testing.T) { forEachWait(t, testPacketBatchPanic) }

func testPacketBatchPanic(t *testing.T, wait func(*sockserver.PacketServer)) {
	s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		w.Write(p)
		if string(p) == "panic" {
			panic("handler bug")
		}
	})}
	wait(s)
	pc := listenUDP(t)
	c := udpClient(t, "127.0.0.1", 0)
	var msgs []burstMsg
	for _, m := range []string{"one", "panic", "two"} {
		msgs = append(msgs, burstMsg{c, []byte(m)})
	}
	queueBurst(t, pc, msgs)
	servePacket(t, s, pc)
	for _, want := range []string{"one", "panic", "two"} {
		if got, _ := recvFrom(t, c); string(got) != want {
			t.Errorf("reply = %q; want %q", got, want)
		}
	}
	if got := s.Stats().Panics; got != 1 {
		t.Errorf("Stats().Panics = %d; want 1", got)
	}
}

// TestPacketShutdownBatch checks that Shutdown lets every datagram already
// read be answered: on Linux, the whole batch of the one being served.
func TestPacketShutdownBatch(t *testing.T) { forEachWait(t, testPacketShutdownBatch) }

func testPacketShutdownBatch(t *testing.T, wait func(*sockserver.PacketServer)) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		if string(p) == "hold" {
			started <- struct{}{}
			<-release
		}
		w.Write(p)
	})}
	wait(s)
	pc := listenUDP(t)
	c := udpClient(t, "127.0.0.1", 0)
	want := []string{"hold", "m1", "m2", "m3", "m4"}
	var msgs []burstMsg
	for _, m := range want {
		msgs = append(msgs, burstMsg{c, []byte(m)})
	}
	queueBurst(t, pc, msgs)
	sv := servePacket(t, s, pc)
	recv(t, started, "the handler")
	shut := shutdownAsync(s, waitTimeout)
	waitFor(t, "Shutdown to start", func() bool {
		// Serve still runs, but no longer accepts a new socket.
		return errors.Is(s.Serve(listenUDP(t)), sockserver.ErrServerClosed)
	})
	close(release)
	if err := recv(t, shut, "Shutdown"); err != nil {
		t.Errorf("Shutdown() = %v; want nil", err)
	}
	if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("Serve() = %v; want ErrServerClosed", err)
	}
	st := s.Stats()
	if runtime.GOOS != "linux" {
		want = want[:st.Packets] // read one at a time
	}
	for _, w := range want {
		if got, _ := recvFrom(t, c); string(got) != w {
			t.Errorf("reply = %q; want %q", got, w)
		}
	}
	expectSilence(t, c, 20*time.Millisecond)
	if st.Packets != int64(len(want)) || st.Replies != st.Packets {
		t.Errorf("Stats() Packets, Replies = %d, %d; want %d, %d", st.Packets, st.Replies, len(want), len(want))
	}
}

// TestPacketCloseBatch checks that after Close no handler is called for the
// rest of a batch.
func TestPacketCloseBatch(t *testing.T) { forEachWait(t, testPacketCloseBatch) }

func testPacketCloseBatch(t *testing.T, wait func(*sockserver.PacketServer)) {
	var calls atomic.Int64
	started := make(chan struct{}, 1)
	s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		calls.Add(1)
		if string(p) == "hold" {
			started <- struct{}{}
			<-ctx.Done()
		}
		w.Write(p)
	})}
	wait(s)
	pc := listenUDP(t)
	c := udpClient(t, "127.0.0.1", 0)
	var msgs []burstMsg
	for _, m := range []string{"hold", "m1", "m2"} {
		msgs = append(msgs, burstMsg{c, []byte(m)})
	}
	queueBurst(t, pc, msgs)
	sv := servePacket(t, s, pc)
	recv(t, started, "the handler")
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v; want nil", err)
	}
	if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
		t.Errorf("Serve() = %v; want ErrServerClosed", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the handler was called %d times; want once", n)
	}
	expectSilence(t, c, 20*time.Millisecond)
	// The reply to "hold", written after Close, failed.
	if st := s.Stats(); st.Replies != 0 || st.Errors != 1 {
		t.Errorf("Stats() Replies, Errors = %d, %d; want 0, 1", st.Replies, st.Errors)
	}
}

// TestPacketIPv6 checks senders' addresses over IPv6, and IPv4 senders to a
// dual-stack socket, which arrive as IPv4-mapped IPv6 addresses.
func TestPacketIPv6(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, network, addr, client string
	}{
		{"IPv6", "udp6", "[::1]:0", "::1"},
		{"dual stack", "udp", "[::]:0", "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pc, err := net.ListenPacket(tc.network, tc.addr)
			if err != nil {
				t.Skipf("no IPv6: %v", err)
			}
			t.Cleanup(func() { pc.Close() })
			froms := make(chan *net.UDPAddr, 2)
			blocked := udpClient(t, tc.client, 0)
			s := &sockserver.PacketServer{
				BlockedPorts: []int{blocked.LocalAddr().(*net.UDPAddr).Port},
				Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
					u := from.(*net.UDPAddr)
					froms <- &net.UDPAddr{IP: bytes.Clone(u.IP), Port: u.Port, Zone: u.Zone}
					w.Write(p)
				}),
			}
			sv := servePacket(t, s, pc)
			to := &net.UDPAddr{IP: net.ParseIP(tc.client), Port: sv.addr.(*net.UDPAddr).Port}
			c := udpClient(t, tc.client, 0)
			sendTo(t, blocked, to, []byte("from a blocked port"))
			if got := exchange(t, c, to, []byte("hello")); string(got) != "hello" {
				t.Errorf("reply = %q; want %q", got, "hello")
			}
			from := recv(t, froms, "the handler")
			if got, want := from.String(), c.LocalAddr().String(); got != want {
				t.Errorf("handler's from = %s; want %s", got, want)
			}
			if len(from.IP) != net.IPv6len {
				t.Errorf("handler's from.IP = %d bytes; want %d, as ReadFrom returns", len(from.IP), net.IPv6len)
			}
			expectSilence(t, blocked, 20*time.Millisecond)
			if got := s.Stats().DroppedPort; got != 1 {
				t.Errorf("Stats().DroppedPort = %d; want 1", got)
			}
		})
	}
}

// TestPacketNoStall keeps the server going idle and waking between batches:
// first a burst of several batches queued while the handler holds the first
// datagram, then clients each keeping one datagram in flight. A wakeup the
// server missed would leave a client waiting for a reply with nothing more to
// come.
func TestPacketNoStall(t *testing.T) { forEachWait(t, testPacketNoStall) }

func testPacketNoStall(t *testing.T, wait func(*sockserver.PacketServer)) {
	hold := make(chan struct{})
	s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		if string(p) == "hold" {
			<-hold
		}
		w.Write(p)
	})}
	wait(s)
	sv := startPacket(t, s)

	c := udpClient(t, "127.0.0.1", 0)
	sendTo(t, c, sv.addr, []byte("hold"))
	const burst = 100 // three batches and some
	for k := range burst {
		sendTo(t, c, sv.addr, fmt.Appendf(nil, "burst %d", k))
	}
	close(hold)
	if got, _ := recvFrom(t, c); string(got) != "hold" {
		t.Fatalf("received %q; want %q", got, "hold")
	}
	for k := range burst {
		if got, _ := recvFrom(t, c); string(got) != fmt.Sprintf("burst %d", k) {
			t.Fatalf("received %q; want %q", got, fmt.Sprintf("burst %d", k))
		}
	}

	const clients, rounds = 8, 500
	errs := make(chan error, clients)
	for i := range clients {
		c := udpClient(t, "127.0.0.1", 0)
		go func() {
			errs <- func() error {
				buf := make([]byte, 64)
				for r := range rounds {
					if _, err := c.WriteTo(fmt.Appendf(nil, "%d:%d", i, r), sv.addr); err != nil {
						return err
					}
					c.SetReadDeadline(time.Now().Add(waitTimeout))
					m, _, err := c.ReadFrom(buf)
					if err != nil {
						return fmt.Errorf("client %d, round %d: %w", i, r, err)
					}
					if want := fmt.Sprintf("%d:%d", i, r); string(buf[:m]) != want {
						return fmt.Errorf("client %d received %q; want %q", i, buf[:m], want)
					}
				}
				return nil
			}()
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// Every datagram was answered; the server counts a reply once sendmmsg
	// returns, which may be after the client has it.
	waitFor(t, "every datagram counted as answered", func() bool {
		st := s.Stats()
		return st.Packets == 1+burst+clients*rounds && st.Replies == st.Packets
	})
}

// A socket closed by its owner, not by Shutdown or Close, stops Serve, which
// returns net.ErrClosed.
func TestPacketOwnerClose(t *testing.T) { forEachWait(t, testPacketOwnerClose) }

func testPacketOwnerClose(t *testing.T, wait func(*sockserver.PacketServer)) {
	s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(echoPacket), Logger: quiet}
	wait(s)
	sockserver.SetBlockedWakeup(s, 50*time.Millisecond) // only it sees the owner's Close
	pc := listenUDP(t)
	done := make(chan error, 1)
	go func() { done <- s.Serve(pc) }()
	c := udpClient(t, "127.0.0.1", 0)
	if got := exchange(t, c, pc.LocalAddr(), []byte("hi")); string(got) != "hi" {
		t.Fatalf("reply = %q; want %q", got, "hi")
	}
	if err := pc.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := recv(t, done, "Serve"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve() = %v; want net.ErrClosed", err)
	}
}

// Shutdown and Close under load: clients keep sending while the server stops;
// it stops at once, with every datagram it counted as read either answered
// or given up as an error, none served twice.
func TestPacketStopUnderLoad(t *testing.T) { forEachWait(t, testPacketStopUnderLoad) }

func testPacketStopUnderLoad(t *testing.T, wait func(*sockserver.PacketServer)) {
	for _, stop := range []string{"Shutdown", "Close"} {
		s := &sockserver.PacketServer{Handler: sockserver.PacketHandlerFunc(echoPacket)}
		wait(s)
		sv := startPacket(t, s)
		halt := make(chan struct{})
		done := make(chan struct{})
		const clients = 4
		for range clients {
			c := udpClient(t, "127.0.0.1", 0)
			go func() {
				defer func() { done <- struct{}{} }()
				for {
					select {
					case <-halt:
						return
					default:
					}
					c.WriteTo([]byte("load"), sv.addr)
					c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
					c.ReadFrom(make([]byte, 16))
				}
			}()
		}
		waitFor(t, "the server to be busy", func() bool { return s.Stats().Replies >= 200 })
		var err error
		if stop == "Shutdown" {
			err = recv(t, shutdownAsync(s, waitTimeout), "Shutdown")
		} else {
			err = s.Close()
		}
		if err != nil {
			t.Errorf("%s() under load = %v; want nil", stop, err)
		}
		if err := sv.wait(t); !errors.Is(err, sockserver.ErrServerClosed) {
			t.Errorf("Serve() after %s = %v; want ErrServerClosed", stop, err)
		}
		close(halt)
		for range clients {
			<-done
		}
		st := s.Stats()
		if st.Replies+st.Errors > st.Packets || st.Replies == 0 {
			t.Errorf("after %s: Stats() Packets %d, Replies %d, Errors %d", stop, st.Packets, st.Replies, st.Errors)
		}
	}
}
