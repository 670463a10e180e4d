package pop3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/pop3/pop3test"
)

// twoUsers is a Backend with the maildrops of alice and bob, each holding
// msg1 and msg2.
type twoUsers map[string]*pop3test.Maildrop

func (b twoUsers) Login(ctx context.Context, user, pass string) (pop3.Session, error) {
	if md, ok := b[user]; ok {
		return md.Login(ctx, user, pass)
	}
	return nil, pop3.ErrAuthFailed
}

func newTwoUsers() twoUsers {
	return twoUsers{
		"alice": pop3test.NewMaildrop("alice", "secret", msg1, msg2),
		"bob":   pop3test.NewMaildrop("bob", "secret", msg1, msg2),
	}
}

// faultServer starts a server over two users with the fault rules.
func faultServer(t *testing.T, rules ...string) (*pop3test.Server, *fault.Set) {
	t.Helper()
	set := fault.MustParseSet(1, rules...)
	s := newServer(t, newTwoUsers(), func(s *pop3.Server) {
		s.Faults = set
		s.IdleTimeout = 500 * time.Millisecond
	})
	return s, set
}

func login(t *testing.T, s *pop3test.Server, user string) *pop3.Client {
	t.Helper()
	c, err := pop3.Dial(context.Background(), s.Addr, &pop3.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, "secret"); err != nil {
		t.Fatalf("Login(%q) = %v", user, err)
	}
	return c
}

func retrieve(c *pop3.Client, n int) (string, error) {
	rc, err := c.Retrieve(n)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return string(b), err
}

// TestServer_faultsReachOnlyTheirTarget: each kind of fault aimed at
// alice's RETR reaches her as described, and bob's RETR, and alice's
// other commands, are served as usual.
func TestServer_faultsReachOnlyTheirTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule  string
		check func(t *testing.T, body string, err error, took time.Duration)
	}{
		{`pop3 RETR user=alice reply="-ERR [SYS/TEMP] try later"`, func(t *testing.T, _ string, err error, _ time.Duration) {
			var e *pop3.Error
			if !errors.As(err, &e) || e.Code != "SYS/TEMP" || e.Message != "try later" {
				t.Errorf("Retrieve = %v; want -ERR [SYS/TEMP] try later", err)
			}
		}},
		{`pop3 RETR user=alice reset`, func(t *testing.T, _ string, err error, _ time.Duration) {
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("Retrieve = %v; want ECONNRESET", err)
			}
		}},
		{`pop3 RETR user=alice close="-ERR [SYS/TEMP] going away"`, func(t *testing.T, _ string, err error, _ time.Duration) {
			var e *pop3.Error
			if !errors.As(err, &e) || e.Message != "going away" {
				t.Errorf("Retrieve = %v; want -ERR going away", err)
			}
		}},
		{`pop3 RETR user=alice close`, func(t *testing.T, _ string, err error, _ time.Duration) {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("Retrieve = %v; want EOF", err)
			}
		}},
		{`pop3 RETR user=alice hang`, func(t *testing.T, _ string, err error, took time.Duration) {
			// The server's idle timeout (500ms) ends the hang before the
			// client's own (5s).
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) || took < 400*time.Millisecond {
				t.Errorf("Retrieve = %v after %v; want EOF after the idle timeout", err, took)
			}
		}},
		{`pop3 RETR user=alice delay=200ms`, func(t *testing.T, body string, err error, took time.Duration) {
			if err != nil || body != msg2 || took < 200*time.Millisecond {
				t.Errorf("Retrieve = %q, %v after %v; want the message after 200ms", body, err, took)
			}
		}},
		{`pop3 RETR user=alice trickle=200`, func(t *testing.T, body string, err error, took time.Duration) {
			// "+OK 42 octets\r\n" and the 42 octets: 60 bytes, 300ms.
			if err != nil || body != msg2 || took < 200*time.Millisecond {
				t.Errorf("Retrieve = %q, %v after %v; want the message, trickled", body, err, took)
			}
		}},
		{`pop3 RETR user=alice truncate=30`, func(t *testing.T, body string, err error, _ time.Duration) {
			if err == nil || len(body) >= len(msg2) {
				t.Errorf("Retrieve = %q, %v; want the message cut short and an error", body, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			s, set := faultServer(t, tc.rule)
			alice := login(t, s, "alice")
			if _, _, err := alice.Stat(); err != nil {
				t.Fatalf("alice: Stat() = %v; a rule on RETR reached STAT", err)
			}
			start := time.Now()
			body, err := retrieve(alice, 2)
			tc.check(t, body, err, time.Since(start))
			bob := login(t, s, "bob")
			if body, err := retrieve(bob, 2); err != nil || body != msg2 {
				t.Errorf("bob: Retrieve(2) = %q, %v; want the message: the rule is alice's", body, err)
			}
			if st := set.Rules()[0]; st.Fired != 1 {
				t.Errorf("rule fired %d times; want 1", st.Fired)
			}
			if st := s.Config.Stats(); st.Errors != 0 {
				t.Errorf("Stats().Errors = %d; want faults not counted as errors", st.Errors)
			}
		})
	}
}

