//go:build unix

package cli

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
)

// runShell runs script with sh, inetkit's binary as $INETKIT and url as
// $URL, and returns it running. The test's context bounds it: if the script
// is still running after a minute, its process group is killed and the
// test fails. That bound is far above what the script needs: it says
// "hangs", not "slow".
func runShell(t *testing.T, script, url string) (stdout, stderr *syncBuffer, done <-chan error) {
	t.Helper()
	sh := peers.Need(t, "sh")
	bin := inetkitBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, sh, "-c", script)
	cmd.Env = append(os.Environ(), "INETKIT="+bin, "URL="+url)
	stdout, stderr = newSyncBuffer(), newSyncBuffer()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		waited <- cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	return stdout, stderr, waited
}

// waitShell waits for the script and fails the test if it did not exit 0
// by itself.
func waitShell(t *testing.T, what string, done <-chan error, stdout, stderr *syncBuffer) {
	t.Helper()
	err := <-done
	var ee *exec.ExitError
	if errors.As(err, &ee) && !ee.Exited() || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s hung: killed after a minute; stdout %q, stderr %q", what, stdout, stderr)
	}
	if err != nil {
		t.Fatalf("%s: %v; stdout %q, stderr %q", what, err, stdout, stderr)
	}
}

// From a shell script: "imap idle --count 1 | head -n1" ends when the
// message has come, and so does "imap idle | head -n1" (head's exit closes
// the pipe, and imap idle notices).
func TestIMAPIdle_shell(t *testing.T) {
	srv, _ := mailServe(t)
	a := srv.addrs
	url := userURL("imap", "alice@example.org", "pw", a["imap"], "/INBOX")
	scripts := map[string]string{
		"--count 1 | head -n1": `"$INETKIT" imap idle "$URL" --tls none --count 1 --timeout 50s | head -n1`,
		"--count 1":            `"$INETKIT" imap idle "$URL" --tls none --count 1 --timeout 50s`,
	}
	if runtime.GOOS == "linux" {
		// Where poll(2) reports a pipe's reader gone (POLLERR).
		scripts["| head -n1"] = `"$INETKIT" imap idle "$URL" --tls none | head -n1`
	}
	for name, script := range scripts {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, done := runShell(t, script, url)
			stderr.waitFor(t, nil, 30*time.Second, "the watching line", func(s string) bool { return strings.Contains(s, "watching INBOX") })
			subject := "for " + name
			sendTestMail(t, a["smtp"], "bob@example.org", "alice@example.org", subject)
			waitShell(t, name, done, stdout, stderr)
			if got := stdout.String(); strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "bob@example.org  "+subject+"\n") {
				t.Errorf("%s printed %q; want the one message", name, got)
			}
		})
	}

	// --existing: what is there already, at once.
	stdout, stderr, done := runShell(t, `"$INETKIT" imap idle "$URL" --tls none --existing --count 1 --json | head -n1`, url)
	waitShell(t, "--existing --count 1", done, stdout, stderr)
	if got := stdout.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, `"subject":"for `) {
		t.Errorf("--existing --count 1 --json printed %q; want the first message", got)
	}

	// --timeout: exit status 1 and why (before or after the mailbox is
	// watched: a loaded machine may take that long to start the binary).
	stdout, stderr, done = runShell(t, `"$INETKIT" imap idle "$URL" --tls none --count 1 --timeout 1s; echo "exit $?"`, url)
	waitShell(t, "--timeout", done, stdout, stderr)
	if stdout.String() != "exit 1\n" || !strings.Contains(stderr.String(), "timed out after 1s") {
		t.Errorf("--timeout: stdout %q, stderr %q; want exit 1 and why", stdout, stderr)
	}
}
