package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
)

// The tests in this file run the inetkit binary, built once, as a separate
// process: against the Python tutorial's own scripts (testdata/seed, copied
// unmodified from the tutorial), against Python clients that check the
// uppercase mapping with Python itself, and under signals and load.

var (
	buildOnce sync.Once
	binDir    string // holds the binary; TestMain removes it
	binPath   string
	buildErr  error
)

// inetkitBinary builds cmd/inetkit once, with -race if the tests run with
// it, and returns its path.
func inetkitBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "inetkit-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "inetkit")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/inetkit/inetkit/cmd/inetkit")
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building inetkit: %v", buildErr)
	}
	return binPath
}

func removeBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// python3 returns the path of python3, or skips the test when there is none,
// unless INETKIT_REQUIRE_PEERS=1 asks for the interop tests to run.
func python3(t testing.TB) string {
	t.Helper()
	return peers.Need(t, "python3")
}

// pythonEnv makes Python's output UTF-8 and unbuffered, whatever the locale.
func pythonEnv() []string {
	return append(os.Environ(), "PYTHONIOENCODING=utf-8", "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
}

// A proc is a process started by a test, killed at its cleanup if still running.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{} // closed when the process has exited
	waitErr        error         // valid once done is closed
}

func startProc(t testing.TB, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: filepath.Base(name) + " " + strings.Join(args, " "), cmd: exec.Command(name, args...),
		stdout: newSyncBuffer(), stderr: newSyncBuffer(), done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", p.name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits at most timeout for the process to exit and returns its exit
// code.
func (p *proc) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s still running after %v; stderr:\n%s", p.name, timeout, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// startInetkit runs `inetkit serve ARGS...` and waits until each of services
// has logged its address.
func startInetkit(t testing.TB, services []string, args ...string) (*proc, map[string]string) {
	t.Helper()
	p := startProc(t, os.Environ(), inetkitBinary(t), append([]string{"serve"}, args...)...)
	log := p.stderr.waitFor(t, p.done, 20*time.Second, `"waiting for clients" lines of `+p.name, func(log string) bool {
		return len(listenAddrs(log)) == len(services)
	})
	addrs := listenAddrs(log)
	for _, s := range services {
		if addrs[s] == "" {
			t.Fatalf("%s logged no address for %s:\n%s", p.name, s, log)
		}
	}
	return p, addrs
}

// runPython runs python3 with args and a timeout, and returns its stdout and
// stderr and exit code.
func runPython(t testing.TB, timeout time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python3(t), args...)
	cmd.Env = pythonEnv()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("python3 %.60q… still running after %v; stdout:\n%s\nstderr:\n%s", args, timeout, out.String(), errOut.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("python3: %v", err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

const tutorialAddr = "127.0.0.1:6666"

// port6666 serialises the tests that need the tutorial's hard-coded port.
var port6666 sync.Mutex

// lockPort6666 takes the port for the test and fails at once, with a message
// that says why, if another program holds it.
func lockPort6666(t *testing.T) {
	t.Helper()
	port6666.Lock()
	t.Cleanup(port6666.Unlock)
	l, err := net.Listen("tcp", tutorialAddr)
	if err != nil {
		t.Fatalf("TCP %s is busy (%v): the tutorial's scripts hard-code it; stop whatever listens there "+
			"(or wait a minute for connections in TIME_WAIT: ss -tan 'sport = :6666') and run again", tutorialAddr, err)
	}
	l.Close()
	pc, err := net.ListenPacket("udp", tutorialAddr)
	if err != nil {
		t.Fatalf("UDP %s is busy (%v): the tutorial's scripts hard-code it; stop whatever listens there and run again", tutorialAddr, err)
	}
	pc.Close()
}

func seedScript(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "seed", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the tutorial's script: %v", err)
	}
	return p
}

// reuseAddrRunner runs a script unmodified, with SO_REUSEADDR set on every
// socket it binds. tcp_server.py binds without it, so the connections it
// accepts lack it too; when it closes one before its client does, that
// TIME_WAIT keeps 127.0.0.1:6666 from every later bind, SO_REUSEADDR or not
// (inetkit's own, the next test run's), for a minute.
const reuseAddrRunner = `import runpy, socket, sys
_bind = socket.socket.bind
def bind(self, addr):
    self.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return _bind(self, addr)
socket.socket.bind = bind
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
`

// startPythonTCPServer runs the tutorial's tcp_server.py (with SO_REUSEADDR:
// see reuseAddrRunner) and waits for its first "等待客户端发送信息...", which
// it prints once it listens.
func startPythonTCPServer(t *testing.T) *proc {
	t.Helper()
	const ready = "等待客户端发送信息...\n"
	p := startProc(t, pythonEnv(), python3(t), "-c", reuseAddrRunner, seedScript(t, "tcp_server.py"))
	p.stdout.waitFor(t, p.done, 20*time.Second, "tcp_server.py's "+ready, func(s string) bool { return strings.Contains(s, ready) })
	return p
}

// waitUDPEcho polls addr with datagrams until one is answered.
func waitUDPEcho(t *testing.T, addr string, abort <-chan struct{}) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-abort:
			t.Fatalf("the UDP server exited before it answered on %s", addr)
		default:
		}
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			if string(buf[:n]) != "PING" {
				t.Fatalf("UDP %s answered ping with %q; want PING", addr, buf[:n])
			}
			return
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			time.Sleep(10 * time.Millisecond) // refused at once: the poll's interval
		}
	}
	t.Fatalf("nothing answers datagrams on %s after 20s", addr)
}

