package sockserver_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/sockserver"
)

// faults returns a set holding the rules, one per line.
func faults(t testing.TB, rules ...string) *fault.Set {
	t.Helper()
	s := fault.NewSet(1, quiet)
	for _, line := range rules {
		r, err := fault.ParseRule(line)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// readErr reads from c until an error, and returns what was read and the
// error, which is nil at EOF.
func readErr(c *client) (string, error) {
	b, err := io.ReadAll(c.r)
	return string(b), err
}

// checkReset checks that a connection from ip to addr is reset: on a
// loopback the reset may come before the dial returns, and fail it.
func checkReset(t *testing.T, ip string, addr net.Addr) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: waitTimeout}
	nc, err := d.Dial("tcp", addr.String())
	if err == nil {
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(waitTimeout))
		// The reset's error goes to the first call after it arrives.
		if _, err = io.WriteString(nc, "hello\n"); err == nil {
			_, err = io.ReadAll(nc)
		}
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("dial and read = %v; want ECONNRESET", err)
	}
}

func TestServer_faultConnect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule  string
		check func(t *testing.T, c *client)
	}{
		{"tcp connect reset client=127.0.0.2", nil}, // see checkReset
		{"tcp connect close client=127.0.0.2", func(t *testing.T, c *client) {
			if got, err := readErr(c); got != "" || err != nil {
				t.Errorf("read %q, %v; want EOF at once", got, err)
			}
		}},
		{"tcp connect close delay=150ms client=127.0.0.2", func(t *testing.T, c *client) {
			start := time.Now()
			if got, err := readErr(c); got != "" || err != nil {
				t.Errorf("read %q, %v; want EOF", got, err)
			}
			if d := time.Since(start); d < 100*time.Millisecond {
				t.Errorf("EOF after %v; want the delay first", d)
			}
		}},
		{"tcp connect delay=150ms client=127.0.0.2", func(t *testing.T, c *client) {
			start := time.Now()
			c.roundTrip(t, "hello\n")
			if d := time.Since(start); d < 100*time.Millisecond {
				t.Errorf("reply after %v; want the delay first", d)
			}
			c.roundTrip(t, "again\n") // only the first reply waits
		}},
		{"tcp connect trickle=100 client=127.0.0.2", func(t *testing.T, c *client) {
			start := time.Now()
			c.roundTrip(t, "twenty bytes of text\n")
			if d := time.Since(start); d < 150*time.Millisecond {
				t.Errorf("21 bytes at 100 B/s took %v; want about 200ms", d)
			}
		}},
		{"tcp connect truncate=3 client=127.0.0.2", func(t *testing.T, c *client) {
			c.send(t, "hello\n")
			if got, err := readErr(c); got != "hel" || err != nil {
				t.Errorf("read %q, %v; want \"hel\" and EOF", got, err)
			}
		}},
		{"tcp connect hang client=127.0.0.2", func(t *testing.T, c *client) {
			c.send(t, "hello\n")
			if got, err := readErr(c); got != "" || err != nil {
				t.Errorf("read %q, %v; want nothing, then EOF at the idle timeout", got, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			set := faults(t, tc.rule)
			s := &sockserver.Server{Handler: sockserver.HandlerFunc(echo), Faults: set, IdleTimeout: 300 * time.Millisecond}
			sv := startServer(t, s)
			if tc.check == nil {
				checkReset(t, "127.0.0.2", sv.addr)
			} else {
				c := dialFrom(t, "127.0.0.2", sv.addr)
				tc.check(t, c)
				c.Close()
			}
			// Not aimed at 127.0.0.1: it is served as usual.
			c := dial(t, sv.addr)
			c.roundTrip(t, "unharmed\n")
			c.Close()
			if st := set.Rules()[0]; st.Fired != 1 || st.Matched != 1 {
				t.Errorf("rule counters = %d matched, %d fired; want 1, 1", st.Matched, st.Fired)
			}
			waitFor(t, "the connections to end", func() bool { return s.Stats().Active == 0 })
			if st := s.Stats(); st.Errors != 0 || st.Timeouts != 0 {
				t.Errorf("Stats() = %+v; want no errors or timeouts counted for a fault", st)
			}
		})
	}
}

func TestServer_faultWrapListener(t *testing.T) {
	t.Parallel()
	s := &sockserver.Server{Handler: sockserver.HandlerFunc(echo), Logger: quiet, IdleTimeout: 300 * time.Millisecond,
		Faults: faults(t, "http connect reset first=1", "http connect hang first=1"), FaultService: "http"}
	l := s.WrapListener(listenTCP(t))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { echo(context.Background(), c); c.Close() }()
		}
	}()
	t.Cleanup(func() { s.Close(); <-done })
	checkReset(t, "127.0.0.1", l.Addr())
	hung := dial(t, l.Addr())
	hung.send(t, "hello\n")
	dial(t, l.Addr()).roundTrip(t, "third\n") // the hang holds no accept
	if got, err := readErr(hung); got != "" || err != nil {
		t.Errorf("second connection: read %q, %v; want nothing, then EOF", got, err)
	}
}

