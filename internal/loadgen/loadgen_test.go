package loadgen_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/loadgen"
	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/upper"
	"github.com/inetkit/inetkit/upper/uppertest"
)

var quiet = slog.New(slog.DiscardHandler)

// serveConns serves h, a handler that is not the uppercase service's, on a
// loopback TCP port until the test ends, and returns its address.
func serveConns(t testing.TB, h sockserver.Handler) string {
	t.Helper()
	srv := &sockserver.Server{Handler: h, Logger: quiet, IdleTimeout: 10 * time.Second}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, sockserver.ErrServerClosed) {
			t.Errorf("Serve() = %v; want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

// servePackets serves h, a handler that is not the uppercase service's, on a
// loopback UDP port until the test ends, and returns its address.
func servePackets(t testing.TB, h sockserver.PacketHandler) string {
	t.Helper()
	srv := &sockserver.PacketServer{Handler: h, Logger: quiet}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pc) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return pc.LocalAddr().String()
}

// closedPort returns a loopback address on which nothing listens for network.
func closedPort(t testing.TB, network string) string {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func run(t *testing.T, cfg loadgen.Config) *loadgen.Result {
	t.Helper()
	res, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run(%+v): %v", cfg, err)
	}
	return res
}

// checkClean checks that every one of count exchanges succeeded.
func checkClean(t *testing.T, res *loadgen.Result, count int64) {
	t.Helper()
	if res.Requests != count || res.Errors != 0 || res.Wrong != 0 || res.Lost != 0 || len(res.ErrorKinds) != 0 {
		t.Errorf("Run() = %d requests, %d errors, %d wrong, %d lost, kinds %v; want %d, 0, 0, 0, none",
			res.Requests, res.Errors, res.Wrong, res.Lost, res.ErrorKinds, count)
	}
	l := res.Latency
	if l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.Max {
		t.Errorf("latency %+v; want 0 < p50 ≤ p90 ≤ p99 ≤ max", l)
	}
	if res.Throughput <= 0 || res.Elapsed <= 0 {
		t.Errorf("throughput %v over %v; want both positive", res.Throughput, res.Elapsed)
	}
}

func TestRun_count(t *testing.T) {
	const count = 300
	tests := []struct {
		name     string
		network  string
		mode     upper.Mode
		pipeline int
		size     int
		unicode  bool
	}{
		{"oneshot", "tcp", upper.ModeOneshot, 1, 64, false},
		{"oneshot unicode", "tcp", upper.ModeOneshot, 1, 200, true},
		{"stream", "tcp", upper.ModeStream, 1, 64, false},
		{"stream pipeline 16", "tcp", upper.ModeStream, 16, 64, false},
		{"stream pipeline 16 unicode", "tcp", upper.ModeStream, 16, 1000, true},
		{"stream large messages", "tcp", upper.ModeStream, 1, 100 << 10, false},
		{"line", "tcp", upper.ModeLine, 1, 64, false},
		{"line pipeline 16", "tcp", upper.ModeLine, 16, 64, false},
		{"line pipeline 16 unicode", "tcp", upper.ModeLine, 16, 300, true},
		{"line one byte", "tcp", upper.ModeLine, 4, 1, false},
		{"unix line", "unix", upper.ModeLine, 16, 64, false},
		{"unix oneshot", "unix", upper.ModeOneshot, 1, 64, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := uppertest.NewUnstartedServer(&upper.Handler{Mode: tc.mode})
			srv.Config.Network = tc.network
			srv.Start()
			defer srv.Close()
			res := run(t, loadgen.Config{
				Network: tc.network, Addr: srv.Addr, Mode: tc.mode, Concurrency: 4,
				Pipeline: tc.pipeline, Size: tc.size, Unicode: tc.unicode, Count: count,
			})
			checkClean(t, res, count)
			st := srv.Config.Stats()
			if tc.mode == upper.ModeOneshot {
				if st.Accepted != count {
					t.Errorf("server accepted %d connections; want %d, one per request", st.Accepted, count)
				}
			} else if want := int64(count * tc.size); st.BytesRead != want {
				t.Errorf("server read %d bytes; want %d (%d requests of %d)", st.BytesRead, want, count, tc.size)
			}
		})
	}
}

func TestRun_countUDP(t *testing.T) {
	const count = 500
	for _, unicode := range []bool{false, true} {
		srv := uppertest.NewPacketServer(nil)
		defer srv.Close()
		res := run(t, loadgen.Config{Network: "udp", Addr: srv.Addr, Concurrency: 4, Pipeline: 8, Size: 100, Unicode: unicode, Count: count})
		checkClean(t, res, count)
		if got := srv.Config.Stats().Packets; got != count {
			t.Errorf("unicode %v: server received %d datagrams; want %d", unicode, got, count)
		}
	}
}

