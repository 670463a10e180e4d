package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/loadgen"
	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/upper"
	"github.com/inetkit/inetkit/upper/uppertest"
)

// parseBenchArgs runs "bench args..." through a root command whose bench
// command has a runF hook, and returns the options the hook received (nil if
// it was not called).
func parseBenchArgs(t *testing.T, args ...string) (*benchOptions, error) {
	t.Helper()
	var got *benchOptions
	var out bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &out}
	root := newRootCmd(e)
	for _, c := range root.Commands() {
		if c.Name() == "bench" {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(newBenchCmd(e, func(_ context.Context, o *benchOptions) error { got = o; return nil }))
	root.SetArgs(append([]string{"bench"}, args...))
	_, err := root.ExecuteContextC(context.Background())
	if e.ran {
		t.Errorf("bench %q: the run function started; the hook should have replaced it", args)
	}
	return got, err
}

func defaultBenchOptions() benchOptions {
	return benchOptions{
		target: "tcp://127.0.0.1:6666", network: "tcp", addr: "127.0.0.1:6666",
		concurrency: 1, size: 64, pipeline: 1, duration: 10 * time.Second,
		timeout: 2 * time.Second, readSize: 1024,
	}
}

func TestBenchArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want func(o *benchOptions)
	}{
		{"defaults", []string{"tcp://127.0.0.1"}, func(*benchOptions) {}},
		{"port", []string{"tcp://127.0.0.1:7100"}, func(o *benchOptions) {
			o.target, o.addr = "tcp://127.0.0.1:7100", "127.0.0.1:7100"
		}},
		{"IPv6 default port", []string{"tcp://[::1]"}, func(o *benchOptions) {
			o.target, o.addr = "tcp://[::1]:6666", "[::1]:6666"
		}},
		{"udp", []string{"-c", "4", "--pipeline", "8", "udp://127.0.0.1:7100"}, func(o *benchOptions) {
			o.target, o.network, o.addr = "udp://127.0.0.1:7100", "udp", "127.0.0.1:7100"
			o.concurrency, o.pipeline = 4, 8
		}},
		{"unix", []string{"--mode", "line", "unix:///run/upper.sock"}, func(o *benchOptions) {
			o.target, o.network, o.addr = "unix:///run/upper.sock", "unix", "/run/upper.sock"
			o.mode = upper.ModeLine
		}},
		{"count alone has no duration", []string{"-n", "1000", "tcp://127.0.0.1"}, func(o *benchOptions) {
			o.count, o.duration = 1000, 0
		}},
		{"count and duration", []string{"--count", "1000", "-d", "3s", "tcp://127.0.0.1"}, func(o *benchOptions) {
			o.count, o.duration = 1000, 3*time.Second
		}},
		{"duration 0 with count", []string{"-n", "5", "--duration", "0", "tcp://127.0.0.1"}, func(o *benchOptions) {
			o.count, o.duration = 5, 0
		}},
		{"every flag", []string{
			"--mode=stream", "--concurrency", "10", "--size", "4096", "--pipeline", "16", "--duration", "5s",
			"--timeout", "500ms", "--read-size", "8192", "--unicode", "--json", "tcp://127.0.0.1",
		}, func(o *benchOptions) {
			o.mode, o.concurrency, o.size, o.pipeline, o.duration = upper.ModeStream, 10, 4096, 16, 5*time.Second
			o.timeout, o.readSize, o.unicode, o.json = 500*time.Millisecond, 8192, true, true
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseBenchArgs(t, tc.args...)
			if err != nil {
				t.Fatalf("bench %q: %v", tc.args, err)
			}
			if got == nil {
				t.Fatalf("bench %q: runF not called", tc.args)
			}
			want := defaultBenchOptions()
			tc.want(&want)
			if *got != want {
				t.Errorf("bench %q options:\n got %+v\nwant %+v", tc.args, *got, want)
			}
		})
	}
}

func TestBenchUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no URL", nil, "bench takes one URL, got 0 arguments"},
		{"two URLs", []string{"tcp://a", "tcp://b"}, "got 2 arguments"},
		{"bad scheme", []string{"http://127.0.0.1"}, "bench does not speak http://"},
		{"unixgram", []string{"unixgram:///tmp/x"}, "bench does not speak unixgram://"},
		{"no scheme", []string{"localhost"}, `URL "localhost" has no scheme`},
		{"no host", []string{"tcp://"}, `URL "tcp://" has no host`},
		{"unix without path", []string{"unix://"}, "has no socket path"},
		{"mode over udp", []string{"--mode", "line", "udp://127.0.0.1"}, "--mode is for tcp:// and unix://"},
		{"pipeline in oneshot", []string{"--pipeline", "4", "tcp://127.0.0.1"}, "--pipeline needs --mode stream or line"},
		{"zero concurrency", []string{"-c", "0", "tcp://127.0.0.1"}, "--concurrency must be between 1 and"},
		{"zero pipeline", []string{"--mode", "line", "--pipeline", "0", "tcp://127.0.0.1"}, "--pipeline must be between 1 and"},
		{"zero size", []string{"--size", "0", "tcp://127.0.0.1"}, "--size must be between 1 and"},
		{"small datagram", []string{"--size", "10", "udp://127.0.0.1"}, "--size must be between 24 and 65507 over UDP"},
		{"zero read size", []string{"--read-size", "0", "tcp://127.0.0.1"}, "--read-size must be between 1 and"},
		{"no stop", []string{"-d", "0", "tcp://127.0.0.1"}, "--duration 0 needs a --count"},
		{"negative count", []string{"-n", "-1", "tcp://127.0.0.1"}, "--count must not be negative"},
		{"negative duration", []string{"-d", "-1s", "tcp://127.0.0.1"}, "--duration must not be negative"},
		{"zero timeout", []string{"--timeout", "0", "tcp://127.0.0.1"}, "--timeout must be positive"},
		{"bad mode", []string{"--mode", "lines", "tcp://127.0.0.1"}, `invalid argument "lines" for "--mode"`},
		{"unknown flag", []string{"--rate", "5", "tcp://127.0.0.1"}, "unknown flag: --rate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseBenchArgs(t, tc.args...)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("bench %q: error %v (%T); want a *usageError", tc.args, err, err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("bench %q: error %q; want it to contain %q", tc.args, err, tc.wantErr)
			}
			if got != nil {
				t.Errorf("bench %q: runF called after a usage error", tc.args)
			}
		})
	}
}

// benchServeTCP serves h, a handler that is not the uppercase service's, on a
// free loopback TCP port until the test ends.
func benchServeTCP(t *testing.T, h sockserver.Handler) string {
	t.Helper()
	srv := &sockserver.Server{Handler: h, Logger: slog.New(slog.DiscardHandler)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String()
}

// benchMain runs Main with args and returns its exit code and output.
func benchMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// benchTextReport matches the text report of a clean run of 200 requests.
var benchTextReport = regexp.MustCompile(`^target      tcp://127\.0\.0\.1:\d+ \(line, 2 connections, 4 in flight, 64-byte messages\)
duration    \d+\.\d\ds
requests    200 ok \(\d+\.\d/s\), 0 errors, 0 wrong, 0 lost
latency     p50 \S+  p90 \S+  p99 \S+  max \S+
$`)

func TestBenchMain_text(t *testing.T) {
	srv := uppertest.NewServer(&upper.Handler{Mode: upper.ModeLine})
	defer srv.Close()
	args := []string{"bench", "--mode", "line", "-c", "2", "--pipeline", "4", "-n", "200", "tcp://" + srv.Addr}
	code, stdout, stderr := benchMain(t, args...)
	if code != exitOK || stderr != "" {
		t.Errorf("Main(%q) = %d, stderr %q; want 0, nothing", args, code, stderr)
	}
	if !benchTextReport.MatchString(stdout) {
		t.Errorf("Main(%q) stdout:\n%s\nwant it to match\n%s", args, stdout, benchTextReport)
	}
}

func TestBenchMain_json(t *testing.T) {
	tests := []struct {
		name     string
		url      func(t *testing.T) string
		args     []string
		wantMode string
	}{
		{"tcp oneshot", func(t *testing.T) string {
			srv := uppertest.NewServer(nil)
			t.Cleanup(srv.Close)
			return "tcp://" + srv.Addr
		}, []string{"-c", "3"}, "oneshot"},
		{"udp", func(t *testing.T) string {
			srv := uppertest.NewPacketServer(nil)
			t.Cleanup(srv.Close)
			return "udp://" + srv.Addr
		}, []string{"-c", "2", "--pipeline", "8", "--unicode"}, "datagram"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url(t)
			args := append(append([]string{"bench", "--json", "-n", "150"}, tc.args...), url)
			code, stdout, stderr := benchMain(t, args...)
			if code != exitOK || stderr != "" {
				t.Errorf("Main(%q) = %d, stderr %q; want 0, nothing", args, code, stderr)
			}
			if strings.Count(stdout, "\n") != 1 {
				t.Errorf("Main(%q) stdout = %q; want one line", args, stdout)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("Main(%q) stdout %q: %v", args, stdout, err)
			}
			for _, k := range []string{"target", "network", "mode", "concurrency", "pipeline", "size", "unicode",
				"elapsed_ns", "requests", "errors", "wrong", "lost", "late", "throughput", "latency_ns", "error_kinds"} {
				if _, ok := got[k]; !ok {
					t.Errorf("JSON report has no %q: %s", k, stdout)
				}
			}
			if got["target"] != url || got["mode"] != tc.wantMode || got["requests"] != 150.0 || got["errors"] != 0.0 || got["wrong"] != 0.0 {
				t.Errorf("JSON report %s; want target %s, mode %s, 150 requests, 0 errors, 0 wrong", stdout, url, tc.wantMode)
			}
			if tp, _ := got["throughput"].(float64); tp <= 0 {
				t.Errorf("JSON throughput = %v; want > 0", got["throughput"])
			}
			lat, _ := got["latency_ns"].(map[string]any)
			for _, k := range []string{"p50", "p90", "p99", "max"} {
				if v, _ := lat[k].(float64); v <= 0 {
					t.Errorf("JSON latency_ns.%s = %v; want > 0 ns", k, lat[k])
				}
			}
			if kinds, ok := got["error_kinds"].(map[string]any); !ok || len(kinds) != 0 {
				t.Errorf("JSON error_kinds = %v; want an empty object", got["error_kinds"])
			}
		})
	}
}