func TestServer_faultGreetingAndLogin(t *testing.T) {
	t.Parallel()
	s, _ := faultServer(t,
		`pop3 connect reply="-ERR [SYS/TEMP] not now" first=1`,
		`pop3 login user=bob reply="-ERR [IN-USE] maildrop locked"`,
	)
	_, err := pop3.Dial(context.Background(), s.Addr, nil)
	if err == nil || !strings.Contains(err.Error(), "not now") {
		t.Errorf("first Dial = %v; want the greeting refused", err)
	}
	c, err := pop3.Dial(context.Background(), s.Addr, nil)
	if err != nil {
		t.Fatalf("second Dial = %v; want the greeting (first=1)", err)
	}
	defer c.Close()
	var e *pop3.Error
	if err := c.Login("bob", "secret"); !errors.As(err, &e) || e.Code != "IN-USE" {
		t.Errorf("Login(bob) = %v; want -ERR [IN-USE]", err)
	}
	// The refused login left the session where it was: alice may log in.
	if err := c.Login("alice", "secret"); err != nil {
		t.Errorf("Login(alice) after the refused login = %v", err)
	}
}

// TestServer_faultReplay: with the same seed, the same sessions meet the
// same faults.
func TestServer_faultReplay(t *testing.T) {
	t.Parallel()
	run := func() []int {
		s, _ := faultServer(t, `pop3 STAT reply="-ERR [SYS/TEMP] busy" prob=0.5`)
		var failed []int
		for i := range 16 {
			c := login(t, s, "alice")
			if _, _, err := c.Stat(); err != nil {
				failed = append(failed, i)
			}
			c.Quit()
		}
		return failed
	}
	a, b := run(), run()
	if !slices.Equal(a, b) {
		t.Errorf("seed 1 failed STAT in sessions %v, then %v; want the same", a, b)
	}
	if len(a) == 0 || len(a) == 16 {
		t.Errorf("prob=0.5 failed %d STATs of 16", len(a))
	}
}

const poplibFaultScript = `
import poplib, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    poplib.POP3(host, port, timeout=10)
    print("greeting: accepted")
except poplib.error_proto as e:
    print("greeting:", e)
p = poplib.POP3(host, port, timeout=10)
p.user("alice")
p.pass_("secret")
try:
    p.retr(1)
    print("retr: ok")
except poplib.error_proto as e:
    print("retr:", e)
print("stat:", p.stat())
`

// TestInterop_poplibFaults: Python's poplib raises error_proto for a
// refused greeting and for an -ERR to RETR.
func TestInterop_poplibFaults(t *testing.T) {
	t.Parallel()
	python := peers.Need(t, "python3")
	s, _ := faultServer(t,
		`pop3 connect reply="-ERR [SYS/TEMP] not now" first=1`,
		`pop3 RETR reply="-ERR [SYS/TEMP] try later"`,
	)
	host, port, _ := strings.Cut(s.Addr, ":")
	var stderr bytes.Buffer
	cmd := exec.Command(python, "-c", poplibFaultScript, host, port)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("poplib: %v\n%s", err, stderr.Bytes())
	}
	want := "greeting: b'-ERR [SYS/TEMP] not now'\nretr: b'-ERR [SYS/TEMP] try later'\nstat: (2, 59)\n"
	if string(out) != want {
		t.Errorf("poplib said\n%s\nwant\n%s", out, want)
	}
}