func TestRun_duration(t *testing.T) {
	srv := uppertest.NewServer(&upper.Handler{Mode: upper.ModeLine})
	defer srv.Close()
	var calls atomic.Int64
	var last atomic.Pointer[loadgen.Snapshot]
	start := time.Now()
	res := run(t, loadgen.Config{
		Network: "tcp", Addr: srv.Addr, Mode: upper.ModeLine, Concurrency: 2, Pipeline: 4,
		Duration: 1200 * time.Millisecond,
		Progress: func(s loadgen.Snapshot) { calls.Add(1); last.Store(&s) },
	})
	elapsed := time.Since(start)
	if elapsed < 1200*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("Run took %v; want about the duration, 1.2s", elapsed)
	}
	if res.Requests == 0 || res.Errors != 0 || res.Wrong != 0 {
		t.Errorf("Run() = %d requests, %d errors, %d wrong; want some, 0, 0", res.Requests, res.Errors, res.Wrong)
	}
	if calls.Load() != 1 {
		t.Errorf("Progress called %d times in 1.2s; want once", calls.Load())
	} else if s := last.Load(); s.Requests == 0 || s.Requests > res.Requests || s.Elapsed < time.Second {
		t.Errorf("Progress got %+v; want requests in (0, %d] after ≥ 1s", *s, res.Requests)
	}
}

// TestRun_durationOneshot: exchanges cut off by the end of the run, dials
// among them, are not counted as errors.
func TestRun_durationOneshot(t *testing.T) {
	srv := uppertest.NewServer(nil)
	defer srv.Close()
	for range 3 {
		res := run(t, loadgen.Config{Network: "tcp", Addr: srv.Addr, Concurrency: 20, Duration: 300 * time.Millisecond})
		if res.Requests == 0 || res.Errors != 0 || res.Wrong != 0 {
			t.Errorf("Run() = %d requests, %d errors (%v), %d wrong; want some, 0, 0", res.Requests, res.Errors, res.ErrorKinds, res.Wrong)
		}
	}
}

