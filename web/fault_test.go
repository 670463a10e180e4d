package web_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/web"
)

// faultServer serves "hello, world\n" at every path with the fault rules.
func faultServer(t *testing.T, rules ...string) (string, *web.Server) {
	t.Helper()
	s := &web.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "13")
			io.WriteString(w, "hello, world\n")
		}),
		Faults: fault.MustParseSet(1, rules...),
		Limits: web.Limits{IdleTimeout: 500 * time.Millisecond},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(l); close(done) }()
	t.Cleanup(func() { s.Close(); <-done })
	return "http://" + l.Addr().String(), s
}

// curl runs curl with args and returns its exit code and output.
func curl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	bin := peers.Need(t, "curl")
	var stderr strings.Builder
	cmd := exec.Command(bin, append([]string{"-sS", "--max-time", "5"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out) + stderr.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestServer_faultsCurl: curl sees each kind of fault as its exit code
// says, and a path no rule names is served.
func TestServer_faultsCurl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule string
		code int // curl's exit code for -f
	}{
		{`http /api/ reply="503 Service Unavailable"`, 22},
		{`http /api/ disk-full`, 22},
		{`http /api/ reset`, 56},   // recv failure
		{`http /api/ close`, 52},   // empty reply
		{`http connect reset`, 56}, // or 7 on a fast loopback: see below
		{`http /api/ truncate=5`, 18},
		{`http /api/ hang`, 52},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			url, s := faultServer(t, tc.rule)
			code, out := curl(t, "-f", url+"/api/x")
			if code != tc.code && !(strings.Contains(tc.rule, "connect reset") && code == 7) {
				t.Errorf("curl = exit %d (%s); want %d", code, out, tc.code)
			}
			if !strings.Contains(tc.rule, "connect") {
				if code, out := curl(t, "-f", url+"/other"); code != 0 || out != "hello, world\n" {
					t.Errorf("curl /other = exit %d, %q; want the page: no rule names it", code, out)
				}
			}
			if st := s.Stats(); st.Errors != 0 {
				t.Errorf("Stats().Errors = %d; want faults not counted", st.Errors)
			}
		})
	}
}

// TestServer_faultRetry: curl --retry gets past a 503 given once.
func TestServer_faultRetry(t *testing.T) {
	t.Parallel()
	url, _ := faultServer(t, `http / reply="503 Service Unavailable" first=2`)
	code, out := curl(t, "-f", "--retry", "3", "--retry-delay", "0", url+"/")
	if code != 0 || out != "hello, world\n" {
		t.Errorf("curl --retry = exit %d, %q; want the page after two 503s", code, out)
	}
}

func TestServer_faultDelayAndTrickle(t *testing.T) {
	t.Parallel()
	url, _ := faultServer(t, `http /slow reply="503 Service Unavailable" delay=300ms`, `http /trickle trickle=40`)
	start := time.Now()
	resp, err := http.Get(url + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || time.Since(start) < 300*time.Millisecond {
		t.Errorf("GET /slow = %d, Retry-After %q after %v; want 503 after 300ms", resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start))
	}
	start = time.Now()
	resp, err = http.Get(url + "/trickle")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	// 13 bytes at 40 B/s: 4 bytes every 100ms.
	if err != nil || string(body) != "hello, world\n" || time.Since(start) < 250*time.Millisecond {
		t.Errorf("GET /trickle = %q, %v after %v; want the page, trickled", body, err, time.Since(start))
	}
	if got := strconv.Itoa(resp.StatusCode); got != "200" {
		t.Errorf("status %s", got)
	}
}
