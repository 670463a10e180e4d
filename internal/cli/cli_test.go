package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/upper"
	"github.com/inetkit/inetkit/upper/uppertest"
)

// hookedRoot is the root command of Main with serve and send built with the
// given runF hooks, so that a test sees the options the command line parsed
// to without running anything.
func hookedRoot(e *env, serveF func(context.Context, *serveOptions) error, sendF func(context.Context, *sendOptions) error) *cobra.Command {
	root := newRootCmd(e)
	for _, c := range root.Commands() {
		if c.Name() == "serve" || c.Name() == "send" {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(newServeCmd(e, serveF), newSendCmd(e, sendF))
	return root
}

// parseArgs runs args through hookedRoot and returns the options the hook of
// the command named by args[0] received (nil if it was not called).
func parseArgs(t *testing.T, args ...string) (*serveOptions, *sendOptions, error) {
	t.Helper()
	var (
		serveGot *serveOptions
		sendGot  *sendOptions
	)
	var out bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &out}
	root := hookedRoot(e,
		func(_ context.Context, o *serveOptions) error { serveGot = o; return nil },
		func(_ context.Context, o *sendOptions) error { sendGot = o; return nil })
	root.SetArgs(args)
	_, err := root.ExecuteContextC(context.Background())
	if e.ran {
		t.Errorf("%q: a run function started; the hooks should have replaced it", args)
	}
	return serveGot, sendGot, err
}

// serveView is what TestServeArgs checks of serveOptions: the options of
// serve itself and the configurations of tcp and udp.
type serveView struct {
	services      []string
	log           logOptions
	maxConns      int
	maxConnsPerIP autoInt
	drain         time.Duration
	debugAddr     string
	addr          string // tcp's and udp's
	tcp           tcpConfig
	udp           udpConfig
}

func viewOf(o *serveOptions) serveView {
	tcp := *o.configs["tcp"].(*tcpConfig)
	udp := *o.configs["udp"].(*udpConfig)
	v := serveView{
		services: o.services, log: o.log, maxConns: o.maxConns, maxConnsPerIP: o.maxConnsPerIP,
		drain: o.drain, debugAddr: o.debugAddr, addr: tcp.upper.addr, tcp: tcp, udp: udp,
	}
	v.tcp.upper, v.udp.upper = nil, nil
	return v
}

func defaultServeView() serveView {
	return serveView{
		services: []string{"tcp", "udp", "smtp", "pop3", "imap", "ftp", "http", "gopher", "nntp", "telnet", "web"},
		log:      logOptions{format: "text"},
		maxConns: 10000,
		drain:    10 * time.Second,
		// maxConnsPerIP, udp.rate and udp.byteRate: auto (the zero autoInt).
		tcp: tcpConfig{
			mode:         upper.ModeOneshot,
			readSize:     1024,
			maxLineBytes: 64 << 10,
			idleTimeout:  10 * time.Second,
			writeTimeout: 10 * time.Second,
		},
		udp: udpConfig{burst: 200},
	}
}

func TestServeArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want func(o *serveView)
	}{
		{"defaults", nil, func(*serveView) {}},
		{"tcp line on ::1", []string{"tcp", "--mode", "line", "--addr", "[::1]:7000"}, func(o *serveView) {
			o.services = []string{"tcp"}
			o.tcp.mode = upper.ModeLine
			o.addr = "[::1]:7000"
		}},
		{"udp only", []string{"udp"}, func(o *serveView) { o.services = []string{"udp"} }},
		{"order kept", []string{"udp", "tcp"}, func(o *serveView) { o.services = []string{"udp", "tcp"} }},
		{"stream mode", []string{"--mode=stream"}, func(o *serveView) { o.tcp.mode = upper.ModeStream }},
		{"sizes and timeouts", []string{
			"--read-size", "10", "--max-line-bytes", "20", "--idle-timeout", "500ms",
			"--write-timeout", "0", "--drain", "5s", "--max-conns", "0",
		}, func(o *serveView) {
			o.tcp.readSize, o.tcp.maxLineBytes = 10, 20
			o.tcp.idleTimeout, o.tcp.writeTimeout, o.drain = 500*time.Millisecond, 0, 5*time.Second
			o.maxConns = 0
		}},
		{"limits set", []string{
			"--max-conns-per-ip", "5", "--udp-rate", "0", "--udp-burst", "7", "--udp-byte-rate", "1000",
		}, func(o *serveView) {
			o.maxConnsPerIP = autoInt{set: true, v: 5}
			o.udp.rate = autoInt{set: true, v: 0}
			o.udp.burst = 7
			o.udp.byteRate = autoInt{set: true, v: 1000}
		}},
		{"limits auto again", []string{"--udp-rate", "3", "--udp-rate", "auto"}, func(*serveView) {}},
		{"json quiet", []string{"--log-format", "json", "-q"}, func(o *serveView) {
			o.log = logOptions{format: "json", quiet: true}
		}},
		{"any address", []string{"--addr", ":6666"}, func(o *serveView) { o.addr = ":6666" }},
		{"debug", []string{"--debug-addr", "127.0.0.1:0"}, func(o *serveView) { o.debugAddr = "127.0.0.1:0" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := parseArgs(t, append([]string{"serve"}, tc.args...)...)
			if err != nil {
				t.Fatalf("serve %q: %v", tc.args, err)
			}
			if got == nil {
				t.Fatalf("serve %q: runF not called", tc.args)
			}
			want := defaultServeView()
			tc.want(&want)
			if v := viewOf(got); !reflect.DeepEqual(v, want) {
				t.Errorf("serve %q options:\n got %+v\nwant %+v", tc.args, v, want)
			}
		})
	}
}