// TestRun_cleanStop: connections cut off by the end of a run are closed
// cleanly, not reset, so the server sees no error.
func TestRun_cleanStop(t *testing.T) {
	tests := []struct {
		mode     upper.Mode
		pipeline int
	}{
		{upper.ModeOneshot, 1},
		{upper.ModeStream, 1},
		{upper.ModeStream, 16},
		{upper.ModeLine, 16},
	}
	for _, tc := range tests {
		srv := uppertest.NewServer(&upper.Handler{Mode: tc.mode})
		defer srv.Close()
		res := run(t, loadgen.Config{Network: "tcp", Addr: srv.Addr, Mode: tc.mode, Concurrency: 8, Pipeline: tc.pipeline, Duration: 300 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := srv.Config.Shutdown(ctx) // waits for the connections to end
		cancel()
		if st := srv.Config.Stats(); err != nil || st.Errors != 0 || st.Timeouts != 0 || res.Errors != 0 {
			t.Errorf("%v pipeline %d: server Shutdown = %v, %d errors, %d timeouts; client %d errors; want nil, 0, 0, 0",
				tc.mode, tc.pipeline, err, st.Errors, st.Timeouts, res.Errors)
		}
	}
}

func TestRun_oneshotReadSize(t *testing.T) {
	srv := uppertest.NewServer(&upper.Handler{ReadSize: 16})
	defer srv.Close()
	res := run(t, loadgen.Config{Network: "tcp", Addr: srv.Addr, Size: 64, ReadSize: 16, Count: 50})
	checkClean(t, res, 50)
	// Expecting the whole message from a server that reads 16 bytes: wrong.
	res = run(t, loadgen.Config{Network: "tcp", Addr: srv.Addr, Size: 64, Count: 50})
	if res.Requests != 0 || res.Wrong != 50 || res.ErrorKinds["wrong reply"] != 50 {
		t.Errorf("against --read-size 16, Run() = %d requests, %d wrong, kinds %v; want 0, 50, wrong reply: 50", res.Requests, res.Wrong, res.ErrorKinds)
	}
}

// echo answers a stream connection with what it sends, not uppercased.
var echo = sockserver.HandlerFunc(func(_ context.Context, c net.Conn) error {
	_, err := io.Copy(c, c)
	return err
})

// echoOnce is a oneshot server that forgets to uppercase.
var echoOnce = sockserver.HandlerFunc(func(_ context.Context, c net.Conn) error {
	buf := make([]byte, 1024)
	n, _ := c.Read(buf)
	_, err := c.Write(buf[:n])
	return err
})

func TestRun_wrongServer(t *testing.T) {
	const count = 100
	tests := []struct {
		name     string
		h        sockserver.Handler
		mode     upper.Mode
		pipeline int
	}{
		{"oneshot", echoOnce, upper.ModeOneshot, 1},
		{"stream", echo, upper.ModeStream, 1},
		{"line pipeline 16", echo, upper.ModeLine, 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveConns(t, tc.h)
			res := run(t, loadgen.Config{Network: "tcp", Addr: addr, Mode: tc.mode, Concurrency: 2, Pipeline: tc.pipeline, Count: count})
			if res.Requests != 0 || res.Wrong != count || res.Errors != 0 || res.ErrorKinds["wrong reply"] != count {
				t.Errorf("Run() = %d requests, %d wrong, %d errors, kinds %v; want 0, %d, 0, wrong reply: %d",
					res.Requests, res.Wrong, res.Errors, res.ErrorKinds, count, count)
			}
		})
	}
}

func TestRun_wrongServerUDP(t *testing.T) {
	const count = 200
	addr := servePackets(t, sockserver.PacketHandlerFunc(func(_ context.Context, w sockserver.PacketWriter, p []byte, _ net.Addr) {
		w.Write(p)
	}))
	res := run(t, loadgen.Config{Network: "udp", Addr: addr, Concurrency: 2, Pipeline: 8, Count: count})
	if res.Requests != 0 || res.Wrong != count || res.ErrorKinds["wrong reply"] != count {
		t.Errorf("echo: Run() = %d requests, %d wrong, kinds %v; want 0, %d, wrong reply: %d", res.Requests, res.Wrong, res.ErrorKinds, count, count)
	}

	var n atomic.Int64
	addr = servePackets(t, sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		if n.Add(1)%2 == 0 {
			return // drop every other datagram
		}
		(&upper.PacketHandler{Logger: quiet}).ServePacket(ctx, w, p, from)
	}))
	res = run(t, loadgen.Config{Network: "udp", Addr: addr, Concurrency: 2, Pipeline: 8, Count: count, Timeout: 100 * time.Millisecond})
	if res.Lost == 0 || res.Requests == 0 || res.Requests+res.Lost != count || res.Wrong != 0 || res.Errors != 0 {
		t.Errorf("dropping every other: Run() = %d requests, %d lost, %d wrong, %d errors; want requests + lost = %d, both > 0",
			res.Requests, res.Lost, res.Wrong, res.Errors, count)
	}
	if res.Lost < count/3 {
		t.Errorf("dropping every other: %d of %d lost; want about half", res.Lost, count)
	}

	// Every reply twice: the second copies are unexpected.
	addr = servePackets(t, sockserver.PacketHandlerFunc(func(ctx context.Context, w sockserver.PacketWriter, p []byte, from net.Addr) {
		r := upper.Bytes(p)
		w.Write(r)
		w.Write(r)
	}))
	res = run(t, loadgen.Config{Network: "udp", Addr: addr, Pipeline: 1, Count: 50})
	if res.Requests != 50 || res.ErrorKinds["unexpected reply"] == 0 {
		t.Errorf("duplicating: Run() = %d requests, kinds %v; want 50 and some unexpected replies", res.Requests, res.ErrorKinds)
	}
}

func TestRun_refused(t *testing.T) {
	tests := []struct {
		name     string
		network  string
		mode     upper.Mode
		pipeline int
	}{
		{"tcp oneshot", "tcp", upper.ModeOneshot, 1},
		{"tcp stream", "tcp", upper.ModeStream, 1},
		{"tcp line pipeline 16", "tcp", upper.ModeLine, 16},
		{"udp", "udp", upper.ModeOneshot, 8},
	}
	const duration = 500 * time.Millisecond
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := closedPort(t, tc.network)
			start := time.Now()
			res := run(t, loadgen.Config{Network: tc.network, Addr: addr, Mode: tc.mode, Concurrency: 4, Pipeline: tc.pipeline, Duration: duration})
			elapsed := time.Since(start)
			if res.Requests != 0 || res.Errors == 0 || res.ErrorKinds["connection refused"] == 0 {
				t.Errorf("Run() = %d requests, %d errors, kinds %v; want 0, some, connection refused", res.Requests, res.Errors, res.ErrorKinds)
			}
			if elapsed > duration+500*time.Millisecond {
				t.Errorf("Run took %v; want about the duration, %v", elapsed, duration)
			}
			// The backoff (10ms, doubling) keeps a refused worker from
			// spinning: about 6 attempts in 500ms, each failing what it has
			// in flight.
			if limit := int64(4 * tc.pipeline * 10); res.Errors > limit {
				t.Errorf("%d errors in %v from 4 workers; want at most %d (backoff)", res.Errors, duration, limit)
			}
		})
	}
}

