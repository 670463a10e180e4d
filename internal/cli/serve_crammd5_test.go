package cli

import (
	"bytes"
	"context"
	netsmtp "net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
)

// serveWithAccount runs serve smtp over a store in which alice@example.org
// has the password pw, and returns the SMTP address.
func serveWithAccount(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	if code, _, stderr := runMain(t, "pw\n", "user", "add", "--data", data, "alice@example.org"); code != exitOK {
		t.Fatalf("user add: %s", stderr)
	}
	srv := startMain(t, []string{"smtp"}, "serve", "smtp", "--smtp-addr", "127.0.0.1:0", "--data", data)
	return srv.addrs["smtp"]
}

// smtpHello dials addr with net/smtp and says EHLO.
func smtpHello(t *testing.T, addr string) *netsmtp.Client {
	t.Helper()
	cl, err := netsmtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	if err := cl.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	return cl
}

// On loopback, with no address that has a password, SMTP offers AUTH
// CRAM-MD5 and takes any digest, as it takes any password (Go's net/smtp
// as the client). Once an address has a password, CRAM-MD5, which cannot
// check a bcrypt hash, is neither offered nor taken, and PLAIN works.
func TestServeMail_cramMD5(t *testing.T) {
	srv, _ := mailServe(t)
	cl := smtpHello(t, srv.addrs["smtp"])
	if _, mechs := cl.Extension("AUTH"); mechs != "PLAIN LOGIN CRAM-MD5" {
		t.Errorf("AUTH mechanisms %q; want PLAIN LOGIN CRAM-MD5", mechs)
	}
	if err := cl.Auth(netsmtp.CRAMMD5Auth("bob@example.org", "anything")); err != nil {
		t.Errorf("AUTH CRAM-MD5 as bob, no password: %v", err)
	}

	addr := serveWithAccount(t)
	cl = smtpHello(t, addr)
	if _, mechs := cl.Extension("AUTH"); mechs != "PLAIN LOGIN" {
		t.Errorf("with an account, AUTH mechanisms %q; want PLAIN LOGIN", mechs)
	}
	if err := cl.Auth(netsmtp.CRAMMD5Auth("bob@example.org", "anything")); err == nil || !strings.HasPrefix(err.Error(), "504 ") {
		t.Errorf("with an account, AUTH CRAM-MD5 = %v; want 504", err)
	}
	cl = smtpHello(t, addr)
	if err := cl.Auth(netsmtp.PlainAuth("", "alice@example.org", "pw", "127.0.0.1")); err != nil {
		t.Errorf("with an account, AUTH PLAIN as alice: %v", err)
	}
}

// runPeer runs a peer program and returns its combined output and exit
// code.
func runPeer(t *testing.T, path string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Run()
	return out.String(), cmd.ProcessState.ExitCode()
}

// swaks asks for CRAM-MD5 by name, and curl prefers it to PLAIN when it is
// offered, without falling back: both log in and send on loopback, and
// curl still logs in an account, with PLAIN, once CRAM-MD5 is not offered.
func TestServeMail_cramMD5Peers(t *testing.T) {
	srv, _ := mailServe(t)
	swaks := peers.Need(t, "swaks")
	out, code := runPeer(t, swaks, "--server", srv.addrs["smtp"], "--from", "a@example.org", "--to", "bob@example.org",
		"--auth", "CRAM-MD5", "--auth-user", "bob@example.org", "--auth-password", "anything")
	if code != 0 || !strings.Contains(out, "<-  235 2.0.0") || !strings.Contains(out, "<-  250 2.0.0 OK: queued") {
		t.Errorf("swaks --auth CRAM-MD5: exit %d:\n%s", code, out)
	}

	curl := peers.Need(t, "curl")
	msg := filepath.Join(t.TempDir(), "m.eml")
	if err := os.WriteFile(msg, []byte("Subject: curl\r\n\r\nhello\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	send := func(addr, user string) (string, int) {
		return runPeer(t, curl, "-sSv", "--max-time", "20", "smtp://"+addr, "-u", user,
			"--mail-from", "a@example.org", "--mail-rcpt", "bob@example.org", "--upload-file", msg)
	}
	out, code = send(srv.addrs["smtp"], "bob@example.org:anything")
	if code != 0 || !strings.Contains(out, "> AUTH CRAM-MD5") {
		t.Errorf("curl -u bob: exit %d, want 0 after AUTH CRAM-MD5:\n%s", code, out)
	}
	out, code = send(serveWithAccount(t), "alice@example.org:pw")
	if code != 0 || strings.Contains(out, "CRAM-MD5") {
		t.Errorf("curl -u alice with an account: exit %d, want 0 without CRAM-MD5:\n%s", code, out)
	}
}