func TestServeMailArgs(t *testing.T) {
	mailConfigs := func(o *serveOptions) map[string]*mailConfig {
		m := make(map[string]*mailConfig)
		for _, name := range []string{"smtp", "pop3", "imap"} {
			m[name] = o.configs[name].(*mailConfig)
		}
		return m
	}
	got, _, err := parseArgs(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	mcs := mailConfigs(got)
	for name, want := range map[string]string{"smtp": "127.0.0.1:2525", "pop3": "127.0.0.1:1110", "imap": "127.0.0.1:1143"} {
		if c := mcs[name]; c.addr != want || c.tlsAddr != "" {
			t.Errorf("default %s addresses = %q, %q; want %q and no implicit TLS", name, c.addr, c.tlsAddr, want)
		}
	}
	m := mcs["smtp"].mail
	if mcs["pop3"].mail != m || mcs["imap"].mail != m {
		t.Errorf("the mail services have different mailOptions; want the one they share")
	}
	if m.data != "./inetkit-data" || m.auth != "auto" || m.maxMessageBytes != 32<<20 {
		t.Errorf("defaults: data %q auth %q max-message-bytes %d", m.data, m.auth, m.maxMessageBytes)
	}
	got, _, err = parseArgs(t, "serve", "smtp", "--smtp-addr", "0.0.0.0:25", "--smtps-addr", ":465", "--data", "/d", "--auth", "accounts", "--tls-cert", "c", "--tls-key", "k")
	if err != nil {
		t.Fatal(err)
	}
	mcs = mailConfigs(got)
	m = mcs["smtp"].mail
	if c := mcs["smtp"]; c.addr != "0.0.0.0:25" || c.tlsAddr != ":465" || m.data != "/d" || m.auth != "accounts" || m.tlsCert != "c" || m.tlsKey != "k" {
		t.Errorf("parsed smtp options %+v, mail options %+v", *c, *m)
	}
	selected := func(name string) bool { return slices.Contains(got.services, name) }
	if addrs := m.listenAddrs(selected); !reflect.DeepEqual(addrs, []string{"0.0.0.0:25", ":465"}) {
		t.Errorf("listenAddrs() = %q", addrs)
	}
}

func TestServeDefaultAddrAndLimits(t *testing.T) {
	got, _, err := parseArgs(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"tcp", "udp"} {
		if a := upperOf(got, s).addrOf(); a != "127.0.0.1:6666" {
			t.Errorf("%s address = %q; want 127.0.0.1:6666 (the tutorial's, loopback only: HARDENING U9)", s, a)
		}
	}
	udp := got.configs["udp"].(*udpConfig)
	for name, a := range map[string]autoInt{"max-conns-per-ip": got.maxConnsPerIP, "udp-rate": udp.rate, "udp-byte-rate": udp.byteRate} {
		if a.String() != "auto" || a.or(64) != 64 {
			t.Errorf("--%s default = %s, or(64) = %d; want auto, 64", name, a.String(), a.or(64))
		}
	}
	got, _, err = parseArgs(t, "serve", "--addr", "[::1]:7000")
	if err != nil {
		t.Fatal(err)
	}
	if a := upperOf(got, "udp").addrOf(); a != "[::1]:7000" {
		t.Errorf("with --addr, the udp address = %q; want [::1]:7000", a)
	}
}

// upperOf returns the options that the tcp or udp service was given.
func upperOf(o *serveOptions, service string) *upperOptions {
	switch c := o.configs[service].(type) {
	case *tcpConfig:
		return c.upper
	case *udpConfig:
		return c.upper
	}
	return nil
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:6666", true},
		{"127.0.0.2:1", true},
		{"[::1]:6666", true},
		{"localhost:6666", true},
		{"0.0.0.0:6666", false},
		{":6666", false},
		{"[::]:6666", false},
		{"192.168.1.10:6666", false},
		{"example.com:6666", false},
		{"127.0.0.1", false},
	}
	for _, tc := range tests {
		if got := isLoopback(tc.addr); got != tc.want {
			t.Errorf("isLoopback(%q) = %v; want %v", tc.addr, got, tc.want)
		}
	}
}

