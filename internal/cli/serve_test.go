package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer that is safe for concurrent use and lets a
// reader wait for what it expects to be written.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced by every Write
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.b.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits until ok holds for the buffer's contents, and returns them. It
// fails the test when timeout passes or abort is closed first.
func (b *syncBuffer) waitFor(t testing.TB, abort <-chan struct{}, timeout time.Duration, what string, ok func(string) bool) string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		b.mu.Lock()
		s, changed := b.b.String(), b.changed
		b.mu.Unlock()
		if ok(s) {
			return s
		}
		select {
		case <-changed:
		case <-abort:
			if s := b.String(); ok(s) {
				return s
			}
			t.Fatalf("exited before %s; output:\n%s", what, b.String())
		case <-timer.C:
			t.Fatalf("no %s after %v; output:\n%s", what, timeout, b.String())
		}
	}
}

var textListenRE = regexp.MustCompile(`msg="waiting for clients" service=(\S+) addr=(\S+)`)

// listenAddrs returns the addresses in the "waiting for clients" lines of a
// text or JSON log, by service.
func listenAddrs(log string) map[string]string {
	addrs := make(map[string]string)
	for line := range strings.Lines(log) {
		if m := textListenRE.FindStringSubmatch(line); m != nil {
			addrs[m[1]] = m[2]
			continue
		}
		var rec struct{ Msg, Service, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "waiting for clients" {
			addrs[rec.Service] = rec.Addr
		}
	}
	return addrs
}

// mainServer is `inetkit serve` run by Main in a goroutine of the test.
type mainServer struct {
	stderr *syncBuffer
	addrs  map[string]string // by service, from the "waiting for clients" lines
	cancel context.CancelFunc
	done   chan struct{}
	code   int // Main's result, once done is closed
}

// startMain runs Main(ctx, args) and waits until each of services logged its
// address. The test's cleanup cancels ctx and waits for Main to return.
func startMain(t *testing.T, services []string, args ...string) *mainServer {
	t.Helper()
	return startMainEnv(t, &env{}, services, args...)
}

// startMainEnv is startMain with the services and stop bound of e (its
// stdio is replaced).
func startMainEnv(t *testing.T, e *env, services []string, args ...string) *mainServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &mainServer{stderr: newSyncBuffer(), cancel: cancel, done: make(chan struct{})}
	e.stdin, e.stdout, e.stderr = strings.NewReader(""), io.Discard, s.stderr
	go func() {
		defer close(s.done)
		s.code = e.main(ctx, args)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Errorf("Main(%q) did not return 15s after its context was cancelled", args)
		}
	})
	log := s.stderr.waitFor(t, s.done, 10*time.Second, `"waiting for clients" lines`, func(log string) bool {
		return len(listenAddrs(log)) == len(services)
	})
	s.addrs = listenAddrs(log)
	for _, name := range services {
		if s.addrs[name] == "" {
			t.Fatalf("Main(%q) did not log the address of %s:\n%s", args, name, log)
		}
	}
	return s
}

// stop cancels Main's context and returns its exit code.
func (s *mainServer) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		t.Fatal("Main did not return 15s after its context was cancelled")
	}
	return s.code
}

func TestServeSend(t *testing.T) {
	srv := startMain(t, []string{"tcp", "udp"}, "serve", "tcp", "udp", "--addr", "127.0.0.1:0")
	for _, network := range []string{"tcp", "udp"} {
		if !strings.HasPrefix(srv.addrs[network], "127.0.0.1:") {
			t.Errorf("%s listens on %q; want 127.0.0.1:PORT", network, srv.addrs[network])
		}
		args := []string{"send", network + "://" + srv.addrs[network], "hello"}
		code, stdout, stderr := runMain(t, "", args...)
		if code != exitOK || stdout != "HELLO\n" || stderr != "" {
			t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 0, \"HELLO\\n\", \"\"", args, code, stdout, stderr)
		}
		want := fmt.Sprintf(`msg=received service=%s remote=127.0.0.1:`, network)
		srv.stderr.waitFor(t, srv.done, 5*time.Second, network+` "received" line`, func(log string) bool {
			return strings.Contains(log, want) && strings.Contains(log, "bytes=5 data=hello")
		})
	}
	if code := srv.stop(t); code != exitOK {
		t.Errorf("serve exited %d; want 0; log:\n%s", code, srv.stderr)
	}
}

