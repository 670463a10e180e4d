package smtp_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
)

// caFile writes the test CA as PEM and returns its path.
func caFile(t *testing.T) string {
	t.Helper()
	chain := testcert.ServerConfig().Certificates[0].Certificate
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[len(chain)-1]}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runPeer(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout: %s\nstderr: %s", name, err, out.String(), errb.String())
	}
	return out.String()
}

const pythonClient = `
import smtplib, ssl, sys
from email.message import EmailMessage
port, cafile = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=cafile)
s = smtplib.SMTP('127.0.0.1', port, local_hostname='py.example', timeout=10)
s.ehlo()
assert s.has_extn('starttls'), s.esmtp_features
assert not s.has_extn('auth'), 'AUTH offered before TLS'
s.starttls(context=ctx)
s.ehlo()
assert s.has_extn('smtputf8') and s.has_extn('chunking') and s.has_extn('pipelining')
s.login('user', 'secret')
refused = s.sendmail('alice@example.org', ['bob@example.org', 'nobody@example.org'], 'Subject: py\r\n\r\nline1\n.dot\r\n')
print('refused', sorted(refused), refused['nobody@example.org'][0])
msg = EmailMessage()
msg['From'] = 'j\u00f6rg@example.org'
msg['To'] = 'bob@example.org'
msg['Subject'] = '\u00fcn\u00ef'
msg.set_content('h\u00e4llo')
s.send_message(msg)
s.quit()
s = smtplib.SMTP('127.0.0.1', port, timeout=10)
s.starttls(context=ctx)
s.ehlo()
try:
    s.login('user', 'wrong')
except smtplib.SMTPAuthenticationError as e:
    print('wrong password', e.smtp_code)
s.user, s.password = 'user', 'secret'
code, _ = s.auth('LOGIN', s.auth_login)
print('login', code)
s.quit()
print('done')
`

func TestInterop_python(t *testing.T) {
	py := peers.Need(t, "python3")
	rec := smtptest.NewRecorder()
	rec.Users = map[string]string{"user": "secret"}
	rec.RecipientFunc = func(rcpt string) error {
		if rcpt == "nobody@example.org" {
			return smtp.ErrNoSuchMailbox
		}
		return nil
	}
	s := smtptest.NewUnstartedServer(rec)
	s.Config.InsecureAuth = false
	s.Config.AuthFailureDelay = -1
	s.StartSTARTTLS()
	defer s.Close()
	out := runPeer(t, py, "-c", pythonClient, strings.Split(s.Addr, ":")[1], caFile(t))
	if !strings.Contains(out, "refused ['nobody@example.org'] 550") || !strings.Contains(out, "wrong password 535\nlogin 235\n") || !strings.HasSuffix(out, "done\n") {
		t.Errorf("python output: %s", out)
	}
	msgs := waitMessages(t, rec, 2)
	if got := string(msgs[0].Body()); got != "Subject: py\r\n\r\nline1\r\n.dot\r\n" {
		t.Errorf("sendmail body %q", got)
	}
	if e := msgs[0].Envelope; e.AuthUser != "user" || e.Helo != "py.example" || len(e.To) != 1 {
		t.Errorf("sendmail envelope %+v", e)
	}
	if e := msgs[1].Envelope; !e.UTF8 || e.From != "jörg@example.org" {
		t.Errorf("send_message envelope %+v", e)
	}
	if !bytes.Contains(msgs[1].Data, []byte("with UTF8SMTPSA id")) || !bytes.Contains(msgs[1].Data, []byte("jörg@example.org")) {
		t.Errorf("send_message data %q", msgs[1].Data)
	}
}

func TestInterop_curl(t *testing.T) {
	curl := peers.Need(t, "curl")
	rec := smtptest.NewRecorder()
	s := smtptest.NewServer(rec)
	defer s.Close()
	file := filepath.Join(t.TempDir(), "mail.txt")
	os.WriteFile(file, []byte("Subject: curl\r\n\r\nhello\r\n.starts with a dot\r\n"), 0o600)
	runPeer(t, curl, "-sS", "--max-time", "20", "smtp://"+s.Addr, "--mail-from", "a@example.org", "--mail-rcpt", "b@example.org", "--mail-rcpt", "c@example.org", "--upload-file", file)
	m := waitMessages(t, rec, 1)[0]
	if got := string(m.Body()); got != "Subject: curl\r\n\r\nhello\r\n.starts with a dot\r\n" {
		t.Errorf("body %q", got)
	}
	if strings.Join(m.Envelope.To, ",") != "b@example.org,c@example.org" {
		t.Errorf("envelope %+v", m.Envelope)
	}

	// STARTTLS, required, against the same server with TLS.
	rec2 := smtptest.NewRecorder()
	s2 := smtptest.NewUnstartedServer(rec2)
	s2.StartSTARTTLS()
	defer s2.Close()
	runPeer(t, curl, "-sS", "--max-time", "20", "--ssl-reqd", "--cacert", caFile(t), "smtp://"+s2.Addr, "--mail-from", "a@example.org", "--mail-rcpt", "b@example.org", "--upload-file", file)
	if m := waitMessages(t, rec2, 1)[0]; !bytes.Contains(m.Data, []byte("with ESMTPS id")) {
		t.Errorf("curl STARTTLS: %q", m.Data)
	}
}