func TestAutoInt(t *testing.T) {
	tests := []struct {
		in      string
		want    autoInt
		wantStr string
		wantErr bool
	}{
		{"auto", autoInt{}, "auto", false},
		{"0", autoInt{set: true}, "0", false},
		{"64", autoInt{set: true, v: 64}, "64", false},
		{"-1", autoInt{}, "auto", true},
		{"lots", autoInt{}, "auto", true},
		{"", autoInt{}, "auto", true},
	}
	for _, tc := range tests {
		var a autoInt
		err := a.Set(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("Set(%q) error = %v; want error: %v", tc.in, err, tc.wantErr)
		}
		if a != tc.want || a.String() != tc.wantStr {
			t.Errorf("after Set(%q): %+v, String() = %q; want %+v, %q", tc.in, a, a.String(), tc.want, tc.wantStr)
		}
	}
}

func TestServeUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"bad mode", []string{"--mode", "chunked"}, `invalid argument "chunked" for "--mode"`},
		{"bad service", []string{"tcp", "gopherx"}, `unknown service "gopherx"`},
		{"bad mail addr", []string{"--imap-addr", "1143"}, `--imap-addr "1143": want HOST:PORT`},
		{"bad implicit-TLS addr", []string{"--pop3s-addr", "995"}, `--pop3s-addr "995": want HOST:PORT`},
		{"cert without key", []string{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{"bad auth", []string{"--auth", "none"}, "--auth must be auto, any or accounts"},
		{"bad log format", []string{"--log-format", "xml"}, `--log-format must be text or json, not "xml"`},
		{"no port", []string{"--addr", "127.0.0.1"}, `--addr "127.0.0.1": want HOST:PORT`},
		{"read size zero", []string{"--read-size", "0"}, "--read-size must be between 1 and 1048576"},
		{"read size too big", []string{"--read-size", "1048577"}, "--read-size must be between 1 and 1048576"},
		{"line cap zero", []string{"--max-line-bytes", "0"}, "--max-line-bytes must be positive"},
		{"negative limit", []string{"--max-conns-per-ip", "-1"}, `want a number ≥ 0 or auto, not "-1"`},
		{"bad duration", []string{"--drain", "soon"}, `invalid argument "soon" for "--drain"`},
		{"unknown flag", []string{"--port", "1"}, "unknown flag: --port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := parseArgs(t, append([]string{"serve"}, tc.args...)...)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("serve %q: error %v (%T); want a *usageError", tc.args, err, err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("serve %q: error %q; want it to contain %q", tc.args, err, tc.wantErr)
			}
			if got != nil {
				t.Errorf("serve %q: runF called with %+v after a usage error", tc.args, *got)
			}
		})
	}
}

