package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/smtp"
	_ "modernc.org/sqlite"
)

// startMailBinary runs the inetkit binary's mail services on free ports
// over data.
func startMailBinary(t *testing.T, data string, extra ...string) (*proc, map[string]string) {
	t.Helper()
	return startInetkit(t, mailServices, append([]string{"smtp", "pop3", "imap", "--smtp-addr", "127.0.0.1:0",
		"--pop3-addr", "127.0.0.1:0", "--imap-addr", "127.0.0.1:0", "--data", data}, extra...)...)
}

// The tutorial's own modules against `inetkit serve`, as a new user would
// try it: smtplib sends, poplib and imaplib read, flag, copy, move and
// delete, all after STARTTLS verified against the local CA; the changes made
// over one protocol are seen over the other.
func TestMailPythonModules(t *testing.T) {
	data := t.TempDir()
	_, addrs := startMailBinary(t, data)
	script := `
import smtplib, poplib, imaplib, ssl, sys, email
smtp_port, pop_port, imap_port, ca = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
user = "alice@example.org"

with smtplib.SMTP("127.0.0.1", int(smtp_port)) as s:
    s.starttls(context=ctx)
    s.ehlo()
    assert s.has_extn("smtputf8") and s.has_extn("pipelining") and s.has_extn("chunking"), s.esmtp_features
    s.login(user, "any")
    for i in range(3):
        body = "Subject: m%d\r\nMessage-ID: <m%d@test>\r\n\r\nline\r\n.starts with a dot\r\n" % (i, i)
        s.sendmail("bob@example.org", [user], body)
    s.sendmail("bøb@example.org", [user], "Subject: ünïcode\r\n\r\nhi\r\n".encode(), mail_options=["SMTPUTF8"])

p = poplib.POP3("127.0.0.1", int(pop_port))
p.stls(context=ctx)
p.user(user); p.pass_("any")
count, size = p.stat()
assert count == 4, count
resp, lines, _ = p.retr(1)
assert b".starts with a dot" in lines, lines
resp, lines, _ = p.top(2, 0)
assert any(l.startswith(b"Subject: m1") for l in lines), lines
uidl = p.uidl()[1]
assert len(uidl) == 4
p.dele(1)
p.quit()

m = imaplib.IMAP4("127.0.0.1", int(imap_port))
m.starttls(ssl_context=ctx)
m.login(user, "any")
typ, data = m.select("INBOX")
assert data[0] == b"3", data   # POP3's deletion is seen
typ, data = m.search(None, "ALL")
assert data[0].split() == [b"1", b"2", b"3"], data
typ, data = m.fetch("1", "(RFC822)")
assert email.message_from_bytes(data[0][1])["Subject"] == "m1"
m.store("1", "+FLAGS", "\\Flagged")
typ, data = m.fetch("1", "(FLAGS)")
assert b"\\Flagged" in data[0], data
typ, data = m.copy("1", "Archive")
assert typ == "OK", data
typ, data = m.uid("MOVE", "3", "Trash")   # UID 3 is m2
assert typ == "OK", data
m.store("1", "+FLAGS", "\\Deleted")
m.expunge()
typ, data = m.search(None, "ALL")
assert data[0].split() == [b"1"], data
typ, data = m.status("Archive", "(MESSAGES)")
assert b"MESSAGES 1" in data[0], data
typ, data = m.list()
assert any(b"\\Sent" in l for l in data), data
m.logout()

p = poplib.POP3("127.0.0.1", int(pop_port))
p.stls(context=ctx)
p.apop(user, "any")   # with --auth any, APOP too
count, _ = p.stat()
assert count == 1, count   # IMAP's expunge and move are seen
resp, lines, _ = p.retr(1)
assert any("ünïcode" in l.decode() for l in lines), lines
p.quit()
print("ok")
`
	ca := userCAFile(t)
	stdout, stderr, code := runPython(t, 60*time.Second, "-c", script, portOf(t, addrs["smtp"]), portOf(t, addrs["pop3"]), portOf(t, addrs["imap"]), ca)
	if code != 0 || stdout != "ok\n" {
		t.Fatalf("python mail script: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func curl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	path := peers.Need(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{"-sS", "--max-time", "20"}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Run()
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// curl as the client of all three protocols, with STARTTLS required.
func TestMailCurl(t *testing.T) {
	data := t.TempDir()
	_, addrs := startMailBinary(t, data)
	ca := userCAFile(t)
	msg := filepath.Join(t.TempDir(), "m.eml")
	os.WriteFile(msg, []byte("From: bob@example.org\r\nSubject: via curl\r\n\r\nhello curl\r\n"), 0o644)
	u := "alice@example.org:pw"
	tls := []string{"--ssl-reqd", "--cacert", ca}

	out, errOut, code := curl(t, append(tls, "smtp://"+addrs["smtp"], "--mail-from", "bob@example.org",
		"--mail-rcpt", "alice@example.org", "--upload-file", msg)...)
	if code != 0 {
		t.Fatalf("curl smtp: exit %d: %s %s", code, out, errOut)
	}
	out, errOut, code = curl(t, append(tls, "pop3://"+addrs["pop3"]+"/", "-u", u)...)
	if code != 0 || !regexp.MustCompile(`(?m)^1 \d+\r?$`).MatchString(out) {
		t.Errorf("curl pop3 list: exit %d, %q %s", code, out, errOut)
	}
	out, errOut, code = curl(t, append(tls, "pop3://"+addrs["pop3"]+"/1", "-u", u)...)
	if code != 0 || !strings.Contains(out, "hello curl") {
		t.Errorf("curl pop3 retr: exit %d, %q %s", code, out, errOut)
	}
	out, errOut, code = curl(t, append(tls, "imap://"+addrs["imap"]+"/", "-u", u)...)
	if code != 0 || !strings.Contains(out, "INBOX") || !strings.Contains(out, "Trash") {
		t.Errorf("curl imap list: exit %d, %q %s", code, out, errOut)
	}
	out, errOut, code = curl(t, append(tls, "imap://"+addrs["imap"]+"/INBOX;UID=1", "-u", u)...)
	if code != 0 || !strings.Contains(out, "hello curl") {
		t.Errorf("curl imap fetch: exit %d, %q %s", code, out, errOut)
	}
	out, errOut, code = curl(t, append(tls, "imap://"+addrs["imap"]+"/INBOX", "-u", u, "-X", "SEARCH SUBJECT curl")...)
	if code != 0 || !strings.Contains(out, "SEARCH 1") {
		t.Errorf("curl imap search: exit %d, %q %s", code, out, errOut)
	}
}

// HARDENING X1: kill -9 during SMTP ingest loses no acknowledged message.
// Senders record every Message-ID that got 250; the server is killed at a
// random moment, several times; after each restart every acknowledged
// message must be readable over POP3 with its hash intact, and the
// database must pass integrity_check.
func TestKill9DuringIngest(t *testing.T) { kill9Ingest(t) }

// TestKill9DuringIngest_faults is TestKill9DuringIngest with faults on:
// refusals, resets and delays of the sessions lose no acknowledged message
// either, and store none that was refused.
func TestKill9DuringIngest_faults(t *testing.T) {
	kill9Ingest(t, "--faults", writeFaults(t, `smtp DATA store-error prob=0.3
smtp DATA delay=10ms prob=0.3
smtp RCPT reply="451 4.3.0 try later" prob=0.1
smtp MAIL reset prob=0.05
`))
}

// kill9Ingest is TestKill9DuringIngest, with extra arguments for serve.
func kill9Ingest(t *testing.T, extra ...string) {
	data := t.TempDir()
	const cycles = 6
	acked := map[string]bool{} // Message-IDs that got 250
	var mu sync.Mutex
	seq := 0
	refused := map[string]bool{} // Message-IDs refused by a 4xx or 5xx
	for cycle := range cycles {
		p, addrs := startMailBinary(t, data, extra...)
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for ctx.Err() == nil {
					mu.Lock()
					seq++
					id := fmt.Sprintf("<c%d-w%d-%d@test>", cycle, w, seq)
					mu.Unlock()
					msg := testMessage(id, 50+rand.IntN(200))
					res, err := smtp.SendMail(ctx, addrs["smtp"], &smtp.ClientOptions{TLSPolicy: smtp.TLSPolicyNone, Timeout: 5 * time.Second},
						"s@example.org", []string{"alice@example.org"}, strings.NewReader(msg))
					var e *smtp.Error
					switch {
					case err == nil && strings.HasPrefix(res.Reply, "250"):
						mu.Lock()
						acked[id] = true
						mu.Unlock()
					case errors.As(err, &e):
						mu.Lock()
						refused[id] = true
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(time.Duration(50+rand.IntN(450)) * time.Millisecond) // the random moment of the kill
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.wait(t, 10*time.Second)
		stop()
		wg.Wait()
	}
	if len(acked) < 20 {
		t.Fatalf("only %d messages acknowledged over %d cycles: the test did not exercise ingest", len(acked), cycles)
	}

	// Restart and read everything back.
	_, addrs := startMailBinary(t, data)
	stored := storedMessages(t, addrs["pop3"])
	missing := 0
	for id := range acked {
		if !stored[id] {
			missing++
			t.Errorf("acknowledged message %s is missing after kill -9", id)
		}
	}
	for id := range refused {
		if stored[id] {
			t.Errorf("refused message %s was stored", id)
		}
	}
	t.Logf("%d cycles: %d acknowledged, %d refused, %d stored, %d missing", cycles, len(acked), len(refused), len(stored), missing)
	checkIntegrity(t, data)
}

// testMessage returns a message with a unique Message-ID and the SHA-256 of
// its body in a header, for storedMessages to check.
func testMessage(id string, lines int) string {
	body := strings.Repeat(fmt.Sprintf("%s line\r\n", id), lines)
	sum := sha256.Sum256([]byte(body))
	return fmt.Sprintf("Message-ID: %s\r\nX-Body-SHA256: %x\r\nSubject: x\r\n\r\n%s", id, sum, body)
}

// storedMessages reads alice's mailbox over POP3 and returns the Message-IDs
// of the messages in it; a message whose body does not match its hash is an
// error.
func storedMessages(t *testing.T, addr string) map[string]bool {
	t.Helper()
	c, err := pop3.Dial(context.Background(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice@example.org", "x"); err != nil {
		t.Fatal(err)
	}
	list, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	idRE := regexp.MustCompile(`(?m)^Message-ID: (<[^>]+>)\r$`)
	sumRE := regexp.MustCompile(`(?m)^X-Body-SHA256: ([0-9a-f]+)\r$`)
	for _, m := range list {
		r, err := c.Retrieve(m.Number)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		id, sum := idRE.FindSubmatch(b), sumRE.FindSubmatch(b)
		_, body, _ := bytes.Cut(b, []byte("\r\n\r\n"))
		got := sha256.Sum256(body)
		if id == nil || sum == nil || hex.EncodeToString(got[:]) != string(sum[1]) {
			t.Errorf("message %d is damaged (id %q): body hash %x, header says %q", m.Number, id, got, sum)
			continue
		}
		stored[string(id[1])] = true
	}
	c.Quit()
	return stored
}

// checkIntegrity runs SQLite's integrity_check on the store in data.
func checkIntegrity(t *testing.T, data string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "inetkit.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ic string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Errorf("integrity_check = %q, %v", ic, err)
	}
}

// HARDENING X1 at its two fixed moments: killed right after a message is
// durable and before its 250 (the INETKIT_TEST_KILL_AFTER_DELIVERY hook),
// the message is whole after the restart, though never acknowledged; killed
// halfway through a body, nothing of it is ever visible.
func TestKill9AtFixedMoments(t *testing.T) {
	data := t.TempDir()
	t.Setenv("INETKIT_TEST_KILL_AFTER_DELIVERY", "2")
	p, addrs := startMailBinary(t, data)
	send := func(addr, id string) (string, error) {
		res, err := smtp.SendMail(context.Background(), addr, &smtp.ClientOptions{TLSPolicy: smtp.TLSPolicyNone, Timeout: 10 * time.Second},
			"s@example.org", []string{"alice@example.org"}, strings.NewReader(testMessage(id, 100)))
		return res.Reply, err
	}
	if reply, err := send(addrs["smtp"], "<first@test>"); err != nil || !strings.HasPrefix(reply, "250") {
		t.Fatalf("first message: %q, %v; want 250", reply, err)
	}
	if reply, err := send(addrs["smtp"], "<second@test>"); err == nil || strings.HasPrefix(reply, "250") {
		t.Errorf("second message: %q, %v; want no 250: the hook kills the server first", reply, err)
	}
	if code := p.wait(t, 10*time.Second); code != -1 {
		t.Errorf("inetkit exited %d; want killed by a signal (-1)", code)
	}
	os.Unsetenv("INETKIT_TEST_KILL_AFTER_DELIVERY")

	// Halfway through a body.
	p, addrs = startMailBinary(t, data)
	c, err := net.Dial("tcp", addrs["smtp"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	reply := func() string {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading a reply: %v", err)
			}
			if len(line) < 4 || line[3] != '-' {
				return line
			}
		}
	}
	reply() // greeting
	for _, cmd := range []string{"EHLO c", "MAIL FROM:<s@example.org>", "RCPT TO:<alice@example.org>", "DATA"} {
		fmt.Fprintf(c, "%s\r\n", cmd)
		if line := reply(); line[0] != '2' && line[0] != '3' {
			t.Fatalf("%s: %q", cmd, line)
		}
	}
	msg := testMessage("<third@test>", 2000)
	io.WriteString(c, msg[:len(msg)/2])
	time.Sleep(100 * time.Millisecond) // the server has read it
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, 10*time.Second)

	_, addrs = startMailBinary(t, data)
	stored := storedMessages(t, addrs["pop3"])
	want := map[string]bool{"<first@test>": true, "<second@test>": true}
	if !maps.Equal(stored, want) {
		t.Errorf("stored after the kills: %v; want %v", stored, want)
	}
	checkIntegrity(t, data)
}

// HARDENING X5 for the mail services: on SIGTERM idle sessions get their
// protocol's goodbye, a DATA transfer in progress finishes and is
// acknowledged, inetkit exits 0 and the store is left clean.
func TestMailSIGTERM(t *testing.T) {
	data := t.TempDir()
	p, addrs := startMailBinary(t, data)
	greet := func(addr, want string) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(c)
		if line, err := r.ReadString('\n'); !strings.HasPrefix(line, want) {
			t.Fatalf("greeting from %s: %q, %v", addr, line, err)
		}
		return c, r
	}
	_, smtpIdle := greet(addrs["smtp"], "220 ")
	_, pop3Idle := greet(addrs["pop3"], "+OK")
	_, imapIdle := greet(addrs["imap"], "* OK")

	// A transfer in progress: DATA accepted, half the message sent.
	busy, busyR := greet(addrs["smtp"], "220 ")
	for _, cmd := range []string{"EHLO c", "MAIL FROM:<a@x.org>", "RCPT TO:<b@x.org>", "DATA"} {
		fmt.Fprintf(busy, "%s\r\n", cmd)
		for {
			line, err := busyR.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			if len(line) < 4 || line[3] != '-' {
				break
			}
		}
	}
	io.WriteString(busy, "Subject: in flight\r\n\r\nfirst half\r\n")

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		r    *bufio.Reader
		want string
	}{"smtp": {smtpIdle, "421 4.3.2"}, "pop3": {pop3Idle, "-ERR [SYS/TEMP]"}, "imap": {imapIdle, "* BYE"}} {
		line, err := c.r.ReadString('\n')
		if !strings.HasPrefix(line, c.want) {
			t.Errorf("idle %s session after SIGTERM: %q, %v; want %q", name, line, err, c.want)
		}
	}
	io.WriteString(busy, "second half\r\n.\r\n")
	if line, err := busyR.ReadString('\n'); !strings.HasPrefix(line, "250 ") {
		t.Errorf("DATA in flight at SIGTERM: final reply %q, %v; want 250", line, err)
	}
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Errorf("inetkit exited %d after SIGTERM; want 0", code)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "inetkit.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var ic string
	db.QueryRow("SELECT count(*) FROM messages").Scan(&n)
	db.QueryRow("PRAGMA integrity_check").Scan(&ic)
	if n != 1 || ic != "ok" {
		t.Errorf("after shutdown: %d messages, integrity_check %q; want the one acknowledged, ok", n, ic)
	}
	if fi, err := os.Stat(filepath.Join(data, "inetkit.db-wal")); err == nil && fi.Size() > 0 {
		t.Errorf("WAL left with %d bytes after a clean shutdown", fi.Size())
	}
}