// The tutorial's fidelity cases (HARDENING T1, U1, U2) through serve and send.
func TestServeSendFidelity(t *testing.T) {
	srv := startMain(t, []string{"tcp", "udp"}, "serve", "tcp", "udp", "--addr", "127.0.0.1:0")
	tests := []struct {
		name, in, want string
		tcpOnly        bool
	}{
		{"tutorial", "straße ﬁ ŉ ΐ", "STRASSE FI \u02bcN \u0399\u0308\u0301", false},
		{"sharp s", "straße", "STRASSE", false},
		{"invalid bytes", "abc\xff\xfedef", "ABC\xff\xfeDEF", false},
		{"truncated sequence", "ab\xe4\xb8", "AB\xe4\xb8", false},
		{"NUL", "\x00nul\x00", "\x00NUL\x00", false},
		{"1000 0xFF", strings.Repeat("\xff", 1000), strings.Repeat("\xff", 1000), false},
		{"surrogate", "\xed\xa0\x80", "\xed\xa0\x80", false},
		{"3x amplification", strings.Repeat("ΐ", 512), strings.Repeat("\u0399\u0308\u0301", 512), false},
		{"over the read size", strings.Repeat("a", 5000), strings.Repeat("A", 1024), true},
	}
	for _, tc := range tests {
		for _, network := range []string{"tcp", "udp"} {
			if tc.tcpOnly && network == "udp" {
				continue
			}
			t.Run(tc.name+"/"+network, func(t *testing.T) {
				args := []string{"send", "--raw", network + "://" + srv.addrs[network], "-"}
				code, stdout, stderr := runMain(t, tc.in, args...)
				if code != exitOK || stdout != tc.want || stderr != "" {
					t.Errorf("Main(%q) with stdin %+q = %d, stdout %+q, stderr %q; want 0, %+q, \"\"", args, tc.in, code, stdout, stderr, tc.want)
				}
			})
		}
	}
	// The message as an argument rather than on stdin.
	code, stdout, _ := runMain(t, "", "send", "tcp://"+srv.addrs["tcp"], "straße ﬁ ŉ ΐ")
	if want := "STRASSE FI \u02bcN \u0399\u0308\u0301\n"; code != exitOK || stdout != want {
		t.Errorf("send tcp://… 'straße ﬁ ŉ ΐ' = %d, %+q; want 0, %+q", code, stdout, want)
	}
}

func TestServeModes(t *testing.T) {
	big := strings.Repeat("straße\n", 30000) // 240 KB: more than any socket buffer holds
	tests := []struct {
		mode, in, want string
		received       int // "received" lines logged; -1: do not count
	}{
		{"stream", "hello\nworld\n", "HELLO\nWORLD\n", -1},
		{"stream", "no newline ΐ", "NO NEWLINE \u0399\u0308\u0301", -1},
		{"stream", big, strings.Repeat("STRASSE\n", 30000), -1},
		{"line", "one\nstraße\nlast", "ONE\nSTRASSE\nLAST", 3},
		{"line", big, strings.Repeat("STRASSE\n", 30000), 30000},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s/%d bytes", tc.mode, len(tc.in))
		t.Run(name, func(t *testing.T) {
			srv := startMain(t, []string{"tcp"}, "serve", "tcp", "--mode", tc.mode, "--addr", "127.0.0.1:0")
			args := []string{"send", "--mode", tc.mode, "tcp://" + srv.addrs["tcp"], "-"}
			code, stdout, stderr := runMain(t, tc.in, args...)
			if code != exitOK || stdout != tc.want || stderr != "" {
				t.Errorf("Main(%q) with %d bytes of stdin = %d, %d bytes of stdout (%.40q…), stderr %q; want 0, %d bytes (%.40q…), \"\"",
					args, len(tc.in), code, len(stdout), stdout, stderr, len(tc.want), tc.want)
			}
			if code := srv.stop(t); code != exitOK {
				t.Errorf("serve exited %d; want 0", code)
			}
			if tc.received >= 0 {
				if n := strings.Count(srv.stderr.String(), "msg=received "); n != tc.received {
					t.Errorf("line mode logged %d \"received\" lines; want one per line, %d", n, tc.received)
				}
			}
		})
	}
}