// sendView is what a test checks of sendOptions (the URL aside).
type sendView struct {
	network, addr string
	message       string
	stdin         bool
	mode          upper.Mode
	timeout       time.Duration
	raw           bool
}

func TestSendArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want sendView
	}{
		{"tcp with port", []string{"tcp://127.0.0.1:7000", "hello"},
			sendView{network: "tcp", addr: "127.0.0.1:7000", message: "hello", timeout: 5 * time.Second}},
		{"tcp default port", []string{"tcp://127.0.0.1", "hello"},
			sendView{network: "tcp", addr: "127.0.0.1:6666", message: "hello", timeout: 5 * time.Second}},
		{"tcp host name default port", []string{"tcp://localhost", "x"},
			sendView{network: "tcp", addr: "localhost:6666", message: "x", timeout: 5 * time.Second}},
		{"tcp IPv6 default port", []string{"tcp://[::1]", "x"},
			sendView{network: "tcp", addr: "[::1]:6666", message: "x", timeout: 5 * time.Second}},
		{"udp", []string{"udp://127.0.0.1:6666", "hello"},
			sendView{network: "udp", addr: "127.0.0.1:6666", message: "hello", timeout: 5 * time.Second}},
		{"udp default port", []string{"udp://127.0.0.1", "hello"},
			sendView{network: "udp", addr: "127.0.0.1:6666", message: "hello", timeout: 5 * time.Second}},
		{"unix", []string{"unix:///run/inetkit.sock", "hi"},
			sendView{network: "unix", addr: "/run/inetkit.sock", message: "hi", timeout: 5 * time.Second}},
		{"unixgram", []string{"unixgram:///tmp/u.sock", "hi"},
			sendView{network: "unixgram", addr: "/tmp/u.sock", message: "hi", timeout: 5 * time.Second}},
		{"stdin", []string{"tcp://127.0.0.1", "-"},
			sendView{network: "tcp", addr: "127.0.0.1:6666", stdin: true, timeout: 5 * time.Second}},
		{"empty message", []string{"tcp://127.0.0.1", ""},
			sendView{network: "tcp", addr: "127.0.0.1:6666", timeout: 5 * time.Second}},
		{"flags", []string{"--mode", "line", "--timeout", "300ms", "--raw", "tcp://127.0.0.1:1", "-"},
			sendView{network: "tcp", addr: "127.0.0.1:1", stdin: true, mode: upper.ModeLine, timeout: 300 * time.Millisecond, raw: true}},
		{"flags after args", []string{"udp://127.0.0.1:1", "x", "--timeout=2s"},
			sendView{network: "udp", addr: "127.0.0.1:1", message: "x", timeout: 2 * time.Second}},
		{"message after --", []string{"tcp://127.0.0.1:1", "--", "--raw"},
			sendView{network: "tcp", addr: "127.0.0.1:1", message: "--raw", timeout: 5 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, o, err := parseArgs(t, append([]string{"send"}, tc.args...)...)
			if err != nil {
				t.Fatalf("send %q: %v", tc.args, err)
			}
			if o == nil {
				t.Fatalf("send %q: runF not called", tc.args)
			}
			got := sendView{o.network, o.addr, string(o.message), o.stdin, o.mode, o.timeout, o.raw}
			if got != tc.want {
				t.Errorf("send %q options:\n got %+v\nwant %+v", tc.args, got, tc.want)
			}
			if o.url == nil || o.url.Scheme != tc.want.network {
				t.Errorf("send %q: url = %v; want the URL argument", tc.args, o.url)
			}
		})
	}
}

func TestSendUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"bad scheme", []string{"http://127.0.0.1:80", "x"}, "send does not speak http://"},
		{"no scheme", []string{"localhost", "x"}, `URL "localhost" has no scheme`},
		{"host:port without scheme", []string{"127.0.0.1:6666", "x"}, `bad URL "127.0.0.1:6666"`},
		{"missing host", []string{"tcp://", "x"}, `URL "tcp://" has no host`},
		{"missing host udp", []string{"udp:///x", "x"}, `URL "udp:///x" has no host`},
		{"bad port", []string{"tcp://127.0.0.1:http", "x"}, `bad URL "tcp://127.0.0.1:http"`},
		{"unix without path", []string{"unix://", "x"}, `URL "unix://" has no socket path`},
		{"no message", []string{"tcp://127.0.0.1"}, "send takes a URL and a MESSAGE (or - for stdin), got 1 arguments"},
		{"no arguments", nil, "got 0 arguments"},
		{"three arguments", []string{"tcp://127.0.0.1", "a", "b"}, "got 3 arguments"},
		{"zero timeout", []string{"--timeout", "0s", "tcp://127.0.0.1", "x"}, "--timeout must be positive"},
		{"negative timeout", []string{"--timeout=-1s", "tcp://127.0.0.1", "x"}, "--timeout must be positive"},
		{"bad mode", []string{"--mode", "lines", "tcp://127.0.0.1", "x"}, `invalid argument "lines" for "--mode"`},
		{"unknown flag", []string{"--verbose", "tcp://127.0.0.1", "x"}, "unknown flag: --verbose"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got, err := parseArgs(t, append([]string{"send"}, tc.args...)...)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("send %q: error %v (%T); want a *usageError", tc.args, err, err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("send %q: error %q; want it to contain %q", tc.args, err, tc.wantErr)
			}
			if got != nil {
				t.Errorf("send %q: runF called after a usage error", tc.args)
			}
		})
	}
}

// runMain runs Main with args and stdin and returns its exit code and output.
func runMain(t testing.TB, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestMainUsageExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr []string
	}{
		{"unknown flag", []string{"--frobnicate"}, []string{"inetkit: unknown flag: --frobnicate", "Run 'inetkit --help' for usage."}},
		{"unknown command", []string{"frobnicate"}, []string{`inetkit: unknown command "frobnicate" for "inetkit"`, "Run 'inetkit --help' for usage."}},
		{"send arg count", []string{"send", "tcp://127.0.0.1"}, []string{"inetkit: send takes a URL and a MESSAGE", "Run 'inetkit send --help' for usage."}},
		{"send bad URL", []string{"send", "ftp://127.0.0.1", "x"}, []string{"inetkit: send does not speak ftp://", "Run 'inetkit send --help' for usage."}},
		{"send unknown flag", []string{"send", "--nope", "tcp://127.0.0.1", "x"}, []string{"unknown flag: --nope", "Run 'inetkit send --help' for usage."}},
		{"serve bad service", []string{"serve", "news"}, []string{`inetkit: unknown service "news" (want tcp, udp, smtp, pop3, imap, ftp, http, gopher, nntp, telnet, web)`, "Run 'inetkit serve --help' for usage."}},
		{"serve bad mode", []string{"serve", "--mode", "x"}, []string{`invalid argument "x" for "--mode"`}},
		{"serve bad log format", []string{"serve", "--log-format", "yaml"}, []string{"--log-format must be text or json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, "", tc.args...)
			if code != exitUsage {
				t.Errorf("Main(%q) = %d; want %d (usage)", tc.args, code, exitUsage)
			}
			if stdout != "" {
				t.Errorf("Main(%q) stdout = %q; want nothing", tc.args, stdout)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("Main(%q) stderr = %q; want it to contain %q", tc.args, stderr, w)
				}
			}
			if n := strings.Count(stderr, "\n"); n != 2 {
				t.Errorf("Main(%q) stderr has %d lines; want 2 (the error and the hint): %q", tc.args, n, stderr)
			}
		})
	}
}

func TestMainHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {}, {"help"}, {"serve", "--help"}, {"send", "-h"}} {
		code, stdout, stderr := runMain(t, "", args...)
		if code != exitOK {
			t.Errorf("Main(%q) = %d; want 0", args, code)
		}
		if !strings.Contains(stdout, "Usage:") {
			t.Errorf("Main(%q) stdout = %q; want a usage text", args, stdout)
		}
		if stderr != "" {
			t.Errorf("Main(%q) stderr = %q; want nothing", args, stderr)
		}
	}
}

