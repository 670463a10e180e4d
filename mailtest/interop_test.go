//go:build unix

package mailtest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/mailtest"
)

// pythonSend sends one message with smtplib, over STARTTLS, authenticated.
const pythonSend = `
import smtplib, ssl, sys
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
msg = (b"From: Py <py@example.org>\r\nTo: alice@example.org\r\nSubject: from python\r\n"
       b"Message-ID: <py@example.org>\r\n\r\nline one\r\n.\r\n..two dots\r\n.leading dot\r\nlast\r\n")
s = smtplib.SMTP(host, port)
s.ehlo("python.example.org")
assert s.has_extn("starttls"), s.esmtp_features
s.starttls(context=ssl.create_default_context(cafile=cafile))
s.ehlo("python.example.org")
s.login("py@example.org", "any")
refused = s.sendmail("py@example.org", ["alice@example.org"], msg)
assert refused == {}, refused
s.quit()
`

// pythonRead reads the message with imaplib (BODY.PEEK[]) and poplib
// (RETR), deletes it over POP3, and reports what IMAP then hears, as JSON.
const pythonRead = `
import base64, imaplib, json, poplib, ssl, sys
host, pop3port, imapport, cafile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=cafile)
out = {}

M = imaplib.IMAP4(host, imapport)
M.starttls(ssl_context=ctx)
M.login("alice@example.org", "whatever")
typ, data = M.select("INBOX")
assert typ == "OK" and data == [b"1"], (typ, data)
typ, data = M.uid("FETCH", "1", "(BODY.PEEK[])")
assert typ == "OK", (typ, data)
out["imap"] = base64.b64encode(data[0][1]).decode()

P = poplib.POP3(host, pop3port)
P.stls(context=ctx)
P.user("alice@example.org")
P.pass_("whatever")
count, size = P.stat()
out["pop3_stat"] = [count, size]
resp, lines, octets = P.retr(1)
out["pop3"] = base64.b64encode(b"\r\n".join(lines) + b"\r\n").decode()
P.dele(1)
P.quit()

typ, data = M.noop()
out["expunge"] = [x.decode() for x in M.response("EXPUNGE")[1] if x is not None]
typ, data = M.status("INBOX", "(MESSAGES)")
out["status"] = data[0].decode()
M.logout()
print(json.dumps(out))
`

// Python's smtplib sends over STARTTLS with AUTH; poplib and imaplib read
// the same bytes across the store; a POP3 deletion reaches imaplib as
// EXPUNGE. Dot-stuffing holds both ways (HARDENING P1).
func TestInterop_python(t *testing.T) {
	python := peers.Need(t, "python3")
	s := mailtest.NewServer(t)
	ctx := testContext(t)
	_, _, cafile, err := testcert.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	host, smtpPort := splitAddr(t, s.SMTPAddr)
	if out, err := exec.CommandContext(ctx, python, "-c", pythonSend, host, smtpPort, cafile).CombinedOutput(); err != nil {
		t.Fatalf("python smtplib: %v\n%s", err, out)
	}
	stored, err := s.WaitForMessage(ctx, "alice@example.org", hasHeader("Message-ID", "<py@example.org>"))
	if err != nil {
		t.Fatal(err)
	}
	wantBody := "\r\n\r\nline one\r\n.\r\n..two dots\r\n.leading dot\r\nlast\r\n"
	if !bytes.HasSuffix(stored, []byte(wantBody)) || !bytes.Contains(stored, []byte("with ESMTPSA")) {
		t.Fatalf("stored message = %q; want the body unstuffed and a Received field saying ESMTPSA", stored)
	}

	_, pop3Port := splitAddr(t, s.POP3Addr)
	_, imapPort := splitAddr(t, s.IMAPAddr)
	out, err := exec.CommandContext(ctx, python, "-c", pythonRead, host, pop3Port, imapPort, cafile).CombinedOutput()
	if err != nil {
		t.Fatalf("python poplib/imaplib: %v\n%s", err, out)
	}
	var res struct {
		IMAP, POP3 string
		POP3Stat   []int64 `json:"pop3_stat"`
		Expunge    []string
		Status     string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	for name, b64 := range map[string]string{"imaplib FETCH": res.IMAP, "poplib RETR": res.POP3} {
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, stored) {
			t.Errorf("%s = %q;\nwant %q", name, got, stored)
		}
	}
	if len(res.POP3Stat) != 2 || res.POP3Stat[0] != 1 || res.POP3Stat[1] != int64(len(stored)) {
		t.Errorf("poplib stat = %v; want [1 %d]", res.POP3Stat, len(stored))
	}
	if len(res.Expunge) != 1 || res.Expunge[0] != "1" || !strings.Contains(res.Status, "MESSAGES 0") {
		t.Errorf("imaplib after the POP3 deletion: EXPUNGE %v, STATUS %q; want [1] and MESSAGES 0", res.Expunge, res.Status)
	}
	if msgs, err := s.Store.Messages(ctx, "alice@example.org", "INBOX"); err != nil || len(msgs) != 0 {
		t.Errorf("store after the POP3 deletion: %d messages, %v; want 0", len(msgs), err)
	}
}

func splitAddr(t testing.TB, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}