// TestTutorialScripts runs the tutorial's four scripts, unmodified, against
// inetkit: its servers answer the tutorial's clients, its client talks to the
// tutorial's servers. They all use 127.0.0.1:6666.
func TestTutorialScripts(t *testing.T) {
	python3(t)
	bin := inetkitBinary(t)

	t.Run("python servers, inetkit send", func(t *testing.T) {
		lockPort6666(t)
		tcpSrv := startPythonTCPServer(t)
		udpSrv := startProc(t, pythonEnv(), python3(t), seedScript(t, "udp_server.py"))
		waitUDPEcho(t, tutorialAddr, udpSrv.done)
		for _, network := range []string{"tcp", "udp"} {
			args := []string{"send", network + "://" + tutorialAddr, "hello"}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			cmd := exec.CommandContext(ctx, bin, args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			cancel()
			if err != nil || string(out) != "HELLO\n" || stderr.Len() != 0 {
				t.Errorf("inetkit %s against %s_server.py: stdout %q, stderr %q, %v; want \"HELLO\\n\", \"\", exit 0",
					strings.Join(args, " "), network, out, stderr.String(), err)
			}
		}
		const got = "服务端接收请求数据：hello\n"
		tcpSrv.stdout.waitFor(t, tcpSrv.done, 5*time.Second, "tcp_server.py's "+got, func(s string) bool { return strings.Contains(s, got) })
		udpSrv.stdout.waitFor(t, udpSrv.done, 5*time.Second, "udp_server.py's "+got, func(s string) bool { return strings.Contains(s, got) })
		for _, p := range []*proc{tcpSrv, udpSrv} {
			if p.exited() {
				t.Errorf("%s exited: %v; stderr:\n%s", p.name, p.waitErr, p.stderr)
			}
		}
	})

	t.Run("inetkit serve, python clients", func(t *testing.T) {
		lockPort6666(t)
		// No flags: the defaults are the tutorial's address, loopback only.
		srv, addrs := startInetkit(t, []string{"tcp", "udp"}, "tcp", "udp")
		if addrs["tcp"] != tutorialAddr || addrs["udp"] != tutorialAddr {
			t.Fatalf("inetkit serve listens on %v; want tcp and udp on %s", addrs, tutorialAddr)
		}
		for _, script := range []string{"tcp_client.py", "udp_client.py"} {
			stdout, stderr, code := runPython(t, 20*time.Second, seedScript(t, script))
			if want := "客户端接收响应数据：HELLO\n"; stdout != want || stderr != "" || code != 0 {
				t.Errorf("%s: stdout %q, stderr %q, exit %d; want %q, \"\", 0", script, stdout, stderr, code, want)
			}
		}
		for _, network := range []string{"tcp", "udp"} {
			want := fmt.Sprintf("msg=received service=%s remote=127.0.0.1:", network)
			srv.stderr.waitFor(t, srv.done, 5*time.Second, network+` "received" line`, func(s string) bool {
				return strings.Contains(s, want) && strings.Contains(s, "bytes=5 data=hello")
			})
		}
		// HARDENING U9: 127.0.0.1 only; another loopback address is not served.
		if c, err := net.DialTimeout("tcp", "127.0.0.2:6666", 2*time.Second); err == nil {
			c.Close()
			t.Errorf("inetkit serve accepted a connection to 127.0.0.2:6666; want it bound to 127.0.0.1 only")
		}
		srv.cmd.Process.Signal(syscall.SIGTERM)
		if code := srv.wait(t, 15*time.Second); code != 0 {
			t.Errorf("inetkit serve exited %d after SIGTERM; want 0; stderr:\n%s", code, srv.stderr)
		}
	})
}

// corpusClient is the HARDENING T1/U1/U2 check, done by Python itself: every
// cased code point, in requests of at most 1024 bytes cut on character
// boundaries, the tutorial's examples and invalid UTF-8, over TCP (one
// connection per request) and UDP; each reply must be what Python computes.
const corpusClient = `import socket, sys

tcp_port, udp_port = int(sys.argv[1]), int(sys.argv[2])

def want(p):
    return p.decode('utf-8', 'surrogateescape').upper().encode('utf-8', 'surrogateescape')

def first_bad(p, got):
    off = 0
    for ch in p.decode('utf-8', 'surrogateescape'):
        w = ch.upper().encode('utf-8', 'surrogateescape')
        if got[off:off + len(w)] != w:
            return 'U+%04X %r: got %r at reply byte %d, want %r' % (ord(ch), ch, got[off:off + len(w)], off, w)
        off += len(w)
    return 'reply has %d bytes more than wanted: %r' % (len(got) - off, got[off:off + 32])

def fail(how, i, p, got):
    print('%s request %d (%d bytes, %r...): reply of %d bytes, want %d: %s'
          % (how, i, len(p), p[:24], len(got), len(want(p)), first_bad(p, got)))
    sys.exit(1)

cased = [chr(c) for c in range(0x110000)
         if not 0xD800 <= c <= 0xDFFF and (chr(c).upper() != chr(c) or chr(c).lower() != chr(c))]
reqs, cur = [], b''
for ch in cased:
    b = ch.encode('utf-8')
    if len(cur) + len(b) > 1024:
        reqs.append(cur)
        cur = b''
    cur += b
reqs.append(cur)
reqs += ['straße ﬁ ŉ ΐ'.encode('utf-8'), 'ΐ'.encode('utf-8') * 512,
         b'abc\xff\xfedef', b'ab\xe4\xb8', b'\x00nul\x00', b'\xff' * 1000, b'\xed\xa0\x80']
assert all(0 < len(p) <= 1024 for p in reqs)

for i, p in enumerate(reqs):
    s = socket.create_connection(('127.0.0.1', tcp_port), timeout=10)
    s.sendall(p)
    got = b''
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    s.close()
    if got != want(p):
        fail('tcp', i, p, got)

# HARDENING T5: a client that sends nothing and half-closes gets an empty reply.
s = socket.create_connection(('127.0.0.1', tcp_port), timeout=10)
s.shutdown(socket.SHUT_WR)
got = s.recv(65536)
s.close()
if got != b'':
    print('tcp half-close: reply %r, want none' % got)
    sys.exit(1)

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(10)
for i, p in enumerate(reqs):
    u.sendto(p, ('127.0.0.1', udp_port))
    got, _ = u.recvfrom(65535)
    if got != want(p):
        fail('udp', i, p, got)
u.close()
print('cased=%d requests=%d ok' % (len(cased), len(reqs)))
`

// unidataNote says so when python3's Unicode version is not the one
// upper's tables were generated from, which explains a corpus mismatch.
func unidataNote(t *testing.T) string {
	out, _, _ := runPython(t, 20*time.Second, "-c", "import unicodedata; print(unicodedata.unidata_version)")
	golden, err := os.ReadFile(filepath.Join("..", "..", "upper", "testdata", "upper.golden"))
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(string(golden), "\n")
	if v := strings.TrimSpace(out); first != "# unidata_version "+v {
		return fmt.Sprintf("\n(python3 has Unicode %s; upper/testdata/upper.golden has %q)", v, first)
	}
	return ""
}

// bigClient is HARDENING T3: the tutorial's client with more than one read
// of data; the reply is the first 1024 bytes uppercased, then EOF, no reset.
const bigClient = `import socket, sys

port = int(sys.argv[1])
for n in (1025, 5000, 200000):
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    got = b''
    try:
        s.sendall(b'a' * n)
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except ConnectionResetError as e:
        print('%d bytes: ConnectionResetError after %d bytes of reply: %s' % (n, len(got), e))
        sys.exit(1)
    s.close()
    if got != b'A' * 1024:
        print('%d bytes: reply of %d bytes %r..., want 1024 A' % (n, len(got), got[:32]))
        sys.exit(1)
print('ok')
`

func TestPythonClients(t *testing.T) {
	python3(t)
	srv, addrs := startInetkit(t, []string{"tcp", "udp"}, "tcp", "udp", "--addr", "127.0.0.1:0")
	tcpPort, udpPort := portOf(t, addrs["tcp"]), portOf(t, addrs["udp"])

	t.Run("every cased code point", func(t *testing.T) {
		stdout, stderr, code := runPython(t, 60*time.Second, "-c", corpusClient, tcpPort, udpPort)
		if code != 0 {
			t.Fatalf("the Python corpus client failed (exit %d):\n%s%s%s", code, stdout, stderr, unidataNote(t))
		}
		var cased, requests int
		if _, err := fmt.Sscanf(stdout, "cased=%d requests=%d ok", &cased, &requests); err != nil || cased < 2800 || requests < 10 {
			t.Errorf("the Python corpus client printed %q; want \"cased=N requests=M ok\" with N ≥ 2800 and M ≥ 10", stdout)
		}
	})

	t.Run("200 KB to a oneshot server", func(t *testing.T) {
		stdout, stderr, code := runPython(t, 60*time.Second, "-c", bigClient, tcpPort)
		if code != 0 || stdout != "ok\n" {
			t.Errorf("the Python big-request client: exit %d:\n%s%s", code, stdout, stderr)
		}
	})

	if srv.exited() {
		t.Fatalf("inetkit serve exited: %v; stderr:\n%s", srv.waitErr, srv.stderr)
	}
	if strings.Contains(srv.stderr.String(), "level=WARN") || strings.Contains(srv.stderr.String(), "level=ERROR") {
		t.Errorf("inetkit serve logged warnings or errors:\n%s", grepLines(srv.stderr.String(), "level=WARN", "level=ERROR"))
	}
}

func portOf(t testing.TB, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return port
}

func grepLines(s string, subs ...string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		for _, sub := range subs {
			if strings.Contains(line, sub) {
				b.WriteString(line)
				break
			}
		}
	}
	return b.String()
}

