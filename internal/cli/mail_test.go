package cli

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/lineproto"
)

// mailServices are the services over the mail store.
var mailServices = []string{"smtp", "pop3", "imap"}

// mailServe runs `inetkit serve smtp pop3 imap` in process on free ports
// over a store in a temporary directory, and returns it with its data
// directory.
func mailServe(t *testing.T, extra ...string) (*mainServer, string) {
	t.Helper()
	data := t.TempDir()
	args := append([]string{"serve", "smtp", "pop3", "imap", "--smtp-addr", "127.0.0.1:0", "--pop3-addr", "127.0.0.1:0",
		"--imap-addr", "127.0.0.1:0", "--data", data}, extra...)
	return startMain(t, mailServices, args...), data
}

func userURL(scheme, user, pass, addr, path string) string {
	return (&url.URL{Scheme: scheme, User: url.UserPassword(user, pass), Host: addr, Path: path}).String()
}

// The path, with inetkit on both ends: send over SMTP, list and read
// over POP3 and IMAP, and watch with IDLE; STARTTLS is used by every client
// (the servers offer it), verified against the local CA in --data.
func TestMailClientsAgainstServe(t *testing.T) {
	srv, data := mailServe(t)
	a := srv.addrs
	user := "alice@example.org"

	// A watcher first, so it sees the delivery.
	idleCtx, stopIdle := context.WithCancel(context.Background())
	idleOut, idleErr := newSyncBuffer(), newSyncBuffer()
	idleDone := make(chan struct{})
	var idleCode int
	go func() {
		defer close(idleDone)
		idleCode = Main(idleCtx, []string{"imap", "idle", "--data", data, "--tls", "require", userURL("imap", user, "x", a["imap"], "/INBOX")},
			strings.NewReader(""), idleOut, idleErr)
	}()
	idleErr.waitFor(t, idleDone, 10*time.Second, "imap idle's watching line", func(s string) bool { return strings.Contains(s, "watching INBOX") })

	code, stdout, stderr := runMain(t, "", "send", "smtp://"+a["smtp"], "--data", data, "--tls", "require",
		"--from", "bob@example.org", "--to", user, "--subject", "héllo", "--body", "line one\n.dot line\n")
	if code != exitOK || !strings.HasPrefix(stdout, "250 ") {
		t.Fatalf("send smtp = %d, %q, %q; want 0 and a 250 reply", code, stdout, stderr)
	}

	idleOut.waitFor(t, idleDone, 10*time.Second, "imap idle's line for the new message", func(s string) bool {
		return strings.Contains(s, "bob@example.org") && strings.Contains(s, "héllo")
	})
	stopIdle()
	<-idleDone
	if idleCode != exitOK {
		t.Errorf("imap idle exited %d after interrupt; stderr %q", idleCode, idleErr.String())
	}

	code, stdout, stderr = runMain(t, "", "get", "--data", data, "--tls", "require", userURL("pop3", user, "pw", a["pop3"], "/"))
	if code != exitOK || !regexp.MustCompile(`(?m)^1 +\d+ +\d+\.1$`).MatchString(stdout) {
		t.Fatalf("get pop3 listing = %d, %q, %q; want one message with UIDL VALIDITY.1", code, stdout, stderr)
	}
	code, pop3Msg, stderr := runMain(t, "", "get", "--data", data, userURL("pop3", user, "pw", a["pop3"], "/1"))
	if code != exitOK || !strings.Contains(pop3Msg, "\r\n.dot line\r\n") || !strings.Contains(pop3Msg, "Subject: =?utf-8?q?h=C3=A9llo?=") {
		t.Fatalf("get pop3 message = %d, %q, %q", code, pop3Msg, stderr)
	}
	code, stdout, stderr = runMain(t, "", "get", "--data", data, userURL("imap", user, "pw", a["imap"], "/INBOX"))
	// \Recent: the listing's client speaks IMAP4rev1 (RFC 3501 §2.3.2).
	if code != exitOK || !regexp.MustCompile(`(?m)^1 +(-|\\Recent) +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +bob@example.org +héllo$`).MatchString(stdout) {
		t.Fatalf("get imap listing = %d, %q, %q", code, stdout, stderr)
	}
	code, imapMsg, stderr := runMain(t, "", "get", "--data", data, userURL("imap", user, "pw", a["imap"], "/INBOX;UID=1"))
	if code != exitOK || imapMsg != pop3Msg {
		t.Fatalf("get imap message = %d, %q, %q; want the bytes POP3 gave: %q", code, imapMsg, stderr, pop3Msg)
	}
	// No mailbox in the URL: the mailboxes, with counts.
	code, stdout, stderr = runMain(t, "", "get", "--data", data, userURL("imap", user, "pw", a["imap"], "/"))
	if code != exitOK || !regexp.MustCompile(`(?m)^INBOX +1 +1 +\\HasNoChildren$`).MatchString(stdout) ||
		!regexp.MustCompile(`(?m)^Sent +0 +0 +.*\\Sent`).MatchString(stdout) {
		t.Errorf("get imap mailboxes = %d, %q, %q", code, stdout, stderr)
	}
	// Reading did not mark the message seen.
	if _, stdout, _ = runMain(t, "", "get", "--data", data, userURL("imap", user, "pw", a["imap"], "/INBOX")); strings.Contains(stdout, `\Seen`) {
		t.Errorf("get marked the message seen:\n%s", stdout)
	}
}