// allServices are the arguments that run every service of `inetkit serve`
// on free loopback ports, with a store in a temporary directory.
func allServices(t *testing.T) []string {
	return []string{"--addr", "127.0.0.1:0", "--smtp-addr", "127.0.0.1:0", "--pop3-addr", "127.0.0.1:0",
		"--imap-addr", "127.0.0.1:0", "--ftp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--gopher-addr", "127.0.0.1:0", "--nntp-addr", "127.0.0.1:0", "--telnet-addr", "127.0.0.1:0", "--web-addr", "127.0.0.1:0", "--data", t.TempDir()}
}

func TestServeCancel(t *testing.T) {
	srv := startMain(t, serviceNames(services), append([]string{"serve"}, allServices(t)...)...)
	code := srv.stop(t)
	log := srv.stderr.String()
	if code != exitOK {
		t.Errorf("serve exited %d after its context was cancelled; want 0; log:\n%s", code, log)
	}
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	if !strings.Contains(log, `msg="shutting down" drain=10s`) {
		t.Errorf("log has no \"shutting down\" line with the drain bound:\n%s", log)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "msg=stopped") {
		t.Errorf("last log line = %q; want \"stopped\"; log:\n%s", last, log)
	}
	if c, err := net.Dial("tcp", srv.addrs["tcp"]); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Errorf("dial %s after serve returned: %v; want connection refused", srv.addrs["tcp"], err)
	}
	pc, err := net.ListenPacket("udp", srv.addrs["udp"])
	if err != nil {
		t.Errorf("the UDP port is still bound after serve returned: %v", err)
	} else {
		pc.Close()
	}
}

func TestServeJSONLog(t *testing.T) {
	srv := startMain(t, serviceNames(services), append([]string{"serve", "--log-format", "json"}, allServices(t)...)...)
	for _, network := range []string{"tcp", "udp"} {
		code, stdout, _ := runMain(t, "", "send", network+"://"+srv.addrs[network], "hello")
		if code != exitOK || stdout != "HELLO\n" {
			t.Fatalf("send over %s = %d, %q; want 0, \"HELLO\\n\"", network, code, stdout)
		}
	}
	if code := srv.stop(t); code != exitOK {
		t.Errorf("serve exited %d; want 0", code)
	}
	received := make(map[string]bool)
	msgs := make(map[string]bool)
	for line := range strings.Lines(srv.stderr.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line %q is not JSON: %v", line, err)
			continue
		}
		msg, _ := rec["msg"].(string)
		msgs[msg] = true
		if msg != "received" {
			continue
		}
		svc, _ := rec["service"].(string)
		remote, _ := rec["remote"].(string)
		if rec["level"] != "INFO" || rec["data"] != "hello" || rec["bytes"] != 5.0 || !strings.HasPrefix(remote, "127.0.0.1:") {
			t.Errorf("received line %s: want level INFO, data hello, bytes 5, remote 127.0.0.1:PORT", line)
		}
		received[svc] = true
	}
	if !received["tcp"] || !received["udp"] {
		t.Errorf("JSON log has received lines for %v; want tcp and udp:\n%s", received, srv.stderr)
	}
	for _, m := range []string{"waiting for clients", "shutting down", "stopped"} {
		if !msgs[m] {
			t.Errorf("JSON log has no %q line:\n%s", m, srv.stderr)
		}
	}
}

// freeTCPUDPPort returns a port on 127.0.0.1 that is free for both TCP and
// UDP.
func freeTCPUDPPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("found no port free for both TCP and UDP")
	return 0
}

// waitDial polls addr until a TCP connection succeeds, and closes it.
func waitDial(t *testing.T, addr string, abort <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-abort:
			t.Fatalf("server exited before %s accepted a connection", addr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing accepts connections on %s after 10s: %v", addr, err)
		}
	}
}