func TestRun_refusedCount(t *testing.T) {
	addr := closedPort(t, "tcp")
	res := run(t, loadgen.Config{Network: "tcp", Addr: addr, Mode: upper.ModeStream, Concurrency: 2, Count: 5})
	if res.Errors != 5 || res.Requests != 0 || res.ErrorKinds["connection refused"] != 5 {
		t.Errorf("Run() = %d errors, %d requests, kinds %v; want 5, 0, connection refused: 5", res.Errors, res.Requests, res.ErrorKinds)
	}
}

func TestRun_timeout(t *testing.T) {
	// A server that never answers, nor closes.
	addr := serveConns(t, sockserver.HandlerFunc(func(ctx context.Context, _ net.Conn) error {
		<-ctx.Done()
		return nil
	}))
	const timeout = 200 * time.Millisecond
	for _, mode := range []upper.Mode{upper.ModeOneshot, upper.ModeLine} {
		start := time.Now()
		res := run(t, loadgen.Config{Network: "tcp", Addr: addr, Mode: mode, Count: 3, Timeout: timeout})
		elapsed := time.Since(start)
		if res.Errors != 3 || res.ErrorKinds["timeout"] != 3 || res.Requests != 0 {
			t.Errorf("%v: Run() = %d errors, %d requests, kinds %v; want 3, 0, timeout: 3", mode, res.Errors, res.Requests, res.ErrorKinds)
		}
		if elapsed < 3*timeout*15/16 || elapsed > 3*timeout+2*time.Second {
			t.Errorf("%v: Run took %v; want about 3 timeouts of %v", mode, elapsed, timeout)
		}
	}

	// A UDP socket that never reads: every datagram is lost.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	res := run(t, loadgen.Config{Network: "udp", Addr: pc.LocalAddr().String(), Pipeline: 4, Count: 8, Timeout: 100 * time.Millisecond})
	if res.Lost != 8 || res.Requests != 0 || res.Errors != 0 {
		t.Errorf("udp: Run() = %d lost, %d requests, %d errors; want 8, 0, 0", res.Lost, res.Requests, res.Errors)
	}
}

func TestRun_cancel(t *testing.T) {
	srv := uppertest.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	res, err := loadgen.Run(ctx, loadgen.Config{Network: "tcp", Addr: srv.Addr, Concurrency: 4, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Run took %v after a cancel at 300ms", elapsed)
	}
	if res.Requests == 0 || res.Errors != 0 {
		t.Errorf("Run() = %d requests, %d errors; want some, 0 (exchanges cut by the cancel are not errors)", res.Requests, res.Errors)
	}
}

func TestRun_badConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  loadgen.Config
	}{
		{"no network", loadgen.Config{Addr: "127.0.0.1:1", Count: 1}},
		{"unixgram", loadgen.Config{Network: "unixgram", Addr: "/tmp/x", Count: 1}},
		{"no address", loadgen.Config{Network: "tcp", Count: 1}},
		{"no stop", loadgen.Config{Network: "tcp", Addr: "127.0.0.1:1"}},
		{"negative count", loadgen.Config{Network: "tcp", Addr: "127.0.0.1:1", Count: -1}},
		{"negative duration", loadgen.Config{Network: "tcp", Addr: "127.0.0.1:1", Duration: -time.Second}},
		{"negative size", loadgen.Config{Network: "tcp", Addr: "127.0.0.1:1", Count: 1, Size: -1}},
		{"huge pipeline", loadgen.Config{Network: "tcp", Addr: "127.0.0.1:1", Count: 1, Pipeline: 1 << 20}},
		{"bad mode", loadgen.Config{Network: "tcp", Addr: "127.0.0.1:1", Count: 1, Mode: 7}},
		{"datagram too small", loadgen.Config{Network: "udp", Addr: "127.0.0.1:1", Count: 1, Size: 8}},
		{"datagram too large", loadgen.Config{Network: "udp", Addr: "127.0.0.1:1", Count: 1, Size: 70000}},
	}
	for _, tc := range tests {
		if res, err := loadgen.Run(context.Background(), tc.cfg); err == nil {
			t.Errorf("%s: Run(%+v) = %+v, nil; want an error", tc.name, tc.cfg, res)
		}
	}
}

func TestRun_defaults(t *testing.T) {
	srv := uppertest.NewServer(nil)
	defer srv.Close()
	res := run(t, loadgen.Config{Network: "tcp", Addr: srv.Addr, Count: 1})
	c := res.Config
	if c.Concurrency != 1 || c.Size != 64 || c.Pipeline != 1 || c.Timeout != 2*time.Second || c.ReadSize != 1024 {
		t.Errorf("Result.Config = %+v; want concurrency 1, size 64, pipeline 1, timeout 2s, read size 1024", c)
	}
}
