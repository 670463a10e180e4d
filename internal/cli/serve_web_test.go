package cli

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The console end to end: mail sent with Python's smtplib reaches a
// waiting `inetkit wait` (which outlives the console's idle timeout), the
// API lists it to `inetkit get --json`, an FTP upload reaches the event
// stream, a wait that finds nothing ends with exit 1 after its timeout, and
// an open event stream does not hold up the shutdown.
func TestServeWeb(t *testing.T) {
	data := t.TempDir()
	srv := startMain(t, []string{"smtp", "ftp", "web"}, "serve", "smtp", "ftp", "web", "--data", data,
		"--smtp-addr", "127.0.0.1:0", "--ftp-addr", "127.0.0.1:0", "--web-addr", "127.0.0.1:0", "--web-idle-timeout", "1s")
	base := "http://" + srv.addrs["web"]

	type result struct {
		code           int
		stdout, stderr string
	}
	waited := make(chan result, 1)
	go func() {
		code, stdout, stderr := runMain(t, "", "wait", "--url", base, "--to", "bob@example.org", "--subject", "hello", "--timeout", "30s")
		waited <- result{code, stdout, stderr}
	}()
	time.Sleep(1500 * time.Millisecond) // past the idle timeout
	script := `import smtplib, sys
with smtplib.SMTP(sys.argv[1], int(sys.argv[2])) as s:
    s.sendmail("alice@example.org", ["bob@example.org"], "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: hello there\r\n\r\nbody text\r\n")
`
	host, port, _ := strings.Cut(srv.addrs["smtp"], ":")
	if stdout, stderr, code := runPython(t, 30*time.Second, "-c", script, host, port); code != 0 {
		t.Fatalf("smtplib: %d %s %s", code, stdout, stderr)
	}
	select {
	case r := <-waited:
		if r.code != exitOK || !strings.Contains(r.stdout, "Subject: hello there\r\n") || !strings.Contains(r.stdout, "body text") {
			t.Errorf("wait = %d, %q, %q; want the message's source", r.code, r.stdout, r.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("wait did not return 20s after the message was sent")
	}

	code, stdout, stderr := runMain(t, "", "get", base+"/api/v1/messages?address=bob@example.org", "--json")
	var page struct {
		Total    int `json:"total"`
		Messages []struct {
			Subject string `json:"subject"`
		} `json:"messages"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &page) != nil || page.Total != 1 || page.Messages[0].Subject != "hello there" {
		t.Errorf("get /api/v1/messages = %d, %q, %q; want the one message", code, stdout, stderr)
	}

	// An upload over FTP, seen on the event stream.
	req, _ := http.NewRequest("GET", base+"/api/v1/events?kinds=upload", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	src := writeTemp(t, "uploaded")
	if code, _, stderr := runMain(t, "", "put", "ftp://alice%40example.org:pw@"+srv.addrs["ftp"]+"/up.txt", src); code != exitOK {
		t.Fatalf("put = %d, %q", code, stderr)
	}
	deadline := time.After(10 * time.Second)
	for found := false; !found; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the event stream ended without the upload")
			}
			found = strings.HasPrefix(l, "data: ") && strings.Contains(l, `"path":"/up.txt"`) && strings.Contains(l, `"size":8`)
		case <-deadline:
			t.Fatal("no upload event 10s after the upload")
		}
	}

	start := time.Now()
	code, _, stderr = runMain(t, "", "wait", "--url", base, "--subject", "never sent", "--timeout", "2s")
	if code != exitError || !strings.Contains(stderr, "nothing matched within 2s") || time.Since(start) < 2*time.Second {
		t.Errorf("wait for nothing = %d, %q after %v; want exit 1 after 2s", code, stderr, time.Since(start))
	}

	// The event stream is still open: the shutdown ends it.
	start = time.Now()
	if code := srv.stop(t); code != exitOK {
		t.Errorf("serve exited %d; log:\n%s", code, srv.stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("serve took %v to stop with an event stream open; want well under the 10s drain", d)
	}
}

// Off loopback the console takes accounts, over HTTPS only, and a user
// sees only their own mail.
func TestServeWeb_offLoopback(t *testing.T) {
	dir := t.TempDir()
	for _, u := range []string{"alice@example.org", "bob@example.org"} {
		if code, _, stderr := runMain(t, "s3cret\n", "user", "add", "--data", dir, u); code != exitOK {
			t.Fatalf("user add: %s", stderr)
		}
	}
	srv := startMain(t, []string{"smtp", "web"}, "serve", "smtp", "web", "--smtp-addr", "127.0.0.1:0",
		"--web-addr", "0.0.0.0:0", "--webs-addr", "0.0.0.0:0", "--data", dir)
	plain := loopbackOf(listenerAddr(t, srv, "web", "none"))
	secure := loopbackOf(listenerAddr(t, srv, "web", "implicit"))
	for _, rcpt := range []string{"alice@example.org", "bob@example.org"} {
		msg := "Subject: for " + rcpt + "\r\n\r\nhi\r\n"
		if code, _, stderr := runMain(t, msg, "send", "--data", dir, "smtp://"+srv.addrs["smtp"], "--from", rcpt, "--to", rcpt, "-"); code != exitOK {
			t.Fatalf("send to %s = %d, %q", rcpt, code, stderr)
		}
	}
	if code, _, stderr := runMain(t, "", "get", "-u", "alice@example.org:s3cret", "http://"+plain+"/api/v1/messages"); code != exitError || !strings.Contains(stderr, "403") {
		t.Errorf("get over plain HTTP off loopback = %d, %q; want a 403", code, stderr)
	}
	if code, _, stderr := runMain(t, "", "get", "--data", dir, "https://"+secure+"/api/v1/messages"); code != exitError || !strings.Contains(stderr, "401") {
		t.Errorf("get without a login = %d, %q; want a 401", code, stderr)
	}
	code, stdout, stderr := runMain(t, "", "get", "--data", dir, "-u", "alice@example.org:s3cret", "https://"+secure+"/api/v1/messages")
	if code != exitOK || !strings.Contains(stdout, "for alice@example.org") || strings.Contains(stdout, "for bob@example.org") {
		t.Errorf("alice's list = %d, %q, %q; want her message only", code, stdout, stderr)
	}
	code, stdout, stderr = runMain(t, "", "wait", "--url", "https://"+secure, "--data", dir, "-u", "bob@example.org:s3cret", "--existing", "--subject", "for", "--timeout", "5s")
	if code != exitOK || !strings.Contains(stdout, "Subject: for bob@example.org") {
		t.Errorf("bob's wait = %d, %q, %q; want his message", code, stdout, stderr)
	}
}
