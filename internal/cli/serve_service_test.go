package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/sockserver"
)

// newFakeService returns a service defined here rather than in the
// package, to show that adding one takes a value of type service and
// nothing else: it greets each client with --fake-greeting and closes the
// connection. With --fake-stuck its shutdown blocks until release is
// closed, as a server's Close does on a connection that does not end.
func newFakeService(release <-chan struct{}) service {
	return service{name: "fake", newConfig: func(f *serveFlags) serviceConfig {
		c := &fakeConfig{release: release}
		f.StringVar(&c.addr, "fake-addr", "127.0.0.1:0", "HOST:PORT of the fake service")
		f.StringVar(&c.greeting, "fake-greeting", "hello", "what the fake service says to each client")
		f.BoolVar(&c.stuck, "fake-stuck", false, "make the fake service's Shutdown and Close block")
		return c
	}}
}

type fakeConfig struct {
	addr, greeting string
	stuck          bool
	release        <-chan struct{}
}

var _ serviceConfig = (*fakeConfig)(nil)

func (c *fakeConfig) validate() error {
	if c.greeting == "" {
		return usagef("--fake-greeting must not be empty")
	}
	return validAddr("fake-addr", c.addr)
}

func (c *fakeConfig) start(ctx context.Context, _ *serveEnv, log *slog.Logger) (runner, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", c.addr)
	if err != nil {
		return runner{}, fmt.Errorf("fake: %w", err)
	}
	log.Info("waiting for clients", "addr", l.Addr().String())
	return runner{
		name: "fake",
		serve: func() error {
			for {
				conn, err := l.Accept()
				if errors.Is(err, net.ErrClosed) {
					return sockserver.ErrServerClosed
				}
				if err != nil {
					return err
				}
				io.WriteString(conn, c.greeting+"\n")
				conn.Close()
			}
		},
		shutdown: func(context.Context) error {
			if c.stuck {
				<-c.release
			}
			return l.Close()
		},
	}, nil
}

// fakeEnv returns an env whose serve command knows the fake service besides
// the package's. The fake's shutdown is released when the test ends.
func fakeEnv(t *testing.T) *env {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return &env{services: append(slices.Clone(services), newFakeService(release))}
}

// greeting dials addr and returns what the server sends before it closes.
func greeting(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading from %s: %v", addr, err)
	}
	return string(b)
}

// A service added to the list runs through the normal command path: its
// name is accepted, its flags are parsed and validated, it starts, serves
// and stops with the others.
func TestServe_addedService(t *testing.T) {
	e := fakeEnv(t)
	srv := startMainEnv(t, e, []string{"tcp", "fake"}, "serve", "tcp", "fake", "--addr", "127.0.0.1:0", "--fake-greeting", "hi there")
	if got := greeting(t, srv.addrs["fake"]); got != "hi there\n" {
		t.Errorf("the fake service said %q; want %q", got, "hi there\n")
	}
	code, stdout, _ := runMain(t, "", "send", "tcp://"+srv.addrs["tcp"], "hello")
	if code != exitOK || stdout != "HELLO\n" {
		t.Errorf("send to tcp beside fake = %d, %q; want 0, \"HELLO\\n\"", code, stdout)
	}
	if code := srv.stop(t); code != exitOK {
		t.Errorf("serve exited %d; want 0; log:\n%s", code, srv.stderr)
	}
	if log := srv.stderr.String(); !strings.HasSuffix(log, "msg=stopped\n") {
		t.Errorf("log does not end with \"stopped\":\n%s", log)
	}
	if c, err := net.Dial("tcp", srv.addrs["fake"]); err == nil {
		c.Close()
		t.Errorf("the fake service still accepts connections after serve returned")
	}
}

func TestServe_addedServiceHelpAndUsage(t *testing.T) {
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		e := fakeEnv(t)
		e.stdin, e.stdout, e.stderr = strings.NewReader(""), &out, &errOut
		code := e.main(context.Background(), args)
		return code, out.String(), errOut.String()
	}
	code, stdout, _ := run("serve", "--help")
	for _, want := range []string{
		"Run the named servers, or all of them: tcp, udp, smtp, pop3, imap, ftp, http, gopher, nntp, telnet, web, fake.",
		`--fake-greeting string`, `what the fake service says to each client (default "hello")`,
		"--smtp-addr string", "--addr string",
	} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("serve --help = %d, without %q:\n%s", code, want, stdout)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "fake", "--fake-greeting", ""}, "inetkit: --fake-greeting must not be empty"},
		{[]string{"serve", "fake", "--fake-addr", "nowhere"}, `inetkit: --fake-addr "nowhere": want HOST:PORT`},
		{[]string{"serve", "fakes"}, `inetkit: unknown service "fakes" (want tcp, udp, smtp, pop3, imap, ftp, http, gopher, nntp, telnet, web, fake)`},
	} {
		if code, _, stderr := run(tc.args...); code != exitUsage || !strings.HasPrefix(stderr, tc.want+"\n") {
			t.Errorf("Main(%q) = %d, stderr %q; want %d, %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
	// The package's own command does not know the fake.
	if code, _, stderr := runMain(t, "", "serve", "fake"); code != exitUsage || !strings.Contains(stderr, `unknown service "fake"`) {
		t.Errorf("Main(serve fake) = %d, %q; want %d, unknown service", code, stderr, exitUsage)
	}
}

// A service whose Shutdown and Close never return (a connection stuck in a
// write that nothing unblocks) does not keep serve from exiting: it exits
// the stop bound after the drain, names the service, and exits 1, while the
// services that could stop have stopped.
func TestServe_stuckServiceBounded(t *testing.T) {
	const drain, bound = 300 * time.Millisecond, time.Second
	e := fakeEnv(t)
	e.stopBound = bound
	srv := startMainEnv(t, e, []string{"tcp", "fake"}, "serve", "tcp", "fake", "--fake-stuck", "--addr", "127.0.0.1:0", "--drain", drain.String())
	if got := greeting(t, srv.addrs["fake"]); got != "hello\n" {
		t.Errorf("the fake service said %q; want \"hello\\n\"", got)
	}
	start := time.Now()
	code := srv.stop(t)
	took := time.Since(start)
	log := srv.stderr.String()
	if code != exitError {
		t.Errorf("serve exited %d with a service that did not stop; want %d; log:\n%s", code, exitError, log)
	}
	if took < drain+bound || took > drain+bound+2*time.Second {
		t.Errorf("serve returned %v after its context was cancelled; want just after drain+bound, %v", took, drain+bound)
	}
	if !strings.Contains(log, `level=ERROR msg="service did not stop; exiting without it" service=fake drain=300ms bound=1s`) {
		t.Errorf("log does not name the service that did not stop:\n%s", log)
	}
	if strings.Contains(log, "service=tcp drain=") {
		t.Errorf("log names tcp, which stopped, as not stopping:\n%s", log)
	}
	if !strings.HasSuffix(log, "inetkit: fake did not stop 1s after the drain; exiting with its connections open\n") {
		t.Errorf("stderr does not end with the error naming fake:\n%s", log)
	}
	if c, err := net.Dial("tcp", srv.addrs["tcp"]); err == nil {
		c.Close()
		t.Errorf("tcp still accepts connections after serve returned")
	}
}