func TestPacketServer_faults(t *testing.T) {
	t.Parallel()
	upper := sockserver.PacketHandlerFunc(func(_ context.Context, w sockserver.PacketWriter, p []byte, _ net.Addr) {
		w.Write([]byte(strings.ToUpper(string(p))))
	})
	recvAll := func(c *net.UDPConn, wait time.Duration) []string {
		var got []string
		buf := make([]byte, 100)
		for {
			c.SetReadDeadline(time.Now().Add(wait))
			n, err := c.Read(buf)
			if err != nil {
				return got
			}
			got = append(got, string(buf[:n]))
		}
	}
	tests := []struct {
		rule string
		send []string
		want []string
	}{
		{"udp datagram drop client=127.0.0.2", []string{"a"}, nil},
		{"udp datagram drop every=2 client=127.0.0.2", []string{"a", "b", "c"}, []string{"A", "C"}},
		{"udp datagram duplicate client=127.0.0.2", []string{"a"}, []string{"A", "A"}},
		{"udp datagram reorder first=1 client=127.0.0.2", []string{"a", "b"}, []string{"B", "A"}},
		{"udp datagram reorder first=1 client=127.0.0.2", []string{"a"}, []string{"A"}}, // sent after a while
		{"udp datagram delay=200ms first=1 client=127.0.0.2", []string{"a", "b"}, []string{"B", "A"}},
	}
	for _, tc := range tests {
		t.Run(tc.rule+" "+strings.Join(tc.send, ""), func(t *testing.T) {
			t.Parallel()
			s := &sockserver.PacketServer{Handler: upper, Faults: faults(t, tc.rule)}
			sv := startPacket(t, s)
			c := udpClient(t, "127.0.0.2", 0)
			for _, p := range tc.send {
				sendTo(t, c, sv.addr, []byte(p))
				time.Sleep(20 * time.Millisecond) // in order
			}
			if got := recvAll(c, 1500*time.Millisecond); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("replies = %q; want %q", got, tc.want)
			}
			// Not aimed at 127.0.0.1.
			other := udpClient(t, "127.0.0.1", 0)
			sendTo(t, other, sv.addr, []byte("x"))
			if got := recvAll(other, 300*time.Millisecond); len(got) != 1 || got[0] != "X" {
				t.Errorf("replies to 127.0.0.1 = %q; want [X]", got)
			}
		})
	}
}

// TestServer_faultHangHalfClose: a client that shuts down its side after
// its request still gets no answer until the idle timeout.
func TestServer_faultHangHalfClose(t *testing.T) {
	t.Parallel()
	s := &sockserver.Server{Handler: sockserver.HandlerFunc(echo), Faults: faults(t, "tcp connect hang"), IdleTimeout: 300 * time.Millisecond}
	sv := startServer(t, s)
	c := dial(t, sv.addr)
	c.send(t, "hello\n")
	c.Conn.(*net.TCPConn).CloseWrite()
	start := time.Now()
	if got, err := readErr(c); got != "" || err != nil {
		t.Errorf("read %q, %v; want nothing, then EOF", got, err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("EOF after %v; want the idle timeout, 300ms", d)
	}
}
