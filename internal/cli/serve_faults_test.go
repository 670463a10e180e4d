package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/smtp"
)

// writeFaults writes rules to a file and returns its path.
func writeFaults(t *testing.T, rules string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "faults.txt")
	if err := os.WriteFile(path, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServeFaults_usage(t *testing.T) {
	bad := writeFaults(t, "# ok\nsmtp RCPT reset\nsmtp rcpt reset\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "tcp", "--faults", bad}, "line 3: smtp rcpt: commands are named in upper case (RCPT)"},
		{[]string{"serve", "tcp", "--faults", filepath.Join(t.TempDir(), "none")}, "--faults: open"},
		{[]string{"serve", "tcp", "--fault-seed", "3"}, "--fault-seed needs --faults"},
	}
	for _, tc := range tests {
		code, _, stderr := runMain(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("Main(%q) = %d, stderr %q; want %d and %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}

// sendSMTP sends one message to addr and returns the code of a refusal, 0
// for a delivery.
func sendSMTP(t *testing.T, addr string) int {
	t.Helper()
	_, err := smtp.SendMail(context.Background(), addr, &smtp.ClientOptions{Timeout: 5 * time.Second, TLSPolicy: smtp.TLSPolicyNone},
		"a@client.test", []string{"b@x.test"}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
	var e *smtp.Error
	switch {
	case errors.As(err, &e):
		return e.Code
	case err != nil:
		t.Fatal(err)
	}
	return 0
}

// TestServeFaults_replay: `inetkit serve --faults FILE --fault-seed N`
// refuses the same messages in two runs; the log says which rule fired,
// and the seed.
func TestServeFaults_replay(t *testing.T) {
	file := writeFaults(t, `smtp DATA reply="451 4.3.0 try later" prob=0.5`+"\n")
	run := func() []int {
		srv := startMain(t, []string{"smtp"}, "serve", "smtp", "--smtp-addr", "127.0.0.1:0",
			"--data", t.TempDir(), "--faults", file, "--fault-seed", "7")
		var refused []int
		for i := range 12 {
			switch code := sendSMTP(t, srv.addrs["smtp"]); code {
			case 0:
			case 451:
				refused = append(refused, i)
			default:
				t.Fatalf("message %d: code %d; want 451 or a delivery", i, code)
			}
		}
		log := srv.stderr.String()
		for _, want := range []string{`msg="faults loaded"`, "rules=1 seed=7", `msg="fault injected" rule=1 service=smtp moment=DATA kind=reply`} {
			if !strings.Contains(log, want) {
				t.Errorf("the log lacks %q:\n%s", want, log)
			}
		}
		if code := srv.stop(t); code != exitOK {
			t.Errorf("serve exited %d", code)
		}
		return refused
	}
	a, b := run(), run()
	if !slices.Equal(a, b) {
		t.Errorf("--fault-seed 7 refused messages %v, then %v; want the same", a, b)
	}
	if len(a) == 0 || len(a) == 12 {
		t.Errorf("prob=0.5 refused %d messages of 12", len(a))
	}
}

// TestServeFaults_udp: the udp service drops every second datagram.
func TestServeFaults_udp(t *testing.T) {
	file := writeFaults(t, "udp datagram drop every=2\n")
	srv := startMain(t, []string{"udp"}, "serve", "udp", "--addr", "127.0.0.1:0", "--faults", file)
	var got []int
	for range 4 {
		code, _, _ := runMain(t, "", "send", "--timeout", "300ms", "udp://"+srv.addrs["udp"], "hello")
		got = append(got, code)
	}
	if got[0] != exitOK || got[1] == exitOK || got[2] != exitOK || got[3] == exitOK {
		t.Errorf("send exit codes %v; want 0, failure, 0, failure", got)
	}
}

// TestServeFaults_http: curl, retrying, gets past the 503s of a rule on
// the http service, and a file under a path no rule names is served.
func TestServeFaults_http(t *testing.T) {
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "files", "api"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"api/x.txt", "y.txt"} {
		if err := os.WriteFile(filepath.Join(data, "files", name), []byte("hello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := writeFaults(t, `http /api/ reply="503 Service Unavailable" first=2`+"\n")
	srv := startMain(t, []string{"http"}, "serve", "http", "--http-addr", "127.0.0.1:0", "--data", data, "--faults", file)
	base := "http://" + srv.addrs["http"]
	if out, errOut, code := curl(t, "-sSf", base+"/api/x.txt"); code != 22 {
		t.Errorf("curl -f /api/x.txt = exit %d, %q %s; want 22 (the first 503)", code, out, errOut)
	}
	if out, errOut, code := curl(t, "-sSf", "--retry", "2", base+"/api/x.txt"); code != 0 || out != "hello\n" {
		t.Errorf("curl --retry /api/x.txt = exit %d, %q %s; want the file after one more 503", code, out, errOut)
	}
	if out, errOut, code := curl(t, "-sSf", base+"/y.txt"); code != 0 || out != "hello\n" {
		t.Errorf("curl /y.txt = exit %d, %q %s; want the file", code, out, errOut)
	}
}