func TestSendSMTP_refusedRecipientReported(t *testing.T) {
	// With accounts required, an unknown recipient is refused.
	dir := t.TempDir()
	if code, _, stderr := runMain(t, "pw\n", "user", "add", "--data", dir, "known@example.org"); code != exitOK {
		t.Fatalf("user add: %s", stderr)
	}
	acc := startMain(t, []string{"smtp"}, "serve", "smtp", "--smtp-addr", "127.0.0.1:0", "--data", dir, "--auth", "accounts")
	code, stdout, stderr := runMain(t, "", "send", "smtp://"+acc.addrs["smtp"], "--data", dir,
		"--from", "a@example.org", "--to", "known@example.org", "--to", "ghost@example.org", "--body", "x")
	if code != exitError || !strings.HasPrefix(stdout, "250 ") || !strings.Contains(stderr, "refused ghost@example.org: 550") {
		t.Errorf("send with one unknown recipient = %d, %q, %q; want exit 1, the 250, and the refusal on stderr", code, stdout, stderr)
	}
}

func TestSendSMTP_fileAndStdin(t *testing.T) {
	srv, data := mailServe(t)
	file := filepath.Join(t.TempDir(), "m.eml")
	os.WriteFile(file, []byte("Subject: from file\n\nbody\n"), 0o644)
	for _, args := range [][]string{{file}, {"-"}} {
		code, stdout, stderr := runMain(t, "Subject: from stdin\n\nbody\n", append([]string{"send", "smtp://" + srv.addrs["smtp"],
			"--data", data, "--from", "a@x.org", "--to", "b@x.org"}, args...)...)
		if code != exitOK || !strings.HasPrefix(stdout, "250 ") {
			t.Errorf("send %v = %d, %q, %q", args, code, stdout, stderr)
		}
	}
	_, stdout, _ := runMain(t, "", "get", "--data", data, userURL("imap", "b@x.org", "p", srv.addrs["imap"], "/INBOX"))
	if !strings.Contains(stdout, "from file") || !strings.Contains(stdout, "from stdin") {
		t.Errorf("mailbox after sending a file and stdin:\n%s", stdout)
	}
}

func TestMailClientUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"send", "smtp://127.0.0.1:1", "--from", "a@x"}, "needs at least one --to"},
		{[]string{"send", "smtp://127.0.0.1:1", "--to", "b@x", "f", "g"}, "at most one FILE"},
		{[]string{"send", "smtp://127.0.0.1:1", "--to", "b@x", "--subject", "s", "file"}, "not both"},
		{[]string{"send", "smtp://127.0.0.1:1", "--to", "b@x\r\nRCPT TO:<c@x>"}, "forbidden character"},
		{[]string{"send", "smtp://127.0.0.1:1", "--to", "b@x", "--tls", "maybe"}, "--tls must be auto, require or none"},
		{[]string{"get", "pop3://127.0.0.1:1/"}, "has no user"},
		{[]string{"get", "pop3://u:p@127.0.0.1:1/x"}, "want a message number"},
		{[]string{"get", "ldap://u:p@127.0.0.1/"}, "want a pop3:// or pop3s://, imap:// or imaps:// URL"},
		{[]string{"imap", "idle", "pop3://u:p@h/"}, "want a imap:// or imaps:// URL"},
		{[]string{"user", "add"}, "user add takes an ADDRESS"},
	} {
		code, _, stderr := runMain(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q = %d, %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// A mail listener on a non-loopback address needs accounts, and --auth any
// is refused there.
func TestServeMail_accountsRequiredOffLoopback(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runMain(t, "", "serve", "smtp", "--smtp-addr", "0.0.0.0:0", "--data", dir)
	if code == exitOK || !strings.Contains(stderr, "need accounts") {
		t.Errorf("serve smtp on 0.0.0.0 without accounts = %d, %q; want a refusal naming 'inetkit user add'", code, stderr)
	}
	code, _, stderr = runMain(t, "", "serve", "smtp", "--smtp-addr", "0.0.0.0:0", "--data", dir, "--auth", "any")
	if code != exitUsage || !strings.Contains(stderr, "--auth any is allowed only") {
		t.Errorf("--auth any on 0.0.0.0 = %d, %q", code, stderr)
	}
}

// Off loopback, plain-text logins need TLS first on every protocol, and only
// accounts may log in.
func TestServeMail_offLoopbackNeedsTLSForLogins(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runMain(t, "s3cret\n", "user", "add", "--data", dir, "alice@example.org"); code != exitOK {
		t.Fatalf("user add: %s", stderr)
	}
	srv := startMain(t, mailServices, "serve", "smtp", "pop3", "imap", "--smtp-addr", "0.0.0.0:0", "--pop3-addr", "0.0.0.0:0",
		"--imap-addr", "0.0.0.0:0", "--data", dir)
	local := func(name string) string {
		return "127.0.0.1:" + srv.addrs[name][strings.LastIndexByte(srv.addrs[name], ':')+1:]
	}

	c := dialText(t, local("smtp"))
	c.expect(t, "220 ")
	c.send(t, "EHLO client.example.org")
	ehlo := c.readUntil(t, "250 ")
	if strings.Contains(ehlo, "AUTH") || !strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("SMTP EHLO without TLS off loopback:\n%s\nwant STARTTLS and no AUTH", ehlo)
	}
	c.send(t, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHMzY3JldA==")
	c.expect(t, "538 5.7.11")

	c = dialText(t, local("pop3"))
	c.expect(t, "+OK")
	c.send(t, "USER alice@example.org")
	c.expect(t, "-ERR")
	c.send(t, "CAPA")
	if capa := c.readUntil(t, "."); strings.Contains(capa, "USER") || !strings.Contains(capa, "STLS") {
		t.Errorf("POP3 CAPA without TLS off loopback:\n%s\nwant STLS and no USER", capa)
	}

	c = dialText(t, local("imap"))
	c.expect(t, "* OK")
	c.send(t, "a CAPABILITY")
	if caps := c.readUntil(t, "a OK"); !strings.Contains(caps, "LOGINDISABLED") || !strings.Contains(caps, "STARTTLS") {
		t.Errorf("IMAP CAPABILITY without TLS off loopback:\n%s\nwant LOGINDISABLED and STARTTLS", caps)
	}
	c.send(t, "b LOGIN alice@example.org s3cret")
	c.expect(t, "b NO [PRIVACYREQUIRED]")

	// With STARTTLS, the account logs in; any other login does not.
	code, _, stderr := runMain(t, "", "get", "--data", dir, "--tls", "require", userURL("imap", "alice@example.org", "s3cret", local("imap"), "/INBOX"))
	if code != exitOK {
		t.Errorf("get imap with the account over STARTTLS = %d, %s", code, stderr)
	}
	code, _, stderr = runMain(t, "", "get", "--data", dir, "--tls", "require", userURL("pop3", "mallory@example.org", "x", local("pop3"), "/"))
	if code != exitError || !strings.Contains(stderr, "AUTH") {
		t.Errorf("get pop3 with an unknown login = %d, %s; want an authentication failure", code, stderr)
	}
}

// textConn is a line-oriented test client.
type textConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialText(t *testing.T, addr string) *textConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &textConn{c, bufio.NewReader(c)}
}

func (c *textConn) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(c.c, line+"\r\n"); err != nil {
		t.Fatal(err)
	}
}

// readUntil reads lines until one starts with prefix, and returns them all.
func (c *textConn) readUntil(t *testing.T, prefix string) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			t.Fatalf("reading until %q: %v; got %q", prefix, err, b.String())
		}
		if strings.HasPrefix(line, prefix) {
			return b.String()
		}
	}
}

func (c *textConn) expect(t *testing.T, prefix string) {
	t.Helper()
	line, err := c.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, prefix) {
		t.Fatalf("got %q, %v; want a line starting %q", line, err, prefix)
	}
}