// HARDENING T7: SIGTERM while 10 clients are in the middle of an exchange.
func TestSIGTERMDrains(t *testing.T) {
	srv, addrs := startInetkit(t, []string{"tcp"}, "tcp", "--mode", "line", "--drain", "5s", "--addr", "127.0.0.1:0")
	addr := addrs["tcp"]

	// Connected before the others, so accepted before them: the listener
	// accepts in order, and the others are served below.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	const n = 10
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i], readers[i] = c, bufio.NewReader(c)
		fmt.Fprintf(c, "client %d\n", i)
		if line, err := readLine(c, readers[i], 5*time.Second); line != fmt.Sprintf("CLIENT %d\n", i) {
			t.Fatalf("client %d: first reply %q, %v; want \"CLIENT %d\\n\"", i, line, err, i)
		}
		if _, err := c.Write([]byte("mid")); err != nil { // the start of a line
			t.Fatal(err)
		}
	}

	idleEOF := make(chan error, 1)
	go func() {
		idle.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := idle.Read(make([]byte, 1))
		idleEOF <- err
	}()

	sigterm := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// New connections are refused at once. (A connection caught in the
	// backlog as the listener closes is reset.)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if err == nil {
			c.Close()
		} else if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial after SIGTERM: %v; want connection refused", err)
		}
		if time.Since(sigterm) > time.Second {
			t.Fatalf("connections still not refused 1s after SIGTERM: %v", err)
		}
	}

	// The idle connection is closed promptly, not at the end of the drain,
	// while the others, in the middle of a line, stay open.
	select {
	case err := <-idleEOF:
		if !errors.Is(err, io.EOF) {
			t.Errorf("idle connection after SIGTERM: %v; want EOF", err)
		}
		if d := time.Since(sigterm); d > 2*time.Second {
			t.Errorf("idle connection closed %v after SIGTERM; want well within the 5s drain", d)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("idle connection still open 5s after SIGTERM")
	}

	// The exchanges in flight complete.
	for i, c := range conns {
		if _, err := c.Write([]byte("dle\n")); err != nil {
			t.Errorf("client %d: finishing its line after SIGTERM: %v", i, err)
			continue
		}
		if line, err := readLine(c, readers[i], 5*time.Second); line != "MIDDLE\n" {
			t.Errorf("client %d: reply after SIGTERM %q, %v; want \"MIDDLE\\n\"", i, line, err)
		}
	}
	// ... and then the server closes them.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if b, err := readers[i].ReadByte(); err != io.EOF {
			t.Errorf("client %d: after its reply, read %q, %v; want EOF", i, b, err)
		}
	}

	code := srv.wait(t, 6*time.Second)
	if d := time.Since(sigterm); d > 6*time.Second {
		t.Errorf("exited %v after SIGTERM; want within the drain bound (5s) + 1s", d)
	}
	log := srv.stderr.String()
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM; want 0; stderr:\n%s", code, log)
	}
	for _, want := range []string{`msg="shutting down" drain=5s`, "msg=stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr has no %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "drain time over") {
		t.Errorf("connections were cut at the drain bound:\n%s", log)
	}
}

