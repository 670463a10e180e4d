package cli

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// idleRun is `inetkit imap idle` run by Main in a goroutine of the test.
type idleRun struct {
	stdout, stderr *syncBuffer
	done           chan struct{}
	code           int // Main's result, once done is closed
}

// startIdle runs `inetkit imap idle --tls none ARGS...` with stdout w (a
// new syncBuffer if nil). The test's cleanup interrupts it if it still runs.
func startIdle(t *testing.T, w io.Writer, args ...string) *idleRun {
	t.Helper()
	r := &idleRun{stdout: newSyncBuffer(), stderr: newSyncBuffer(), done: make(chan struct{})}
	if w == nil {
		w = r.stdout
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(r.done)
		r.code = Main(ctx, append([]string{"imap", "idle", "--tls", "none"}, args...), strings.NewReader(""), w, r.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// wait waits for Main to return, failing the test if it has not within a
// bound far above what it needs.
func (r *idleRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(30 * time.Second):
		t.Fatalf("imap idle still running after 30s; stdout %q, stderr %q", r.stdout, r.stderr)
		return 0
	}
}

// watching waits for the line that says messages sent from now on are seen.
func (r *idleRun) watching(t *testing.T) {
	t.Helper()
	r.stderr.waitFor(t, r.done, 20*time.Second, "imap idle's watching line", func(s string) bool {
		return strings.Contains(s, "watching INBOX")
	})
}

func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// Mail sent while idle waits: it prints the matches, and exits 0 after
// --count of them.
func TestIMAPIdle_countAndMatch(t *testing.T) {
	srv, _ := mailServe(t)
	a := srv.addrs
	r := startIdle(t, nil, userURL("imap", "alice@example.org", "pw", a["imap"], "/INBOX"),
		"--count", "2", "--subject", "code", "--from", "DAVE")
	r.watching(t)
	if s := r.stderr.String(); !strings.Contains(s, "watching INBOX for 2 more message(s)") {
		t.Errorf("stderr %q; want how many messages it waits for", s)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, m := range []struct{ from, subject string }{
			{"dave@example.org", "noise"},
			{"bob@example.org", "code from bob"},
			{"dave@example.org", "Your code 1"},
			{"dave@example.org", "Your CODE 2"},
			{"dave@example.org", "code 3"},
		} {
			sendTestMail(t, a["smtp"], m.from, "alice@example.org", m.subject)
		}
	}()
	code := r.wait(t)
	wg.Wait()
	if code != exitOK {
		t.Fatalf("imap idle --count 2 = %d, stderr %q", code, r.stderr)
	}
	got := lines(r.stdout.String())
	if len(got) != 2 || !strings.HasSuffix(got[0], "dave@example.org  Your code 1") || !strings.HasSuffix(got[1], "dave@example.org  Your CODE 2") {
		t.Errorf("imap idle printed %q; want the two matches, as lines of the listing", got)
	}
}

// --existing counts what is there: with enough, it never waits.
func TestIMAPIdle_existing(t *testing.T) {
	srv, _ := mailServe(t)
	a := srv.addrs
	inbox := userURL("imap", "alice@example.org", "pw", a["imap"], "/INBOX")
	sendTestMail(t, a["smtp"], "bob@example.org", "alice@example.org", "first")
	sendTestMail(t, a["smtp"], "bob@example.org", "alice@example.org", "second")

	r := startIdle(t, nil, inbox, "--existing", "--count", "1", "--subject", "second")
	if code := r.wait(t); code != exitOK || !strings.HasSuffix(r.stdout.String(), "second\n") || r.stderr.String() != "" {
		t.Errorf("--existing --count 1 with a match there = %d, %q, %q; want it printed at once", code, r.stdout, r.stderr)
	}

	r = startIdle(t, nil, inbox, "--existing", "--count", "3")
	r.watching(t)
	if got := lines(r.stdout.String()); len(got) != 2 || !strings.Contains(r.stderr.String(), "for 1 more message(s)") {
		t.Errorf("--existing --count 3 with two there: printed %q, said %q", got, r.stderr)
	}
	sendTestMail(t, a["smtp"], "bob@example.org", "alice@example.org", "third")
	if code := r.wait(t); code != exitOK || len(lines(r.stdout.String())) != 3 {
		t.Errorf("--existing --count 3 = %d, %q", code, r.stdout)
	}

	// Without --existing, what is there does not count.
	r = startIdle(t, nil, inbox, "--count", "1", "--timeout", "300ms")
	if code := r.wait(t); code != exitError || r.stdout.String() != "" {
		t.Errorf("--count 1 without --existing, nothing new = %d, %q", code, r.stdout)
	}
}

func TestIMAPIdle_timeout(t *testing.T) {
	srv, _ := mailServe(t)
	inbox := userURL("imap", "alice@example.org", "pw", srv.addrs["imap"], "/INBOX")
	// The timeout leaves time to start watching, which a loaded machine
	// may still not have done: then it says so.
	prefix := "inetkit: imap idle imap://alice%40example.org:xxxxx@" + srv.addrs["imap"] + "/INBOX: timed out after 2s"
	for _, tc := range []struct {
		args []string
		want string // once watching
	}{
		{[]string{"--count", "1"}, ": 0 of 1 message(s) arrived\n"},
		{nil, ": 0 message(s) arrived\n"}, // without --count, the same end
	} {
		r := startIdle(t, nil, append([]string{inbox, "--timeout", "2s"}, tc.args...)...)
		code := r.wait(t)
		want := prefix + tc.want
		if !strings.Contains(r.stderr.String(), "watching") {
			want = prefix + " before watching INBOX (connecting, logging in or selecting it)\n"
		}
		if code != exitError || !strings.HasSuffix(r.stderr.String(), want) {
			t.Errorf("imap idle --timeout %q with no mail = %d, %q; want exit 1 and %q", tc.args, code, r.stderr, want)
		}
	}
}

// --timeout bounds the connection too: a server that never greets.
func TestIMAPIdle_timeoutConnecting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, silent
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	inbox := userURL("imap", "alice@example.org", "pw", l.Addr().String(), "/INBOX")
	for _, tls := range []string{"none", "auto"} {
		r := startIdle(t, nil, inbox, "--tls", tls, "--count", "1", "--timeout", "300ms")
		if code := r.wait(t); code != exitError || !strings.Contains(r.stderr.String(), "timed out after 300ms before watching INBOX") {
			t.Errorf("--tls %s: imap idle to a silent server = %d, %q", tls, code, r.stderr)
		}
	}
}

func TestIMAPIdle_json(t *testing.T) {
	srv, _ := mailServe(t)
	a := srv.addrs
	sendTestMail(t, a["smtp"], "bob@example.org", "alice@example.org", "there")
	r := startIdle(t, nil, userURL("imap", "alice@example.org", "pw", a["imap"], "/INBOX"), "--json", "--existing", "--count", "2")
	r.watching(t)
	sendTestMail(t, a["smtp"], "carol@example.net", "alice@example.org", "new")
	if code := r.wait(t); code != exitOK {
		t.Fatalf("imap idle --json = %d, %q", code, r.stderr)
	}
	got := lines(r.stdout.String())
	if len(got) != 2 {
		t.Fatalf("imap idle --json printed %q; want two lines", got)
	}
	for i, want := range []struct{ from, subject string }{{"bob@example.org", "there"}, {"carol@example.net", "new"}} {
		var m map[string]any
		if err := json.Unmarshal([]byte(got[i]), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %q", i, err, got[i])
		}
		if !cmp.Equal(keysOf(m), imapMessageKeys) || m["from"] != want.from || m["subject"] != want.subject {
			t.Errorf("line %d = %v; want the keys of get --json and %+v", i, m, want)
		}
	}
}

// brokenPipe is a stdout whose reader has gone.
type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

// A write to a closed stdout ends imap idle, quietly.
func TestIMAPIdle_brokenPipe(t *testing.T) {
	srv, _ := mailServe(t)
	a := srv.addrs
	r := startIdle(t, brokenPipe{}, userURL("imap", "alice@example.org", "pw", a["imap"], "/INBOX"))
	r.watching(t)
	sendTestMail(t, a["smtp"], "bob@example.org", "alice@example.org", "into the void")
	if code := r.wait(t); code != exitOK || r.stderr.String() != "watching INBOX; interrupt to stop\n" {
		t.Errorf("imap idle writing to a broken pipe = %d, stderr %q; want exit 0 and nothing more said", code, r.stderr)
	}
}