func TestServeQuiet(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freeTCPUDPPort(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := newSyncBuffer()
	done := make(chan int, 1)
	// udp first: once TCP accepts, the UDP socket is bound too.
	go func() {
		done <- Main(ctx, []string{"serve", "udp", "tcp", "--addr", addr, "-q"}, strings.NewReader(""), io.Discard, stderr)
	}()
	abort := make(chan struct{})
	go func() {
		code := <-done
		close(abort)
		done <- code
	}()
	waitDial(t, addr, abort)
	for _, network := range []string{"tcp", "udp"} {
		code, stdout, _ := runMain(t, "", "send", network+"://"+addr, "hello")
		if code != exitOK || stdout != "HELLO\n" {
			t.Errorf("send over %s = %d, %q; want 0, \"HELLO\\n\"", network, code, stdout)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("serve -q exited %d; want 0", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve -q did not return after its context was cancelled")
	}
	if log := stderr.String(); log != "" {
		t.Errorf("serve -q logged:\n%s\nwant nothing below warnings", log)
	}
}

func TestServeAddrInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, tc := range []struct{ service, addr string }{{"tcp", l.Addr().String()}, {"udp", pc.LocalAddr().String()}} {
		args := []string{"serve", tc.service, "--addr", tc.addr}
		code, _, stderr := runMain(t, "", args...)
		if code != exitError {
			t.Errorf("Main(%q) = %d; want %d", args, code, exitError)
		}
		if !strings.Contains(stderr, "inetkit: "+tc.service+": listen ") || !strings.Contains(stderr, "address already in use") {
			t.Errorf("Main(%q) stderr = %q; want \"inetkit: %s: listen …: address already in use\"", args, stderr, tc.service)
		}
	}
	// serve tcp udp with the UDP port taken: the TCP listener is released.
	port := freeTCPUDPPort(t)
	pc2, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer pc2.Close()
	args := []string{"serve", "tcp", "udp", "--addr", fmt.Sprintf("127.0.0.1:%d", port)}
	if code, _, stderr := runMain(t, "", args...); code != exitError || !strings.Contains(stderr, "inetkit: udp: listen") {
		t.Errorf("Main(%q) = %d, stderr %q; want 1 and a udp listen error", args, code, stderr)
	}
	l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Errorf("TCP port %d still bound after serve failed to start udp: %v", port, err)
	} else {
		l2.Close()
	}
}

// The limit flags reach the server: with --max-conns-per-ip 1, a second
// connection from 127.0.0.1 is closed unanswered while the first is open. (In
// line mode, so that the first stays open; a oneshot client that has not sent
// anything is not accepted yet, because of TCP_DEFER_ACCEPT.)
func TestServeMaxConnsPerIP(t *testing.T) {
	srv := startMain(t, []string{"tcp"}, "serve", "tcp", "--mode", "line", "--addr", "127.0.0.1:0", "--max-conns-per-ip", "1")
	addr := srv.addrs["tcp"]
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	first.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(first)
	first.Write([]byte("first\n"))
	if got, err := readLine(first, r, 5*time.Second); got != "FIRST\n" || err != nil {
		t.Fatalf("first connection got %q, %v; want \"FIRST\\n\"", got, err)
	}
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetDeadline(time.Now().Add(5 * time.Second))
	second.Write([]byte("hello\n"))
	got, err := io.ReadAll(second)
	if len(got) != 0 {
		t.Errorf("second connection from one address got %q (err %v); want it closed unanswered", got, err)
	}
	srv.stderr.waitFor(t, srv.done, 5*time.Second, `"connection rejected" line`, func(log string) bool {
		return strings.Contains(log, `msg="connection rejected"`)
	})
	// The first is still served.
	first.Write([]byte("again"))
	first.(*net.TCPConn).CloseWrite()
	if got, err := io.ReadAll(r); string(got) != "AGAIN" || err != nil {
		t.Errorf("first connection got %q, %v; want \"AGAIN\", nil", got, err)
	}
}

// readLine reads one line from r with a deadline on c.
func readLine(c net.Conn, r *bufio.Reader, timeout time.Duration) (string, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	return r.ReadString('\n')
}