// HARDENING T6: 1000 concurrent oneshot clients.
func TestThousandClients(t *testing.T) {
	srv, addrs := startInetkit(t, []string{"tcp"}, "tcp", "--addr", "127.0.0.1:0")
	addr := addrs["tcp"]
	const n = 1000
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			msg := fmt.Sprintf("client %04d straße", i)
			want := fmt.Sprintf("CLIENT %04d STRASSE", i)
			c, err := net.DialTimeout("tcp", addr, 20*time.Second)
			if err != nil {
				errs <- fmt.Errorf("client %d: %v", i, err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.Write([]byte(msg)); err != nil {
				errs <- fmt.Errorf("client %d: write: %v", i, err)
				return
			}
			c.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(c)
			if string(got) != want || err != nil {
				errs <- fmt.Errorf("client %d: reply %q, %v; want %q", i, got, err, want)
			}
		})
	}
	begin := time.Now()
	close(start)
	wg.Wait()
	close(errs)
	var failed []string
	for err := range errs {
		failed = append(failed, err.Error())
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d clients failed; the first ones:\n%s", len(failed), n, strings.Join(failed[:min(len(failed), 10)], "\n"))
	}
	t.Logf("%d concurrent clients served in %v", n, time.Since(begin))
	if len(failed) == 0 {
		// The log lines travel through a pipe: wait for them to arrive.
		srv.stderr.waitFor(t, srv.done, 10*time.Second, fmt.Sprintf("%d \"received\" lines", n), func(s string) bool {
			return strings.Count(s, "msg=received ") == n
		})
	}
}