// freePort returns a port on 127.0.0.1 that nothing listens on for network
// ("tcp" or "udp"), by binding it and closing it again.
func freePort(t testing.TB, network string) int {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// checkOneLineError checks the output of a failed Main: exit code 1, nothing
// on stdout, and one line on stderr naming the URL and containing want.
func checkOneLineError(t *testing.T, args []string, code int, stdout, stderr, url, want string) {
	t.Helper()
	if code != exitError {
		t.Errorf("Main(%q) = %d; want %d", args, code, exitError)
	}
	if stdout != "" {
		t.Errorf("Main(%q) stdout = %q; want nothing", args, stdout)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("Main(%q) stderr = %q; want exactly one line", args, stderr)
	}
	if !strings.HasPrefix(stderr, "inetkit: send "+url+": ") || !strings.Contains(stderr, want) {
		t.Errorf("Main(%q) stderr = %q; want \"inetkit: send %s: …%s…\"", args, stderr, url, want)
	}
}

func TestMainSendRefused(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			url := fmt.Sprintf("%s://127.0.0.1:%d", network, freePort(t, network))
			args := []string{"send", url, "hello"}
			code, stdout, stderr := runMain(t, "", args...)
			checkOneLineError(t, args, code, stdout, stderr, url, "connection refused")
		})
	}
}

func TestMainSendTimeout(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close() // bound, never read: the datagram waits in its queue
	url := "udp://" + pc.LocalAddr().String()
	args := []string{"send", "--timeout", "300ms", url, "hello"}
	start := time.Now()
	code, stdout, stderr := runMain(t, "", args...)
	elapsed := time.Since(start)
	checkOneLineError(t, args, code, stdout, stderr, url, "timed out after 300ms")
	if elapsed < 300*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("Main(%q) took %v; want about 300ms", args, elapsed)
	}
}

func TestMainSendNoSocket(t *testing.T) {
	url := "unix://" + filepath.Join(t.TempDir(), "nothing.sock")
	args := []string{"send", url, "hello"}
	code, stdout, stderr := runMain(t, "", args...)
	checkOneLineError(t, args, code, stdout, stderr, url, "no such socket")
}

func TestMainSendUnix(t *testing.T) {
	srv := uppertest.NewUnstartedServer(nil)
	srv.Config.Network = "unix"
	srv.Start()
	defer srv.Close()
	path := srv.Addr
	code, stdout, stderr := runMain(t, "", "send", "unix://"+path, "straße")
	if code != exitOK || stdout != "STRASSE\n" || stderr != "" {
		t.Errorf("send unix://%s straße = %d, stdout %q, stderr %q; want 0, \"STRASSE\\n\", \"\"", path, code, stdout, stderr)
	}
}

func TestMainSendUnixgram(t *testing.T) {
	srv := uppertest.NewUnstartedPacketServer(nil)
	srv.Config.Network = "unixgram"
	srv.Start()
	defer srv.Close()
	args := []string{"send", "--timeout", "2s", "unixgram://" + srv.Addr, "straße"}
	code, stdout, stderr := runMain(t, "", args...)
	if code != exitOK || stdout != "STRASSE\n" || stderr != "" {
		t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 0, \"STRASSE\\n\", \"\"", args, code, stdout, stderr)
	}
}

func TestMainSendRaw(t *testing.T) {
	srv := uppertest.NewServer(nil)
	defer srv.Close()
	addr := srv.Addr
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"send", "tcp://" + addr, "hello"}, "HELLO\n"},
		{[]string{"send", "--raw", "tcp://" + addr, "hello"}, "HELLO"},
		{[]string{"send", "tcp://" + addr, "hello\n"}, "HELLO\n"},
		{[]string{"send", "tcp://" + addr, ""}, "\n"},
		{[]string{"send", "--raw", "tcp://" + addr, ""}, ""},
	}
	for _, tc := range tests {
		code, stdout, stderr := runMain(t, "", tc.args...)
		if code != exitOK || stdout != tc.want || stderr != "" {
			t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 0, %q, \"\"", tc.args, code, stdout, stderr, tc.want)
		}
	}
}