// --smtps-addr, --pop3s-addr and --imaps-addr add implicit-TLS listeners,
// which the clients reach with smtps://, pop3s:// and imaps://.
func TestServeMail_implicitTLS(t *testing.T) {
	srv, data := mailServe(t, "--smtps-addr", "127.0.0.1:0", "--pop3s-addr", "127.0.0.1:0", "--imaps-addr", "127.0.0.1:0")
	implicit := map[string]string{}
	re := regexp.MustCompile(`msg="waiting for clients" service=(\S+) addr=(\S+) tls=implicit`)
	log := srv.stderr.waitFor(t, srv.done, 10*time.Second, "three implicit-TLS listeners", func(s string) bool {
		return len(re.FindAllString(s, -1)) == 3
	})
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		implicit[m[1]] = m[2]
	}
	code, stdout, stderr := runMain(t, "", "send", "smtps://"+implicit["smtp"], "--data", data, "--from", "a@x.org", "--to", "b@x.org", "--subject", "tls", "--body", "x")
	if code != exitOK || !strings.HasPrefix(stdout, "250 ") {
		t.Fatalf("send smtps = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, stderr = runMain(t, "", "get", "--data", data, userURL("pop3s", "b@x.org", "p", implicit["pop3"], "/"))
	if code != exitOK || !regexp.MustCompile(`(?m)^1 +\d+`).MatchString(stdout) {
		t.Errorf("get pop3s = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, stderr = runMain(t, "", "get", "--data", data, userURL("imaps", "b@x.org", "p", implicit["imap"], "/INBOX"))
	if code != exitOK || !strings.Contains(stdout, "tls") {
		t.Errorf("get imaps = %d, %q, %q", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "a@x.org") {
		t.Errorf("get imaps listing lacks the sender: %q", stdout)
	}
}

// A second server on the same data directory is refused while the first
// runs.
func TestServeMail_dataDirInUse(t *testing.T) {
	_, data := mailServe(t)
	code, _, stderr := runMain(t, "", "serve", "smtp", "--smtp-addr", "127.0.0.1:0", "--data", data)
	if code != exitError || !strings.Contains(stderr, "in use by another server") {
		t.Errorf("second serve on %s = %d, %q; want a refusal", data, code, stderr)
	}
}

// The mail servers of one serve share an AuthLimiter (as Dovecot's
// auth_penalty spans its protocols): once an account has failed to log in
// over SMTP as often as is free, the next login to it over POP3 or IMAP
// waits for its penalty, right password or not.
func TestServeMail_oneAuthLimiter(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runMain(t, "s3cret\n", "user", "add", "--data", dir, "alice@example.org"); code != exitOK {
		t.Fatalf("user add: %s", stderr)
	}
	srv, _ := mailServe(t, "--data", dir, "--auth", "accounts")
	wrong := base64.StdEncoding.EncodeToString([]byte("\x00alice@example.org\x00wrong"))
	// failSMTP fails as many logins as are free, one on each of as many
	// connections at once, so that the failure delay of each connection
	// is waited for together.
	failSMTP := func() {
		t.Helper()
		var cs []*textConn
		for range lineproto.DefaultAuthFreeFailures {
			c := dialText(t, srv.addrs["smtp"])
			c.expect(t, "220 ")
			c.send(t, "EHLO client.example.org")
			c.readUntil(t, "250 ")
			cs = append(cs, c)
		}
		for _, c := range cs {
			c.send(t, "AUTH PLAIN "+wrong)
		}
		for _, c := range cs {
			c.expect(t, "535 ")
		}
	}
	// timed returns how long login takes on a new connection to proto,
	// from after the greeting.
	timed := func(proto, greeting string, login func(c *textConn)) time.Duration {
		t.Helper()
		c := dialText(t, srv.addrs[proto])
		c.expect(t, greeting)
		start := time.Now()
		login(c)
		return time.Since(start)
	}
	pop3Login := func(c *textConn) {
		c.send(t, "USER alice@example.org")
		c.expect(t, "+OK")
		c.send(t, "PASS s3cret")
		c.expect(t, "+OK")
		c.send(t, "QUIT")
		c.expect(t, "+OK")
	}
	imapLogin := func(c *textConn) {
		c.send(t, "a LOGIN alice@example.org s3cret")
		c.readUntil(t, "a OK")
	}
	const penalty = time.Second // the first wait of lineproto.NewAuthLimiter(time.Second)

	timed("pop3", "+OK", pop3Login) // the first login's one-time costs
	failSMTP()
	if d := timed("pop3", "+OK", pop3Login); d < penalty {
		t.Errorf("POP3 login after %d failed SMTP logins took %v; want the penalty, %v", lineproto.DefaultAuthFreeFailures, d, penalty)
	}
	// That login succeeded, which forgives the account and the address.
	if d := timed("imap", "* OK", imapLogin); d >= penalty {
		t.Errorf("IMAP login after a successful POP3 one took %v; want no penalty", d)
	}
	failSMTP()
	if d := timed("imap", "* OK", imapLogin); d < penalty {
		t.Errorf("IMAP login after %d failed SMTP logins took %v; want the penalty, %v", lineproto.DefaultAuthFreeFailures, d, penalty)
	}
}