func TestBenchMain_refused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "tcp://" + l.Addr().String()
	l.Close()
	for _, asJSON := range []bool{false, true} {
		args := []string{"bench", "-c", "2", "-d", "300ms", url}
		if asJSON {
			args = append(args, "--json")
		}
		start := time.Now()
		code, stdout, stderr := benchMain(t, args...)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Main(%q) took %v; want about 300ms", args, d)
		}
		if code != exitError {
			t.Errorf("Main(%q) = %d; want %d", args, code, exitError)
		}
		wantErr := regexp.MustCompile(`^inetkit: bench ` + regexp.QuoteMeta(url) + `: [1-9]\d* errors?, 0 wrong replies\n$`)
		if !wantErr.MatchString(stderr) {
			t.Errorf("Main(%q) stderr = %q; want one line matching %s", args, stderr, wantErr)
		}
		if asJSON {
			var got struct {
				Requests   int64            `json:"requests"`
				ErrorKinds map[string]int64 `json:"error_kinds"`
			}
			if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.Requests != 0 || got.ErrorKinds["connection refused"] == 0 {
				t.Errorf("Main(%q) stdout = %q (%v); want 0 requests, connection refused", args, stdout, err)
			}
		} else if !strings.Contains(stdout, "\nerrors      connection refused: ") || !strings.Contains(stdout, "requests    0 ok") {
			t.Errorf("Main(%q) stdout = %q; want 0 ok and an errors line with connection refused", args, stdout)
		}
	}
}

func TestBenchMain_failures(t *testing.T) {
	echo := benchServeTCP(t, sockserver.HandlerFunc(func(_ context.Context, c net.Conn) error {
		buf := make([]byte, 1024)
		n, _ := c.Read(buf)
		_, err := c.Write(buf[:n])
		return err
	}))
	blackHole, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer blackHole.Close()
	tests := []struct {
		name       string
		args       []string
		wantStderr string
		wantStdout string
	}{
		{"wrong replies", []string{"-n", "20", "tcp://" + echo},
			"inetkit: bench tcp://" + echo + ": 0 errors, 20 wrong replies\n", "errors      wrong reply: 20\n"},
		{"all lost", []string{"-n", "3", "--timeout", "100ms", "udp://" + blackHole.LocalAddr().String()},
			"inetkit: bench udp://" + blackHole.LocalAddr().String() + ": no request succeeded (3 lost)\n", "0 ok (0.0/s), 0 errors, 0 wrong, 3 lost\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"bench"}, tc.args...)
			code, stdout, stderr := benchMain(t, args...)
			if code != exitError || stderr != tc.wantStderr || !strings.Contains(stdout, tc.wantStdout) {
				t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want %d, stdout containing %q, stderr %q",
					args, code, stdout, stderr, exitError, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

func TestBenchFmtLatency(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{850, "850ns"},
		{45600, "45.6µs"},
		{123456, "123µs"},
		{1234567, "1.23ms"},
		{12_040_000, "12.0ms"},
		{2_500_000_000, "2.50s"},
	}
	for _, tc := range tests {
		if got := fmtLatency(tc.d); got != tc.want {
			t.Errorf("fmtLatency(%d) = %q; want %q", tc.d, got, tc.want)
		}
	}
}

func TestBenchProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := &progressLine{w: &b}
	p.show(loadgen.Snapshot{Elapsed: time.Second, Requests: 1000, Errors: 1})
	p.show(loadgen.Snapshot{Elapsed: 2 * time.Second, Requests: 3000, Errors: 1, Lost: 2})
	lines := strings.Split(b.String(), "\r")
	if len(lines) != 3 || lines[0] != "" ||
		strings.TrimSpace(lines[1]) != "1.0s  1000 ok (1000/s)  1 error  0 wrong  0 lost" ||
		strings.TrimSpace(lines[2]) != "2.0s  3000 ok (2000/s)  1 error  0 wrong  2 lost" {
		t.Errorf("progress output %q; want two \\r-started lines with the rate of each second", b.String())
	}
	b.Reset()
	p.clear()
	if s := b.String(); !strings.HasPrefix(s, "\r") || !strings.HasSuffix(s, "\r") || strings.TrimSpace(s) != "" {
		t.Errorf("clear wrote %q; want the line blanked", s)
	}
	if isTerminal(&b) {
		t.Error("isTerminal(a buffer) = true")
	}
	var none *progressLine
	none.clear() // no progress shown: nothing to do
}