// HARDENING T2: a silent client is closed after --idle-timeout and does not
// hold up others.
func TestIdleTimeout(t *testing.T) {
	srv, addrs := startInetkit(t, []string{"tcp"}, "tcp", "--idle-timeout", "500ms", "--addr", "127.0.0.1:0")
	addr := addrs["tcp"]
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	connected := time.Now()
	idleDone := make(chan error, 1)
	go func() {
		idle.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := idle.Read(make([]byte, 1))
		idleDone <- err
	}()

	// Another client is served while the idle one waits.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("hello"))
	got, err := io.ReadAll(c)
	if string(got) != "HELLO" || err != nil {
		t.Errorf("second client: %q, %v; want \"HELLO\", nil", got, err)
	}
	select {
	case err := <-idleDone:
		t.Fatalf("the idle connection ended (%v) %v after connecting, before the other client was served", err, time.Since(connected))
	default:
	}

	err = <-idleDone
	elapsed := time.Since(connected)
	if !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: %v; want EOF", err)
	}
	if elapsed < 450*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("idle connection closed after %v; want about 500ms", elapsed)
	}
	srv.stderr.waitFor(t, srv.done, 5*time.Second, `"connection timed out" line`, func(s string) bool {
		return strings.Contains(s, `msg="connection timed out"`)
	})
}
