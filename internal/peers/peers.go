// Package peers starts Debian's mail servers (Dovecot for IMAP and POP3,
// Postfix's smtp-sink for SMTP) as real peers for interoperability tests of
// inetkit's clients. Each runs in its own temporary directory on loopback
// ports, and is stopped by the test's cleanup.
//
// When a server is not installed the test is skipped, unless
// INETKIT_REQUIRE_PEERS=1 (as in CI, which installs them), when it fails.
package peers

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"

	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/testcert"
)

// Need skips t when the program is missing, or fails it when peers are
// required.
func Need(t testing.TB, program string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err == nil {
		return path
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, program); isExec(p) {
			return p
		}
	}
	if os.Getenv("INETKIT_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s is not installed (INETKIT_REQUIRE_PEERS=1)", program)
	}
	t.Skipf("%s is not installed", program)
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitListening waits until addr accepts connections, or fails t when cmd
// exits or 20 s pass.
func waitListening(t testing.TB, addr string, exited <-chan struct{}, logFile string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile)
			t.Fatalf("peer exited before listening on %s; log:\n%s", addr, log)
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("peer not listening on %s after 20 s; log:\n%s", addr, log)
		}
	}
}

// start runs cmd until the test ends.
func start(t testing.TB, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	return exited
}

// Dovecot is a running Dovecot with one user, Maildir storage, IMAP and POP3
// on loopback, and STARTTLS with the internal/testcert certificate.
type Dovecot struct {
	IMAPAddr, POP3Addr string
	User, Pass         string
	Dir                string
}

// StartDovecot runs Dovecot until the test ends.
func StartDovecot(t testing.TB) *Dovecot {
	t.Helper()
	bin := Need(t, "dovecot")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	certFile, keyFile, _, err := testcert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := &Dovecot{
		IMAPAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		POP3Addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		User:     "alice@example.org",
		Pass:     "secret",
		Dir:      dir,
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o777)
	// Mail is kept as an unprivileged user; when not root, as ourselves.
	mailUser, mailGroup := "nobody", "nogroup"
	extra := ""
	if os.Getuid() != 0 {
		u, _ := user.Current()
		mailUser, mailGroup = u.Uid, fmt.Sprint(os.Getgid())
		extra = fmt.Sprintf("default_internal_user = %s\ndefault_login_user = %s\n", u.Username, u.Username)
	} else {
		os.Chown(home, 65534, 65534)
	}
	_, imapPort, _ := net.SplitHostPort(d.IMAPAddr)
	_, pop3Port, _ := net.SplitHostPort(d.POP3Addr)
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <%[2]s
ssl_key = <%[3]s
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:%[1]s/home/%%u/Maildir
pop3_uidl_format = %%08Xu%%08Xv
first_valid_uid = 1
%[6]s
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[7]s gid=%[8]s home=%[1]s/home/%%u
}
service imap-login {
  chroot =
  inet_listener imap {
    port = %[4]s
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    port = %[5]s
  }
  inet_listener pop3s {
    port = 0
  }
}
service anvil {
  chroot =
}
`, dir, certFile, keyFile, imapPort, pop3Port, extra, mailUser, mailGroup)
	confFile := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(d.User+":{PLAIN}"+d.Pass+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exited := start(t, exec.Command(bin, "-F", "-c", confFile))
	logFile := filepath.Join(dir, "dovecot.log")
	waitListening(t, d.IMAPAddr, exited, logFile)
	waitListening(t, d.POP3Addr, exited, logFile)
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(logFile)
			t.Logf("dovecot log:\n%s", log)
		}
	})
	return d
}

// SMTPSink is a running Postfix smtp-sink that keeps every message it
// accepts as a file in Dir.
type SMTPSink struct {
	Addr string
	Dir  string
}

// StartSMTPSink runs smtp-sink until the test ends.
func StartSMTPSink(t testing.TB) *SMTPSink {
	t.Helper()
	bin := Need(t, "smtp-sink")
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	s := &SMTPSink{Addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), Dir: filepath.Join(dir, "mail")}
	if err := os.Mkdir(s.Dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(s.Dir, 0o777)
	args := []string{"-d", s.Dir + "/%Y%m%d%H%M%S.", "-h", "sink.example.org"}
	if os.Getuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	args = append(args, s.Addr, "64")
	logFile := filepath.Join(dir, "sink.log")
	lf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lf.Close() })
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	exited := start(t, cmd)
	waitListening(t, s.Addr, exited, logFile)
	return s
}

// Messages returns the contents of the messages the sink has kept, waiting
// up to 10 s for at least n.
func (s *SMTPSink) Messages(ctx context.Context, n int) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 100*time.Millisecond) {
		ents, err := os.ReadDir(s.Dir)
		if err != nil {
			return nil, err
		}
		if len(ents) >= n {
			var out []string
			for _, e := range ents {
				b, err := os.ReadFile(filepath.Join(s.Dir, e.Name()))
				if err != nil {
					return nil, err
				}
				out = append(out, string(b))
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("smtp-sink kept %d messages, want %d: %w", len(ents), n, ctx.Err())
		case <-time.After(delay):
		}
	}
}
